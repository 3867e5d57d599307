/* relage compare RUNS.json...: models over seeds, as the paper compares them: the mean and
 * standard deviation of the test MAE (and epsilon where recorded) per model, the Shapiro-Wilk
 * normality test per model, Student's and Welch's t-tests between every two models, and a
 * paired t-test over per-image errors where both models' runs recorded predictions on the same
 * test set (--labels gives the true ages). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "eval/metrics.h"
#include "eval/plot.h"
#include "eval/runs.h"
#include "eval/stats.h"
#include "inputs.h"

/* The two metrics a run records: test MAE, and test epsilon where the labels carry the votes'
 * standard deviations. */
enum { MAE, EPS, METRICS };
static const char *const METRIC_KEY[METRICS] = {"mae", "eps"};
static const char *const METRIC_NAME[METRICS] = {"MAE", "epsilon"};

/* One metric of one model over its seeds; n is 0 unless every run of the model recorded it. */
typedef struct metric_stats {
    double *v;
    size_t n;
    double mean, sd, w, p; /* w, p NAN when n < 3 */
} metric_stats;

typedef struct model_group {
    const char *name;
    size_t runs;
    metric_stats m[METRICS];
    double *image_error; /* mean |error| per label over the model's runs, or NULL */
} model_group;

static void compare_usage(FILE *out) {
    fprintf(out, "usage: relage compare [SOURCE=]RUNS.json|RUN_DIR... [--labels FILE] [--json]\n"
                 "                [--kde PNG] [--kde-eps PNG] [--curves PNG]\n"
                 "\n"
                 "  SOURCE=PATH     the runs of PATH count as models named SOURCE:MODEL, to\n"
                 "                  compare implementations (e.g. pytorch=ref.json relage=DIR)\n"
                 "  --models LIST   only these models (comma-separated names as the table shows\n"
                 "                  them, e.g. pytorch:resnet18_base,relage:resnet18_base)\n"
                 "  --labels FILE   true ages of the test images (any label format relage eval\n"
                 "                  reads), for the paired test over per-image errors\n"
                 "  --json          one JSON object\n"
                 "  --kde PNG       draw the kernel density of each model's MAE over seeds\n"
                 "                  (models with 2 or more seeds)\n"
                 "  --kde-eps PNG   the same for the epsilon-error (models whose runs recorded\n"
                 "                  it: test sets with the votes' standard deviations)\n"
                 "  --curves PNG    draw each run's validation MAE by epoch (learning curves),\n"
                 "                  coloured by model\n"
                 "\n"
                 "Epsilon statistics and t-tests are shown for the models whose every run\n"
                 "recorded a test epsilon.\n");
}

typedef struct named {
    const char *name;
    size_t at;
} named;

static int by_name(const void *a, const void *b) {
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

/* The images of a paired test: the labelled images that every run with per-image predictions
 * predicted. pos[r][j] is where run r holds common image j (runs without predictions: NULL). */
typedef struct paired_set {
    size_t *label; /* n label indices */
    size_t n;
    size_t **pos; /* per run */
} paired_set;

static void paired_free(paired_set *ps, size_t n_runs) {
    for (size_t r = 0; ps->pos && r < n_runs; r++) free(ps->pos[r]);
    free(ps->pos);
    free(ps->label);
    memset(ps, 0, sizeof *ps);
}

static int paired_build(paired_set *ps, const run_set *runs, const label_set *labels) {
    memset(ps, 0, sizeof *ps);
    size_t *where = malloc((labels->n + 1) * runs->n * sizeof *where);
    ps->pos = calloc(runs->n + 1, sizeof *ps->pos);
    ps->label = malloc((labels->n + 1) * sizeof *ps->label);
    if (!where || !ps->pos || !ps->label) goto fail;
    for (size_t r = 0; r < runs->n; r++) { /* each label's prediction in run r, by binary search */
        const run_result *run = &runs->runs[r];
        size_t *w = where + r * labels->n;
        if (!run->n_pred) continue;
        named *sorted = malloc(run->n_pred * sizeof *sorted);
        if (!sorted) goto fail;
        for (size_t k = 0; k < run->n_pred; k++) sorted[k] = (named){run->test_names[k], k};
        qsort(sorted, run->n_pred, sizeof *sorted, by_name);
        for (size_t i = 0; i < labels->n; i++) {
            named key = {labels->items[i].name, 0};
            const named *hit = bsearch(&key, sorted, run->n_pred, sizeof *sorted, by_name);
            w[i] = hit ? hit->at : SIZE_MAX;
        }
        free(sorted);
    }
    for (size_t i = 0; i < labels->n; i++) {
        int all = 1;
        for (size_t r = 0; r < runs->n && all; r++)
            if (runs->runs[r].n_pred && where[r * labels->n + i] == SIZE_MAX) all = 0;
        if (all) ps->label[ps->n++] = i;
    }
    for (size_t r = 0; r < runs->n; r++) {
        if (!runs->runs[r].n_pred) continue;
        if (!(ps->pos[r] = malloc((ps->n + 1) * sizeof **ps->pos))) goto fail;
        for (size_t j = 0; j < ps->n; j++) ps->pos[r][j] = where[r * labels->n + ps->label[j]];
    }
    free(where);
    return 1;
fail:
    free(where);
    paired_free(ps, runs->n);
    return 0;
}

/* Mean absolute error per common image over the model's runs; NULL unless every run of the
 * model has per-image predictions (and there are common images). */
static double *image_errors(const run_set *runs, const char *model, const label_set *labels,
                            const paired_set *ps) {
    if (!ps->n) return NULL;
    double *err = calloc(ps->n, sizeof *err);
    size_t used = 0;
    for (size_t r = 0; err && r < runs->n; r++) {
        const run_result *run = &runs->runs[r];
        if (strcmp(run->model, model) != 0) continue;
        if (!ps->pos[r]) goto none;
        for (size_t j = 0; j < ps->n; j++)
            err[j] += fabs(run->test_pred[ps->pos[r][j]] - labels->items[ps->label[j]].mean);
        used++;
    }
    if (!used) goto none;
    for (size_t j = 0; j < ps->n; j++) err[j] /= (double)used;
    return err;
none:
    free(err);
    return NULL;
}

/* Mean, standard deviation and Shapiro-Wilk (3 or more values) of one metric. */
static void summarise(metric_stats *m) {
    m->mean = stats_mean(m->v, m->n);
    m->sd = m->n >= 2 ? stats_sd(m->v, m->n) : (double)NAN; /* undefined for one seed */
    m->w = m->p = NAN;
    if (m->n >= 3 && stats_shapiro_wilk(m->v, m->n, &m->w, &m->p) != RELAGE_OK) m->w = m->p = NAN;
}

/* Student's and Welch's t-tests of one metric between two models (NAN without 2 seeds each). */
static void two_sample_tests(const metric_stats *x, const metric_stats *y, ttest_result *student,
                             ttest_result *welch) {
    *student = *welch = (ttest_result){NAN, NAN, NAN};
    if (x->n < 2 || y->n < 2) return;
    if (stats_ttest_student(x->v, x->n, y->v, y->n, student) != RELAGE_OK)
        *student = (ttest_result){NAN, NAN, NAN};
    if (stats_ttest_welch(x->v, x->n, y->v, y->n, welch) != RELAGE_OK)
        *welch = (ttest_result){NAN, NAN, NAN};
}

/* ,"KEY":[...],"KEY_mean":M,"KEY_sd":S,"KEY_shapiro_w":W,"KEY_shapiro_p":P (MAE's keys as
 * before: "mae", "mae_mean", ..., "shapiro_w", "shapiro_p"). */
static void print_metric_json(const char *key, const metric_stats *m) {
    int mae = strcmp(key, "mae") == 0;
    printf(",\"%s\":[", key);
    for (size_t i = 0; i < m->n; i++) {
        printf("%s", i ? "," : "");
        json_write_number(stdout, m->v[i], 4);
    }
    printf("],\"%s_mean\":", key);
    json_write_number(stdout, m->mean, 4);
    printf(",\"%s_sd\":", key);
    json_write_number(stdout, m->sd, 4);
    printf(",\"%s%sshapiro_w\":", mae ? "" : key, mae ? "" : "_");
    json_write_number(stdout, m->w, 6);
    printf(",\"%s%sshapiro_p\":", mae ? "" : key, mae ? "" : "_");
    json_write_number(stdout, m->p, 6);
}

static void print_test_json(const char *name, const ttest_result *t) {
    printf(",\"%s_t\":", name);
    json_write_number(stdout, t->t, 6);
    printf(",\"%s_df\":", name);
    json_write_number(stdout, t->df, 4);
    printf(",\"%s_p\":", name);
    json_write_number(stdout, t->p, 6);
}

/* The width of the model column: the longest name, at least 24. */
static int name_width(const model_group *groups, size_t n) {
    size_t w = 24;
    for (size_t g = 0; g < n; g++)
        if (strlen(groups[g].name) > w) w = strlen(groups[g].name);
    return (int)w;
}

/* One table row per model with the metric recorded. */
static void print_metric_table(const char *name, int k, const model_group *groups, size_t n) {
    int w = name_width(groups, n);
    char mean[32], sd[32];
    snprintf(mean, sizeof mean, "%s mean", name);
    snprintf(sd, sizeof sd, "%s sd", name);
    printf("%s%-*s %5s %12s %12s %9s %9s\n", k ? "\n" : "", w, "model", "seeds", mean, sd, "SW W",
           "SW p");
    for (size_t g = 0; g < n; g++) {
        const metric_stats *m = &groups[g].m[k];
        if (m->n)
            printf("%-*s %5zu %12.4f %12.4f %9.4f %9.4f\n", w, groups[g].name, m->n, m->mean, m->sd,
                   m->w, m->p);
    }
}

/* Each run's validation MAE by epoch, coloured by model. */
static int draw_curves(const run_set *runs, const char *png) {
    const char **models = malloc((runs->n + 1) * sizeof *models);
    const double **curves = malloc((runs->n + 1) * sizeof *curves);
    size_t *lengths = malloc((runs->n + 1) * sizeof *lengths), n = 0;
    relage_status st = RELAGE_ERR_NOMEM;
    if (models && curves && lengths) {
        for (size_t r = 0; r < runs->n; r++)
            if (runs->runs[r].n_epochs) {
                models[n] = runs->runs[r].model;
                curves[n] = runs->runs[r].val_mae;
                lengths[n++] = runs->runs[r].n_epochs;
            }
        st = figure_curves(png, "Validation MAE by epoch", "validation MAE (years)", models, curves,
                           lengths, n);
    }
    free(models);
    free(curves);
    free(lengths);
    if (st != RELAGE_OK) fprintf(stderr, "relage compare: %s: %s\n", png, relage_last_error());
    return st == RELAGE_OK;
}

/* 1 when no figure would replace a file compare reads: a runs file, a run folder's records,
 * the labels; else prints why (output_path_ok) and returns 0. */
static int figures_replace_no_input(const char *kde, const char *kde_eps, const char *curves,
                                    const char *const *files, size_t n_files, const char *labels) {
    char(*derived)[4096] = calloc(RUN_RECORDS * n_files + 1, sizeof *derived);
    const char **inputs = calloc((RUN_RECORDS + 1) * n_files + 1, sizeof *inputs);
    int ok = derived && inputs;
    if (!ok) fprintf(stderr, "relage compare: out of memory\n");
    size_t n = 0;
    for (size_t f = 0; ok && f < n_files; f++) {
        struct stat st;
        int folder = stat(files[f], &st) == 0 && S_ISDIR(st.st_mode);
        inputs[n++] = files[f];
        for (int k = 0; folder && k < RUN_RECORDS; k++) {
            char *path = derived[RUN_RECORDS * f + k];
            snprintf(path, sizeof *derived, "%s/%s", files[f], run_records[k]);
            inputs[n++] = path;
        }
    }
    if (ok) inputs[n++] = labels;
    const char *outputs[3] = {kde, kde_eps, curves};
    static const char *const FLAGS[3] = {"--kde", "--kde-eps", "--curves"};
    for (int k = 0; ok && k < 3; k++)
        if (outputs[k]) ok = output_path_ok("compare", FLAGS[k], outputs[k], inputs, (int)n);
    free(derived);
    free(inputs);
    return ok;
}

int cmd_compare(int argc, char **argv) {
    int json = 0, rc = 1;
    const char *labels_path = NULL, *kde_path = NULL, *kde_eps_path = NULL, *only = NULL;
    const char *curves_path = NULL, **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    run_set runs = {0};
    label_set labels = {0};
    model_group *groups = NULL;
    paired_set paired = {0};
    size_t n_groups = 0, n_files = 0;
    if (!inputs) {
        fprintf(stderr, "relage compare: out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            compare_usage(stdout);
            rc = 0;
            goto cleanup;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--labels") == 0 && i + 1 < argc) {
            labels_path = argv[++i];
        } else if (strcmp(argv[i], "--kde") == 0 && i + 1 < argc) {
            kde_path = argv[++i];
        } else if (strcmp(argv[i], "--kde-eps") == 0 && i + 1 < argc) {
            kde_eps_path = argv[++i];
        } else if (strcmp(argv[i], "--curves") == 0 && i + 1 < argc) {
            curves_path = argv[++i];
        } else if (strcmp(argv[i], "--models") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "relage compare: unknown option '%s' (see --help)\n", argv[i]);
            rc = 2;
            goto cleanup;
        } else {
            /* SOURCE=PATH names where the runs come from (when PATH is not itself a path) */
            const char *path = argv[i], *eq = strchr(path, '=');
            char source[32] = "";
            if (eq && eq > path && (size_t)(eq - path) < sizeof source &&
                !memchr(path, '/', (size_t)(eq - path)) && access(path, F_OK) != 0) {
                snprintf(source, sizeof source, "%.*s", (int)(eq - path), path);
                path = eq + 1;
            }
            inputs[n_files] = path;
            if (run_set_read(&runs, path, *source ? source : NULL) != RELAGE_OK) {
                fprintf(stderr, "relage compare: %s\n", relage_last_error());
                goto cleanup;
            }
            n_files++;
        }
    }
    if (!n_files) {
        compare_usage(stderr);
        rc = 2;
        goto cleanup;
    }
    if (!figures_replace_no_input(kde_path, kde_eps_path, curves_path, inputs, n_files,
                                  labels_path)) {
        rc = 2;
        goto cleanup;
    }
    if (only && run_set_keep_models(&runs, only) != RELAGE_OK) {
        fprintf(stderr, "relage compare: %s\n", relage_last_error());
        goto cleanup;
    }
    if (run_set_check(&runs) != RELAGE_OK) {
        fprintf(stderr, "relage compare: %s\n", relage_last_error());
        goto cleanup;
    }
    if (labels_path && label_set_read(&labels, labels_path) != RELAGE_OK) {
        fprintf(stderr, "relage compare: %s\n", relage_last_error());
        goto cleanup;
    }
    if (labels_path && !paired_build(&paired, &runs, &labels)) {
        fprintf(stderr, "relage compare: out of memory\n");
        goto cleanup;
    }
    groups = calloc(runs.n + 1, sizeof *groups);
    for (size_t r = 0; groups && r < runs.n; r++) {
        const run_result *run = &runs.runs[r];
        size_t g = 0;
        while (g < n_groups && strcmp(groups[g].name, run->model)) g++;
        if (g == n_groups) {
            groups[n_groups].name = run->model;
            for (int k = 0; k < METRICS; k++)
                groups[n_groups].m[k].v = calloc(runs.n, sizeof(double));
            n_groups++;
        }
        model_group *m = &groups[g];
        m->runs++;
        if (m->m[MAE].v) m->m[MAE].v[m->m[MAE].n++] = run->test_mae;
        if (m->m[EPS].v && isfinite(run->test_eps)) m->m[EPS].v[m->m[EPS].n++] = run->test_eps;
    }
    int any_eps = 0;
    for (size_t g = 0; g < n_groups; g++) {
        model_group *m = &groups[g];
        if (m->m[EPS].n != m->runs) m->m[EPS].n = 0; /* only where every run recorded it */
        any_eps |= m->m[EPS].n > 0;
        for (int k = 0; k < METRICS; k++) summarise(&m->m[k]);
        m->image_error = image_errors(&runs, m->name, &labels, &paired);
    }
    int w = name_width(groups, n_groups); /* the tables' model column */
    if (json) {
        printf("{\"models\":[");
        for (size_t g = 0; g < n_groups; g++) {
            const model_group *m = &groups[g];
            printf("%s{\"model\":", g ? "," : "");
            json_write_string(stdout, m->name);
            printf(",\"n\":%zu", m->runs);
            for (int k = 0; k < METRICS; k++)
                if (m->m[k].n) print_metric_json(METRIC_KEY[k], &m->m[k]);
            printf("}");
        }
        printf("],\"tests\":[");
    } else {
        for (int k = 0; k < METRICS; k++)
            if (k == MAE || any_eps) print_metric_table(METRIC_NAME[k], k, groups, n_groups);
        printf("\n%-*s %-*s %-7s %9s %9s %9s %9s %9s\n", w, "model A", w, "model B", "metric",
               "Student t", "p", "Welch t", "p", "paired p");
    }
    int first = 1;
    size_t skipped = 0;
    for (size_t a = 0; a < n_groups; a++)
        for (size_t b = a + 1; b < n_groups; b++) {
            const model_group *x = &groups[a], *y = &groups[b];
            ttest_result t[METRICS][2], pr = {NAN, NAN, NAN};
            for (int k = 0; k < METRICS; k++)
                two_sample_tests(&x->m[k], &y->m[k], &t[k][0], &t[k][1]);
            if (x->image_error && y->image_error &&
                stats_ttest_paired(x->image_error, y->image_error, paired.n, &pr) != RELAGE_OK)
                pr = (ttest_result){NAN, NAN, NAN};
            if (!json) {
                if (isnan(t[MAE][0].p) && isnan(pr.p)) {
                    skipped++;
                    continue;
                }
                for (int k = 0; k < METRICS; k++)
                    if (k == MAE || !isnan(t[k][0].p))
                        printf("%-*s %-*s %-7s %9.4f %9.4f %9.4f %9.4f %9.4f\n", w, x->name, w,
                               y->name, METRIC_NAME[k], t[k][0].t, t[k][0].p, t[k][1].t, t[k][1].p,
                               k == MAE ? pr.p : (double)NAN);
                continue;
            }
            printf("%s{\"a\":", first ? "" : ",");
            json_write_string(stdout, x->name);
            printf(",\"b\":");
            json_write_string(stdout, y->name);
            print_test_json("student", &t[MAE][0]);
            print_test_json("welch", &t[MAE][1]);
            print_test_json("paired", &pr);
            if (x->m[EPS].n && y->m[EPS].n) {
                print_test_json("eps_student", &t[EPS][0]);
                print_test_json("eps_welch", &t[EPS][1]);
            }
            printf("}");
            first = 0;
        }
    if (json)
        printf("]}\n");
    else if (skipped)
        printf("(%zu pairs without a test are not shown: a t-test needs 2 seeds per model, the "
               "paired test per-image predictions and --labels)\n",
               skipped);
    if (!json && paired.n)
        printf("paired tests over the %zu labelled images every run with per-image predictions "
               "predicted\n",
               paired.n);
    rc = 0;
    const char *kde[METRICS] = {kde_path, kde_eps_path};
    static const char *const TITLE[METRICS] = {"Test MAE over seeds", "Test epsilon over seeds"};
    static const char *const AXIS[METRICS] = {"MAE (years)", "epsilon-error"};
    for (int k = 0; k < METRICS; k++) {
        if (!kde[k]) continue;
        const char *names[64];
        const double *values[64];
        size_t counts[64], n = 0;
        for (size_t g = 0; g < n_groups && n < 64; g++)
            if (groups[g].m[k].n >= 2 && groups[g].m[k].sd > 0) {
                names[n] = groups[g].name;
                values[n] = groups[g].m[k].v;
                counts[n++] = groups[g].m[k].n;
            }
        if (figure_kde(kde[k], TITLE[k], AXIS[k], names, values, counts, n) != RELAGE_OK) {
            fprintf(stderr, "relage compare: %s: %s\n", kde[k], relage_last_error());
            rc = 1;
        }
    }
    if (curves_path && !draw_curves(&runs, curves_path)) rc = 1;
cleanup:
    for (size_t g = 0; g < n_groups; g++) {
        for (int k = 0; k < METRICS; k++) free(groups[g].m[k].v);
        free(groups[g].image_error);
    }
    free(groups);
    paired_free(&paired, runs.n);
    label_set_free(&labels);
    run_set_free(&runs);
    free(inputs);
    return rc;
}
