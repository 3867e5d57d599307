/* Fully-connected layer: out (B,OC) = inp (B,IC) x weight^T (IC,OC) + bias (OC). */
#ifndef RELAGE_NN_LINEAR_H
#define RELAGE_NN_LINEAR_H

#include <stddef.h>

void linear_forward(float *out, const float *inp, const float *weight, const float *bias, size_t B,
                    size_t IC, size_t OC);

/* dinp (may be NULL) is written; dweight and dbias (may be NULL) are accumulated. */
void linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, size_t B, size_t IC, size_t OC);

#endif
