/* Label and prediction files, and the metrics. */
#include "eval/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/status.h"
#include "data/csv.h"

relage_status prediction_set_write(const prediction_set *preds, const char *path,
                                   prediction_format format) {
    atomic_file out;
    relage_status st = atomic_file_begin(&out, path);
    if (st != RELAGE_OK) return st;
    FILE *fp = out.fp;
    char sep = format == PRED_CHALEARN15 ? ';' : ',';
    if (format == PRED_CSV) fprintf(fp, "file_name,predicted_age\n");
    for (size_t i = 0; i < preds->n; i++) {
        if (sep == ',')
            csv_write_field(fp, preds->names[i]);
        else
            fputs(preds->names[i], fp);
        fprintf(fp, "%c%.4f\n", sep, preds->ages[i]);
    }
    return atomic_file_commit(&out);
}

double epsilon_error(double prediction, double mean, double std) {
    double d = prediction - mean;
    if (std == 0.0) return d == 0.0 ? 0.0 : 1.0;
    return 1.0 - exp(-(d * d) / (2.0 * std * std));
}

relage_status prediction_set_read(prediction_set *preds, const char *path) {
    static const char *const NAME[] = {"file_name", "image", "path", "file", NULL};
    static const char *const AGE[] = {"predicted_age", "age", "prediction", NULL};
    memset(preds, 0, sizeof *preds);
    csv_table t;
    relage_status st = csv_read(&t, path);
    if (st != RELAGE_OK) return st;
    int name = csv_first_column(&t, NAME), age = csv_first_column(&t, AGE);
    if (name < 0 || age < 0) {
        st = relage_fail(RELAGE_ERR_FORMAT,
                         "%s: needs a header with file_name and predicted_age columns", path);
        goto cleanup;
    }
    size_t n = t.n_rows ? t.n_rows : 1;
    preds->names = calloc(n, sizeof *preds->names);
    preds->ages = calloc(n, sizeof *preds->ages);
    if (!preds->names || !preds->ages) {
        st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    int need = name > age ? name : age;
    for (size_t r = 1; r < t.n_rows; r++) {
        double v;
        if (t.n_fields[r] <= need || !csv_number(t.rows[r][age], &v) || !*t.rows[r][name]) {
            st = relage_fail(RELAGE_ERR_FORMAT, "%s:%d: bad prediction row", path, t.line[r]);
            goto cleanup;
        }
        if (!(preds->names[preds->n] = strdup(t.rows[r][name]))) {
            st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
            goto cleanup;
        }
        preds->ages[preds->n++] = v;
    }
    size_t a = 0, b = 0;
    int repeat = csv_first_duplicate((const char *const *)preds->names, preds->n, &a, &b);
    if (repeat < 0) st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
    if (repeat > 0)
        st = relage_fail(RELAGE_ERR_FORMAT, "%s:%d: a second prediction for %s (first at line %d)",
                         path, t.line[b + 1], preds->names[b], t.line[a + 1]);
cleanup:
    csv_free(&t);
    if (st != RELAGE_OK) prediction_set_free(preds);
    return st;
}

void prediction_set_free(prediction_set *preds) {
    if (!preds) return;
    for (size_t i = 0; i < preds->n; i++) free(preds->names[i]);
    free(preds->names);
    free(preds->ages);
    memset(preds, 0, sizeof *preds);
}

typedef struct name_index {
    const char *key;
    size_t at;
} name_index;

static int compare_keys(const void *a, const void *b) {
    return strcmp(((const name_index *)a)->key, ((const name_index *)b)->key);
}

static const char *base_name(const char *s) {
    const char *slash = strrchr(s, '/');
    return slash ? slash + 1 : s;
}

relage_status eval_match(const label_set *labels, const prediction_set *preds, size_t *match) {
    /* predictions indexed by full name and by base name */
    name_index *full = malloc((preds->n + 1) * sizeof *full);
    name_index *base = malloc((preds->n + 1) * sizeof *base);
    size_t *owner = calloc(preds->n + 1, sizeof *owner); /* label index + 1 */
    if (!full || !base || !owner) {
        free(full), free(base), free(owner);
        return relage_fail(RELAGE_ERR_NOMEM, "eval: out of memory");
    }
    for (size_t i = 0; i < preds->n; i++) {
        full[i] = (name_index){preds->names[i], i};
        base[i] = (name_index){base_name(preds->names[i]), i};
    }
    qsort(full, preds->n, sizeof *full, compare_keys);
    qsort(base, preds->n, sizeof *base, compare_keys);
    relage_status st = RELAGE_OK;
    for (size_t i = 0; i < labels->n && st == RELAGE_OK; i++) {
        const char *name = labels->items[i].name;
        name_index key = {name, 0}, *hit = NULL;
        if (preds->n) hit = bsearch(&key, full, preds->n, sizeof *full, compare_keys);
        if (!hit && preds->n) {
            key.key = base_name(name);
            hit = bsearch(&key, base, preds->n, sizeof *base, compare_keys);
            name_index *other = !hit                                          ? NULL
                                : hit > base && !strcmp(hit[-1].key, key.key) ? hit - 1
                                : hit + 1 < base + preds->n && !strcmp(hit[1].key, key.key)
                                    ? hit + 1
                                    : NULL;
            if (other)
                st = relage_fail(RELAGE_ERR_FORMAT,
                                 "label %s: the predictions %s and %s both end in %s; name "
                                 "the images alike in both files",
                                 name, preds->names[hit->at], preds->names[other->at], key.key);
        }
        match[i] = hit ? hit->at : EVAL_NO_MATCH;
        if (hit && st == RELAGE_OK) {
            if (owner[hit->at])
                st = relage_fail(RELAGE_ERR_FORMAT,
                                 "the prediction %s matches the labels %s and %s; name the "
                                 "images alike in both files",
                                 preds->names[hit->at], labels->items[owner[hit->at] - 1].name,
                                 name);
            owner[hit->at] = i + 1;
        }
    }
    free(full), free(base), free(owner);
    return st;
}

relage_status eval_predictions(const label_set *labels, const prediction_set *preds, int challenge,
                               eval_result *result) {
    memset(result, 0, sizeof *result);
    size_t *match = malloc((labels->n + 1) * sizeof *match);
    char *used = calloc(preds->n + 1, 1);
    relage_status st = match && used ? eval_match(labels, preds, match)
                                     : relage_fail(RELAGE_ERR_NOMEM, "eval: out of memory");
    if (st != RELAGE_OK) {
        free(match), free(used);
        return st;
    }
    double abs_sum = 0, eps_sum = 0, real_sum = 0;
    for (size_t i = 0; i < labels->n; i++) {
        const age_label *l = &labels->items[i];
        if (match[i] == EVAL_NO_MATCH) {
            result->n_missing++;
            if (challenge) eps_sum += 1.0;
            continue;
        }
        used[match[i]] = 1;
        double x = preds->ages[match[i]], err = fabs(x - l->mean);
        double eps = isnan(l->std) ? (double)NAN : epsilon_error(x, l->mean, l->std);
        abs_sum += err;
        eps_sum += eps;
        result->n++;
        if (!isnan(l->real)) {
            real_sum += fabs(x - l->real);
            result->n_real++;
        }
        double decade = l->mean / 10.0;
        int g = decade >= AGE_GROUPS - 1 ? AGE_GROUPS - 1 : decade > 0 ? (int)decade : 0;
        eval_group *in[3] = {&result->groups[g],
                             l->gender >= 0 && l->gender < 2 ? &result->gender[l->gender] : NULL,
                             l->race >= 0 && l->race < 5 ? &result->race[l->race] : NULL};
        for (int k = 0; k < 3; k++)
            if (in[k]) {
                in[k]->n++;
                in[k]->mae += err;
                in[k]->eps += eps;
            }
    }
    for (size_t i = 0; i < preds->n; i++) result->n_extra += !used[i];
    result->mae = result->n ? abs_sum / (double)result->n : (double)NAN;
    size_t eps_n = challenge ? labels->n : result->n;
    result->eps = eps_n ? eps_sum / (double)eps_n : (double)NAN;
    result->mae_real = result->n_real ? real_sum / (double)result->n_real : (double)NAN;
    eval_group *all[AGE_GROUPS + 7];
    for (int g = 0; g < AGE_GROUPS; g++) all[g] = &result->groups[g];
    for (int g = 0; g < 2; g++) all[AGE_GROUPS + g] = &result->gender[g];
    for (int g = 0; g < 5; g++) all[AGE_GROUPS + 2 + g] = &result->race[g];
    for (int g = 0; g < AGE_GROUPS + 7; g++)
        if (all[g]->n) {
            all[g]->mae /= (double)all[g]->n;
            all[g]->eps /= (double)all[g]->n;
        }
    free(match), free(used);
    return RELAGE_OK;
}
