/* Files replaced atomically: written under a temporary name beside the file, flushed to disk,
 * then renamed over it, so that a reader (or a crash) sees either the old file or the whole new
 * one, never a part. Every file relage writes whole (models, caches, PNGs, CSVs, run records)
 * goes through here.
 *
 * What is replaced: the path itself, or, when it is a symbolic link, the file the link names
 * (the link survives). A path that exists and is not a regular file (a device, a pipe, a
 * folder), a link that names nothing, and the file behind this process's standard streams
 * (/dev/stdout redirected to a file) are refused with an error that says so: renaming over
 * them would replace the device, the link or the redirection's file. A replaced file keeps its
 * mode but not its owner or other hard links (it is a new file); a new file gets 0666 less the
 * umask, as with open. */
#ifndef RELAGE_CORE_ATOMIC_FILE_H
#define RELAGE_CORE_ATOMIC_FILE_H

#include <stdio.h>

#include "relage.h"

typedef struct atomic_file {
    FILE *fp;   /* write here */
    char *path; /* the file that commit replaces (a link resolved) */
    char *temp; /* the temporary file, in path's folder */
} atomic_file;

/* *target = the path a write of path replaces (malloc'd): path, or what a link names; errors
 * (RELAGE_ERR_IO) as above, naming path. */
relage_status atomic_file_target(const char *path, char **target);

/* Opens the temporary file for binary writing. On failure f is left with nothing to free. */
relage_status atomic_file_begin(atomic_file *f, const char *path);

/* Flushes, syncs and closes the temporary file, renames it over path and syncs the folder; on
 * any failure the temporary file is removed and the old file is untouched. Either way f is
 * released. Errors name the path and the cause (a full disk shows here). */
relage_status atomic_file_commit(atomic_file *f);

/* Removes the temporary file and releases f (after a failed write); safe on a zeroed f. */
void atomic_file_abort(atomic_file *f);

#endif
