/* Command-line inputs: image paths from files and folders (searched recursively for .jpg,
 * .jpeg and .png, in sorted order), and output helpers. */
#ifndef RELAGE_INPUTS_H
#define RELAGE_INPUTS_H

#include <stddef.h>
#include <stdio.h>

#include "core/json_write.h"
#include "data/csv.h"

struct stat;

typedef struct input_list {
    char **paths;
    size_t n, cap;
    int stdin_taken; /* "-" or "@-" was added: standard input can be read once only */
} input_list;

/* Adds path: a folder adds its images recursively, "@FILE" the paths listed in FILE (one per
 * line; "@-": read from standard input), "-" the image on standard input, anything else is
 * added as it is (and fails later, with its own error, if it is not an image). Returns 0 and
 * prints on allocation, folder or list errors, when standard input is named twice, and for "-"
 * when standard input is a terminal. */
int input_list_add(input_list *list, const char *path);
void input_list_free(input_list *list);

/* The input "-": the encoded image on standard input (at most 1 GiB), read to its end. */
int input_is_stdin(const char *path);
relage_status input_read_stdin(char **bytes, size_t *size);

/* Where --draw writes each input: DIR/STEM.png (STEM: the file name without its extension;
 * "stdin" for "-"), or
 * DIR/STEM-2.png, -3, ... where an earlier input took the name or the name is one of the inputs
 * themselves (an input is never overwritten). Creates DIR; returns NULL and prints when DIR is
 * not a folder that can be made. Free with drawn_paths_free. */
char **drawn_paths(const input_list *list, const char *dir, const char *cmd);
void drawn_paths_free(char **paths, size_t n);

/* 1 when a and b, as stat(2) gives them, are the same file, whatever their paths. */
int same_file(const struct stat *a, const struct stat *b);

/* 1 when out can be written as a file: not a folder, in a folder that exists, and none of the
 * n inputs (the same file; NULL entries skipped), which it would replace. Else prints why
 * ("relage CMD: FLAG OUT: ...") and returns 0. */
int output_path_ok(const char *cmd, const char *flag, const char *out, const char *const *inputs,
                   int n);

/* Reports a failed image: on stderr as "relage CMD: error", and with json also as the line
 * {"image": PATH, "error": TEXT} on stdout. The error is relage_last_error(). */
void report_image_error(const char *cmd, const char *path, int json);

#endif
