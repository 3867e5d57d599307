/* The compute backend: the operations the network runs, as a table of function pointers, so
 * that the model code never includes a vendor library. Each entry has the contract of the
 * reference kernel it is named after (the headers in src/nn): shapes, which outputs are written and
 * which accumulated. ref.c is the plain-C oracle every other backend is tested against. */
#ifndef RELAGE_BACKEND_H
#define RELAGE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "nn/batchnorm2d.h"
#include "nn/conv2d.h"
#include "nn/conv2d_direct.h"
#include "relage.h"

struct model;
typedef struct backend_trunk backend_trunk; /* a backend's state for one model */

typedef enum backend_precision { PRECISION_FP32, PRECISION_BF16 } backend_precision;

typedef struct backend {
    const char *name;
    backend_precision precision; /* of the trunk's activations and weights; fp32 in ref */
    void (*conv2d_forward)(float *out, const float *inp, const float *weight, const float *bias,
                           const conv2d_shape *s, float *scratch);
    void (*conv2d_backward_data)(float *dinp, const float *dout, const float *weight,
                                 const conv2d_shape *s, float *scratch);
    void (*conv2d_backward_weights)(float *dweight, float *dbias, const float *dout,
                                    const float *inp, const conv2d_shape *s, float *scratch);
    void (*conv2d_direct_forward)(float *out, const float *inp, const conv2d_direct *l, int G,
                                  int H, int W, float *scratch);
    void (*conv2d_direct_rows_forward)(float *out, const float *inp, const conv2d_direct *l, int H,
                                       int W, float *scratch);
    void (*batchnorm2d_forward_train)(float *out, float *mean, float *rstd, const float *inp,
                                      const float *gamma, const float *beta, float *running_mean,
                                      float *running_var, const batchnorm2d_shape *s,
                                      float momentum, float eps);
    void (*batchnorm2d_forward_eval)(float *out, const float *inp, const float *gamma,
                                     const float *beta, const float *running_mean,
                                     const float *running_var, const batchnorm2d_shape *s,
                                     float eps);
    void (*batchnorm2d_backward)(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                 const float *inp, const float *mean, const float *rstd,
                                 const float *gamma, const batchnorm2d_shape *s, int batch_stats);
    void (*relu_forward)(float *out, const float *inp, size_t n);
    void (*relu_backward)(float *dinp, const float *dout, const float *out, size_t n);
    void (*residual_add_forward)(float *out, const float *a, const float *b, size_t n);
    void (*maxpool_forward)(float *out, int32_t *argmax, const float *inp, int B, int C, int H,
                            int W);
    void (*maxpool_backward)(float *dinp, const float *dout, const int32_t *argmax, int B, int C,
                             int H, int W);
    void (*linear_forward)(float *out, const float *inp, const float *weight, const float *bias,
                           size_t B, size_t IC, size_t OC);
    void (*linear_backward)(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, size_t B, size_t IC, size_t OC);

    /* Whole-trunk execution (stem to last block) for backends that plan the network as a whole;
     * NULL in ref, where the model runs the ops above one by one. trunk_forward writes the
     * feature map (B,C,h,w) to feat; in training mode it updates the running statistics and
     * counters in model->buffers/counters, and keeps what trunk_backward needs, which
     * accumulates the trunk's parameter gradients into model->grads from dfeat. State lives in
     * model->trunk, freed by trunk_free. */
    relage_status (*trunk_forward)(struct model *m, const float *input, int B, int training,
                                   float *feat);
    relage_status (*trunk_backward)(struct model *m, const float *dfeat);
    void (*trunk_free)(backend_trunk *t);
} backend;

/* The reference backend: plain C, OpenMP. */
const backend *backend_ref(void);

/* The oneDNN backend (dnnl.c): ref's per-op kernels plus a planned trunk. In bf16 the trunk's
 * activations, weights and activation gradients are bf16 (fp32 accumulation; fp32 master
 * weights, weight gradients, BatchNorm statistics and optimiser state; the head stays fp32);
 * refused with RELAGE_ERR_UNSUPPORTED naming the CPU's ISA where it has no AVX512-BF16. */
relage_status backend_dnnl(const backend **out, backend_precision precision);

/* "ref" or "dnnl", "fp32" or "bf16"; RELAGE_ERR_INVALID_ARG listing the choices, or the
 * backend's refusal. */
relage_status backend_select(const char *name, const char *precision, const backend **out);

#endif
