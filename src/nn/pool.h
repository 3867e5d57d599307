/* Pooling: max-pool (kernel 3, stride 2, padding 1, as in the ResNet stem) and global average
 * pool. inp is (B,C,H,W). */
#ifndef RELAGE_NN_POOL_H
#define RELAGE_NN_POOL_H

#include <stddef.h>
#include <stdint.h>

/* Output side of the 3x3/2 pad-1 max-pool: (H + 2 - 3) / 2 + 1. */
int maxpool_out_size(int size);

/* out (B,C,OH,OW); argmax (B,C,OH,OW) records the flat H*W index chosen in each window,
 * the first maximum in row-major window order as in PyTorch (ties go to the earliest). */
void maxpool_forward(float *out, int32_t *argmax, const float *inp, int B, int C, int H, int W);

/* dinp (B,C,H,W) is written. */
void maxpool_backward(float *dinp, const float *dout, const int32_t *argmax, int B, int C, int H,
                      int W);

/* out (B,C) = mean over HW of inp (B,C,HW). */
void global_avgpool_forward(float *out, const float *inp, int B, int C, size_t HW);

/* dinp (B,C,HW) = dout (B,C) / HW, written. */
void global_avgpool_backward(float *dinp, const float *dout, int B, int C, size_t HW);

#endif
