/* Writing JSON values to a stream (a file, stdout, or open_memstream for a string). */
#ifndef RELAGE_CORE_JSON_WRITE_H
#define RELAGE_CORE_JSON_WRITE_H

#include <stdio.h>

/* s as a JSON string literal, quotes included; control characters escaped, and each byte that
 * is not part of well-formed UTF-8 written as U+FFFD (JSON text must be UTF-8). */
void json_write_string(FILE *out, const char *s);

/* A number with the given decimals, or null when it is not finite. */
void json_write_number(FILE *out, double value, int decimals);

#endif
