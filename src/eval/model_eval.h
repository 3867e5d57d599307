/* A model's predictions on a prepared face cache, as labels and predictions that
 * eval_predictions scores: the loader's evaluation transform (the stored crop resized to the
 * model's input), batched forwards in evaluation mode, and optionally the average with the
 * mirrored faces (test-time flip). */
#ifndef RELAGE_EVAL_MODEL_EVAL_H
#define RELAGE_EVAL_MODEL_EVAL_H

#include <stddef.h>

#include "data/loader.h"
#include "eval/metrics.h"
#include "nn/resnet.h"
#include "relage.h"

typedef void (*model_eval_progress)(size_t done, size_t total, void *user);

/* l is a loader over the cache at the model's input size; m must have room for 2 * batch
 * images when flip is set (batch otherwise). labels gets the cache's labels (name, mean, std,
 * real, gender, race) and preds the expected ages E, one per usable record, in cache order;
 * both are to be freed with their _free functions. progress may be NULL. */
relage_status model_eval_loader(model *m, loader *l, int flip, int batch, label_set *labels,
                                prediction_set *preds, model_eval_progress progress, void *user);

#endif
