/* Loader-only throughput: training batches (random crop, flip, normalise) assembled from a face
 * cache, without the network, to show the loader keeps the trainer fed.
 *   build/bench_loader CACHE [--input 112] [--batch 30] [--batches 200] [--threads N]
 * Prints images/s (median of 5 passes over --batches batches). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "data/face_cache.h"
#include "data/loader.h"
#include "eval/stats.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_loader CACHE [--input N] [--batch N] [--batches N] "
                        "[--threads N]\n");
        return 2;
    }
    int input = 112, batch = 30, batches = 200;
    for (int i = 2; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (strcmp(argv[i], "--input") == 0)
            input = v;
        else if (strcmp(argv[i], "--batch") == 0)
            batch = v;
        else if (strcmp(argv[i], "--batches") == 0)
            batches = v;
        else if (strcmp(argv[i], "--threads") == 0)
            omp_set_num_threads(v);
    }
    face_cache *cache = NULL;
    loader l;
    if (face_cache_open(&cache, argv[1]) != RELAGE_OK ||
        loader_init(&l, cache, input, 1) != RELAGE_OK) {
        fprintf(stderr, "bench_loader: %s\n", relage_last_error());
        return 1;
    }
    float *images = malloc((size_t)batch * 3 * input * input * sizeof(float));
    float *ages = malloc((size_t)batch * sizeof(float));
    double rates[5];
    loader_shuffle(&l, 0);
    for (int pass = 0; pass < 5; pass++) {
        double t0 = clock_seconds();
        for (int b = 0; b < batches; b++)
            if (loader_train_batch(&l, 0, (size_t)b * batch, batch, images, ages) != RELAGE_OK) {
                fprintf(stderr, "bench_loader: %s\n", relage_last_error());
                return 1;
            }
        rates[pass] = (double)batches * batch / (clock_seconds() - t0);
    }
    stats_sort(rates, 5);
    printf("{\"cache\":\"%s\",\"images\":%zu,\"input\":%d,\"batch\":%d,\"threads\":%d,"
           "\"img_per_s\":%.1f}\n",
           argv[1], l.n, input, batch, omp_get_max_threads(), rates[2]);
    free(images);
    free(ages);
    loader_free(&l);
    face_cache_close(cache);
    return 0;
}
