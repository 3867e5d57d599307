/* relage eval: MAE, epsilon-error, real-age MAE and breakdowns by age group, gender and race,
 * of an existing predictions CSV against labels, of a model on a prepared face cache, or of a
 * model on a dataset's images as relage predict sees them (the model's predictions can be
 * written as CSV or in the ChaLearn submission formats). */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "data/face_cache.h"
#include "dataset.h"
#include "eval/metrics.h"
#include "eval/model_eval.h"
#include "eval/plot.h"
#include "inputs.h"
#include "io/checkpoint.h"

static void eval_usage(FILE *out) {
    fprintf(out,
            "usage: relage eval --predictions FILE DATASET [--json] [--challenge]\n"
            "       relage eval --model FILE (--cache CACHE | DATASET) [--flip] [--precision P]\n"
            "                   [--out FILE] [--threads N] [--json]\n"
            "DATASET: --labels FILE [--images DIR] | --utkface DIR | --aaf DIR, and --split FILE\n"
            "to keep the images it names\n"
            "\n"
            "  --model FILE        a relage model, run on --cache (a face cache from relage\n"
            "                      prepare, which carries the labels), or on the dataset's\n"
            "                      images as relage predict --largest sees them (detection as\n"
            "                      the model was trained; --mtcnn DIR, --detector NAME)\n"
            "  --flip              average each face with its mirror image\n"
            "  --precision NAME    fp32 (default) or bf16 (CPUs with AVX512-BF16 or AMX): what\n"
            "                      bf16 inference costs in accuracy\n"
            "  --batch N           images per forward pass (default 32)\n"
            "  --threads N         threads (default: all cores)\n"
            "  --out FILE          write the model's predictions: --format csv (default,\n"
            "                      file_name,predicted_age), chalearn15 (name;age) or\n"
            "                      chalearn16 (name,age), the challenges' submission formats\n"
            "  --predictions FILE  CSV with file_name,predicted_age\n"
            "  --labels FILE       APPA-REAL gt_avg_*.csv or gt_*.csv, ChaLearn 2015/2016, or\n"
            "                      path,age[,std]\n"
            "  --utkface DIR       a UTKFace folder (ages, gender, race from the file names)\n"
            "  --aaf DIR           an All-Age-Faces folder (ages from the file names)\n"
            "  --split FILE        keep only the images named in this split file\n"
            "  --challenge         missing predictions count as epsilon 1 over all labels (the\n"
            "                      official rule); by default they are counted and reported\n"
            "  --json              one JSON object\n"
            "  --hist PNG          draw the labels' age histogram (then --predictions is\n"
            "                      optional)\n"
            "  --scatter PNG       draw predicted against true (mean apparent) age\n"
            "  --error-by-age PNG  draw the MAE by true age (5-year bins)\n"
            "  --grid PNG          draw the 8 best and 8 worst predictions (needs the images)\n"
            "  --images DIR        where the labelled images are (names relative to it)\n"
            "\n"
            "epsilon = 1 - exp(-(x - mu)^2 / (2 sigma^2)); for sigma = 0 it is 0 when x == mu,\n"
            "else 1.\n");
}

/* Titled by the label file's name, or a folder's last two parts, and the split's name. */
static int draw_histogram(const label_set *labels, const char *label_path, const char *split,
                          const char *png) {
    double *ages = malloc((labels->n ? labels->n : 1) * sizeof *ages);
    char title[160], source[128];
    snprintf(source, sizeof source, "%s", label_path);
    size_t len = strlen(source);
    while (len > 1 && source[len - 1] == '/') source[--len] = '\0';
    struct stat info;
    int parts = stat(label_path, &info) == 0 && S_ISDIR(info.st_mode) ? 2 : 1;
    const char *name = source + len;
    while (name > source && (name[-1] != '/' || --parts > 0)) name--;
    const char *split_name = split ? strrchr(split, '/') : NULL;
    split_name = split_name ? split_name + 1 : split;
    snprintf(title, sizeof title, "Ages in %s%s%s%s", name, split ? " (" : "",
             split ? split_name : "", split ? ")" : "");
    for (size_t i = 0; ages && i < labels->n; i++) ages[i] = labels->items[i].mean;
    relage_status st = ages ? figure_age_histogram(png, title, ages, labels->n) : RELAGE_ERR_NOMEM;
    free(ages);
    if (st != RELAGE_OK) fprintf(stderr, "relage eval: %s: %s\n", png, relage_last_error());
    return st == RELAGE_OK;
}

/* Predicted against true age (scatter), or the error by age, over the matched images. */
static int draw_scatter(const label_set *labels, const prediction_set *preds, const size_t *match,
                        const char *png, int error_by_age) {
    double *truth = malloc((labels->n + 1) * sizeof *truth);
    double *pred = malloc((labels->n + 1) * sizeof *pred);
    size_t n = 0;
    for (size_t i = 0; truth && pred && i < labels->n; i++)
        if (match[i] != EVAL_NO_MATCH) {
            truth[n] = labels->items[i].mean;
            pred[n++] = preds->ages[match[i]];
        }
    relage_status st = RELAGE_ERR_NOMEM;
    if (truth && pred)
        st = error_by_age ? figure_error_by_age(png, "Error by age", truth, pred, n)
                          : figure_scatter(png, "Predicted against apparent age", truth, pred, n);
    free(truth);
    free(pred);
    if (st != RELAGE_OK) fprintf(stderr, "relage eval: %s: %s\n", png, relage_last_error());
    return st == RELAGE_OK;
}

/* One row of the text table: name, n, MAE and epsilon ("-" where the labels carry no vote
 * spread, as real ages do). */
static void print_group_row(const char *name, const eval_group *e) {
    printf("%-8s %6zu %8.3f ", name, e->n, e->mae);
    if (isnan(e->eps))
        printf("%8s\n", "-");
    else
        printf("%8.4f\n", e->eps);
}

/* ,"gender":{"0":{...},"1":{...}} for the codes present; nothing when none is. */
static void print_attribute_json(const char *key, const eval_group *groups, int n) {
    int first = 1;
    for (int g = 0; g < n; g++) {
        if (!groups[g].n) continue;
        if (first) printf(",\"%s\":{", key);
        printf("%s\"%d\":{\"n\":%zu,\"mae\":", first ? "" : ",", g, groups[g].n);
        json_write_number(stdout, groups[g].mae, 4);
        printf(",\"eps\":");
        json_write_number(stdout, groups[g].eps, 4);
        printf("}");
        first = 0;
    }
    if (!first) printf("}");
}

typedef struct scored {
    size_t label, pred;
    double error;
} scored;

static int by_error(const void *a, const void *b) {
    double x = ((const scored *)a)->error, y = ((const scored *)b)->error;
    return (x > y) - (x < y);
}

/* The 8 best and 8 worst predictions by |error| against the apparent mean (Figures 4, 5). */
static int draw_grid(const label_set *labels, const prediction_set *preds, const size_t *match,
                     const char *dir, const char *png) {
    enum { SHOW = 8 };
    scored *s = malloc((labels->n + 1) * sizeof *s);
    size_t n = 0;
    for (size_t i = 0; s && i < labels->n; i++)
        if (match[i] != EVAL_NO_MATCH)
            s[n++] = (scored){i, match[i], fabs(preds->ages[match[i]] - labels->items[i].mean)};
    if (s) qsort(s, n, sizeof *s, by_error);
    size_t show = n < 2 * SHOW ? n : 2 * SHOW, half = show / 2;
    char paths[2 * SHOW][512], captions[2 * SHOW][64];
    const char *path_ptr[2 * SHOW], *caption_ptr[2 * SHOW];
    for (size_t j = 0; j < show; j++) {
        const scored *e = &s[j < half ? j : n - (show - j)];
        snprintf(paths[j], sizeof paths[j], "%s/%s", dir, labels->items[e->label].name);
        snprintf(captions[j], sizeof captions[j], "true %.1f\npred %.1f",
                 labels->items[e->label].mean, preds->ages[e->pred]);
        path_ptr[j] = paths[j];
        caption_ptr[j] = captions[j];
        if (access(paths[j], R_OK) != 0)
            fprintf(stderr, "relage eval: %s: %s (drawn as a grey tile)\n", paths[j],
                    strerror(errno));
    }
    relage_status st =
        show ? figure_image_grid(png, "Best (top rows) and worst (bottom rows) predictions",
                                 path_ptr, caption_ptr, show, 4, 160)
             : RELAGE_ERR_INVALID_ARG;
    free(s);
    if (st != RELAGE_OK)
        fprintf(stderr, "relage eval: %s: %s\n", png,
                show ? relage_last_error() : "no image has both a label and a prediction");
    return st == RELAGE_OK;
}

static void on_progress(size_t done, size_t total, void *user) {
    progress_update(user, (long)done);
    (void)total;
}

/* Runs the model file on the cache: labels from the cache, predictions from the model. */
static int predict_cache(const char *model_path, const char *cache_path, int flip,
                         const char *precision, long batch, label_set *labels,
                         prediction_set *preds) {
    model *m = NULL;
    const backend *be = NULL;
    relage_status st;
    if ((st = backend_select("dnnl", precision, &be)) == RELAGE_OK &&
        (st = checkpoint_open_model(&m, model_path, be, (int)batch * (flip ? 2 : 1))) ==
            RELAGE_OK) {
        face_cache *c = NULL;
        loader l = {0};
        if ((st = face_cache_open(&c, cache_path)) == RELAGE_OK &&
            (st = loader_init(&l, c, m->config.input, 0)) == RELAGE_OK) {
            const face_cache_info *info = face_cache_info_of(c);
            char crop[192];
            snprintf(crop, sizeof crop, "%s %s size=%u", info->detector, info->policy, info->size);
            if (*m->crop && strcmp(crop, m->crop) != 0)
                fprintf(stderr,
                        "relage eval: warning: the model was trained on '%s' crops, the "
                        "cache holds '%s'\n",
                        m->crop, crop);
            progress p;
            progress_start(&p, "eval", "images", (long)l.n, 0);
            st = model_eval_loader(m, &l, flip, (int)batch, labels, preds, on_progress, &p);
            progress_finish(&p, (long)preds->n);
        }
        loader_free(&l);
        face_cache_close(c);
    }
    model_free(m);
    if (st != RELAGE_OK) fprintf(stderr, "relage eval: %s\n", relage_last_error());
    return st == RELAGE_OK;
}

/* Runs the model on each labelled image through the public API, as relage predict --largest
 * does: the largest face as the model's training cropped it, or the whole image without one.
 * Images that cannot be read are reported (the first few named) and count as missing. */
static int predict_dataset(const char *model_path, const char *images,
                           const relage_predictor_options *opt, const label_set *labels,
                           prediction_set *preds) {
    relage_predictor *p = NULL;
    memset(preds, 0, sizeof *preds);
    if (relage_predictor_create(&p, model_path, opt) != RELAGE_OK) {
        fprintf(stderr, "relage eval: %s\n", relage_last_error());
        return 0;
    }
    fprintf(stderr, "relage eval: %s\n", relage_predictor_notes(p));
    preds->names = calloc(labels->n + 1, sizeof *preds->names);
    preds->ages = malloc((labels->n + 1) * sizeof *preds->ages);
    int ok = preds->names && preds->ages;
    size_t failed = 0;
    progress pr;
    progress_start(&pr, "eval", "images", (long)labels->n, 0);
    for (size_t i = 0; ok && i < labels->n; i++) {
        const char *name = labels->items[i].name;
        size_t size = strlen(images) + strlen(name) + 2;
        char *path = malloc(size);
        relage_result r;
        if (!path) {
            ok = 0;
            break;
        }
        snprintf(path, size, "%s/%s", images, name);
        if (relage_predict_file(p, path, &r) == RELAGE_OK) {
            if ((preds->names[preds->n] = strdup(name)) != NULL)
                preds->ages[preds->n++] = r.faces[0].age;
            else
                ok = 0;
            relage_result_free(&r);
        } else if (failed++ < 5) {
            fprintf(stderr, "relage eval: %s\n", relage_last_error());
        }
        free(path);
        progress_update(&pr, (long)i + 1);
    }
    progress_finish(&pr, (long)labels->n);
    relage_predictor_free(p);
    if (!ok) {
        fprintf(stderr, "relage eval: out of memory\n");
        prediction_set_free(preds);
        return 0;
    }
    if (failed)
        fprintf(stderr,
                "relage eval: %zu of %zu images could not be predicted; they count as "
                "missing\n",
                failed, labels->n);
    return 1;
}

int cmd_eval(int argc, char **argv) {
    const char *pred_path = NULL, *hist_path = NULL, *scatter_path = NULL, *grid_path = NULL;
    const char *model_path = NULL, *cache_path = NULL, *out_path = NULL, *format = "csv";
    const char *error_path = NULL, *precision = "fp32", *mtcnn_dir = NULL, *detector = NULL;
    dataset_args data = {0};
    int json = 0, challenge = 0, flip = 0;
    long batch = 32, threads = omp_get_num_procs();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            eval_usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--challenge") == 0) {
            challenge = 1;
        } else if (strcmp(a, "--flip") == 0) {
            flip = 1;
        } else if (strcmp(a, "--model") == 0 && i + 1 < argc) {
            model_path = argv[++i];
        } else if (strcmp(a, "--precision") == 0 && i + 1 < argc) {
            precision = argv[++i];
        } else if (strcmp(a, "--cache") == 0 && i + 1 < argc) {
            cache_path = argv[++i];
        } else if (strcmp(a, "--out") == 0 && i + 1 < argc) {
            out_path = argv[++i];
        } else if (strcmp(a, "--format") == 0 && i + 1 < argc) {
            format = argv[++i];
            if (strcmp(format, "csv") && strcmp(format, "chalearn15") &&
                strcmp(format, "chalearn16")) {
                fprintf(stderr, "relage eval: --format is csv, chalearn15 or chalearn16\n");
                return 2;
            }
        } else if (strcmp(a, "--batch") == 0 && i + 1 < argc) {
            if (!parse_int_option(a, argv[++i], 1, 1024, &batch)) return 2;
        } else if (strcmp(a, "--threads") == 0 && i + 1 < argc) {
            if (!parse_int_option(a, argv[++i], 1, 1024, &threads)) return 2;
        } else if (strcmp(a, "--predictions") == 0 && i + 1 < argc) {
            pred_path = argv[++i];
        } else if (i + 1 < argc && dataset_option(&data, a, argv[i + 1])) {
            i++;
        } else if (strcmp(a, "--mtcnn") == 0 && i + 1 < argc) {
            mtcnn_dir = argv[++i];
        } else if (strcmp(a, "--detector") == 0 && i + 1 < argc) {
            detector = argv[++i];
        } else if (strcmp(a, "--hist") == 0 && i + 1 < argc) {
            hist_path = argv[++i];
        } else if (strcmp(a, "--scatter") == 0 && i + 1 < argc) {
            scatter_path = argv[++i];
        } else if (strcmp(a, "--error-by-age") == 0 && i + 1 < argc) {
            error_path = argv[++i];
        } else if (strcmp(a, "--grid") == 0 && i + 1 < argc) {
            grid_path = argv[++i];
        } else {
            fprintf(stderr, "relage eval: unknown or incomplete option '%s' (see --help)\n", a);
            return 2;
        }
    }
    int sources = dataset_sources(&data);
    if (cache_path) {
        if (!model_path || pred_path || sources || data.split) {
            fprintf(stderr, "relage eval: --cache goes with --model, without --predictions or a "
                            "dataset (the cache carries its labels; see --help)\n");
            return 2;
        }
    } else if (sources != 1 || (model_path && pred_path) ||
               (!model_path && !pred_path && !hist_path)) {
        fprintf(stderr, "relage eval: needs one dataset (--labels FILE, --utkface DIR or --aaf "
                        "DIR) with --predictions FILE or --model FILE (see --help)\n");
        return 2;
    }
    if ((mtcnn_dir || detector) && (!model_path || cache_path)) {
        fprintf(stderr, "relage eval: --mtcnn and --detector go with --model and a dataset (a "
                        "cache's faces were detected when it was prepared)\n");
        return 2;
    }
    if (model_path && data.labels && !data.images) {
        fprintf(stderr, "relage eval: --model with --labels needs --images DIR (see --help)\n");
        return 2;
    }
    const char *image_dir = data.images ? data.images : data.utkface ? data.utkface : data.aaf;
    struct stat dir_stat;
    if ((grid_path || (model_path && !cache_path)) &&
        (!image_dir || stat(image_dir, &dir_stat) != 0 || !S_ISDIR(dir_stat.st_mode))) {
        fprintf(stderr, "relage eval: %s needs --images DIR, a folder%s%s\n",
                grid_path ? "--grid" : "--model", image_dir ? "; not found: " : "",
                image_dir ? image_dir : "");
        return 2;
    }
    const char *inputs[5] = {pred_path, data.labels, data.split, cache_path, model_path};
    const char *outputs[5] = {out_path, hist_path, scatter_path, error_path, grid_path};
    const char *flags[5] = {"--out", "--hist", "--scatter", "--error-by-age", "--grid"};
    for (int i = 0; i < 5; i++) {
        if (outputs[i] && !output_path_ok("eval", flags[i], outputs[i], inputs, 5)) return 2;
        for (int j = 0; outputs[i] && j < i; j++)
            if (outputs[j] && strcmp(outputs[i], outputs[j]) == 0) {
                fprintf(stderr, "relage eval: %s and %s both write %s\n", flags[j], flags[i],
                        outputs[i]);
                return 2;
            }
    }
    data.outputs = outputs;
    data.flags = flags;
    data.n_outputs = 5;
    omp_set_num_threads((int)threads);
    label_set labels = {0};
    prediction_set preds = {0};
    eval_result r;
    const char *label_path = cache_path ? cache_path : data.labels ? data.labels : image_dir;
    size_t missing = 0;
    if (!cache_path && !dataset_read(&data, "eval", &labels, &missing)) return 1;
    if (model_path) {
        relage_predictor_options opt = relage_predictor_default_options();
        opt.mtcnn_dir = mtcnn_dir;
        opt.detector = detector;
        opt.threads = (int)threads;
        opt.all_faces = 0;
        opt.flip = flip;
        opt.precision = precision;
        if (cache_path
                ? !predict_cache(model_path, cache_path, flip, precision, batch, &labels, &preds)
                : !predict_dataset(model_path, image_dir, &opt, &labels, &preds)) {
            label_set_free(&labels);
            return 1;
        }
        prediction_format f = strcmp(format, "chalearn15") == 0   ? PRED_CHALEARN15
                              : strcmp(format, "chalearn16") == 0 ? PRED_CHALEARN16
                                                                  : PRED_CSV;
        if (out_path && prediction_set_write(&preds, out_path, f) != RELAGE_OK) {
            fprintf(stderr, "relage eval: %s\n", relage_last_error());
            prediction_set_free(&preds);
            label_set_free(&labels);
            return 1;
        }
    }
    if (!pred_path && !model_path) { /* the histogram alone */
        int drawn = draw_histogram(&labels, label_path, data.split, hist_path);
        label_set_free(&labels);
        return drawn ? 0 : 1;
    }
    if (!model_path && prediction_set_read(&preds, pred_path) != RELAGE_OK) {
        fprintf(stderr, "relage eval: %s\n", relage_last_error());
        label_set_free(&labels);
        return 1;
    }
    /* the labels' histogram waits for the evaluation to succeed (a failed run leaves it as it
     * was); with --model, --out was written with the predictions above */
    int evaluated = eval_predictions(&labels, &preds, challenge, &r) == RELAGE_OK;
    if (!evaluated || r.n == 0 ||
        (hist_path && !draw_histogram(&labels, label_path, data.split, hist_path))) {
        if (evaluated && r.n == 0)
            fprintf(stderr, "relage eval: no prediction matches a label (names are compared "
                            "whole, then by the part after the last '/')\n");
        else if (!evaluated)
            fprintf(stderr, "relage eval: %s\n", relage_last_error());
        prediction_set_free(&preds);
        label_set_free(&labels);
        return 1;
    }
    static const char *const GROUPS[AGE_GROUPS] = {"0-9",   "10-19", "20-29", "30-39",
                                                   "40-49", "50-59", "60-69", "70+"};
    if (json) {
        printf("{\"n\":%zu,\"mae\":", r.n);
        json_write_number(stdout, r.mae, 4);
        printf(",\"eps\":");
        json_write_number(stdout, r.eps, 4);
        if (r.n_real) {
            printf(",\"mae_real\":");
            json_write_number(stdout, r.mae_real, 4);
        }
        printf(",\"n_missing\":%zu,\"n_extra\":%zu,\"challenge\":%s,\"groups\":{", r.n_missing,
               r.n_extra, challenge ? "true" : "false");
        for (int g = 0, first = 1; g < AGE_GROUPS; g++) {
            if (!r.groups[g].n) continue;
            printf("%s\"%s\":{\"n\":%zu,\"mae\":", first ? "" : ",", GROUPS[g], r.groups[g].n);
            json_write_number(stdout, r.groups[g].mae, 4);
            printf(",\"eps\":");
            json_write_number(stdout, r.groups[g].eps, 4);
            printf("}");
            first = 0;
        }
        printf("}");
        print_attribute_json("gender", r.gender, 2);
        print_attribute_json("race", r.race, 5);
        printf("}\n");
    } else {
        printf("%zu images: MAE %.3f, epsilon-error ", r.n, r.mae);
        if (isnan(r.eps))
            printf("- (no vote spreads: real ages)");
        else
            printf("%.4f", r.eps);
        if (r.n_real) printf(", MAE vs real age %.3f", r.mae_real);
        printf("\n%zu labelled images without a prediction%s, %zu predictions without a label\n",
               r.n_missing, challenge ? " (counted as epsilon 1)" : "", r.n_extra);
        printf("%-8s %6s %8s %8s\n", "age", "n", "MAE", "epsilon");
        for (int g = 0; g < AGE_GROUPS; g++)
            if (r.groups[g].n) print_group_row(GROUPS[g], &r.groups[g]);
        for (int g = 0; g < 7; g++) {
            const eval_group *e = g < 2 ? &r.gender[g] : &r.race[g - 2];
            char name[16];
            snprintf(name, sizeof name, "%s %d", g < 2 ? "gender" : "race", g < 2 ? g : g - 2);
            if (e->n) print_group_row(name, e);
        }
    }
    size_t *match = NULL;
    int ok = 1;
    if (scatter_path || error_path || grid_path) {
        match = malloc((labels.n + 1) * sizeof *match);
        if (!match || eval_match(&labels, &preds, match) != RELAGE_OK) {
            fprintf(stderr, "relage eval: out of memory\n");
            ok = 0;
        }
    }
    if (ok) { /* each figure tried even when another fails */
        if (scatter_path) ok = draw_scatter(&labels, &preds, match, scatter_path, 0) && ok;
        if (error_path) ok = draw_scatter(&labels, &preds, match, error_path, 1) && ok;
        if (grid_path) ok = draw_grid(&labels, &preds, match, image_dir, grid_path) && ok;
    }
    free(match);
    prediction_set_free(&preds);
    label_set_free(&labels);
    return ok ? 0 : 1;
}
