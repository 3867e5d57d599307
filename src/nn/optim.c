/* RMSprop, AdamW and learning-rate schedules. */
#include "nn/optim.h"

#include <math.h>
#include <stdlib.h>

#include "core/status.h"

optim_config optim_default_config(optim_kind kind) {
    optim_config c = {0};
    c.kind = kind;
    c.eps = 1e-8f;
    if (kind == OPTIM_RMSPROP) {
        c.lr = 1e-2f;
        c.alpha = 0.99f;
    } else {
        c.lr = 1e-3f;
        c.beta1 = 0.9f;
        c.beta2 = 0.999f;
        c.weight_decay = 1e-2f;
    }
    return c;
}

relage_status optimizer_create(optimizer **out, const optim_config *config, size_t n) {
    *out = NULL;
    optimizer *opt = calloc(1, sizeof *opt);
    if (!opt) return relage_fail(RELAGE_ERR_NOMEM, "optimizer: out of memory");
    opt->state = calloc(n > 0 ? 2 * n : 1, sizeof(float));
    if (!opt->state) {
        free(opt);
        return relage_fail(RELAGE_ERR_NOMEM, "optimizer: out of memory for %zu floats", 2 * n);
    }
    opt->config = *config;
    opt->n = n;
    *out = opt;
    return RELAGE_OK;
}

void optimizer_free(optimizer *opt) {
    if (!opt) return;
    free(opt->state);
    free(opt);
}

static void rmsprop_step(optimizer *opt, float *p, const float *grads, float lr) {
    const optim_config *c = &opt->config;
    float *v = opt->state, *buf = opt->state + opt->n;
#pragma omp parallel for schedule(static) if (opt->n > 65536)
    for (size_t i = 0; i < opt->n; i++) {
        float g = grads[i] + c->weight_decay * p[i];
        v[i] = c->alpha * v[i] + (1.0f - c->alpha) * g * g;
        float d = g / (sqrtf(v[i]) + c->eps);
        if (c->momentum > 0.0f) {
            buf[i] = c->momentum * buf[i] + d;
            p[i] -= lr * buf[i];
        } else {
            p[i] -= lr * d;
        }
    }
}

static void adamw_step(optimizer *opt, float *p, const float *grads, float lr) {
    const optim_config *c = &opt->config;
    float *m = opt->state, *v = opt->state + opt->n;
    float bias1 = 1.0f - powf(c->beta1, (float)opt->step);
    float bias2_sqrt = sqrtf(1.0f - powf(c->beta2, (float)opt->step));
    float step_size = lr / bias1, decay = 1.0f - lr * c->weight_decay;
#pragma omp parallel for schedule(static) if (opt->n > 65536)
    for (size_t i = 0; i < opt->n; i++) {
        float g = grads[i];
        p[i] *= decay;
        m[i] += (g - m[i]) * (1.0f - c->beta1);
        v[i] = c->beta2 * v[i] + (1.0f - c->beta2) * g * g;
        p[i] -= step_size * m[i] / (sqrtf(v[i]) / bias2_sqrt + c->eps);
    }
}

void optimizer_step(optimizer *opt, float *params, const float *grads, float lr) {
    opt->step++;
    if (opt->config.kind == OPTIM_RMSPROP)
        rmsprop_step(opt, params, grads, lr);
    else
        adamw_step(opt, params, grads, lr);
}

lr_schedule lr_schedule_paper(void) {
    lr_schedule s = {0};
    s.kind = LR_STEP;
    s.milestones[0] = 10;
    s.milestones[1] = 15;
    s.n_milestones = 2;
    s.gamma = 0.1f;
    return s;
}

float lr_at_epoch(const lr_schedule *s, float base_lr, int epoch) {
    switch (s->kind) {
    case LR_CONSTANT:
        return base_lr;
    case LR_STEP: {
        double lr = base_lr;
        for (int i = 0; i < s->n_milestones; i++)
            if (epoch >= s->milestones[i]) lr *= (double)s->gamma;
        return (float)lr;
    }
    case LR_COSINE: {
        double t = epoch < s->total_epochs ? epoch : s->total_epochs;
        double cosine = (1.0 + cos(3.14159265358979323846 * t / s->total_epochs)) / 2.0;
        return (float)((double)s->min_lr + ((double)base_lr - (double)s->min_lr) * cosine);
    }
    }
    return base_lr;
}
