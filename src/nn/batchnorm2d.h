/* Batch normalisation over (B,H,W) per channel, exactly as PyTorch's BatchNorm2d:
 * eps inside the square root, biased batch variance to normalise, unbiased variance into
 * running_var, running = (1 - momentum) * running + momentum * batch.
 * inp/out are (B,C,H,W) with HW = H*W; gamma, beta, running stats, mean and rstd are (C). */
#ifndef RELAGE_NN_BATCHNORM2D_H
#define RELAGE_NN_BATCHNORM2D_H

#include <stddef.h>

typedef struct batchnorm2d_shape {
    int B, C;
    size_t HW;
} batchnorm2d_shape;

/* Training: normalises with batch statistics, saves mean and rstd = 1/sqrt(var + eps) for the
 * backward pass, and updates the running statistics (skipped if running_mean is NULL). */
void batchnorm2d_forward_train(float *out, float *mean, float *rstd, const float *inp,
                               const float *gamma, const float *beta, float *running_mean,
                               float *running_var, const batchnorm2d_shape *s, float momentum,
                               float eps);

/* Evaluation: normalises with the running statistics. */
void batchnorm2d_forward_eval(float *out, const float *inp, const float *gamma, const float *beta,
                              const float *running_mean, const float *running_var,
                              const batchnorm2d_shape *s, float eps);

/* Backward of either mode, given the mean and rstd the forward used (for evaluation:
 * running_mean and 1/sqrt(running_var + eps)); batch_stats says whether they were batch
 * statistics (so that they depend on inp). dinp is written, dgamma and dbeta accumulated. */
void batchnorm2d_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                          const float *inp, const float *mean, const float *rstd,
                          const float *gamma, const batchnorm2d_shape *s, int batch_stats);

#endif
