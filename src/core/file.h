/* Reading a whole file into memory, for the formats relage parses from a buffer (safetensors,
 * cascades, weight manifests, CSV, JSON). */
#ifndef RELAGE_CORE_FILE_H
#define RELAGE_CORE_FILE_H

#include <stddef.h>

#include "relage.h"

/* Reads the regular file at path into a malloc'd buffer with a NUL after the last byte (so
 * text can be parsed in place); *size excludes the NUL. Errors name the file: RELAGE_ERR_IO for
 * open/read failures and non-regular files, RELAGE_ERR_FORMAT for a file over max_bytes,
 * RELAGE_ERR_NOMEM. On failure *out is NULL. A file that shrinks while being read yields what
 * was there. */
relage_status file_read_all(const char *path, size_t max_bytes, char **out, size_t *size);

/* file_read_all for a text format (CSV, JSON, XML, lists): a NUL byte in it is
 * RELAGE_ERR_FORMAT naming the file and line, rather than an end that parsers would stop at
 * silently. */
relage_status file_read_text(const char *path, size_t max_bytes, char **out, size_t *size);

/* Reads fd (a pipe, a terminal, a file) to its end into a malloc'd buffer, NUL-terminated as
 * above; errors name name: RELAGE_ERR_IO for read failures, RELAGE_ERR_TOO_LARGE past max_bytes
 * (unlike file_read_all: a stream has no size to check first), RELAGE_ERR_NOMEM. fd stays open. */
relage_status file_read_fd(int fd, const char *name, size_t max_bytes, char **out, size_t *size);

#endif
