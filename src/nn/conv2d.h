/* 2-d convolution, forward and backward (reference kernels).
 * inp is (B,C,H,W), weight (OC,C,KH,KW), bias (OC) or NULL, out (B,OC,OH,OW) with
 * OH = (H + 2*pad - KH) / stride + 1. Dilation 1, groups 1. */
#ifndef RELAGE_NN_CONV2D_H
#define RELAGE_NN_CONV2D_H

#include <stddef.h>

typedef struct conv2d_shape {
    int B, C, H, W;  /* input */
    int OC, KH, KW;  /* kernel */
    int stride, pad; /* same in both directions */
} conv2d_shape;

int conv2d_out_h(const conv2d_shape *s);
int conv2d_out_w(const conv2d_shape *s);

/* Floats of scratch the three functions below need (0 for 1x1 stride-1 convolutions). */
size_t conv2d_scratch_floats(const conv2d_shape *s);

void conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                    const conv2d_shape *s, float *scratch);

/* dinp is written (=). */
void conv2d_backward_data(float *dinp, const float *dout, const float *weight,
                          const conv2d_shape *s, float *scratch);

/* dweight and dbias (may be NULL) are accumulated (+=). */
void conv2d_backward_weights(float *dweight, float *dbias, const float *dout, const float *inp,
                             const conv2d_shape *s, float *scratch);

#endif
