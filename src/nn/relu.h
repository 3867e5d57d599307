/* ReLU and the residual add, elementwise over n floats. */
#ifndef RELAGE_NN_RELU_H
#define RELAGE_NN_RELU_H

#include <stddef.h>

/* out may equal inp (in place). */
void relu_forward(float *out, const float *inp, size_t n);

/* dinp = dout where out > 0, else 0; dinp may equal dout. */
void relu_backward(float *dinp, const float *dout, const float *out, size_t n);

/* out = a + b (the residual connection); its backward is the identity on both inputs. */
void residual_add_forward(float *out, const float *a, const float *b, size_t n);

#endif
