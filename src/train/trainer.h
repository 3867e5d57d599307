/* A training run with the paper's recipe by default: the model, the optimiser and schedule,
 * epochs over a training face cache with validation after each, a state file to resume from
 * (exactly: an interrupted run ends bit-identical to an uninterrupted one), a model file and a
 * JSON-lines log per epoch, all written atomically into one run folder.
 *
 * Run folder: config.json (the run's settings), log.jsonl (one line per epoch), model.safetensors
 * (the latest model, a relage checkpoint), state.safetensors (model + optimiser + position). */
#ifndef RELAGE_TRAIN_TRAINER_H
#define RELAGE_TRAIN_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "nn/optim.h"
#include "nn/resnet.h"
#include "relage.h"

typedef struct train_config {
    model_config model; /* model.input is the crop the network sees */
    optim_config optim;
    lr_schedule schedule;
    int epochs, batch;
    uint64_t seed; /* data order and augmentation */
    const char *train_cache, *val_cache, *out_dir;
    const char *test_cache; /* evaluated after each epoch and logged (test_mae), or NULL */
    const char *init;       /* a checkpoint (relage's or torchvision's) to start from, or NULL */
    int resume;             /* continue out_dir/state.safetensors */
    const char *backend, *precision; /* backend_select's names: "dnnl", "fp32" by default */
    const char *protocol, *command;  /* recorded in summary.json (may be NULL) */
} train_config;

/* The paper's recipe: ResNet-50, base head, input 224, RMSprop lr 1e-4 (alpha 0.99, eps
 * 1e-8), x0.1 at epochs 10 and 15, 20 epochs, batch 30, seed 1. */
train_config train_default_config(void);

typedef struct train_progress {
    int epoch, epochs;  /* epoch is 0-based */
    size_t done, total; /* images of this epoch */
    double running_loss, img_per_s; /* img_per_s: of this process (a resumed run's too) */
} train_progress;

typedef struct epoch_result {
    int epoch; /* 1-based, as logged */
    double lr, train_loss, val_mae, val_eps, test_mae, test_eps, seconds, img_per_s;
    double eval_seconds; /* the validation and test evaluations after the epoch */
} epoch_result;

typedef struct train_callbacks {
    void (*progress)(const train_progress *p, void *user); /* after each batch */
    void (*epoch)(const epoch_result *r, void *user);      /* after each epoch */
    void *user;
} train_callbacks;

/* Runs (or resumes) training. *stop is polled between batches: when it becomes nonzero the
 * state is saved and the function returns RELAGE_OK with *stopped set. */
relage_status train_run(const train_config *cfg, const train_callbacks *cb, volatile int *stop,
                        int *stopped);

#endif
