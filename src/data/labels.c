/* Label readers: CSV formats, UTKFace and All-Age-Faces folders, split files. */
#include "data/labels.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/status.h"
#include "data/csv.h"

static void report_add(label_report *r, const char *name) {
    if (!r) return;
    size_t len = strlen(r->examples);
    if (r->skipped < 5 && len + strlen(name) + 3 < sizeof r->examples)
        snprintf(r->examples + len, sizeof r->examples - len, "%s%s", len ? ", " : "", name);
    r->skipped++;
}

/* The column whose header starts with prefix (case-insensitive), or -1. */
static int column_prefix(const csv_table *t, const char *prefix) {
    for (int f = 0; t->n_rows && f < t->n_fields[0]; f++)
        if (strncasecmp(t->rows[0][f], prefix, strlen(prefix)) == 0) return f;
    return -1;
}

static relage_status grow(label_set *labels, size_t *cap, const char *what) {
    if (labels->n < *cap) return RELAGE_OK;
    size_t n = *cap ? 2 * *cap : 1024;
    age_label *items = realloc(labels->items, n * sizeof *items);
    if (!items) return relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", what);
    labels->items = items;
    *cap = n;
    return RELAGE_OK;
}

/* A number, or an empty field: unknown (NaN), as a vote spread or real age missing from some
 * rows of a mixed list. */
static int optional_number(const char *field, double *value) {
    while (*field == ' ') field++;
    if (!*field) {
        *value = NAN;
        return 1;
    }
    return csv_number(field, value);
}

/* A name labelled twice is an error (which label would count?), named with both lines. */
static relage_status no_repeated_names(const label_set *labels, const char *path,
                                       const int *lines) {
    const char **names = malloc((labels->n + 1) * sizeof *names);
    if (!names) return relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < labels->n; i++) names[i] = labels->items[i].name;
    size_t a = 0, b = 0;
    int found = csv_first_duplicate(names, labels->n, &a, &b);
    free(names);
    if (found < 0) return relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
    if (found)
        return relage_fail(RELAGE_ERR_FORMAT, "%s:%d: %s is labelled again (first at line %d)",
                           path, lines[b], labels->items[b].name, lines[a]);
    return RELAGE_OK;
}

static int by_row(const void *a, const void *b) {
    const csv_placed_name *x = a, *y = b;
    return (x->at > y->at) - (x->at < y->at);
}

/* APPA-REAL's per-vote files (gt_*.csv: file_name, real_age, apparent_age, worker_age, ...): the
 * votes of each image become its mean and sample standard deviation, which is how gt_avg_*.csv
 * was made (equal to 1e-13 on the 1,978 test images); images in order of their first vote. */
static relage_status aggregate_votes(label_set *labels, const csv_table *t, const char *path,
                                     int name, int vote, int real) {
    size_t n = t->n_rows - 1, groups = 0;
    csv_placed_name *v = malloc((n + 1) * sizeof *v), *firsts = malloc((n + 1) * sizeof *firsts);
    double *x = malloc((n + 1) * sizeof *x);
    labels->items = calloc(n + 1, sizeof *labels->items);
    relage_status st = RELAGE_OK;
    if (!v || !firsts || !x || !labels->items) {
        st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    int need = name > vote ? name : vote;
    for (size_t r = 1; r < t->n_rows; r++) {
        if (t->n_fields[r] <= need || !*t->rows[r][name] || !csv_number(t->rows[r][vote], &x[r]) ||
            !(x[r] >= 0 && x[r] <= MAX_AGE)) {
            st = relage_fail(RELAGE_ERR_FORMAT, "%s:%d: bad vote row", path, t->line[r]);
            goto done;
        }
        v[r - 1] = (csv_placed_name){t->rows[r][name], r};
    }
    /* each image's votes together; firsts: the row of each image's first vote, by image */
    qsort(v, n, sizeof *v, csv_by_name_then_place);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i; j < n && strcmp(v[j].name, v[i].name) == 0;) j++;
        firsts[groups++] = (csv_placed_name){v[i].name, v[i].at};
    }
    qsort(firsts, groups, sizeof *firsts, by_row);
    for (size_t g = 0; g < groups && st == RELAGE_OK; g++) {
        csv_placed_name key = firsts[g],
                        *at = bsearch(&key, v, n, sizeof *v, csv_by_name_then_place);
        size_t i = (size_t)(at - v), j = i;
        double sum = 0, ss = 0;
        while (j < n && strcmp(v[j].name, key.name) == 0) sum += x[v[j++].at];
        double mean = sum / (double)(j - i), age;
        for (size_t k = i; k < j; k++) ss += (x[v[k].at] - mean) * (x[v[k].at] - mean);
        age_label *l = &labels->items[g];
        l->mean = mean;
        l->std = j - i > 1 ? sqrt(ss / (double)(j - i - 1)) : 0.0;
        l->real = NAN;
        l->gender = l->race = -1;
        const char *rv = real >= 0 && real < t->n_fields[key.at] ? t->rows[key.at][real] : "";
        if (*rv && csv_number(rv, &age) && age >= 0 && age <= MAX_AGE) l->real = age;
        if (!(l->name = strdup(key.name)))
            st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
        else
            labels->n = g + 1;
    }
done:
    free(v), free(firsts), free(x);
    return st;
}

relage_status label_set_read(label_set *labels, const char *path) {
    static const char *const NAME[] = {"file_name", "image", "path", "file", NULL};
    static const char *const MEAN[] = {"apparent_age_avg", "mean", "age", NULL};
    static const char *const STD[] = {"apparent_age_std", "stdv", "std", NULL};
    static const char *const REAL[] = {"real_age", NULL};
    memset(labels, 0, sizeof *labels);
    csv_table t;
    relage_status st = csv_read(&t, path);
    if (st != RELAGE_OK) return st;
    int name = csv_first_column(&t, NAME), mean = csv_first_column(&t, MEAN);
    int std = csv_first_column(&t, STD), real = csv_first_column(&t, REAL);
    int gender = column_prefix(&t, "gender"), race = column_prefix(&t, "race");
    int vote = csv_column(&t, "apparent_age");
    if (name >= 0 && vote >= 0 && mean < 0) { /* APPA-REAL's votes, one row each */
        if ((st = aggregate_votes(labels, &t, path, name, vote, real)) == RELAGE_OK &&
            labels->n == 0)
            st = relage_fail(RELAGE_ERR_FORMAT, "%s: no votes", path);
        goto cleanup;
    }
    size_t first = 1;
    if (name < 0 || mean < 0) { /* no header: ChaLearn 2015 or generic path,age[,std] */
        name = 0, mean = 1, std = t.n_rows && t.n_fields[0] > 2 ? 2 : -1;
        real = gender = race = -1;
        first = 0;
    }
    int need = mean > name ? mean : name;
    if (std > need) need = std;
    if (real > need) need = real;
    labels->items = calloc(t.n_rows ? t.n_rows : 1, sizeof *labels->items);
    if (!labels->items) {
        st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    for (size_t r = first; r < t.n_rows; r++) {
        int nf = t.n_fields[r];
        age_label *l = &labels->items[labels->n];
        double code;
        l->std = l->real = NAN;
        l->gender = l->race = -1;
        if (nf <= need || !csv_number(t.rows[r][mean], &l->mean) ||
            (std >= 0 && !optional_number(t.rows[r][std], &l->std)) ||
            (real >= 0 && !optional_number(t.rows[r][real], &l->real)) || !*t.rows[r][name]) {
            st = relage_fail(RELAGE_ERR_FORMAT, "%s:%d: bad label row (%d fields)", path, t.line[r],
                             nf);
            goto cleanup;
        }
        if (!(l->mean >= 0 && l->mean <= MAX_AGE) || l->real < 0 || l->real > MAX_AGE ||
            l->std < 0 || l->std > MAX_AGE) { /* NaN (unknown) passes the last four */
            st = relage_fail(RELAGE_ERR_FORMAT,
                             "%s:%d: an age or spread outside 0..%d (age %g, spread %g, real %g)",
                             path, t.line[r], MAX_AGE, l->mean, l->std, l->real);
            goto cleanup;
        }
        if (gender >= 0 && gender < nf && csv_number(t.rows[r][gender], &code) && code >= 0 &&
            code < 100)
            l->gender = (int)code;
        if (race >= 0 && race < nf && csv_number(t.rows[r][race], &code) && code >= 0 && code < 100)
            l->race = (int)code;
        if (!(l->name = strdup(t.rows[r][name]))) {
            st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
            goto cleanup;
        }
        labels->n++;
    }
    if (labels->n == 0) st = relage_fail(RELAGE_ERR_FORMAT, "%s: no labels", path);
    if (st == RELAGE_OK) st = no_repeated_names(labels, path, t.line + first);
cleanup:
    csv_free(&t);
    if (st != RELAGE_OK) label_set_free(labels);
    return st;
}

/* Reads a folder's file names in sorted order and labels those `parse` accepts. */
static relage_status from_folder(label_set *labels, const char *folder, label_report *report,
                                 int (*parse)(const char *name, age_label *l)) {
    memset(labels, 0, sizeof *labels);
    if (report) memset(report, 0, sizeof *report);
    struct dirent **entries = NULL;
    int n = scandir(folder, &entries, NULL, alphasort);
    if (n < 0) return relage_fail(RELAGE_ERR_IO, "%s: cannot read the folder", folder);
    relage_status st = RELAGE_OK;
    size_t cap = 0;
    for (int i = 0; i < n; i++) {
        const char *name = entries[i]->d_name;
        if (st == RELAGE_OK && name[0] != '.' && (st = grow(labels, &cap, folder)) == RELAGE_OK) {
            age_label *l = &labels->items[labels->n];
            memset(l, 0, sizeof *l);
            l->std = l->real = NAN;
            l->gender = l->race = -1;
            if (!parse(name, l))
                report_add(report, name);
            else if (!(l->name = strdup(name)))
                st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", folder);
            else
                labels->n++;
        }
        free(entries[i]);
    }
    free(entries);
    if (st == RELAGE_OK && labels->n == 0)
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: no labelled images", folder);
    if (st != RELAGE_OK) label_set_free(labels);
    return st;
}

/* AGE_GENDER_RACE_DATE.jpg.chip.jpg: age 0..116, gender 0..1, race 0..4, a 17-digit date. */
static int parse_utkface(const char *name, age_label *l) {
    int age, gender, race, used = 0;
    char date[32];
    if (sscanf(name, "%3d_%1d_%1d_%20[0-9]%n", &age, &gender, &race, date, &used) != 4) return 0;
    if (strcmp(name + used, ".jpg.chip.jpg") != 0 || age < 0 || age > 120 || gender < 0 ||
        gender > 1 || race < 0 || race > 4)
        return 0;
    l->mean = l->real = age;
    l->gender = gender;
    l->race = race;
    return 1;
}

/* NNNNNAxx.jpg: five digits, 'A', the age. */
static int parse_aaf(const char *name, age_label *l) {
    int age, used = 0;
    char id[8];
    if (sscanf(name, "%5[0-9]A%3d%n", id, &age, &used) != 2 || strlen(id) != 5) return 0;
    if (strcasecmp(name + used, ".jpg") != 0 || age < 0 || age > 120) return 0;
    l->mean = l->real = age;
    return 1;
}

relage_status label_set_from_utkface(label_set *labels, const char *folder, label_report *report) {
    return from_folder(labels, folder, report, parse_utkface);
}

relage_status label_set_from_aaf(label_set *labels, const char *folder, label_report *report) {
    return from_folder(labels, folder, report, parse_aaf);
}

typedef struct name_at {
    const char *name;
    size_t at;
} name_at;

static int by_name(const void *a, const void *b) {
    return strcmp(((const name_at *)a)->name, ((const name_at *)b)->name);
}

relage_status label_set_keep_split(label_set *labels, const char *split_path,
                                   label_report *report) {
    if (report) memset(report, 0, sizeof *report);
    csv_table t;
    relage_status st = csv_read(&t, split_path);
    if (st != RELAGE_OK) return st;
    if (t.n_rows == 0) {
        csv_free(&t);
        return relage_fail(RELAGE_ERR_FORMAT, "%s: names no images (an empty split)", split_path);
    }
    name_at *index = malloc((labels->n + 1) * sizeof *index);
    age_label *kept = calloc(t.n_rows + 1, sizeof *kept);
    char *taken = calloc(labels->n + 1, 1);
    size_t n_kept = 0;
    if (!index || !kept || !taken) {
        st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", split_path);
        goto cleanup;
    }
    for (size_t i = 0; i < labels->n; i++) index[i] = (name_at){labels->items[i].name, i};
    qsort(index, labels->n, sizeof *index, by_name);
    for (size_t r = 0; r < t.n_rows; r++) {
        char name[512];
        if (sscanf(t.rows[r][0], "%511s", name) != 1) continue; /* "NAME [more fields]" */
        name_at key = {name, 0}, *hit = bsearch(&key, index, labels->n, sizeof *index, by_name);
        if (!hit || taken[hit->at]) {
            report_add(report, name);
            continue;
        }
        taken[hit->at] = 1;
        kept[n_kept++] = labels->items[hit->at];
    }
    for (size_t i = 0; i < labels->n; i++)
        if (!taken[i]) free(labels->items[i].name);
    free(labels->items);
    labels->items = kept;
    labels->n = n_kept;
    kept = NULL;
cleanup:
    free(index);
    free(kept);
    free(taken);
    csv_free(&t);
    return st;
}

size_t label_set_missing_images(const label_set *labels, const char *folder, label_report *report) {
    if (report) memset(report, 0, sizeof *report);
    size_t missing = 0;
    for (size_t i = 0; i < labels->n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", folder, labels->items[i].name);
        if (access(path, R_OK) != 0) {
            missing++;
            report_add(report, labels->items[i].name);
        }
    }
    return missing;
}

void label_set_free(label_set *labels) {
    if (!labels) return;
    for (size_t i = 0; i < labels->n; i++) free(labels->items[i].name);
    free(labels->items);
    memset(labels, 0, sizeof *labels);
}
