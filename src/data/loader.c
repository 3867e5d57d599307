/* Batch assembly from the face cache: crop, flip, resize, normalise. */
#include "data/loader.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/status.h"
#include "image/image.h"

static const float MEAN[3] = {0.485f, 0.456f, 0.406f}, STD[3] = {0.229f, 0.224f, 0.225f};

relage_status loader_init(loader *l, const face_cache *cache, int input, uint64_t seed) {
    memset(l, 0, sizeof *l);
    const face_cache_info *info = face_cache_info_of(cache);
    if (input < 1 || (uint32_t)input > info->size)
        return relage_fail(RELAGE_ERR_INVALID_ARG,
                           "loader: input %d is larger than the cache's "
                           "%u-pixel crops",
                           input, info->size);
    l->cache = cache;
    l->input = input;
    l->seed = seed;
    l->threads = omp_get_max_threads();
    l->usable = malloc((info->count + 1) * sizeof *l->usable);
    l->order = malloc((info->count + 1) * sizeof *l->order);
    l->scratch = malloc((size_t)l->threads * info->size * info->size * 3);
    if (!l->usable || !l->order || !l->scratch) {
        loader_free(l);
        return relage_fail(RELAGE_ERR_NOMEM, "loader: out of memory");
    }
    for (uint64_t i = 0; i < info->count; i++) {
        face_entry e;
        relage_status st = face_cache_entry(cache, i, &e);
        if (st != RELAGE_OK) {
            loader_free(l);
            return st;
        }
        if (e.outcome != FACE_UNREADABLE) l->usable[l->n++] = i;
    }
    memcpy(l->order, l->usable, l->n * sizeof *l->order);
    return RELAGE_OK;
}

void loader_free(loader *l) {
    if (!l) return;
    free(l->usable);
    free(l->order);
    free(l->scratch);
    memset(l, 0, sizeof *l);
}

void loader_shuffle(loader *l, int epoch) {
    rng r;
    rng_seed(&r, l->seed * 1000003u + (uint64_t)epoch);
    memcpy(l->order, l->usable, l->n * sizeof *l->order);
    for (size_t i = l->n; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)(rng_next(&r) % i);
        uint64_t t = l->order[i - 1];
        l->order[i - 1] = l->order[j];
        l->order[j] = t;
    }
}

/* (C,H,W) normalised from an RGB crop region of the stored crop, optionally mirrored. */
static void to_tensor(float *out, const uint8_t *px, int size, int x0, int y0, int side, int flip) {
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++) {
                int sx = flip ? x0 + side - 1 - x : x0 + x;
                float v = px[((size_t)(y0 + y) * size + sx) * 3 + c] / 255.0f;
                out[((size_t)c * side + y) * side + x] = (v - MEAN[c]) / STD[c];
            }
}

relage_status loader_train_batch(loader *l, int epoch, size_t start, int B, float *images,
                                 float *ages) {
    int size = (int)face_cache_info_of(l->cache)->size, in = l->input, failed = 0;
    size_t per = (size_t)3 * in * in;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        uint8_t *px = l->scratch + (size_t)omp_get_thread_num() * size * size * 3;
        uint64_t record = l->order[(start + (size_t)b) % l->n];
        face_entry e;
        rng r;
        rng_seed(&r, (l->seed * 1000003u + (uint64_t)epoch) * 7919u + record);
        int x0 = (int)(rng_next(&r) % (uint64_t)(size - in + 1));
        int y0 = (int)(rng_next(&r) % (uint64_t)(size - in + 1));
        int flip = rng_uniform(&r) < 0.5;
        if (face_cache_entry(l->cache, record, &e) != RELAGE_OK ||
            face_cache_pixels(l->cache, record, px) != RELAGE_OK) {
#pragma omp atomic write
            failed = 1;
            continue;
        }
        ages[b] = e.mean;
        to_tensor(images + (size_t)b * per, px, size, x0, y0, in, flip);
    }
    return failed ? relage_fail(RELAGE_ERR_IO, "loader: %s", relage_last_error()) : RELAGE_OK;
}

relage_status loader_eval_image(float *out, const image *crop, int input) {
    image resized = {0};
    if (crop->width != input || crop->height != input) {
        relage_status st = image_resize_bilinear(&resized, crop, input, input);
        if (st != RELAGE_OK) return st;
    }
    image_to_tensor(out, resized.data ? &resized : crop, MEAN, STD);
    image_free(&resized);
    return RELAGE_OK;
}

relage_status loader_eval_batch(loader *l, size_t start, int B, float *images, float *ages,
                                float *stds, uint64_t *records) {
    int size = (int)face_cache_info_of(l->cache)->size, in = l->input, failed = 0;
    size_t per = (size_t)3 * in * in;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        uint8_t *px = l->scratch + (size_t)omp_get_thread_num() * size * size * 3;
        uint64_t record = l->usable[start + (size_t)b];
        face_entry e;
        image crop = {size, size, 3, px};
        if (face_cache_entry(l->cache, record, &e) != RELAGE_OK ||
            face_cache_pixels(l->cache, record, px) != RELAGE_OK ||
            loader_eval_image(images + (size_t)b * per, &crop, in) != RELAGE_OK) {
#pragma omp atomic write
            failed = 1;
            continue;
        }
        ages[b] = e.mean;
        stds[b] = e.std;
        records[b] = record;
    }
    return failed ? relage_fail(RELAGE_ERR_IO, "loader: %s", relage_last_error()) : RELAGE_OK;
}
