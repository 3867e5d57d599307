/* ResNet backbones and heads: building the tensor table, initialisation, the activation plan,
 * and the forward and backward passes through the backend. Legend: B batch, C channels,
 * H,W spatial, N = h*w cells of the final feature map, D = head width. */
#include "nn/resnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/status.h"
#include "nn/heads.h"
#include "nn/pool.h"

static const float BN_MOMENTUM = 0.1f, BN_EPS = 1e-5f;

model_config model_default_config(void) {
    model_config c = {0};
    c.arch = RESNET50;
    c.head = HEAD_BASE;
    c.input = 224;
    c.width = 1.0f;
    c.hidden = 256;
    return c;
}

static const char *const ARCH_NAMES[] = {"resnet18", "resnet34", "resnet50"};
static const char *const HEAD_NAMES[] = {"base", "rn", "rng"};

const char *resnet_arch_name(resnet_arch arch) {
    return ARCH_NAMES[arch];
}

const char *head_kind_name(head_kind head) {
    return HEAD_NAMES[head];
}

relage_status resnet_arch_parse(const char *name, resnet_arch *arch) {
    for (int i = 0; i < 3; i++)
        if (strcmp(name, ARCH_NAMES[i]) == 0) {
            *arch = (resnet_arch)i;
            return RELAGE_OK;
        }
    return relage_fail(RELAGE_ERR_INVALID_ARG,
                       "unknown architecture '%s' (choose resnet18, resnet34 or resnet50)", name);
}

relage_status head_kind_parse(const char *name, head_kind *head) {
    for (int i = 0; i < 3; i++)
        if (strcmp(name, HEAD_NAMES[i]) == 0) {
            *head = (head_kind)i;
            return RELAGE_OK;
        }
    return relage_fail(RELAGE_ERR_INVALID_ARG, "unknown head '%s' (choose base, rn or rng)", name);
}

/* ---- building the tensor table ---- */

typedef struct builder {
    model *m;
    size_t cap;
    relage_status status;
} builder;

static size_t add_tensor(builder *b, const char *name, tensor_kind kind, tensor_init init, int ndim,
                         int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    model *m = b->m;
    if (b->status != RELAGE_OK) return 0;
    if (m->n_tensors == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        model_tensor *t = realloc(m->tensors, cap * sizeof *t);
        if (!t) {
            b->status = relage_fail(RELAGE_ERR_NOMEM, "model: out of memory for tensor table");
            return 0;
        }
        m->tensors = t;
        b->cap = cap;
    }
    model_tensor *t = &m->tensors[m->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind;
    t->init = init;
    t->ndim = ndim;
    int64_t dims[4] = {d0, d1, d2, d3};
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = dims[i];
        t->numel *= (size_t)dims[i];
    }
    size_t *counter = kind == TENSOR_PARAM    ? &m->n_params
                      : kind == TENSOR_BUFFER ? &m->n_buffers
                                              : &m->n_counters;
    t->offset = *counter;
    *counter += t->numel;
    return t->offset;
}

static void add_conv_bn(builder *b, conv_bn *u, const char *conv_name, const char *bn_name, int C,
                        int OC, int k, int stride, int relu) {
    char name[64];
    memset(u, 0, sizeof *u);
    u->conv = (conv2d_shape){0, C, 0, 0, OC, k, k, stride, k / 2};
    u->relu = relu;
    snprintf(name, sizeof name, "%s.weight", conv_name);
    u->weight = add_tensor(b, name, TENSOR_PARAM, INIT_KAIMING_FAN_OUT, 4, OC, C, k, k);
    snprintf(name, sizeof name, "%s.weight", bn_name);
    u->gamma = add_tensor(b, name, TENSOR_PARAM, INIT_ONE, 1, OC, 0, 0, 0);
    snprintf(name, sizeof name, "%s.bias", bn_name);
    u->beta = add_tensor(b, name, TENSOR_PARAM, INIT_ZERO, 1, OC, 0, 0, 0);
    snprintf(name, sizeof name, "%s.running_mean", bn_name);
    u->running_mean = add_tensor(b, name, TENSOR_BUFFER, INIT_ZERO, 1, OC, 0, 0, 0);
    snprintf(name, sizeof name, "%s.running_var", bn_name);
    u->running_var = add_tensor(b, name, TENSOR_BUFFER, INIT_ONE, 1, OC, 0, 0, 0);
    snprintf(name, sizeof name, "%s.num_batches_tracked", bn_name);
    u->counter = add_tensor(b, name, TENSOR_COUNTER, INIT_ZERO, 0, 0, 0, 0, 0);
}

static size_t add_linear(builder *b, const char *name, int in, int out, int bias,
                         size_t *bias_offset) {
    char full[64];
    snprintf(full, sizeof full, "%s.weight", name);
    size_t weight = add_tensor(b, full, TENSOR_PARAM, INIT_UNIFORM_FAN_IN, 2, out, in, 0, 0);
    if (b->status == RELAGE_OK) b->m->tensors[b->m->n_tensors - 1].fan_in = in;
    if (bias) {
        snprintf(full, sizeof full, "%s.bias", name);
        *bias_offset = add_tensor(b, full, TENSOR_PARAM, INIT_UNIFORM_FAN_IN, 1, out, 0, 0, 0);
        if (b->status == RELAGE_OK) b->m->tensors[b->m->n_tensors - 1].fan_in = in;
    }
    return weight;
}

static int scaled(int channels, float width) {
    int c = (int)((float)channels * width + 0.5f);
    return c < 1 ? 1 : c;
}

static void build(builder *b) {
    model *m = b->m;
    const model_config *cfg = &m->config;
    static const int BLOCKS[3][4] = {{2, 2, 2, 2}, {3, 4, 6, 3}, {3, 4, 6, 3}};
    int bottleneck = cfg->arch == RESNET50, expansion = bottleneck ? 4 : 1;
    int inplanes = scaled(64, cfg->width);
    add_conv_bn(b, &m->stem, "conv1", "bn1", 3, inplanes, 7, 2, 1);
    m->stem.conv.pad = 3;
    int n_blocks = 0;
    for (int s = 0; s < 4; s++) n_blocks += BLOCKS[cfg->arch][s];
    m->blocks = calloc((size_t)n_blocks, sizeof *m->blocks);
    if (!m->blocks) {
        b->status = relage_fail(RELAGE_ERR_NOMEM, "model: out of memory");
        return;
    }
    m->n_blocks = n_blocks;
    int at = 0;
    for (int s = 0; s < 4; s++) {
        int planes = scaled(64 << s, cfg->width), out = planes * expansion;
        for (int i = 0; i < BLOCKS[cfg->arch][s]; i++, at++) {
            res_block *blk = &m->blocks[at];
            int stride = (i == 0 && s > 0) ? 2 : 1;
            char conv[48], bn[48];
            blk->n_units = bottleneck ? 3 : 2;
            for (int u = 0; u < blk->n_units; u++) {
                snprintf(conv, sizeof conv, "layer%d.%d.conv%d", s + 1, i, u + 1);
                snprintf(bn, sizeof bn, "layer%d.%d.bn%d", s + 1, i, u + 1);
                int last = u == blk->n_units - 1;
                int cin = u == 0 ? inplanes : planes, cout = last ? out : planes;
                int k = bottleneck ? (u == 1 ? 3 : 1) : 3;
                int ustride = (bottleneck ? u == 1 : u == 0) ? stride : 1;
                add_conv_bn(b, &blk->unit[u], conv, bn, cin, cout, k, ustride, !last);
            }
            if (stride != 1 || inplanes != out) {
                blk->has_downsample = 1;
                snprintf(conv, sizeof conv, "layer%d.%d.downsample.0", s + 1, i);
                snprintf(bn, sizeof bn, "layer%d.%d.downsample.1", s + 1, i);
                add_conv_bn(b, &blk->downsample, conv, bn, inplanes, out, 1, stride, 0);
            }
            inplanes = out;
        }
    }
    m->feat_c = inplanes;
    int C = m->feat_c, H = cfg->hidden;
    m->head_dim = cfg->head == HEAD_BASE ? C : cfg->head == HEAD_RN ? 2 * C : H;
    if (cfg->head == HEAD_RNG) {
        m->g1a_weight = add_linear(b, "g1a", C + 2, H, 1, &m->g1a_bias);
        m->g1b_weight = add_linear(b, "g1b", C + 2, H, 0, NULL);
        m->g2_weight = add_linear(b, "g2", H, H, 1, &m->g2_bias);
        m->f1_weight = add_linear(b, "f1", H, H, 1, &m->f1_bias);
    }
    m->fc_reg_weight = add_linear(b, "fc_reg", m->head_dim, 1, 1, &m->fc_reg_bias);
    m->fc_cls_weight = add_linear(b, "fc_cls", m->head_dim, AGE_CLASSES, 1, &m->fc_cls_bias);
}

/* Spatial sizes follow from the input side; set them on every unit. */
static void set_spatial(model *m) {
    int side = m->config.input;
    m->stem.conv.H = m->stem.conv.W = side;
    side = maxpool_out_size(conv2d_out_h(&m->stem.conv));
    for (int i = 0; i < m->n_blocks; i++) {
        res_block *blk = &m->blocks[i];
        int in = side;
        for (int u = 0; u < blk->n_units; u++) {
            blk->unit[u].conv.H = blk->unit[u].conv.W = side;
            side = conv2d_out_h(&blk->unit[u].conv);
        }
        if (blk->has_downsample) blk->downsample.conv.H = blk->downsample.conv.W = in;
    }
    m->feat_h = m->feat_w = side; /* S/32 rounded up at each stride-2 step, as in PyTorch */
}

static void initialise(model *m) {
    rng r;
    rng_seed(&r, m->config.seed);
    for (size_t i = 0; i < m->n_tensors; i++) {
        const model_tensor *t = &m->tensors[i];
        if (t->kind == TENSOR_COUNTER) {
            m->counters[t->offset] = 0;
            continue;
        }
        float *data = model_tensor_data(m, t);
        switch (t->init) {
        case INIT_ZERO:
        case INIT_ONE:
            for (size_t j = 0; j < t->numel; j++) data[j] = t->init == INIT_ONE ? 1.0f : 0.0f;
            break;
        case INIT_KAIMING_FAN_OUT: {
            double std = sqrt(2.0 / (double)(t->shape[0] * t->shape[2] * t->shape[3]));
            for (size_t j = 0; j < t->numel; j++) data[j] = (float)(std * rng_normal(&r));
            break;
        }
        case INIT_UNIFORM_FAN_IN: {
            double bound = 1.0 / sqrt((double)t->fan_in);
            for (size_t j = 0; j < t->numel; j++)
                data[j] = (float)(bound * (2.0 * rng_uniform(&r) - 1.0));
            break;
        }
        }
    }
}

relage_status model_create(model **out, const model_config *config, const backend *be) {
    *out = NULL;
    if (config->input < 32 || config->input > 8192)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "input size %d: must be in 32..8192",
                           config->input);
    if (!(config->width > 0.0f && config->width <= 8.0f))
        return relage_fail(RELAGE_ERR_INVALID_ARG, "width multiplier %g: must be in (0, 8]",
                           (double)config->width);
    if (config->head == HEAD_RNG && (config->hidden < 1 || config->hidden > 65536))
        return relage_fail(RELAGE_ERR_INVALID_ARG, "rng hidden size %d: must be in 1..65536",
                           config->hidden);
    model *m = calloc(1, sizeof *m);
    if (!m) return relage_fail(RELAGE_ERR_NOMEM, "model: out of memory");
    m->config = *config;
    m->be = be ? be : backend_ref();
    builder b = {m, 0, RELAGE_OK};
    build(&b);
    if (b.status != RELAGE_OK) goto fail;
    set_spatial(m);
    m->params = calloc(m->n_params, sizeof(float));
    m->grads = calloc(m->n_params, sizeof(float));
    m->buffers = calloc(m->n_buffers, sizeof(float));
    m->counters = calloc(m->n_counters, sizeof(int64_t));
    if (!m->params || !m->grads || !m->buffers || !m->counters) {
        b.status =
            relage_fail(RELAGE_ERR_NOMEM, "model: out of memory for %zu parameters", m->n_params);
        goto fail;
    }
    if (!config->no_init) initialise(m);
    *out = m;
    return RELAGE_OK;
fail:
    model_free(m);
    return b.status;
}

void model_free(model *m) {
    if (!m) return;
    free(m->tensors);
    free(m->blocks);
    free(m->params);
    free(m->grads);
    free(m->buffers);
    free(m->counters);
    free(m->activations);
    if (m->trunk) m->be->trunk_free(m->trunk);
    free(m);
}

void model_touch(model *m) {
    m->generation++;
}

const model_tensor *model_find_tensor(const model *m, const char *name) {
    for (size_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

float *model_tensor_data(const model *m, const model_tensor *t) {
    switch (t->kind) {
    case TENSOR_PARAM:
        return m->params + t->offset;
    case TENSOR_BUFFER:
        return m->buffers + t->offset;
    case TENSOR_COUNTER:
        return NULL;
    }
    return NULL;
}

/* ---- the activation plan ---- */

typedef struct plan {
    char *base; /* NULL while measuring */
    size_t used;
} plan;

/* Reserves n elements of size bytes, 64-byte aligned. */
static void *take(plan *p, size_t n, size_t size) {
    size_t bytes = (n * size + 63) / 64 * 64;
    void *at = p->base ? p->base + p->used : NULL;
    p->used += bytes;
    return at;
}

static size_t unit_out_numel(const conv_bn *u, int B) {
    return (size_t)B * u->conv.OC * conv2d_out_h(&u->conv) * conv2d_out_w(&u->conv);
}

static void plan_unit(plan *p, conv_bn *u, int B, size_t *max_act, size_t *max_scratch) {
    size_t n = unit_out_numel(u, B);
    u->conv_out = take(p, n, sizeof(float));
    u->bn_out = take(p, n, sizeof(float));
    u->mean = take(p, u->conv.OC, sizeof(float));
    u->rstd = take(p, u->conv.OC, sizeof(float));
    if (n > *max_act) *max_act = n;
    size_t s = conv2d_scratch_floats(&u->conv);
    if (s > *max_scratch) *max_scratch = s;
}

static void plan_activations(model *m, plan *p, int B) {
    size_t max_act = 0, max_scratch = 0;
    size_t D = (size_t)m->head_dim, N = (size_t)m->feat_h * m->feat_w;
    if (m->be->trunk_forward) { /* the backend keeps the trunk's activations */
        max_act = (size_t)B * m->feat_c * N;
        m->feat = take(p, max_act, sizeof(float));
        goto head;
    }
    plan_unit(p, &m->stem, B, &max_act, &max_scratch);
    int stem_side = conv2d_out_h(&m->stem.conv), pool_side = maxpool_out_size(stem_side);
    size_t pooled = (size_t)B * m->stem.conv.OC * pool_side * pool_side;
    m->pool_out = take(p, pooled, sizeof(float));
    m->pool_argmax = take(p, pooled, sizeof(int32_t));
    for (int i = 0; i < m->n_blocks; i++) {
        res_block *blk = &m->blocks[i];
        for (int u = 0; u < blk->n_units; u++)
            plan_unit(p, &blk->unit[u], B, &max_act, &max_scratch);
        if (blk->has_downsample) plan_unit(p, &blk->downsample, B, &max_act, &max_scratch);
        blk->out = take(p, unit_out_numel(&blk->unit[blk->n_units - 1], B), sizeof(float));
    }
head:
    m->z = take(p, B * D, sizeof(float));
    m->dz = take(p, B * D, sizeof(float));
    m->dz_tmp = take(p, B * D, sizeof(float));
    m->reg = take(p, B, sizeof(float));
    m->dreg = take(p, B, sizeof(float));
    m->expected = take(p, B, sizeof(float));
    m->dexpected = take(p, B, sizeof(float));
    m->labels = take(p, B, sizeof(int));
    m->logits = take(p, (size_t)B * AGE_CLASSES, sizeof(float));
    m->dlogits = take(p, (size_t)B * AGE_CLASSES, sizeof(float));
    m->probs = take(p, (size_t)B * AGE_CLASSES, sizeof(float));
    for (int i = 0; i < (m->feat ? 1 : 4); i++) m->grad_buf[i] = take(p, max_act, sizeof(float));
    if (m->config.head == HEAD_RNG) {
        rng_head_shape hs = {B, m->feat_c, m->feat_h, m->feat_w, m->config.hidden};
        m->head_acts = take(p, rng_head_act_floats(&hs), sizeof(float));
        size_t s = rng_head_scratch_floats(&hs);
        if (s > max_scratch) max_scratch = s;
    }
    m->rn_scratch = take(p, rn_literal_scratch_doubles(m->feat_c, (int)N), sizeof(double));
    m->scratch = take(p, max_scratch, sizeof(float));
}

relage_status model_reserve(model *m, int batch) {
    if (batch < 1) return relage_fail(RELAGE_ERR_INVALID_ARG, "batch %d: must be >= 1", batch);
    if (batch <= m->capacity) return RELAGE_OK;
    plan p = {NULL, 0};
    plan_activations(m, &p, batch);
    char *base = aligned_alloc(64, p.used);
    if (!base)
        return relage_fail(RELAGE_ERR_NOMEM, "model: out of memory for %zu MiB of activations",
                           p.used >> 20);
    free(m->activations);
    m->activations = (float *)base;
    p = (plan){base, 0};
    plan_activations(m, &p, batch);
    m->capacity = batch;
    return RELAGE_OK;
}

/* ---- forward ---- */

static void conv_bn_forward(model *m, conv_bn *u, const float *inp, int B, int training) {
    const backend *be = m->be;
    conv2d_shape s = u->conv;
    s.B = B;
    be->conv2d_forward(u->conv_out, inp, m->params + u->weight, NULL, &s, m->scratch);
    batchnorm2d_shape bs = {B, s.OC, (size_t)conv2d_out_h(&s) * conv2d_out_w(&s)};
    const float *gamma = m->params + u->gamma, *beta = m->params + u->beta;
    float *rm = m->buffers + u->running_mean, *rv = m->buffers + u->running_var;
    if (training) {
        be->batchnorm2d_forward_train(u->bn_out, u->mean, u->rstd, u->conv_out, gamma, beta, rm, rv,
                                      &bs, BN_MOMENTUM, BN_EPS);
        m->counters[u->counter]++;
    } else {
        be->batchnorm2d_forward_eval(u->bn_out, u->conv_out, gamma, beta, rm, rv, &bs, BN_EPS);
        for (int c = 0; c < s.OC; c++) { /* what the backward of evaluation mode reads */
            u->mean[c] = rm[c];
            u->rstd[c] = 1.0f / sqrtf(rv[c] + BN_EPS);
        }
    }
    if (u->relu) be->relu_forward(u->bn_out, u->bn_out, (size_t)B * s.OC * bs.HW);
}

static void block_forward(model *m, res_block *blk, const float *x, int B, int training) {
    const float *in = x;
    for (int u = 0; u < blk->n_units; u++) {
        conv_bn_forward(m, &blk->unit[u], in, B, training);
        in = blk->unit[u].bn_out;
    }
    const float *shortcut = x;
    if (blk->has_downsample) {
        conv_bn_forward(m, &blk->downsample, x, B, training);
        shortcut = blk->downsample.bn_out;
    }
    size_t n = unit_out_numel(&blk->unit[blk->n_units - 1], B);
    m->be->residual_add_forward(blk->out, in, shortcut, n);
    m->be->relu_forward(blk->out, blk->out, n);
}

static rng_head_params rng_params(const model *m, float *base) {
    rng_head_params p = {base + m->g1a_weight, base + m->g1a_bias, base + m->g1b_weight,
                         base + m->g2_weight,  base + m->g2_bias,  base + m->f1_weight,
                         base + m->f1_bias};
    return p;
}

relage_status model_forward(model *m, const float *input, int B, int training) {
    const backend *be = m->be;
    if (B < 1 || B > m->capacity)
        return relage_fail(RELAGE_ERR_INVALID_ARG,
                           "forward of %d images: the model has room for 1..%d (model_reserve)", B,
                           m->capacity);
    m->input = input;
    m->batch = B;
    m->training = training;
    if (training) m->generation++; /* the running statistics move */
    const float *x = m->feat;
    if (be->trunk_forward) {
        relage_status st = be->trunk_forward(m, input, B, training, m->feat);
        if (st != RELAGE_OK) return st;
    } else {
        conv_bn_forward(m, &m->stem, input, B, training);
        int side = conv2d_out_h(&m->stem.conv);
        be->maxpool_forward(m->pool_out, m->pool_argmax, m->stem.bn_out, B, m->stem.conv.OC, side,
                            side);
        x = m->pool_out;
        for (int i = 0; i < m->n_blocks; i++) {
            block_forward(m, &m->blocks[i], x, B, training);
            x = m->blocks[i].out;
        }
    }
    int C = m->feat_c, N = m->feat_h * m->feat_w;
    const float *z = m->z;
    switch (m->config.head) {
    case HEAD_BASE:
        global_avgpool_forward(m->z, x, B, C, (size_t)N);
        break;
    case HEAD_RN:
        if (m->config.rn_literal)
            rn_literal_forward(m->z, x, B, C, N, m->rn_scratch);
        else
            rn_fast_forward(m->z, x, B, C, N);
        break;
    case HEAD_RNG: {
        rng_head_shape hs = {B, C, m->feat_h, m->feat_w, m->config.hidden};
        rng_head_params p = rng_params(m, m->params);
        z = rng_head_forward(m->head_acts, x, &p, &hs);
        break;
    }
    }
    size_t D = (size_t)m->head_dim;
    be->linear_forward(m->reg, z, m->params + m->fc_reg_weight, m->params + m->fc_reg_bias, B, D,
                       1);
    be->linear_forward(m->logits, z, m->params + m->fc_cls_weight, m->params + m->fc_cls_bias, B, D,
                       AGE_CLASSES);
    return RELAGE_OK;
}

/* ---- backward ---- */

/* d holds the gradient of the unit's output; it is consumed. The gradient of the unit's
 * input is written to dinp (skipped if NULL); tmp is a buffer of the same size. */
static void conv_bn_backward(model *m, conv_bn *u, float *d, const float *inp, float *dinp,
                             float *tmp) {
    const backend *be = m->be;
    int B = m->batch;
    conv2d_shape s = u->conv;
    s.B = B;
    batchnorm2d_shape bs = {B, s.OC, (size_t)conv2d_out_h(&s) * conv2d_out_w(&s)};
    if (u->relu) be->relu_backward(d, d, u->bn_out, (size_t)B * s.OC * bs.HW);
    be->batchnorm2d_backward(tmp, m->grads + u->gamma, m->grads + u->beta, d, u->conv_out, u->mean,
                             u->rstd, m->params + u->gamma, &bs, m->training);
    be->conv2d_backward_weights(m->grads + u->weight, NULL, tmp, inp, &s, m->scratch);
    if (dinp) be->conv2d_backward_data(dinp, tmp, m->params + u->weight, &s, m->scratch);
}

/* dout (consumed) is the gradient of the block's output; dx receives the gradient of its
 * input x. q and r are work buffers. */
static void block_backward(model *m, res_block *blk, const float *x, float *dout, float *dx,
                           float *q, float *r) {
    int B = m->batch;
    size_t n = unit_out_numel(&blk->unit[blk->n_units - 1], B);
    m->be->relu_backward(dout, dout, blk->out, n);
    if (blk->has_downsample) conv_bn_backward(m, &blk->downsample, dout, x, dx, q);
    /* The last unit reads dout without changing it (it has no ReLU), so the identity
     * shortcut can still use it below. */
    float *d = dout;
    for (int u = blk->n_units - 1; u >= 0; u--) {
        const float *inp = u == 0 ? x : blk->unit[u - 1].bn_out;
        conv_bn_backward(m, &blk->unit[u], d, inp, r, q);
        d = r; /* consumed into q, then overwritten with the next gradient */
    }
    size_t nx = (size_t)B * blk->unit[0].conv.C * blk->unit[0].conv.H * blk->unit[0].conv.W;
    const float *shortcut = blk->has_downsample ? dx : dout;
    for (size_t i = 0; i < nx; i++) dx[i] = shortcut[i] + r[i];
}

relage_status model_backward(model *m, const float *dreg, const float *dlogits) {
    const backend *be = m->be;
    if (be->trunk_backward && !m->training)
        return relage_fail(RELAGE_ERR_UNSUPPORTED,
                           "backend %s: backward after an evaluation-mode forward (use ref)",
                           be->name);
    int B = m->batch, C = m->feat_c, N = m->feat_h * m->feat_w;
    size_t D = (size_t)m->head_dim;
    const float *z = m->config.head == HEAD_RNG ? NULL : m->z;
    if (m->config.head == HEAD_RNG) {
        rng_head_shape hs = {B, C, m->feat_h, m->feat_w, m->config.hidden};
        size_t act = rng_head_act_floats(&hs) - (size_t)B * hs.H; /* z is last in the acts */
        z = m->head_acts + act;
    }
    be->linear_backward(m->dz, m->grads + m->fc_reg_weight, m->grads + m->fc_reg_bias, dreg, z,
                        m->params + m->fc_reg_weight, B, D, 1);
    be->linear_backward(m->dz_tmp, m->grads + m->fc_cls_weight, m->grads + m->fc_cls_bias, dlogits,
                        z, m->params + m->fc_cls_weight, B, D, AGE_CLASSES);
    for (size_t i = 0; i < (size_t)B * D; i++) m->dz[i] += m->dz_tmp[i];

    float *p = m->grad_buf[0], *x = m->grad_buf[1], *q = m->grad_buf[2], *r = m->grad_buf[3];
    switch (m->config.head) {
    case HEAD_BASE:
        global_avgpool_backward(p, m->dz, B, C, (size_t)N);
        break;
    case HEAD_RN:
        if (m->config.rn_literal)
            rn_literal_backward(p, m->dz, B, C, N, m->rn_scratch);
        else
            rn_fast_backward(p, m->dz, B, C, N);
        break;
    case HEAD_RNG: {
        rng_head_shape hs = {B, C, m->feat_h, m->feat_w, m->config.hidden};
        rng_head_params w = rng_params(m, m->params), g = rng_params(m, m->grads);
        rng_head_backward(p, &g, m->dz, m->head_acts, &w, &hs, m->scratch);
        break;
    }
    }
    if (be->trunk_backward) return be->trunk_backward(m, p);
    for (int i = m->n_blocks - 1; i >= 0; i--) {
        const float *in = i > 0 ? m->blocks[i - 1].out : m->pool_out;
        block_backward(m, &m->blocks[i], in, p, x, q, r);
        float *t = p;
        p = x;
        x = t;
    }
    int side = conv2d_out_h(&m->stem.conv);
    be->maxpool_backward(q, p, m->pool_argmax, B, m->stem.conv.OC, side, side);
    conv_bn_backward(m, &m->stem, q, m->input, NULL, r);
    return RELAGE_OK;
}

void model_expected_age(model *m) {
    softmax_forward(m->probs, m->logits, (size_t)m->batch, AGE_CLASSES);
    expected_age_forward(m->expected, m->probs, (size_t)m->batch);
}

relage_status model_train_step(model *m, optimizer *opt, const float *input, const float *age,
                               int B, float lr, age_loss *loss) {
    if (opt->n != m->n_params)
        return relage_fail(RELAGE_ERR_INVALID_ARG,
                           "optimizer holds %zu parameters, the model has %zu", opt->n,
                           m->n_params);
    if (B < 1 || B > m->capacity) return model_forward(m, input, B, 1); /* reports the error */
    memset(m->grads, 0, m->n_params * sizeof(float));
    relage_status st = model_forward(m, input, B, 1);
    if (st != RELAGE_OK) return st;
    age_loss l = age_loss_forward_backward(m->dreg, m->dlogits, m->probs, m->expected, m->labels,
                                           m->dexpected, m->reg, m->logits, age, (size_t)B);
    if ((st = model_backward(m, m->dreg, m->dlogits)) != RELAGE_OK) return st;
    optimizer_step(opt, m->params, m->grads, lr);
    m->generation++;
    if (loss) *loss = l;
    return RELAGE_OK;
}
