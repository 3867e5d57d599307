/* Face-detection speed: for each image, the median over --reps runs of detection alone (after
 * the image is loaded), with the image's size. Prints one line per image, or JSON lines.
 *   build/bench_detect [--detector mtcnn|cascade] [--mtcnn DIR] [--reps N] [--threads N]
 *                      [--json] IMAGE...
 * The goals (2 cores): <= 10 ms for a ~300x340 photo, <= 150 ms for a 1920-px photo. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "detect/detector.h"
#include "eval/stats.h"
#include "image/image.h"

int main(int argc, char **argv) {
    detector_kind kind = DETECTOR_MTCNN;
    const char *mtcnn_dir = NULL;
    int reps = 7, json = 0, first = 1;
    for (; first < argc && strncmp(argv[first], "--", 2) == 0; first++) {
        const char *a = argv[first], *v = first + 1 < argc ? argv[first + 1] : "";
        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        first++;
        if (strcmp(a, "--detector") == 0 && detector_kind_parse(v, &kind) == RELAGE_OK) continue;
        if (strcmp(a, "--mtcnn") == 0)
            mtcnn_dir = v;
        else if (strcmp(a, "--reps") == 0 && atoi(v) > 0)
            reps = atoi(v);
        else if (strcmp(a, "--threads") == 0 && atoi(v) > 0)
            omp_set_num_threads(atoi(v));
        else {
            fprintf(stderr, "bench_detect: bad option %s %s\n", a, v);
            return 2;
        }
    }
    detector *det = NULL;
    if (detector_open(&det, kind, mtcnn_dir, NULL) != RELAGE_OK) {
        fprintf(stderr, "bench_detect: %s\n", relage_last_error());
        return 1;
    }
    double *t = malloc((size_t)reps * sizeof(double));
    int rc = 0;
    for (int i = first; i < argc; i++) {
        image img = {0};
        if (image_load(&img, argv[i], NULL) != RELAGE_OK) {
            fprintf(stderr, "bench_detect: %s\n", relage_last_error());
            rc = 1;
            continue;
        }
        size_t n = 0;
        for (int r = -1; r < reps; r++) { /* one untimed warm-up */
            face_detection *faces = NULL;
            double t0 = clock_seconds();
            detector_detect(det, &img, &faces, &n);
            if (r >= 0) t[r] = clock_seconds() - t0;
            free(faces);
        }
        stats_sort(t, (size_t)reps);
        double ms = 1e3 * t[reps / 2];
        if (json)
            printf(
                "{\"image\":\"%s\",\"width\":%d,\"height\":%d,\"detector\":\"%s\",\"threads\":%d,"
                "\"faces\":%zu,\"ms_median\":%.3f,\"ms_min\":%.3f,\"reps\":%d}\n",
                argv[i], img.width, img.height, detector_kind_name(detector_kind_of(det)),
                omp_get_max_threads(), n, ms, 1e3 * t[0], reps);
        else
            printf("%s %dx%d: %zu faces, %.2f ms (median of %d, min %.2f), %s, %d threads\n",
                   argv[i], img.width, img.height, n, ms, reps, 1e3 * t[0],
                   detector_kind_name(detector_kind_of(det)), omp_get_max_threads());
        image_free(&img);
    }
    free(t);
    detector_free(det);
    return rc;
}
