/* Predictions of a model on a face cache's evaluation batches (model_eval.h). */
#include "eval/model_eval.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "data/face_cache.h"
#include "data/loader.h"

/* Mirrors n images (3,S,S) left to right, from src into dst. */
static void flip_batch(float *dst, const float *src, int n, int side) {
    for (size_t row = 0; row < (size_t)n * 3 * side; row++)
        for (int x = 0; x < side; x++)
            dst[row * side + (size_t)x] = src[row * side + (size_t)(side - 1 - x)];
}

relage_status model_eval_loader(model *m, loader *l, int flip, int batch, label_set *labels,
                                prediction_set *preds, model_eval_progress progress, void *user) {
    memset(labels, 0, sizeof *labels);
    memset(preds, 0, sizeof *preds);
    float *images = NULL, *ages = NULL, *stds = NULL;
    uint64_t *records = NULL;
    int side = m->config.input;
    size_t per = (size_t)3 * side * side;
    relage_status st = RELAGE_OK;
    if (batch < 1 || batch * (flip ? 2 : 1) > m->capacity || l->input != side)
        return relage_fail(RELAGE_ERR_INVALID_ARG,
                           "model_eval: batch %d or loader input %d does not fit the model", batch,
                           l->input);
    images = malloc((size_t)batch * 2 * per * sizeof *images);
    ages = malloc((size_t)batch * sizeof *ages);
    stds = malloc((size_t)batch * sizeof *stds);
    records = malloc((size_t)batch * sizeof *records);
    labels->items = calloc(l->n ? l->n : 1, sizeof *labels->items);
    preds->names = calloc(l->n ? l->n : 1, sizeof *preds->names);
    preds->ages = calloc(l->n ? l->n : 1, sizeof *preds->ages);
    if (!images || !ages || !stds || !records || !labels->items || !preds->names || !preds->ages) {
        st = relage_fail(RELAGE_ERR_NOMEM, "model_eval: out of memory");
        goto done;
    }
    for (size_t start = 0; start < l->n; start += (size_t)batch) {
        int B = (int)(l->n - start < (size_t)batch ? l->n - start : (size_t)batch);
        if ((st = loader_eval_batch(l, start, B, images, ages, stds, records)) != RELAGE_OK)
            goto done;
        if (flip) flip_batch(images + (size_t)B * per, images, B, side);
        if ((st = model_forward(m, images, B * (flip ? 2 : 1), 0)) != RELAGE_OK) goto done;
        model_expected_age(m);
        for (int b = 0; b < B; b++) {
            face_entry e;
            if ((st = face_cache_entry(l->cache, records[b], &e)) != RELAGE_OK) goto done;
            size_t i = start + (size_t)b;
            age_label *a = &labels->items[i];
            a->name = strdup(e.name);
            preds->names[i] = strdup(e.name);
            labels->n = preds->n = i + 1;
            if (!a->name || !preds->names[i]) {
                st = relage_fail(RELAGE_ERR_NOMEM, "model_eval: out of memory");
                goto done;
            }
            a->mean = e.mean, a->std = e.std, a->real = e.real;
            a->gender = e.gender, a->race = e.race;
            double age = m->expected[b];
            if (flip) age = 0.5 * (age + (double)m->expected[B + b]);
            preds->ages[i] = age;
        }
        if (progress) progress(start + (size_t)B, l->n, user);
    }
done:
    free(images);
    free(ages);
    free(stds);
    free(records);
    if (st != RELAGE_OK) {
        label_set_free(labels);
        prediction_set_free(preds);
    }
    return st;
}
