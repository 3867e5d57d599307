/* Optimisers with PyTorch's exact update rules, on one flat block of n parameters and their
 * gradients, and the learning-rate schedules of the paper (step) and of modern recipes (cosine).
 *   RMSprop (not centred): g += wd*p; v = alpha*v + (1-alpha)*g^2; d = g / (sqrt(v) + eps);
 *           with momentum: buf = momentum*buf + d, p -= lr*buf; else p -= lr*d.
 *   AdamW:  p *= 1 - lr*wd; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
 *           p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). */
#ifndef RELAGE_NN_OPTIM_H
#define RELAGE_NN_OPTIM_H

#include <stddef.h>

#include "relage.h"

typedef enum optim_kind { OPTIM_RMSPROP, OPTIM_ADAMW } optim_kind;

typedef struct optim_config {
    optim_kind kind;
    float lr;
    float weight_decay;
    float eps;
    float alpha;    /* RMSprop */
    float momentum; /* RMSprop */
    float beta1, beta2;
} optim_config;

/* PyTorch's defaults: RMSprop lr 1e-2 alpha 0.99 eps 1e-8; AdamW lr 1e-3 betas (0.9, 0.999)
 * eps 1e-8 weight decay 1e-2. */
optim_config optim_default_config(optim_kind kind);

typedef struct optimizer {
    optim_config config;
    size_t n;
    long step;    /* steps taken */
    float *state; /* 2n floats: RMSprop v and momentum buffer, AdamW m and v; zero at start */
} optimizer;

/* Allocates the state; returns RELAGE_ERR_NOMEM on failure with *out NULL. */
relage_status optimizer_create(optimizer **out, const optim_config *config, size_t n);
void optimizer_free(optimizer *opt);

/* One update of params from grads at learning rate lr (the schedule's value for this step). */
void optimizer_step(optimizer *opt, float *params, const float *grads, float lr);

typedef enum lr_schedule_kind { LR_CONSTANT, LR_STEP, LR_COSINE } lr_schedule_kind;

typedef struct lr_schedule {
    lr_schedule_kind kind;
    int milestones[8]; /* LR_STEP: epochs at which lr is multiplied by gamma */
    int n_milestones;
    float gamma;
    int total_epochs; /* LR_COSINE: T_max */
    float min_lr;     /* LR_COSINE: eta_min */
} lr_schedule;

/* The paper's schedule: x0.1 at epochs 10 and 15. */
lr_schedule lr_schedule_paper(void);

/* Learning rate for an epoch (0-based) as PyTorch's MultiStepLR / CosineAnnealingLR give it
 * after `epoch` scheduler steps. */
float lr_at_epoch(const lr_schedule *s, float base_lr, int epoch);

#endif
