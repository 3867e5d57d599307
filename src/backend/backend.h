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

typedef struct backend {
    const char *name;
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
} backend;

/* The reference backend: plain C, OpenMP. */
const backend *backend_ref(void);

#endif
