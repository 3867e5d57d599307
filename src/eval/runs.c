/* Reading runs files with cJSON. */
#include "eval/runs.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "core/status.h"
#include "eval/metrics.h"
#include "io/json_lines.h"

static const char *string_of(const cJSON *o, const char *key, const char *fallback) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : fallback;
}

/* {"name": prediction, ...} */
static relage_status read_prediction_object(run_result *r, const cJSON *obj, const char *path) {
    size_t n = (size_t)cJSON_GetArraySize(obj);
    if (n == 0) return RELAGE_OK;
    r->test_names = calloc(n, sizeof *r->test_names);
    r->test_pred = calloc(n, sizeof *r->test_pred);
    if (!r->test_names || !r->test_pred) return relage_fail(RELAGE_ERR_NOMEM, "out of memory");
    const cJSON *p;
    cJSON_ArrayForEach(p, obj) {
        if (!cJSON_IsNumber(p))
            return relage_fail(RELAGE_ERR_FORMAT, "%s: run %s: bad test prediction for %s", path,
                               r->id, p->string);
        if (!(r->test_names[r->n_pred] = strdup(p->string)))
            return relage_fail(RELAGE_ERR_NOMEM, "out of memory");
        r->test_pred[r->n_pred++] = p->valuedouble;
    }
    return RELAGE_OK;
}

/* Per-image test predictions: "test_predictions" {name: value}, or "test_names" and
 * "test_pred" arrays; none is fine. */
static relage_status read_predictions(run_result *r, const cJSON *run, const char *path) {
    const cJSON *object = cJSON_GetObjectItemCaseSensitive(run, "test_predictions");
    if (cJSON_IsObject(object)) return read_prediction_object(r, object, path);
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(run, "test_names");
    const cJSON *preds = cJSON_GetObjectItemCaseSensitive(run, "test_pred");
    if (!cJSON_IsArray(names) || !cJSON_IsArray(preds)) return RELAGE_OK;
    size_t n = (size_t)cJSON_GetArraySize(names);
    if (n != (size_t)cJSON_GetArraySize(preds) || n == 0)
        return relage_fail(RELAGE_ERR_FORMAT,
                           "%s: run %s: test_names and test_pred differ in "
                           "length",
                           path, r->id);
    r->test_names = calloc(n, sizeof *r->test_names);
    r->test_pred = calloc(n, sizeof *r->test_pred);
    if (!r->test_names || !r->test_pred) return relage_fail(RELAGE_ERR_NOMEM, "out of memory");
    r->n_pred = n;
    for (size_t i = 0; i < n; i++) {
        const cJSON *name = cJSON_GetArrayItem(names, (int)i),
                    *p = cJSON_GetArrayItem(preds, (int)i);
        if (!cJSON_IsString(name) || !cJSON_IsNumber(p))
            return relage_fail(RELAGE_ERR_FORMAT, "%s: run %s: bad test prediction %zu", path,
                               r->id, i);
        if (!(r->test_names[i] = strdup(name->valuestring)))
            return relage_fail(RELAGE_ERR_NOMEM, "out of memory");
        r->test_pred[i] = p->valuedouble;
    }
    return RELAGE_OK;
}

static void free_run(run_result *r) {
    for (size_t i = 0; r->test_names && i < r->n_pred; i++) free(r->test_names[i]);
    free(r->test_names);
    free(r->test_pred);
    free(r->val_mae);
}

/* Records an epoch's "val_mae" (epoch numbers from 1; up to 10,000 epochs) in r->val_mae
 * (r: the run_result, as json_lines_each's user pointer). */
static relage_status add_val_mae(const cJSON *epoch_obj, void *run) {
    run_result *r = run;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(epoch_obj, "epoch");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(epoch_obj, "val_mae");
    if (!cJSON_IsNumber(e) || !cJSON_IsNumber(v) || e->valuedouble < 1 || e->valuedouble > 10000)
        return RELAGE_OK;
    size_t epoch = (size_t)e->valuedouble;
    if (epoch > r->n_epochs) {
        double *grown = realloc(r->val_mae, epoch * sizeof *grown);
        if (!grown) return relage_fail(RELAGE_ERR_NOMEM, "out of memory");
        for (size_t i = r->n_epochs; i < epoch; i++) grown[i] = NAN;
        r->val_mae = grown;
        r->n_epochs = epoch;
    }
    r->val_mae[epoch - 1] = v->valuedouble;
    return RELAGE_OK;
}

const char *const run_records[RUN_RECORDS] = {"summary.json", "log.jsonl", "test_predictions.csv"};

/* A run folder's log.jsonl, one JSON object per epoch; absent or unreadable lines add nothing. */
static relage_status read_log(run_result *r, const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, run_records[RUN_LOG]);
    if (access(path, R_OK) != 0) return RELAGE_OK;
    return json_lines_each(path, (size_t)64 << 20, add_val_mae, r);
}

/* A test MAE in years (ages run 0..150) and an epsilon-error in [0, 1] (NaN: not given); else
 * RELAGE_ERR_FORMAT naming the file and the run. */
static relage_status check_metrics(const run_result *r, const char *path) {
    if (r->test_mae >= 0.0 && r->test_mae <= 150.0 &&
        (isnan(r->test_eps) || (r->test_eps >= 0.0 && r->test_eps <= 1.0)))
        return RELAGE_OK;
    return relage_fail(RELAGE_ERR_FORMAT,
                       "%s: run %s: test MAE %g and epsilon %g are not a MAE in years and an "
                       "epsilon-error in [0, 1]",
                       path, r->id, r->test_mae, r->test_eps);
}

/* A relage run folder: summary.json (arch, head, seed, recipe, test_mae, test_eps) and, if
 * present, test_predictions.csv. */
static relage_status read_run_folder(run_set *set, const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, run_records[RUN_SUMMARY]);
    char *text = NULL;
    size_t size = 0;
    relage_status st = file_read_text(path, (size_t)1 << 20, &text, &size);
    if (st != RELAGE_OK) return relage_fail_context(st, "%s is not a finished relage run", dir);
    cJSON *o = cJSON_Parse(text);
    free(text);
    const cJSON *seed = o ? cJSON_GetObjectItemCaseSensitive(o, "seed") : NULL;
    const cJSON *mae = o ? cJSON_GetObjectItemCaseSensitive(o, "test_mae") : NULL;
    const cJSON *eps = o ? cJSON_GetObjectItemCaseSensitive(o, "test_eps") : NULL;
    const char *arch = o ? string_of(o, "arch", NULL) : NULL;
    const char *head = o ? string_of(o, "head", NULL) : NULL;
    const char *recipe = o ? string_of(o, "recipe", "rmsprop") : "rmsprop";
    if (!arch || !head || !cJSON_IsNumber(seed) || !cJSON_IsNumber(mae)) {
        cJSON_Delete(o);
        return relage_fail(RELAGE_ERR_FORMAT, "%s: no arch, head, seed or test_mae", path);
    }
    run_result r;
    memset(&r, 0, sizeof r);
    const char *slash = strrchr(dir, '/');
    snprintf(r.id, sizeof r.id, "%s", slash && slash[1] ? slash + 1 : dir);
    int adamw = strncmp(recipe, "adamw", 5) == 0;
    snprintf(r.model, sizeof r.model, "%s_%s%s", arch, head, adamw ? "_adamw" : "");
    r.seed = seed->valueint;
    r.test_mae = mae->valuedouble;
    r.test_eps = cJSON_IsNumber(eps) ? eps->valuedouble : (double)NAN;
    cJSON_Delete(o);
    if ((st = check_metrics(&r, path)) != RELAGE_OK) return st;
    snprintf(path, sizeof path, "%s/%s", dir, run_records[RUN_PREDICTIONS]);
    prediction_set preds;
    if (access(path, R_OK) == 0) {
        if ((st = prediction_set_read(&preds, path)) != RELAGE_OK) return st;
        r.test_names = preds.names; /* taken over */
        r.test_pred = preds.ages;
        r.n_pred = preds.n;
    }
    if ((st = read_log(&r, dir)) != RELAGE_OK) {
        free_run(&r);
        return st;
    }
    run_result *grown = realloc(set->runs, (set->n + 1) * sizeof *grown);
    if (!grown) {
        free_run(&r);
        return relage_fail(RELAGE_ERR_NOMEM, "out of memory");
    }
    set->runs = grown;
    set->runs[set->n++] = r;
    return RELAGE_OK;
}

static relage_status read_any(run_set *set, const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return read_run_folder(set, path);
    char *text = NULL;
    size_t size = 0;
    relage_status st = file_read_text(path, SIZE_MAX - 1, &text, &size);
    if (st != RELAGE_OK) return st;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *runs = root ? cJSON_GetObjectItemCaseSensitive(root, "runs") : NULL;
    if (!cJSON_IsObject(runs)) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: not a runs file (no \"runs\" object)", path);
        goto cleanup;
    }
    size_t n = (size_t)cJSON_GetArraySize(runs);
    run_result *grown = realloc(set->runs, (set->n + n + 1) * sizeof *grown);
    if (!grown) {
        st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    set->runs = grown;
    const cJSON *run;
    cJSON_ArrayForEach(run, runs) {
        run_result r;
        memset(&r, 0, sizeof r);
        r.test_mae = r.test_eps = NAN;
        snprintf(r.id, sizeof r.id, "%s", run->string);
        const char *arch = string_of(run, "arch", NULL), *head = string_of(run, "head", NULL);
        const char *opt = string_of(run, "optimizer", "rmsprop");
        const cJSON *seed = cJSON_GetObjectItemCaseSensitive(run, "seed");
        const cJSON *epochs = cJSON_GetObjectItemCaseSensitive(run, "epochs");
        if (!arch || !head || !cJSON_IsNumber(seed) || !cJSON_IsArray(epochs)) {
            st = relage_fail(RELAGE_ERR_FORMAT, "%s: run %s lacks arch, head, seed or epochs", path,
                             r.id);
            goto cleanup;
        }
        r.seed = seed->valueint;
        snprintf(r.model, sizeof r.model, "%s_%s%s%s", arch, head,
                 strcmp(opt, "rmsprop") ? "_" : "", strcmp(opt, "rmsprop") ? opt : "");
        const cJSON *e;
        cJSON_ArrayForEach(e, epochs) {
            if ((st = add_val_mae(e, &r)) != RELAGE_OK) {
                free_run(&r);
                goto cleanup;
            }
            const cJSON *mae = cJSON_GetObjectItemCaseSensitive(e, "test_mae");
            const cJSON *eps = cJSON_GetObjectItemCaseSensitive(e, "test_eps");
            if (cJSON_IsNumber(mae)) {
                r.test_mae = mae->valuedouble;
                r.test_eps = cJSON_IsNumber(eps) ? eps->valuedouble : (double)NAN;
            }
        }
        if (isnan(r.test_mae)) {
            free_run(&r);
            continue;
        }
        if ((st = check_metrics(&r, path)) != RELAGE_OK) {
            free_run(&r);
            goto cleanup;
        }
        if ((st = read_predictions(&r, run, path)) != RELAGE_OK) {
            free_run(&r);
            goto cleanup;
        }
        set->runs[set->n++] = r;
    }
cleanup:
    cJSON_Delete(root);
    return st;
}

relage_status run_set_read(run_set *set, const char *path, const char *source) {
    size_t first = set->n;
    relage_status st = read_any(set, path);
    for (size_t i = first; st == RELAGE_OK && source && i < set->n; i++) {
        run_result *r = &set->runs[i];
        char model[sizeof r->model];
        if (snprintf(model, sizeof model, "%s:%s", source, r->model) >= (int)sizeof model)
            return relage_fail(RELAGE_ERR_INVALID_ARG, "%s: source name '%s' too long", path,
                               source);
        memcpy(r->model, model, sizeof model);
    }
    return st;
}

relage_status run_set_keep_models(run_set *set, const char *names) {
    char *keep = calloc(set->n + 1, 1);
    if (!keep) return relage_fail(RELAGE_ERR_NOMEM, "out of memory");
    for (const char *p = names; *p;) { /* each name marks its runs, and must mark one */
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        int found = 0;
        for (size_t i = 0; i < set->n; i++)
            if (strlen(set->runs[i].model) == n && strncmp(set->runs[i].model, p, n) == 0)
                keep[i] = found = 1;
        if (!found) {
            char there[512] = "";
            for (size_t k = 0; k < set->n; k++) {
                size_t seen = 0;
                while (seen < k && strcmp(set->runs[seen].model, set->runs[k].model)) seen++;
                if (seen == k && strlen(there) + 70 < sizeof there)
                    snprintf(there + strlen(there), sizeof there - strlen(there), "%s%s",
                             *there ? ", " : "", set->runs[k].model);
            }
            free(keep);
            return relage_fail(RELAGE_ERR_INVALID_ARG, "--models: no run of '%.*s' (there are: %s)",
                               (int)n, p, there);
        }
        p += n + (end != NULL);
    }
    size_t kept = 0;
    for (size_t i = 0; i < set->n; i++) {
        if (keep[i])
            set->runs[kept++] = set->runs[i];
        else
            free_run(&set->runs[i]);
    }
    set->n = kept;
    free(keep);
    return RELAGE_OK;
}

relage_status run_set_check(const run_set *set) {
    if (set->n == 0) return relage_fail(RELAGE_ERR_INVALID_ARG, "no run with a test MAE");
    for (size_t i = 0; i < set->n; i++)
        for (size_t j = i + 1; j < set->n; j++)
            if (set->runs[i].seed == set->runs[j].seed &&
                strcmp(set->runs[i].model, set->runs[j].model) == 0)
                return relage_fail(RELAGE_ERR_INVALID_ARG,
                                   "runs %s and %s are both %s with seed %d (one run given twice?)",
                                   set->runs[i].id, set->runs[j].id, set->runs[i].model,
                                   set->runs[i].seed);
    return RELAGE_OK;
}

void run_set_free(run_set *set) {
    if (!set) return;
    for (size_t i = 0; i < set->n; i++) free_run(&set->runs[i]);
    free(set->runs);
    memset(set, 0, sizeof *set);
}
