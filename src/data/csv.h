/* A small CSV reader for label and prediction files: the delimiter (',' or ';') is detected
 * from the first line, CRLF and LF are accepted, double-quoted fields may hold delimiters and
 * doubled quotes, blank lines are skipped. Every row keeps its line number for error messages. */
#ifndef RELAGE_DATA_CSV_H
#define RELAGE_DATA_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "relage.h"

typedef struct csv_table {
    char delimiter;
    size_t n_rows;
    char ***rows;  /* rows[r][f], NUL-terminated fields */
    int *n_fields; /* per row */
    int *line;     /* 1-based line number per row */
    char *text;    /* the file, cut into fields in place */
} csv_table;

/* Reads the whole file. RELAGE_ERR_IO names the file; RELAGE_ERR_FORMAT for an unterminated
 * quote (with its line); the table is zeroed on failure. */
relage_status csv_read(csv_table *t, const char *path);

/* Index of the column called name (case-insensitive, surrounding spaces ignored) in row 0, or
 * -1. */
int csv_column(const csv_table *t, const char *name);

/* The first of the NULL-terminated names that is a column, or -1. */
int csv_first_column(const csv_table *t, const char *const *names);

/* A name and where it was (a row, an index); csv_by_name_then_place orders them by name, then
 * place, for qsort and bsearch. */
typedef struct csv_placed_name {
    const char *name;
    size_t at;
} csv_placed_name;
int csv_by_name_then_place(const void *x, const void *y);

/* The earliest repeat among names[0..n): 1 and the positions of its first occurrence and of the
 * repeat, 0 when the names are all different, -1 when out of memory. O(n log n). */
int csv_first_duplicate(const char *const *names, size_t n, size_t *first, size_t *again);

/* Parses a whole field as a finite decimal number (no hexadecimal); 0 if it is not one. */
int csv_number(const char *field, double *value);

void csv_free(csv_table *t);

/* Writes s as one CSV field, quoted (quotes doubled) when it holds a comma, quote or line
 * break. */
void csv_write_field(FILE *out, const char *s);

#endif
