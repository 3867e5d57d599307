/* Prediction speed through the public API: model load (relage_predictor_create) and, after
 * loading, one image from decode to ages (relage_predict_file: decode, detect, crop, forward),
 * medians over repetitions. The goals (2 cores): load <= 300 ms; a 512x512 photo with one face
 * <= 30 ms.
 *   build/bench_predict MODEL IMAGE [--reps N] [--mtcnn DIR] [--detector NAME]
 *                       [--precision fp32|bf16] [--flip] [--json]
 * (--flip: test-time flip averaging, what it costs) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "eval/stats.h"
#include "relage.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr,
                "usage: %s MODEL IMAGE [--reps N] [--mtcnn DIR] [--detector NAME] "
                "[--precision fp32|bf16] [--flip] [--json]\n",
                argv[0]);
        return 2;
    }
    const char *model = argv[1], *image = argv[2];
    relage_predictor_options opt = relage_predictor_default_options();
    int reps = 11, json = 0;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--flip") == 0)
            opt.flip = 1;
        else if (i + 1 < argc && strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--mtcnn") == 0)
            opt.mtcnn_dir = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--detector") == 0)
            opt.detector = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--precision") == 0)
            opt.precision = argv[++i];
        else {
            fprintf(stderr, "bench_predict: bad option %s\n", argv[i]);
            return 2;
        }
    }
    if (reps < 1 || reps > 1000) reps = 11;
    double *load = malloc((size_t)reps * sizeof *load), *run = malloc((size_t)reps * sizeof *run);
    relage_predictor *p = NULL;
    float age = 0;
    size_t faces = 0;
    for (int r = 0; r < reps; r++) { /* load, then one warm-up prediction (plans), then timed */
        double t0 = clock_seconds();
        if (relage_predictor_create(&p, model, &opt) != RELAGE_OK) {
            fprintf(stderr, "bench_predict: %s\n", relage_last_error());
            return 1;
        }
        load[r] = clock_seconds() - t0;
        relage_predictor_free(p);
    }
    if (relage_predictor_create(&p, model, &opt) != RELAGE_OK) return 1;
    for (int r = -1; r < reps; r++) {
        relage_result res;
        double t0 = clock_seconds();
        if (relage_predict_file(p, image, &res) != RELAGE_OK) {
            fprintf(stderr, "bench_predict: %s\n", relage_last_error());
            return 1;
        }
        if (r >= 0) run[r] = clock_seconds() - t0;
        faces = res.n_faces;
        age = res.faces[0].age;
        relage_result_free(&res);
    }
    stats_sort(load, (size_t)reps);
    stats_sort(run, (size_t)reps);
    if (json)
        printf("{\"image\":\"%s\",\"precision\":\"%s\",\"flip\":%d,\"load_ms\":%.1f,"
               "\"predict_ms\":%.2f,\"predict_min_ms\":%.2f,\"faces\":%zu,\"age\":%.3f,\"reps\":%d,"
               "\"notes\":\"%s\"}\n",
               image, opt.precision ? opt.precision : "fp32", opt.flip, 1e3 * load[reps / 2],
               1e3 * run[reps / 2], 1e3 * run[0], faces, (double)age, reps,
               relage_predictor_notes(p));
    else
        printf("%s: load %.1f ms, predict %.2f ms (median of %d, min %.2f), %zu face(s), first "
               "age %.1f; %s\n",
               image, 1e3 * load[reps / 2], 1e3 * run[reps / 2], reps, 1e3 * run[0], faces,
               (double)age, relage_predictor_notes(p));
    relage_predictor_free(p);
    free(load);
    free(run);
    return 0;
}
