/* relage predict: how old each face in the given images looks, through the public predictor
 * API (include/relage.h): a table, JSON lines or CSV, optionally drawn. Bad files are reported
 * and skipped; the exit code is 1 when any image failed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/result_json.h"
#include "cli.h"
#include "image/image.h"
#include "inputs.h"
#include "relage.h"

static void predict_usage(FILE *out) {
    fprintf(out,
            "usage: relage predict IMAGE|FOLDER|@LIST... [OPTIONS]\n"
            "\n"
            "  --model FILE      model (default $RELAGE_MODEL, then %s,\n"
            "                    then %s)\n"
            "  --mtcnn DIR       MTCNN weights folder (default $RELAGE_MTCNN, then\n"
            "                    ~/.local/share/relage/mtcnn; see scripts/get-mtcnn-weights)\n"
            "  --detector NAME   mtcnn, cascade or none (default: the model's own)\n"
            "  --largest         the paper's policy: only the largest face\n"
            "  --flip            average with the mirrored face\n"
            "  --max-faces N     at most N faces per image (default 32)\n"
            "  --json            one JSON object per image per line\n"
            "  --csv             one CSV row per face\n"
            "  --dist            add the 101 age probabilities (JSON and CSV)\n"
            "  --draw DIR        write DIR/NAME.png with boxes and ages drawn (NAME-2.png,\n"
            "                    ... where inputs share a name; an input is never overwritten)\n"
            "  --threads N       threads (default: all cores)\n"
            "  --precision NAME  fp32 (default) or bf16 (CPUs with AVX512-BF16 or AMX)\n"
            "  --quiet           no progress or notes on stderr\n"
            "FOLDER is searched recursively for .jpg/.jpeg/.png; @LIST reads one path per line\n"
            "(@- from standard input); - is an image on standard input.\n",
            RELAGE_MODEL_INSTALLED, RELAGE_MODEL_SOURCE);
}

static void print_json(const char *path, const relage_result *r, int dist) {
    result_json_write(stdout, path, r, dist);
    printf("\n");
}

static void print_csv(const char *path, const relage_result *r, int dist) {
    for (size_t i = 0; i < r->n_faces; i++) {
        const relage_face *f = &r->faces[i];
        csv_write_field(stdout, path);
        printf(",%zu,%d,%.1f,%.1f,%.1f,%.1f,", i, r->whole_image, (double)f->box[0],
               (double)f->box[1], (double)f->box[2], (double)f->box[3]);
        if (!isnan(f->prob)) printf("%.4f", (double)f->prob);
        printf(",%.2f,%.2f,%.1f,%.1f,%.2f", (double)f->age, (double)f->spread,
               (double)f->interval[0], (double)f->interval[1], (double)f->regression);
        for (int c = 0; dist && c < RELAGE_AGE_CLASSES; c++) printf(",%.5g", (double)f->dist[c]);
        printf("\n");
    }
}

static void print_table(const char *path, const relage_result *r) {
    printf("%s: %zu face%s%s\n", path, r->n_faces, r->n_faces == 1 ? "" : "s",
           r->whole_image ? " (no face box: the whole image)" : "");
    for (size_t i = 0; i < r->n_faces; i++) {
        const relage_face *f = &r->faces[i];
        printf(
            "  %zu: age %5.1f  (80%% in %4.1f-%4.1f, spread %4.1f)  box [%.0f, %.0f, %.0f, %.0f]",
            i + 1, (double)f->age, (double)f->interval[0], (double)f->interval[1],
            (double)f->spread, (double)f->box[0], (double)f->box[1], (double)f->box[2],
            (double)f->box[3]);
        if (!isnan(f->prob)) printf("  prob %.3f", (double)f->prob);
        printf("\n");
    }
}

/* bytes: the encoded image when it came from standard input, else NULL (read from path) */
static relage_status draw(const char *path, const char *bytes, size_t size, const relage_result *r,
                          const char *out) {
    static const uint8_t green[3] = {0, 230, 0}, black[3] = {0, 0, 0};
    image img = {0};
    relage_status st = bytes ? image_decode(&img, bytes, size, "standard input", NULL)
                             : image_load(&img, path, NULL);
    if (st != RELAGE_OK) return st;
    int side = img.width > img.height ? img.width : img.height;
    int thick = side / 300 + 1, scale = side / 300 + 1;
    for (size_t i = 0; i < r->n_faces && !r->whole_image; i++) {
        const relage_face *f = &r->faces[i];
        int x1 = (int)lroundf(f->box[0]), y1 = (int)lroundf(f->box[1]);
        image_draw_rect(&img, x1, y1, (int)lroundf(f->box[2]), (int)lroundf(f->box[3]), green,
                        thick);
        char label[32];
        snprintf(label, sizeof label, "%.0f", (double)f->age);
        int w = (int)strlen(label) * 6 * scale + 2 * scale, h = 9 * scale;
        int ty = y1 - h - thick > 0 ? y1 - h - thick : y1 + thick;
        image_fill_rect(&img, x1, ty, x1 + w, ty + h, green);
        image_draw_text(&img, x1 + scale, ty + scale, label, black, scale);
    }
    if (r->whole_image) {
        char label[48];
        snprintf(label, sizeof label, "no face: %.0f", (double)r->faces[0].age);
        image_fill_rect(&img, 0, 0, (int)strlen(label) * 6 * scale + 2 * scale, 9 * scale, green);
        image_draw_text(&img, scale, scale, label, black, scale);
    }
    st = image_save_png(&img, out);
    image_free(&img);
    return st;
}

int cmd_predict(int argc, char **argv) {
    relage_predictor_options opt = relage_predictor_default_options();
    const char *model_path = NULL, *draw_dir = NULL;
    int json = 0, csv = 0, dist = 0, quiet = 0, rc = 2;
    long value;
    input_list inputs = {0};
    char **drawn = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            predict_usage(stdout);
            rc = 0;
            goto cleanup;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--csv") == 0) {
            csv = 1;
        } else if (strcmp(a, "--dist") == 0) {
            dist = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--largest") == 0) {
            opt.all_faces = 0;
        } else if (strcmp(a, "--flip") == 0) {
            opt.flip = 1;
        } else if (a[0] == '-' && a[1] == '-') {
            if (!v) {
                fprintf(stderr,
                        "relage predict: %s needs a value, or is not an option (see --help)\n", a);
                goto cleanup;
            }
            i++;
            if (strcmp(a, "--model") == 0)
                model_path = v;
            else if (strcmp(a, "--mtcnn") == 0)
                opt.mtcnn_dir = v;
            else if (strcmp(a, "--detector") == 0)
                opt.detector = v;
            else if (strcmp(a, "--precision") == 0)
                opt.precision = v;
            else if (strcmp(a, "--draw") == 0)
                draw_dir = v;
            else if (strcmp(a, "--max-faces") == 0) {
                if (!parse_int_option(a, v, 1, 1024, &value)) goto cleanup;
                opt.max_faces = (int)value;
            } else if (strcmp(a, "--threads") == 0) {
                if (!parse_int_option(a, v, 1, 1024, &value)) goto cleanup;
                opt.threads = (int)value;
            } else {
                fprintf(stderr, "relage predict: unknown option '%s' (see --help)\n", a);
                goto cleanup;
            }
        } else if (!input_list_add(&inputs, a)) {
            goto cleanup;
        }
    }
    if (json && csv) {
        fprintf(stderr, "relage predict: choose one of --json and --csv\n");
        goto cleanup;
    }
    if (inputs.n == 0) {
        fprintf(stderr, "relage predict: no images given (see --help)\n");
        goto cleanup;
    }
    if (!model_path) model_path = cli_default_model();
    if (draw_dir && !(drawn = drawn_paths(&inputs, draw_dir, "predict"))) goto cleanup;
    relage_predictor *pred = NULL;
    if (relage_predictor_create(&pred, model_path, &opt) != RELAGE_OK) {
        fprintf(stderr, "relage predict: %s\n", relage_last_error());
        rc = 1;
        goto cleanup;
    }
    if (!quiet) fprintf(stderr, "relage predict: %s\n", relage_predictor_notes(pred));
    if (csv) {
        printf("image,face,whole_image,x1,y1,x2,y2,prob,age,spread,p10,p90,regression");
        for (int c = 0; dist && c < RELAGE_AGE_CLASSES; c++) printf(",p%d", c);
        printf("\n");
    }
    progress p;
    progress_start(&p, "predict", "images", (long)inputs.n, quiet || inputs.n < 2);
    size_t failed = 0;
    for (size_t i = 0; i < inputs.n; i++) {
        const char *path = inputs.paths[i];
        relage_result r = {0};
        char *bytes = NULL;
        size_t size = 0;
        relage_status st;
        if (input_is_stdin(path)) {
            st = input_read_stdin(&bytes, &size);
            if (st == RELAGE_OK)
                st = relage_predict_encoded(pred, bytes, size, "standard input", &r);
        } else {
            st = relage_predict_file(pred, path, &r);
        }
        if (st != RELAGE_OK) {
            failed++;
            report_image_error("predict", path, json);
        } else {
            if (json)
                print_json(path, &r, dist);
            else if (csv)
                print_csv(path, &r, dist);
            else
                print_table(path, &r);
            if (drawn && draw(path, bytes, size, &r, drawn[i]) != RELAGE_OK) { /* ages printed */
                failed++;
                fprintf(stderr, "relage predict: drawing %s: %s\n", path, relage_last_error());
            }
        }
        relage_result_free(&r);
        free(bytes);
        progress_update(&p, (long)i + 1);
    }
    progress_finish(&p, (long)inputs.n);
    if (failed) fprintf(stderr, "relage predict: %zu of %zu images failed\n", failed, inputs.n);
    relage_predictor_free(pred);
    rc = failed ? 1 : 0;
cleanup:
    drawn_paths_free(drawn, inputs.n);
    input_list_free(&inputs);
    return rc;
}
