/* Geometry on 8-bit images: PIL's bilinear resize, crop with zero padding, horizontal flip,
 * affine warp, and conversion to a normalised (C,H,W) float tensor.
 *
 * image_resize_bilinear is PIL 9.4's ImagingResample (libImaging/Resample.c) with the
 * BILINEAR filter, step for step: a horizontal pass over only the rows the vertical pass will
 * read, rounded to uint8, then a vertical pass; each pass skipped when that side keeps its
 * size. Per output pixel the triangle filter is stretched by the scale when shrinking (support
 * max(scale, 1)), its taps normalised to sum 1 in double, then rounded to fixed point with
 * 22 fractional bits; sums start at one half and are clipped to 0..255. So results are
 * bit-identical to PIL's, not merely close. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "image/image.h"

#define PRECISION_BITS (32 - 8 - 2)

/* Per output index i: taps start at input index first[i], count[i] of them, weights
 * weights[i * taps .. + count[i]) in fixed point. */
typedef struct resample_coeffs {
    int taps;
    int *first, *count;
    int32_t *weights;
} resample_coeffs;

static void coeffs_free(resample_coeffs *c) {
    free(c->first);
    free(c->count);
    free(c->weights);
    *c = (resample_coeffs){0};
}

static double bilinear_filter(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* PIL's precompute_coeffs + normalize_coeffs_8bpc for the box [0, in_size). Returns 0 when out
 * of memory. */
static int coeffs_init(resample_coeffs *c, int in_size, int out_size) {
    /* PIL keeps the box in floats: (double)(in1 - in0) with in0 = 0 */
    double scale = (double)(float)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    double *k = NULL;
    int ok = 0;
    *c = (resample_coeffs){0};
    c->taps = (int)ceil(support) * 2 + 1;
    c->first = malloc(sizeof(int) * (size_t)out_size);
    c->count = malloc(sizeof(int) * (size_t)out_size);
    c->weights = calloc((size_t)out_size * (size_t)c->taps, sizeof(int32_t));
    k = malloc(sizeof(double) * (size_t)c->taps);
    if (!c->first || !c->count || !c->weights || !k) goto cleanup;
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            k[x] = bilinear_filter((x + xmin - center + 0.5) * ss);
            ww += k[x];
        }
        for (int x = 0; x < xmax; x++) {
            double w = ww != 0.0 ? k[x] / ww : k[x];
            c->weights[(size_t)xx * c->taps + x] =
                (int32_t)(w < 0 ? -0.5 + w * (1 << PRECISION_BITS)
                                : 0.5 + w * (1 << PRECISION_BITS));
        }
        c->first[xx] = xmin;
        c->count[xx] = xmax;
    }
    ok = 1;
cleanup:
    free(k);
    if (!ok) coeffs_free(c);
    return ok;
}

static uint8_t clip8(int32_t sum) {
    if (sum >= (1 << PRECISION_BITS << 8)) return 255;
    if (sum <= 0) return 0;
    return (uint8_t)(sum >> PRECISION_BITS);
}

/* out (out_w x rows) from in's rows [row0, row0 + rows), resampled along x. The sums cannot
 * overflow: weights are non-negative and sum to about 2^22, times 255 < 2^31. */
static void resample_horizontal(uint8_t *out, int out_w, const image *in, int row0, int rows,
                                const resample_coeffs *c) {
    const int32_t half = 1 << (PRECISION_BITS - 1);
    for (int y = 0; y < rows; y++) {
        const uint8_t *src = in->data + (size_t)(row0 + y) * in->width * in->channels;
        uint8_t *dst = out + (size_t)y * out_w * in->channels;
        for (int xx = 0; xx < out_w; xx++) {
            const int32_t *k = c->weights + (size_t)xx * c->taps;
            int count = c->count[xx];
            if (in->channels == 3) {
                const uint8_t *s = src + (size_t)c->first[xx] * 3;
                int32_t s0 = half, s1 = half, s2 = half;
                for (int x = 0; x < count; x++) {
                    s0 += s[x * 3 + 0] * k[x];
                    s1 += s[x * 3 + 1] * k[x];
                    s2 += s[x * 3 + 2] * k[x];
                }
                dst[xx * 3 + 0] = clip8(s0);
                dst[xx * 3 + 1] = clip8(s1);
                dst[xx * 3 + 2] = clip8(s2);
            } else {
                const uint8_t *s = src + c->first[xx];
                int32_t s0 = half;
                for (int x = 0; x < count; x++) s0 += s[x] * k[x];
                dst[xx] = clip8(s0);
            }
        }
    }
}

/* out (width x out_h) from in (width x any), resampled along y; c's first[] are relative to
 * in's row row_shift. Each output row accumulates whole input rows into sums (stride int32s),
 * which vectorises; integer sums are exact, so the order of addition does not matter. */
static void resample_vertical(uint8_t *out, int out_h, const uint8_t *in, size_t stride,
                              const resample_coeffs *c, int row_shift, int32_t *sums) {
    for (int yy = 0; yy < out_h; yy++) {
        const int32_t *k = c->weights + (size_t)yy * c->taps;
        const uint8_t *src = in + (size_t)(c->first[yy] - row_shift) * stride;
        uint8_t *dst = out + (size_t)yy * stride;
        for (size_t i = 0; i < stride; i++) sums[i] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < c->count[yy]; y++) {
            const uint8_t *row = src + (size_t)y * stride;
            int32_t weight = k[y];
            for (size_t i = 0; i < stride; i++) sums[i] += row[i] * weight;
        }
        for (size_t i = 0; i < stride; i++) dst[i] = clip8(sums[i]);
    }
}

static int image_valid(const image *img) {
    return img && img->data && img->width > 0 && img->height > 0 &&
           (img->channels == 1 || img->channels == 3);
}

relage_status image_resize_bilinear(image *out, const image *in, int width, int height) {
    relage_status st = RELAGE_OK;
    resample_coeffs horizontal = {0}, vertical = {0};
    image temp = {0};
    const image *source = in;
    int32_t *sums = NULL;
    int row_shift = 0;
    if (out) *out = (image){0};
    if (!out || !image_valid(in) || width <= 0 || height <= 0) {
        st = relage_fail(RELAGE_ERR_INVALID_ARG, "image_resize_bilinear: bad image or size %dx%d",
                         width, height);
        goto cleanup;
    }
    st = image_alloc(out, width, height, in->channels);
    if (st != RELAGE_OK) goto cleanup;
    if (width == in->width && height == in->height) {
        memcpy(out->data, in->data, (size_t)width * height * in->channels);
        goto cleanup;
    }
    if (!coeffs_init(&horizontal, in->width, width) ||
        !coeffs_init(&vertical, in->height, height)) {
        st = relage_fail(RELAGE_ERR_NOMEM, "image_resize_bilinear: no memory for coefficients");
        goto cleanup;
    }
    if (width != in->width) {
        /* only the rows the vertical pass reads: [first of row 0, end of the last row) */
        int row0 = vertical.first[0];
        int row_end = vertical.first[height - 1] + vertical.count[height - 1];
        if (height == in->height) row0 = 0, row_end = in->height;
        st = image_alloc(&temp, width, row_end - row0, in->channels);
        if (st != RELAGE_OK) goto cleanup;
        resample_horizontal(temp.data, width, in, row0, row_end - row0, &horizontal);
        source = &temp;
        row_shift = row0;
    }
    if (height != in->height) {
        sums = malloc(sizeof(int32_t) * (size_t)width * in->channels);
        if (!sums) {
            st = relage_fail(RELAGE_ERR_NOMEM, "image_resize_bilinear: no memory for a row");
            goto cleanup;
        }
        resample_vertical(out->data, height, source->data, (size_t)width * in->channels, &vertical,
                          row_shift, sums);
    } else {
        memcpy(out->data, temp.data, (size_t)width * height * in->channels);
    }
cleanup:
    if (st != RELAGE_OK && out) image_free(out);
    free(sums);
    image_free(&temp);
    coeffs_free(&horizontal);
    coeffs_free(&vertical);
    return st;
}

relage_status image_crop(image *out, const image *in, int x, int y, int w, int h) {
    relage_status st;
    int ch;
    int64_t x0, x1, y0, y1;
    if (out) *out = (image){0};
    if (!out || !image_valid(in) || w <= 0 || h <= 0)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "image_crop: bad image or size %dx%d", w, h);
    st = image_alloc(out, w, h, in->channels);
    if (st != RELAGE_OK) return st;
    ch = in->channels;
    /* the part of the crop inside the image, in image coordinates */
    x0 = x > 0 ? x : 0;
    y0 = y > 0 ? y : 0;
    x1 = (int64_t)x + w < in->width ? (int64_t)x + w : in->width;
    y1 = (int64_t)y + h < in->height ? (int64_t)y + h : in->height;
    for (int64_t sy = y0; sy < y1 && x0 < x1; sy++) {
        memcpy(out->data + ((size_t)(sy - y) * w + (size_t)(x0 - x)) * ch,
               in->data + ((size_t)sy * in->width + (size_t)x0) * ch, (size_t)(x1 - x0) * ch);
    }
    return RELAGE_OK;
}

void image_flip_horizontal(image *img) {
    if (!image_valid(img)) return;
    int ch = img->channels;
    for (int y = 0; y < img->height; y++) {
        uint8_t *row = img->data + (size_t)y * img->width * ch;
        for (int a = 0, b = img->width - 1; a < b; a++, b--) {
            for (int c = 0; c < ch; c++) {
                uint8_t t = row[a * ch + c];
                row[a * ch + c] = row[b * ch + c];
                row[b * ch + c] = t;
            }
        }
    }
}

/* In float32, in the order torchvision's to_tensor + normalize compute it, so that the values
 * are the ones PyTorch would feed the network. */
void image_to_tensor(float *out, const image *in, const float mean[3], const float std[3]) {
    if (!out || !image_valid(in) || !mean || !std) return;
    size_t plane = (size_t)in->width * in->height;
    for (int c = 0; c < 3; c++) {
        const uint8_t *src = in->data + (in->channels == 3 ? c : 0);
        float *dst = out + (size_t)c * plane;
        for (size_t i = 0; i < plane; i++)
            dst[i] = ((float)src[i * in->channels] / 255.0f - mean[c]) / std[c];
    }
}

/* Pixel (x, y) of in, or 0 outside. */
static double pixel_or_zero(const image *in, int64_t x, int64_t y, int c) {
    if (x < 0 || y < 0 || x >= in->width || y >= in->height) return 0.0;
    return in->data[((size_t)y * in->width + (size_t)x) * in->channels + c];
}

/* Integer coordinates are pixel centres (OpenCV's convention: cv2.warpAffine with
 * WARP_INVERSE_MAP, INTER_LINEAR and a constant 0 border, without its 1/32-pixel quantisation).
 * Neighbours outside the image count as 0, so edges fade over one pixel; results are rounded
 * to nearest. */
relage_status image_warp_affine(image *out, const image *in, const double m[6], int width,
                                int height) {
    relage_status st;
    int ch;
    if (out) *out = (image){0};
    if (!out || !image_valid(in) || !m || width <= 0 || height <= 0)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "image_warp_affine: bad image or size %dx%d",
                           width, height);
    st = image_alloc(out, width, height, in->channels);
    if (st != RELAGE_OK) return st;
    ch = in->channels;
    for (int y = 0; y < height; y++) {
        for (int x = 0; x < width; x++) {
            double sx = m[0] * x + m[1] * y + m[2], sy = m[3] * x + m[4] * y + m[5];
            double fx, fy;
            int64_t x0, y0;
            uint8_t *dst = out->data + ((size_t)y * width + x) * ch;
            /* also false for NaN, which stays 0 */
            if (!(sx > -1.0 && sx < in->width && sy > -1.0 && sy < in->height)) continue;
            x0 = (int64_t)floor(sx);
            y0 = (int64_t)floor(sy);
            fx = sx - (double)x0;
            fy = sy - (double)y0;
            for (int c = 0; c < ch; c++) {
                double top = (1.0 - fx) * pixel_or_zero(in, x0, y0, c) +
                             fx * pixel_or_zero(in, x0 + 1, y0, c);
                double bottom = (1.0 - fx) * pixel_or_zero(in, x0, y0 + 1, c) +
                                fx * pixel_or_zero(in, x0 + 1, y0 + 1, c);
                double v = floor((1.0 - fy) * top + fy * bottom + 0.5);
                dst[c] = (uint8_t)(v < 0.0 ? 0.0 : v > 255.0 ? 255.0 : v);
            }
        }
    }
    return RELAGE_OK;
}
