/* Convolution as im2col + GEMM, one image at a time: the column matrix of an image is
 * (C*KH*KW, OH*OW), so forward is W (OC, CKK) x col, backward data is W^T x dout followed by
 * col2im, and backward weights is dout x col^T. 1x1 stride-1 convolutions use the input as the
 * column matrix directly. */
#include "nn/conv2d.h"

#include <string.h>

#include "core/gemm.h"

int conv2d_out_h(const conv2d_shape *s) {
    return (s->H + 2 * s->pad - s->KH) / s->stride + 1;
}

int conv2d_out_w(const conv2d_shape *s) {
    return (s->W + 2 * s->pad - s->KW) / s->stride + 1;
}

static int is_pointwise(const conv2d_shape *s) {
    return s->KH == 1 && s->KW == 1 && s->stride == 1 && s->pad == 0;
}

size_t conv2d_scratch_floats(const conv2d_shape *s) {
    if (is_pointwise(s)) return 0;
    return (size_t)s->C * s->KH * s->KW * conv2d_out_h(s) * conv2d_out_w(s);
}

/* col (C*KH*KW, OH*OW) from one image (C,H,W); padding reads as zero. */
static void im2col(float *col, const float *img, const conv2d_shape *s, int OH, int OW) {
    size_t rows = (size_t)s->C * s->KH * s->KW;
#pragma omp parallel for schedule(static) if (rows * OH * OW > 32768)
    for (size_t row = 0; row < rows; row++) {
        int kw = (int)(row % s->KW), kh = (int)(row / s->KW % s->KH),
            c = (int)(row / s->KW / s->KH);
        const float *plane = img + (size_t)c * s->H * s->W;
        float *dst = col + row * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int ih = oh * s->stride - s->pad + kh;
            for (int ow = 0; ow < OW; ow++) {
                int iw = ow * s->stride - s->pad + kw;
                int inside = ih >= 0 && ih < s->H && iw >= 0 && iw < s->W;
                dst[(size_t)oh * OW + ow] = inside ? plane[(size_t)ih * s->W + iw] : 0.0f;
            }
        }
    }
}

/* img (C,H,W) = sum of col entries that read each pixel; img is overwritten. Each channel is
 * owned by one thread, so the scatter needs no atomics. */
static void col2im(float *img, const float *col, const conv2d_shape *s, int OH, int OW) {
#pragma omp parallel for schedule(static) if ((size_t)s->C * s->H * s->W > 16384)
    for (int c = 0; c < s->C; c++) {
        float *plane = img + (size_t)c * s->H * s->W;
        memset(plane, 0, sizeof(float) * s->H * s->W);
        for (int kh = 0; kh < s->KH; kh++)
            for (int kw = 0; kw < s->KW; kw++) {
                size_t row = ((size_t)c * s->KH + kh) * s->KW + kw;
                const float *src = col + row * OH * OW;
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * s->stride - s->pad + kh;
                    if (ih < 0 || ih >= s->H) continue;
                    for (int ow = 0; ow < OW; ow++) {
                        int iw = ow * s->stride - s->pad + kw;
                        if (iw >= 0 && iw < s->W)
                            plane[(size_t)ih * s->W + iw] += src[(size_t)oh * OW + ow];
                    }
                }
            }
    }
}

void conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                    const conv2d_shape *s, float *scratch) {
    int OH = conv2d_out_h(s), OW = conv2d_out_w(s);
    size_t ckk = (size_t)s->C * s->KH * s->KW, ohw = (size_t)OH * OW;
    for (int b = 0; b < s->B; b++) {
        const float *img = inp + (size_t)b * s->C * s->H * s->W;
        float *o = out + (size_t)b * s->OC * ohw;
        const float *col = img;
        if (!is_pointwise(s)) {
            im2col(scratch, img, s, OH, OW);
            col = scratch;
        }
        gemm(0, 0, s->OC, ohw, ckk, 1.0f, weight, ckk, col, ohw, 0.0f, o, ohw);
        if (bias)
            for (int oc = 0; oc < s->OC; oc++)
                for (size_t i = 0; i < ohw; i++) o[oc * ohw + i] += bias[oc];
    }
}

void conv2d_backward_data(float *dinp, const float *dout, const float *weight,
                          const conv2d_shape *s, float *scratch) {
    int OH = conv2d_out_h(s), OW = conv2d_out_w(s);
    size_t ckk = (size_t)s->C * s->KH * s->KW, ohw = (size_t)OH * OW;
    for (int b = 0; b < s->B; b++) {
        const float *d = dout + (size_t)b * s->OC * ohw;
        float *di = dinp + (size_t)b * s->C * s->H * s->W;
        if (is_pointwise(s)) {
            gemm(1, 0, ckk, ohw, s->OC, 1.0f, weight, ckk, d, ohw, 0.0f, di, ohw);
        } else {
            gemm(1, 0, ckk, ohw, s->OC, 1.0f, weight, ckk, d, ohw, 0.0f, scratch, ohw);
            col2im(di, scratch, s, OH, OW);
        }
    }
}

void conv2d_backward_weights(float *dweight, float *dbias, const float *dout, const float *inp,
                             const conv2d_shape *s, float *scratch) {
    int OH = conv2d_out_h(s), OW = conv2d_out_w(s);
    size_t ckk = (size_t)s->C * s->KH * s->KW, ohw = (size_t)OH * OW;
    for (int b = 0; b < s->B; b++) {
        const float *img = inp + (size_t)b * s->C * s->H * s->W;
        const float *d = dout + (size_t)b * s->OC * ohw;
        const float *col = img;
        if (!is_pointwise(s)) {
            im2col(scratch, img, s, OH, OW);
            col = scratch;
        }
        gemm(0, 1, s->OC, ckk, ohw, 1.0f, d, ohw, col, ohw, 1.0f, dweight, ckk);
        if (dbias)
            for (int oc = 0; oc < s->OC; oc++) {
                float sum = 0.0f;
                for (size_t i = 0; i < ohw; i++) sum += d[oc * ohw + i];
                dbias[oc] += sum;
            }
    }
}
