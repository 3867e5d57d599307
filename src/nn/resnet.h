/* ResNet-18, -34 and -50 with exactly torchvision's topology (v1.5: the bottleneck strides in
 * its 3x3 convolution), initialisation and parameter names, a channel width multiplier, and
 * the three heads of heads.h ending in the two parallel outputs fc_reg (1) and fc_cls (101).
 *
 * Memory is allocated by lifetime: the tensor table, parameters, gradients, running statistics
 * and counters when the model is created; activations, backward buffers and scratch for a batch
 * capacity by model_reserve(). A forward, backward or training step allocates nothing.
 *
 * Shapes: input (B,3,S,S), S >= 32 (112, 128, 224 ...); feature map (B,C,h,h) with h = S/32
 * rounded up at each stride-2 step as PyTorch does (224 -> 7, 112 -> 4, 128 -> 4), C = 512w
 * (18, 34) or 2048w (50); reg (B); logits (B,101). */
#ifndef RELAGE_NN_RESNET_H
#define RELAGE_NN_RESNET_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "nn/conv2d.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "relage.h"

typedef enum resnet_arch { RESNET18, RESNET34, RESNET50 } resnet_arch;
typedef enum head_kind { HEAD_BASE, HEAD_RN, HEAD_RNG } head_kind;

typedef struct model_config {
    resnet_arch arch;
    head_kind head;
    int input;      /* side of the square input, >= 32 */
    float width;    /* channel multiplier: 1 is torchvision's network, 1/16 a tiny one */
    int hidden;     /* rng: hidden size of g and f */
    int rn_literal; /* rn: run the literal pairwise computation instead of [GAP; GAP] */
    uint64_t seed;  /* initialisation */
    int no_init;    /* leave the tensors zero: a checkpoint is loaded next (saves ~0.3 s) */
} model_config;

/* ResNet-50, base head, input 224, width 1, hidden 256, fast rn, seed 0. */
model_config model_default_config(void);

const char *resnet_arch_name(resnet_arch arch);
const char *head_kind_name(head_kind head);
/* Parse "resnet18" / "base" ...; RELAGE_ERR_INVALID_ARG listing the choices on failure. */
relage_status resnet_arch_parse(const char *name, resnet_arch *arch);
relage_status head_kind_parse(const char *name, head_kind *head);

typedef enum tensor_kind {
    TENSOR_PARAM,   /* trainable float: offset into params and grads */
    TENSOR_BUFFER,  /* float running statistic: offset into buffers */
    TENSOR_COUNTER, /* int64 num_batches_tracked: index into counters */
} tensor_kind;

/* How torchvision initialises a tensor. */
typedef enum tensor_init {
    INIT_ZERO,
    INIT_ONE,
    INIT_KAIMING_FAN_OUT, /* convolution: normal(0, sqrt(2 / fan_out)) */
    INIT_UNIFORM_FAN_IN,  /* linear weight and bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
} tensor_init;

typedef struct model_tensor {
    char name[64]; /* PyTorch's state_dict name, e.g. "layer3.1.bn2.running_var" */
    tensor_kind kind;
    tensor_init init;
    int64_t fan_in; /* INIT_UNIFORM_FAN_IN */
    int ndim;
    int64_t shape[4];
    size_t numel;
    size_t offset;
} model_tensor;

/* A convolution followed by batch normalisation and, if relu, a ReLU. */
typedef struct conv_bn {
    conv2d_shape conv;                /* B is set per call */
    size_t weight, gamma, beta;       /* offsets into params */
    size_t running_mean, running_var; /* offsets into buffers */
    size_t counter;                   /* index into counters */
    int relu;
    float *conv_out, *bn_out, *mean, *rstd; /* activations */
} conv_bn;

typedef struct res_block {
    conv_bn unit[3];
    int n_units; /* 2 (basic) or 3 (bottleneck) */
    int has_downsample;
    conv_bn downsample;
    float *out; /* relu(last unit + shortcut) */
} res_block;

typedef struct model {
    model_config config;
    const backend *be;
    /* How the training faces were made, recorded in checkpoints so that prediction crops alike:
     * "DETECTOR POLICY size=S", e.g. "mtcnn largest margin=0 square=0 size=256"; "" when
     * unknown (a model not trained on a face cache). */
    char crop[160];

    model_tensor *tensors;
    size_t n_tensors;
    float *params, *grads; /* n_params each */
    size_t n_params;
    float *buffers;
    size_t n_buffers;
    int64_t *counters;
    size_t n_counters;

    conv_bn stem;
    res_block *blocks;
    int n_blocks;
    int feat_c, feat_h, feat_w;
    int head_dim; /* width of z: C (base), 2C (rn), hidden (rng) */
    size_t fc_reg_weight, fc_reg_bias, fc_cls_weight, fc_cls_bias;
    size_t g1a_weight, g1a_bias, g1b_weight, g2_weight, g2_bias, f1_weight, f1_bias;

    /* Activations and scratch for up to `capacity` images, one allocation. */
    int capacity;
    float *activations;
    int32_t *pool_argmax;
    float *pool_out, *z, *reg, *logits, *head_acts;
    float *grad_buf[4], *dz, *dz_tmp, *dreg, *dlogits, *probs, *expected, *dexpected;
    int *labels;
    float *scratch;     /* convolution and rng-head scratch */
    double *rn_scratch; /* literal rn */
    float *feat;        /* trunk backends: the feature map (B,C,h,w) */
    const float *input; /* of the last forward, read again by the backward */
    int batch;          /* images in the last forward */
    int training;       /* mode of the last forward */

    backend_trunk *trunk; /* the backend's plans, if it runs the trunk itself */
    uint64_t generation;  /* bumped whenever params or buffers change (model_touch) */
} model;

/* Builds the tensor table and initialises as torchvision does: convolutions
 * kaiming_normal(fan_out, relu), BatchNorm weight 1 and bias 0, running mean 0 and var 1,
 * linear layers U(-1/sqrt(fan_in), 1/sqrt(fan_in)). On failure *out is NULL. */
relage_status model_create(model **out, const model_config *config, const backend *be);
void model_free(model *m);

/* Says that params or buffers were changed from outside (a checkpoint loaded, weights edited),
 * so that a backend's derived copies (folded inference weights) are made again. */
void model_touch(model *m);

/* Makes room for batches of up to `batch` images; allocates only when the capacity grows. */
relage_status model_reserve(model *m, int batch);

/* Finds a tensor by its PyTorch name; NULL if absent. */
const model_tensor *model_find_tensor(const model *m, const char *name);
/* The float data of a PARAM or BUFFER tensor (NULL for a COUNTER). */
float *model_tensor_data(const model *m, const model_tensor *t);

/* Forward pass of B images; training selects batch statistics (and updates the running
 * ones). Results in m->reg and m->logits. B outside 1..capacity is RELAGE_ERR_INVALID_ARG and
 * nothing is computed. */
relage_status model_forward(model *m, const float *input, int B, int training);

/* Backward pass of the last forward, whose input must still be alive; parameter gradients are
 * accumulated into m->grads. Trunk backends (dnnl) need a training-mode forward
 * (RELAGE_ERR_UNSUPPORTED after an evaluation-mode one). */
relage_status model_backward(model *m, const float *dreg, const float *dlogits);

/* One training step: zero gradients, forward (training), the paper's loss against age (B),
 * backward, optimiser step at learning rate lr. The expected ages are left in m->expected and
 * the loss in *loss (may be NULL). Fails like model_forward, or with RELAGE_ERR_INVALID_ARG
 * if the optimiser was made for another number of parameters; then nothing changes. */
relage_status model_train_step(model *m, optimizer *opt, const float *input, const float *age,
                               int B, float lr, age_loss *loss);

/* Expected ages E (B) of the last forward, into m->expected (and m->probs). */
void model_expected_age(model *m);

#endif
