/* BatchNorm2d forward (training, evaluation) and backward; statistics summed in double so that
 * the reference stays close to PyTorch's float64 results at any batch size. */
#include "nn/batchnorm2d.h"

#include <math.h>

void batchnorm2d_forward_train(float *out, float *mean, float *rstd, const float *inp,
                               const float *gamma, const float *beta, float *running_mean,
                               float *running_var, const batchnorm2d_shape *s, float momentum,
                               float eps) {
    size_t n = (size_t)s->B * s->HW, cstride = s->HW, bstride = (size_t)s->C * s->HW;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->C; c++) {
        double sum = 0.0, sq = 0.0;
        for (int b = 0; b < s->B; b++) {
            const float *x = inp + b * bstride + c * cstride;
            for (size_t i = 0; i < s->HW; i++) sum += (double)x[i];
        }
        double m = sum / (double)n;
        for (int b = 0; b < s->B; b++) {
            const float *x = inp + b * bstride + c * cstride;
            for (size_t i = 0; i < s->HW; i++) sq += ((double)x[i] - m) * ((double)x[i] - m);
        }
        double var = sq / (double)n;
        float r = (float)(1.0 / sqrt(var + (double)eps));
        mean[c] = (float)m;
        rstd[c] = r;
        float scale = gamma[c] * r, shift = beta[c] - (float)m * scale;
        for (int b = 0; b < s->B; b++) {
            const float *x = inp + b * bstride + c * cstride;
            float *y = out + b * bstride + c * cstride;
            for (size_t i = 0; i < s->HW; i++) y[i] = x[i] * scale + shift;
        }
        if (running_mean) {
            double unbiased = n > 1 ? sq / (double)(n - 1) : var;
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)m;
            running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)unbiased;
        }
    }
}

void batchnorm2d_forward_eval(float *out, const float *inp, const float *gamma, const float *beta,
                              const float *running_mean, const float *running_var,
                              const batchnorm2d_shape *s, float eps) {
    size_t cstride = s->HW, bstride = (size_t)s->C * s->HW;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->C; c++) {
        float scale = gamma[c] / sqrtf(running_var[c] + eps);
        float shift = beta[c] - running_mean[c] * scale;
        for (int b = 0; b < s->B; b++) {
            const float *x = inp + b * bstride + c * cstride;
            float *y = out + b * bstride + c * cstride;
            for (size_t i = 0; i < s->HW; i++) y[i] = x[i] * scale + shift;
        }
    }
}

void batchnorm2d_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                          const float *inp, const float *mean, const float *rstd,
                          const float *gamma, const batchnorm2d_shape *s, int batch_stats) {
    size_t n = (size_t)s->B * s->HW, cstride = s->HW, bstride = (size_t)s->C * s->HW;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->C; c++) {
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        float m = mean[c], r = rstd[c];
        for (int b = 0; b < s->B; b++) {
            const float *x = inp + b * bstride + c * cstride;
            const float *dy = dout + b * bstride + c * cstride;
            for (size_t i = 0; i < s->HW; i++) {
                sum_dy += (double)dy[i];
                sum_dy_xhat += (double)(dy[i] * ((x[i] - m) * r));
            }
        }
        dgamma[c] += (float)sum_dy_xhat;
        dbeta[c] += (float)sum_dy;
        if (!dinp) continue;
        float k = gamma[c] * r;
        float mean_dy = batch_stats ? (float)(sum_dy / (double)n) : 0.0f;
        float mean_dy_xhat = batch_stats ? (float)(sum_dy_xhat / (double)n) : 0.0f;
        for (int b = 0; b < s->B; b++) {
            const float *x = inp + b * bstride + c * cstride;
            const float *dy = dout + b * bstride + c * cstride;
            float *dx = dinp + b * bstride + c * cstride;
            for (size_t i = 0; i < s->HW; i++) {
                float xhat = (x[i] - m) * r;
                dx[i] = k * (dy[i] - mean_dy - xhat * mean_dy_xhat);
            }
        }
    }
}
