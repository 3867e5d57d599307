/* relage detect: faces in images with MTCNN (or the cascade fallback): boxes, probabilities and
 * landmarks as a table or JSON lines, optionally drawn. Bad files are reported and skipped; the
 * exit code is 1 when any image failed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/status.h"
#include "detect/detector.h"
#include "image/image.h"
#include "inputs.h"

static void detect_usage(FILE *out) {
    fprintf(out,
            "usage: relage detect IMAGE|FOLDER|@LIST... [OPTIONS]\n"
            "\n"
            "  --detector NAME   auto (default: mtcnn if its weights are found, else cascade),\n"
            "                    mtcnn or cascade\n"
            "  --mtcnn DIR       MTCNN weights folder (default $RELAGE_MTCNN, then\n"
            "                    ~/.local/share/relage/mtcnn; see scripts/get-mtcnn-weights)\n"
            "  --cascade XML     OpenCV cascade (default: Debian opencv-data's frontal face)\n"
            "  --min-face N      smallest face in pixels (default 20)\n"
            "  --factor F        MTCNN pyramid factor, at most 0.95 (default 0.709)\n"
            "  --thresholds A,B,C  MTCNN P-, R-, O-Net thresholds (default 0.6,0.7,0.7)\n"
            "  --largest         the paper's policy: only the largest face, and the whole\n"
            "                    image as the crop when there is none\n"
            "  --margin M        crops grow by M times the face's larger side (default 0)\n"
            "  --square          square crops around the face's centre\n"
            "  --max-pixels N    refuse larger images (default 100000000)\n"
            "  --json            one JSON object per image per line\n"
            "  --draw DIR        write DIR/NAME.png with boxes and landmarks drawn (NAME-2.png,\n"
            "                    ... where inputs share a name; an input is never overwritten)\n"
            "  --quiet           no progress on stderr\n"
            "FOLDER is searched recursively for .jpg/.jpeg/.png; @LIST reads one path per line\n"
            "(@- from standard input); - is an image on standard input.\n");
}

static void print_json(const char *path, const face_detection *faces, size_t n, const char *policy,
                       float (*crops)[4], size_t n_crops, int whole_image) {
    printf("{\"image\":");
    json_write_string(stdout, path);
    printf(",\"policy\":");
    json_write_string(stdout, policy);
    printf(",\"whole_image\":%s,\"crops\":[", whole_image ? "true" : "false");
    for (size_t i = 0; i < n_crops; i++)
        printf("%s[%.2f,%.2f,%.2f,%.2f]", i ? "," : "", (double)crops[i][0], (double)crops[i][1],
               (double)crops[i][2], (double)crops[i][3]);
    printf("],\"faces\":[");
    for (size_t i = 0; i < n; i++) {
        const face_detection *f = &faces[i];
        printf("%s{\"box\":[%.2f,%.2f,%.2f,%.2f],\"prob\":", i ? "," : "", (double)f->box[0],
               (double)f->box[1], (double)f->box[2], (double)f->box[3]);
        json_write_number(stdout, (double)f->prob, 5);
        printf(",\"landmarks\":");
        if (isnan(f->landmarks[0][0])) {
            printf("null");
        } else {
            for (int k = 0; k < 5; k++)
                printf("%s[%.2f,%.2f]", k ? "," : "[", (double)f->landmarks[k][0],
                       (double)f->landmarks[k][1]);
            printf("]");
        }
        printf("}");
    }
    printf("]}\n");
}

static void print_table(const char *path, const face_detection *faces, size_t n, int whole_image) {
    printf("%s: %zu face%s%s\n", path, n, n == 1 ? "" : "s",
           whole_image ? " (the whole image is the crop)" : "");
    for (size_t i = 0; i < n; i++) {
        const face_detection *f = &faces[i];
        printf("  %zu: box [%.1f, %.1f, %.1f, %.1f]", i + 1, (double)f->box[0], (double)f->box[1],
               (double)f->box[2], (double)f->box[3]);
        if (!isnan(f->prob)) printf(" prob %.4f", (double)f->prob);
        printf("\n");
    }
}

static relage_status draw(const image *img, const face_detection *faces, size_t n,
                          const char *out) {
    static const uint8_t green[3] = {0, 230, 0}, red[3] = {255, 40, 40};
    image canvas = {0};
    relage_status st = image_crop(&canvas, img, 0, 0, img->width, img->height);
    if (st != RELAGE_OK) return st;
    int side = img->width > img->height ? img->width : img->height;
    int thick = side / 300 + 1, scale = side / 400 + 1;
    for (size_t i = 0; i < n; i++) {
        const face_detection *f = &faces[i];
        image_draw_rect(&canvas, (int)lroundf(f->box[0]), (int)lroundf(f->box[1]),
                        (int)lroundf(f->box[2]), (int)lroundf(f->box[3]), green, thick);
        if (!isnan(f->landmarks[0][0]))
            for (int k = 0; k < 5; k++)
                image_draw_disc(&canvas, (int)lroundf(f->landmarks[k][0]),
                                (int)lroundf(f->landmarks[k][1]), thick + 1, red);
        char label[32];
        if (!isnan(f->prob))
            snprintf(label, sizeof label, "%zu: %.3f", i + 1, (double)f->prob);
        else
            snprintf(label, sizeof label, "%zu", i + 1);
        image_draw_text(&canvas, (int)lroundf(f->box[0]), (int)lroundf(f->box[1]) - 9 * scale,
                        label, green, scale);
    }
    st = image_save_png(&canvas, out);
    image_free(&canvas);
    return st;
}

static int parse_thresholds(const char *text, float t[3]) {
    char *end = NULL;
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        t[i] = strtof(p, &end);
        if (end == p || !(t[i] >= 0.0f && t[i] <= 1.0f) || (i < 2 && *end != ',') ||
            (i == 2 && *end))
            return 0;
        p = end + 1;
    }
    return 1;
}

int cmd_detect(int argc, char **argv) {
    detector_kind kind = DETECTOR_AUTO;
    const char *mtcnn_dir = NULL, *cascade_xml = NULL, *draw_dir = NULL;
    int json = 0, quiet = 0, have_thresholds = 0;
    face_policy policy = {1, 0.0f, 0}; /* detect lists every face unless --largest */
    long min_face = 20, max_pixels = 100000000L;
    double factor = 0.709;
    float thresholds[3];
    input_list inputs = {0};
    char **drawn = NULL;
    int rc = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            detect_usage(stdout);
            rc = 0;
            goto cleanup;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--largest") == 0) {
            policy.all = 0;
        } else if (strcmp(a, "--square") == 0) {
            policy.square = 1;
        } else if (a[0] == '-' && a[1] == '-') {
            if (!v) {
                fprintf(stderr,
                        "relage detect: %s needs a value, or is not an option (see --help)\n", a);
                goto cleanup;
            }
            i++;
            if (strcmp(a, "--detector") == 0) {
                if (detector_kind_parse(v, &kind) != RELAGE_OK) {
                    fprintf(stderr, "relage detect: %s\n", relage_last_error());
                    goto cleanup;
                }
            } else if (strcmp(a, "--mtcnn") == 0) {
                mtcnn_dir = v;
            } else if (strcmp(a, "--cascade") == 0) {
                cascade_xml = v;
            } else if (strcmp(a, "--draw") == 0) {
                draw_dir = v;
            } else if (strcmp(a, "--min-face") == 0) {
                if (!parse_int_option(a, v, 1, 100000, &min_face)) goto cleanup;
            } else if (strcmp(a, "--max-pixels") == 0) {
                if (!parse_int_option(a, v, 1, 2000000000L, &max_pixels)) goto cleanup;
            } else if (strcmp(a, "--margin") == 0) {
                char *end = NULL;
                policy.margin = strtof(v, &end);
                if (*end || !(policy.margin >= 0.0f && policy.margin <= 10.0f)) {
                    fprintf(stderr, "relage detect: --margin expects a number in [0, 10]\n");
                    goto cleanup;
                }
            } else if (strcmp(a, "--factor") == 0) {
                char *end = NULL;
                factor = strtod(v, &end);
                /* above 0.95 the pyramid's levels (and the time) grow without bound */
                if (*end || !(factor > 0.0 && factor <= 0.95)) {
                    fprintf(stderr, "relage detect: --factor expects a number in (0, 0.95]\n");
                    goto cleanup;
                }
            } else if (strcmp(a, "--thresholds") == 0) {
                if (!parse_thresholds(v, thresholds)) {
                    fprintf(stderr, "relage detect: --thresholds expects A,B,C in [0, 1]\n");
                    goto cleanup;
                }
                have_thresholds = 1;
            } else {
                fprintf(stderr, "relage detect: unknown option '%s' (see --help)\n", a);
                goto cleanup;
            }
        } else if (!input_list_add(&inputs, a)) {
            goto cleanup;
        }
    }
    if (inputs.n == 0) {
        fprintf(stderr, "relage detect: no images given (see --help)\n");
        goto cleanup;
    }
    if (draw_dir && !(drawn = drawn_paths(&inputs, draw_dir, "detect"))) goto cleanup;
    detector *det = NULL;
    if (detector_open(&det, kind, mtcnn_dir, cascade_xml) != RELAGE_OK) {
        fprintf(stderr, "relage detect: %s\n", relage_last_error());
        rc = 1;
        goto cleanup;
    }
    if (kind == DETECTOR_AUTO && detector_kind_of(det) == DETECTOR_CASCADE && !quiet)
        fprintf(stderr, "relage detect: no MTCNN weights found, using the cascade %s\n",
                detector_source(det));
    if (cascade_xml && detector_kind_of(det) == DETECTOR_MTCNN)
        fprintf(stderr,
                "relage detect: --cascade %s is not used: MTCNN weights were found (%s); "
                "--detector cascade uses it\n",
                cascade_xml, detector_source(det));
    mtcnn_params *mp = detector_mtcnn_params(det);
    cascade_params *cp = detector_cascade_params(det);
    if (mp) {
        mp->min_face = (double)min_face;
        mp->factor = factor;
        if (have_thresholds) memcpy(mp->threshold, thresholds, sizeof thresholds);
    }
    if (cp) cp->min_size = (int)min_face;
    image_load_options opt = image_default_load_options();
    opt.max_pixels = (uint64_t)max_pixels;
    char policy_text[64];
    face_policy_format(&policy, policy_text, sizeof policy_text);
    progress p;
    progress_start(&p, "detect", "images", (long)inputs.n, quiet || inputs.n < 2);
    size_t failed = 0;
    for (size_t i = 0; i < inputs.n; i++) {
        const char *path = inputs.paths[i];
        image img = {0};
        face_detection *faces = NULL;
        size_t n = 0;
        float(*crops)[4] = NULL;
        size_t n_crops = 0;
        int whole_image = 0;
        relage_status st;
        if (input_is_stdin(path)) {
            char *bytes = NULL;
            size_t size = 0;
            st = input_read_stdin(&bytes, &size);
            if (st == RELAGE_OK) st = image_decode(&img, bytes, size, "standard input", &opt);
            free(bytes);
        } else {
            st = image_load(&img, path, &opt);
        }
        if (st == RELAGE_OK) st = detector_detect(det, &img, &faces, &n);
        if (st == RELAGE_OK && !policy.all && n > 1) n = 1;
        if (st == RELAGE_OK && !(crops = malloc((n ? n : 1) * sizeof *crops)))
            st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
        if (st == RELAGE_OK)
            n_crops = face_policy_apply(&policy, faces, n, img.width, img.height, crops, n ? n : 1,
                                        &whole_image);
        if (st != RELAGE_OK) {
            failed++;
            report_image_error("detect", path, json);
        } else {
            if (json)
                print_json(path, faces, n, policy_text, crops, n_crops, whole_image);
            else
                print_table(path, faces, n, whole_image && !policy.all);
            if (drawn && draw(&img, faces, n, drawn[i]) != RELAGE_OK) { /* the faces stay printed */
                failed++;
                fprintf(stderr, "relage detect: drawing %s: %s\n", path, relage_last_error());
            }
        }
        free(crops);
        free(faces);
        image_free(&img);
        progress_update(&p, (long)i + 1);
    }
    progress_finish(&p, (long)inputs.n);
    if (failed) fprintf(stderr, "relage detect: %zu of %zu images failed\n", failed, inputs.n);
    detector_free(det);
    rc = failed ? 1 : 0;
cleanup:
    drawn_paths_free(drawn, inputs.n);
    input_list_free(&inputs);
    return rc;
}
