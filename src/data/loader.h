/* Batches from a face cache, as the paper's recipe feeds the network: for training a random
 * crop of input x input from the stored crop and a random horizontal flip; for evaluation the
 * stored crop resized to input x input (PIL bilinear, antialiased). Pixels become
 * (pixel/255 - mean) / std with ImageNet's mean and std, in (B,3,input,input).
 *
 * Augmentation is a pure function of (seed, epoch, sample index), and the epoch's order of
 * (seed, epoch), so any batch can be made again: resuming mid-epoch is exact. Batches are
 * assembled on the OpenMP threads. Unreadable records (FACE_UNREADABLE) are left out. */
#ifndef RELAGE_DATA_LOADER_H
#define RELAGE_DATA_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "data/face_cache.h"
#include "image/image.h"
#include "relage.h"

typedef struct loader {
    const face_cache *cache;
    uint64_t *usable; /* indices of the usable records */
    size_t n;
    int input; /* network input side */
    uint64_t seed;
    uint64_t *order;  /* this epoch's permutation of usable (training) */
    uint8_t *scratch; /* per-thread crop buffers */
    int threads;
} loader;

/* input <= the cache's crop size. */
relage_status loader_init(loader *l, const face_cache *cache, int input, uint64_t seed);
void loader_free(loader *l);

/* Shuffles for an epoch (training). */
void loader_shuffle(loader *l, int epoch);

/* Training batch: samples [start, start+B) of the epoch's order, augmented; ages (B). */
relage_status loader_train_batch(loader *l, int epoch, size_t start, int B, float *images,
                                 float *ages);

/* The evaluation transform of one stored crop: resized to input x input (if it is not) and
 * normalised into out (3,input,input). Prediction uses it on fresh crops. */
relage_status loader_eval_image(float *out, const image *crop, int input);

/* Evaluation batch: samples [start, start+B) in cache order, resized; means, stds (B), and the
 * record indices (B) for reporting. */
relage_status loader_eval_batch(loader *l, size_t start, int B, float *images, float *ages,
                                float *stds, uint64_t *records);

#endif
