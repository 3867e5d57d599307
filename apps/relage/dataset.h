/* The datasets that relage prepare and relage eval take on the command line: --labels FILE with
 * --images DIR, --utkface DIR or --aaf DIR (labels from the file names), each optionally cut
 * to the names of --split FILE. */
#ifndef RELAGE_DATASET_H
#define RELAGE_DATASET_H

#include <stddef.h>

#include "data/labels.h"

typedef struct dataset_args {
    const char *labels, *images, *utkface, *aaf, *split;
    /* the files the command will write (at most 8), each given by flags[i], NULL where not
     * given: none may be one of the dataset's images */
    const char *const *outputs, *const *flags;
    int n_outputs;
} dataset_args;

/* 1 when flag is one of the options above (value then stored), else 0. */
int dataset_option(dataset_args *d, const char *flag, const char *value);

/* How many label sources were given (--labels, --utkface, --aaf); one is what a command needs. */
int dataset_sources(const dataset_args *d);

/* Reads the labels and applies the split; for a folder dataset, d->images becomes the folder.
 * An output that is one of the labelled images (before the split) is refused, as "relage CMD:
 * FLAG PATH: an image of the dataset, which it would replace".
 * Prints on stderr, as "relage CMD: ...", the names skipped (file names without a label, split
 * names without one) and the labelled images missing from d->images (when there is one);
 * *missing is their count. On failure prints the error and returns 0. */
int dataset_read(dataset_args *d, const char *cmd, label_set *labels, size_t *missing);

#endif
