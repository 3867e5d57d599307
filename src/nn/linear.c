/* Linear layer on GEMM. */
#include "nn/linear.h"

#include "core/gemm.h"

void linear_forward(float *out, const float *inp, const float *weight, const float *bias, size_t B,
                    size_t IC, size_t OC) {
    gemm(0, 1, B, OC, IC, 1.0f, inp, IC, weight, IC, 0.0f, out, OC);
    if (bias)
        for (size_t b = 0; b < B; b++)
            for (size_t o = 0; o < OC; o++) out[b * OC + o] += bias[o];
}

void linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, size_t B, size_t IC, size_t OC) {
    if (dinp) gemm(0, 0, B, IC, OC, 1.0f, dout, OC, weight, IC, 0.0f, dinp, IC);
    if (dweight) gemm(1, 0, OC, IC, B, 1.0f, dout, OC, inp, IC, 1.0f, dweight, IC);
    if (dbias)
        for (size_t b = 0; b < B; b++)
            for (size_t o = 0; o < OC; o++) dbias[o] += dout[b * OC + o];
}
