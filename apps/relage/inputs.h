/* Command-line inputs: image paths from files and folders (searched recursively for .jpg,
 * .jpeg and .png, in sorted order), and output helpers. */
#ifndef RELAGE_INPUTS_H
#define RELAGE_INPUTS_H

#include <stddef.h>
#include <stdio.h>

#include "core/json_write.h"
#include "data/csv.h"

typedef struct input_list {
    char **paths;
    size_t n, cap;
} input_list;

/* Adds path: a folder adds its images recursively, "@FILE" the paths listed in FILE (one per
 * line), anything else is added as it is (and fails later, with its own error, if it is not an
 * image). Returns 0 and prints on allocation or
 * folder errors. */
int input_list_add(input_list *list, const char *path);
void input_list_free(input_list *list);

/* DIR/STEM.png for an input path (its file name without the extension): where --draw writes. */
void drawn_path(char *out, size_t size, const char *dir, const char *path);

/* Reports a failed image: on stderr as "relage CMD: error", and with json also as the line
 * {"image": PATH, "error": TEXT} on stdout. The error is relage_last_error(). */
void report_image_error(const char *cmd, const char *path, int json);

#endif
