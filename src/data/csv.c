/* CSV parsing in place over the file's text. */
#include "data/csv.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/file.h"
#include "core/status.h"

static char detect_delimiter(const char *text) {
    size_t commas = 0, semicolons = 0;
    for (const char *p = text; *p && *p != '\n'; p++) {
        commas += *p == ',';
        semicolons += *p == ';';
    }
    return semicolons > commas ? ';' : ',';
}

relage_status csv_read(csv_table *t, const char *path) {
    memset(t, 0, sizeof *t);
    size_t size = 0;
    char *text = NULL;
    relage_status st = file_read_text(path, SIZE_MAX - 1, &text, &size);
    if (st != RELAGE_OK) return st;
    t->text = text;
    if (size >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) text += 3, size -= 3; /* UTF-8 BOM */
    t->delimiter = detect_delimiter(text);
    size_t max_rows = 1, max_fields = 1;
    for (size_t i = 0; i < size; i++) {
        max_rows += text[i] == '\n';
        max_fields += text[i] == t->delimiter || text[i] == '\n';
    }
    t->rows = calloc(max_rows, sizeof *t->rows);
    t->n_fields = calloc(max_rows, sizeof *t->n_fields);
    t->line = calloc(max_rows, sizeof *t->line);
    char **fields = calloc(max_fields + max_rows, sizeof *fields);
    if (!t->rows || !t->n_fields || !t->line || !fields) {
        free(fields);
        st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    t->rows[0] = fields; /* rows[0] owns the field pointer block */
    size_t nf = 0;
    int line = 1;
    char *p = text;
    while (*p) {
        int row_line = line, count = 0;
        char **row = fields + nf;
        int blank = 1;
        for (;;) { /* one field */
            char *out = p, *start = p;
            if (*p == '"') {
                p++;
                for (;;) {
                    if (!*p) {
                        st = relage_fail(RELAGE_ERR_FORMAT, "%s:%d: unterminated quote", path,
                                         row_line);
                        goto fail;
                    }
                    if (*p == '"' && p[1] == '"') {
                        *out++ = '"';
                        p += 2;
                    } else if (*p == '"') {
                        p++;
                        break;
                    } else {
                        if (*p == '\n') line++;
                        *out++ = *p++;
                    }
                }
                while (*p && *p != t->delimiter && *p != '\n' && *p != '\r') p++;
            } else {
                while (*p && *p != t->delimiter && *p != '\n' && *p != '\r') *out++ = *p++;
            }
            char end = *p;
            if (end == '\r') end = p[1] == '\n' ? (p++, '\n') : '\n';
            *out = '\0';
            if (out != start) blank = 0;
            fields[nf++] = start;
            count++;
            if (end == t->delimiter) {
                p++;
                blank = 0;
                continue;
            }
            if (end == '\n') {
                p++;
                line++;
            }
            break;
        }
        if (blank) {
            nf -= (size_t)count;
            continue;
        }
        t->rows[t->n_rows] = row;
        t->n_fields[t->n_rows] = count;
        t->line[t->n_rows] = row_line;
        t->n_rows++;
    }
    if (t->n_rows == 0) t->rows[0] = fields; /* keep ownership for csv_free */
    return RELAGE_OK;
fail:
    csv_free(t);
    return st;
}

int csv_column(const csv_table *t, const char *name) {
    if (t->n_rows == 0) return -1;
    for (int f = 0; f < t->n_fields[0]; f++) {
        const char *s = t->rows[0][f];
        while (*s == ' ') s++;
        size_t len = strlen(s);
        while (len && s[len - 1] == ' ') len--;
        if (len == strlen(name) && strncasecmp(s, name, len) == 0) return f;
    }
    return -1;
}

int csv_by_name_then_place(const void *x, const void *y) {
    const csv_placed_name *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    return c ? c : (a->at > b->at) - (a->at < b->at);
}

int csv_first_duplicate(const char *const *names, size_t n, size_t *first, size_t *again) {
    csv_placed_name *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) return -1;
    for (size_t i = 0; i < n; i++) p[i] = (csv_placed_name){names[i], i};
    qsort(p, n, sizeof *p, csv_by_name_then_place);
    int found = 0;
    for (size_t i = 1; i < n; i++)
        if (strcmp(p[i - 1].name, p[i].name) == 0 && (!found || p[i].at < *again)) {
            *first = p[i - 1].at, *again = p[i].at;
            found = 1;
        }
    free(p);
    return found;
}

int csv_first_column(const csv_table *t, const char *const *names) {
    for (; *names; names++) {
        int c = csv_column(t, *names);
        if (c >= 0) return c;
    }
    return -1;
}

int csv_number(const char *field, double *value) {
    char *end = NULL;
    while (*field == ' ') field++;
    double v = strtod(field, &end);
    if (end == field) return 0;
    for (const char *p = field; p < end; p++)
        if (*p == 'x' || *p == 'X') return 0; /* strtod's hexadecimal: not a CSV number */
    while (*end == ' ') end++;
    if (*end || !isfinite(v)) return 0;
    *value = v;
    return 1;
}

void csv_free(csv_table *t) {
    if (!t) return;
    if (t->rows) free(t->rows[0]);
    free(t->rows);
    free(t->n_fields);
    free(t->line);
    free(t->text);
    memset(t, 0, sizeof *t);
}

void csv_write_field(FILE *out, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}
