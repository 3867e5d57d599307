/* Max-pool 3x3/2 pad 1 and global average pool, forward and backward. */
#include "nn/pool.h"

#include <math.h>
#include <string.h>

int maxpool_out_size(int size) {
    return (size + 2 - 3) / 2 + 1;
}

void maxpool_forward(float *out, int32_t *argmax, const float *inp, int B, int C, int H, int W) {
    int OH = maxpool_out_size(H), OW = maxpool_out_size(W);
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++) {
        const float *x = inp + (size_t)bc * H * W;
        float *y = out + (size_t)bc * OH * OW;
        int32_t *arg = argmax + (size_t)bc * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                float best = -INFINITY;
                int32_t best_at = -1;
                for (int kh = 0; kh < 3; kh++) {
                    int ih = oh * 2 - 1 + kh;
                    if (ih < 0 || ih >= H) continue;
                    for (int kw = 0; kw < 3; kw++) {
                        int iw = ow * 2 - 1 + kw;
                        if (iw < 0 || iw >= W) continue;
                        float v = x[ih * W + iw];
                        if (v > best || isnan(v) || best_at < 0) {
                            best = v;
                            best_at = ih * W + iw;
                        }
                    }
                }
                y[oh * OW + ow] = best;
                arg[oh * OW + ow] = best_at;
            }
    }
}

void maxpool_backward(float *dinp, const float *dout, const int32_t *argmax, int B, int C, int H,
                      int W) {
    int OH = maxpool_out_size(H), OW = maxpool_out_size(W);
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++) {
        float *dx = dinp + (size_t)bc * H * W;
        const float *dy = dout + (size_t)bc * OH * OW;
        const int32_t *arg = argmax + (size_t)bc * OH * OW;
        memset(dx, 0, sizeof(float) * H * W);
        for (int i = 0; i < OH * OW; i++) dx[arg[i]] += dy[i];
    }
}

void global_avgpool_forward(float *out, const float *inp, int B, int C, size_t HW) {
#pragma omp parallel for schedule(static) if ((size_t)B * C * HW > 65536)
    for (int bc = 0; bc < B * C; bc++) {
        const float *x = inp + (size_t)bc * HW;
        double sum = 0.0;
        for (size_t i = 0; i < HW; i++) sum += (double)x[i];
        out[bc] = (float)(sum / (double)HW);
    }
}

void global_avgpool_backward(float *dinp, const float *dout, int B, int C, size_t HW) {
    float inv = 1.0f / (float)HW;
#pragma omp parallel for schedule(static) if ((size_t)B * C * HW > 65536)
    for (int bc = 0; bc < B * C; bc++) {
        float g = dout[bc] * inv;
        for (size_t i = 0; i < HW; i++) dinp[(size_t)bc * HW + i] = g;
    }
}
