/* MTCNN face detection as facenet-pytorch 2.5.2 runs it (contract in mtcnn.h).
 *
 * Shapes: feature maps are planar (C,H,W), or (C,G,H,W) for a batch of G crops; conv weights
 * (OC,C,KH,KW). A crop or pyramid level is made by area averaging (PyTorch's
 * interpolate(mode='area'), i.e. adaptive average pooling) and normalised as
 * (v - 127.5) * 0.0078125. Box arithmetic is float32 in facenet-pytorch's order of operations.
 *
 * Speed: every area average comes from one summed-area table of the photo (uint32, modular: a
 * window sum below 2^32 is exact even where the running sums wrap), so a pyramid level costs its
 * own size, not the photo's. P-Net runs on horizontal strips of every level, recomputing the few
 * overlapping rows, which bounds memory and gives the OpenMP threads even tasks; R- and O-Net run
 * on batches of crops. All convolutions (and the dense layers, held as convolutions) go through
 * the backend's direct convolution (nn/conv2d_direct.h, Winograd F(2x2, 3x3) on the wide 3x3
 * layers); the engine's conv2d_forward (a general im2col, then gemm) took three times as long on
 * these thin layers. The results do not depend on the number of threads. */
#include "detect/mtcnn.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "detect/mtcnn_net.h"
#include "nn/conv2d_direct.h"

enum {
    PNET_STRIDE = 2,
    PNET_CELL = 12,
    RNET_SIZE = 24,
    ONET_SIZE = 48,
    STRIP_POSITIONS = 8192, /* P-Net output positions per strip task, about */
};

mtcnn_params mtcnn_default_params(void) {
    mtcnn_params p = {20.0, 0.709, {0.6f, 0.7f, 0.7f}};
    return p;
}

/* ---- layers ---- */

/* Convolutions run through the backend's conv2d_direct. P-Net's maps are (C, H, stride) with the
 * first W <= stride columns valid ("wide" rows), which its rows form takes as they are; R- and
 * O-Net's batches of crops (C, G, H, W) go to the batched form. The rows form reads up to SLACK
 * floats past a map, so those buffers have SLACK floats more, allocated zeroed, and only ever
 * hold finite values. */
enum { SLACK = CONV2D_DIRECT_SLACK };

static conv2d_direct direct_of(const mtcnn_conv *l) {
    conv2d_direct d = {l->in, l->out, l->k, l->packed, l->bias, l->alpha};
    return d;
}

/* out (OC, H-k+1, stride) = PReLU(conv(inp (C, H, stride)) + bias); scratch holds
 * conv_scratch_floats(l). */
static void conv_wide(const mtcnn *net, float *out, const float *inp, const mtcnn_conv *l, int H,
                      int stride, float *scratch) {
    conv2d_direct d = direct_of(l);
    net->backend->conv2d_direct_rows_forward(out, inp, &d, H, stride, scratch);
}

static size_t conv_scratch_floats(const mtcnn_conv *l) {
    conv2d_direct d = direct_of(l);
    return conv2d_direct_scratch_floats(&d);
}

/* PyTorch's MaxPool2d(k, s, ceil_mode=True) without padding: ceil((n - k) / s) + 1. */
static int pool_out(int n, int k, int s) {
    return (n - k + s - 1) / s + 1;
}

/* out (C, pool_out(H), pool_out(W)), compact, from inp (C, H, stride) with W valid columns;
 * windows running past the far border are clipped. row holds W floats. */
static void maxpool_wide(float *out, const float *inp, int C, int H, int W, int stride, int k,
                         int s, float *row) {
    int OH = pool_out(H, k, s), OW = pool_out(W, k, s);
    for (int c = 0; c < C; c++) {
        const float *x = inp + (size_t)c * H * stride;
        float *y = out + (size_t)c * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int h0 = oh * s, h1 = h0 + k < H ? h0 + k : H;
            memcpy(row, x + (size_t)h0 * stride, W * sizeof(float));
            for (int h = h0 + 1; h < h1; h++) {
                const float *r = x + (size_t)h * stride;
                for (int w = 0; w < W; w++) row[w] = r[w] > row[w] ? r[w] : row[w];
            }
            float *yo = y + (size_t)oh * OW;
            for (int ow = 0; ow < OW; ow++) {
                int w0 = ow * s, w1 = w0 + k < W ? w0 + k : W;
                float best = row[w0];
                for (int w = w0 + 1; w < w1; w++) best = row[w] > best ? row[w] : best;
                yo[ow] = best;
            }
        }
    }
}

/* Probability of class 1 from two logits as PyTorch's softmax over the last dimension computes
 * it (exp(x - max), then times 1 / sum). */
static float softmax2_lastdim(float l0, float l1) {
    float m = l0 > l1 ? l0 : l1;
    float e0 = expf(l0 - m), e1 = expf(l1 - m);
    return e1 * (1.0f / (e0 + e1));
}

/* The same over a non-last dimension (P-Net's channel axis), which divides by the sum. */
static float softmax2_channels(float l0, float l1) {
    float m = l0 > l1 ? l0 : l1;
    float e0 = expf(l0 - m), e1 = expf(l1 - m);
    return e1 / (e0 + e1);
}

/* ---- area resampling from a summed-area table ---- */

typedef struct integral {
    int width, height;
    size_t row;    /* uint32s per row: 3 * (width + 1) */
    uint32_t *sum; /* (height+1, width+1, 3): sums of the pixels above and left, per channel */
} integral;

/* One pass down a band of rows, sums starting from zero above the band. */
static void integral_band(uint32_t *S, size_t row, const image *img, int y0, int y1) {
    int W = img->width, channels = img->channels;
    for (int y = y0; y < y1; y++) {
        const uint8_t *src = img->data + (size_t)y * W * channels;
        const uint32_t *above = y > y0 ? S + row * (size_t)y : NULL;
        uint32_t *dst = S + row * (size_t)(y + 1);
        uint32_t acc[3] = {0, 0, 0};
        dst[0] = dst[1] = dst[2] = 0;
        for (int x = 0; x < W; x++) {
            for (int c = 0; c < 3; c++) {
                acc[c] += src[(size_t)x * channels + (channels == 3 ? c : 0)];
                size_t at = 3 * (size_t)(x + 1) + c;
                dst[at] = acc[c] + (above ? above[at] : 0);
            }
        }
    }
}

/* The table in bands of rows, in parallel: each band from zero, then each band's last row
 * carried down in turn, then added to the other rows of the next band. */
static relage_status integral_build(integral *ii, const image *img) {
    enum { BANDS = 16 };
    int W = img->width, H = img->height;
    size_t row = 3 * ((size_t)W + 1);
    memset(ii, 0, sizeof *ii);
    if (row > SIZE_MAX / sizeof(uint32_t) / ((size_t)H + 1))
        return relage_fail(RELAGE_ERR_NOMEM, "mtcnn: image too large");
    ii->sum = malloc(row * ((size_t)H + 1) * sizeof(uint32_t));
    if (!ii->sum) return relage_fail(RELAGE_ERR_NOMEM, "mtcnn: no memory for a %dx%d image", W, H);
    ii->width = W;
    ii->height = H;
    ii->row = row;
    uint32_t *S = ii->sum;
    memset(S, 0, row * sizeof(uint32_t));
    int bands = H < BANDS ? H : BANDS;
    int parallel = (size_t)W * H > 65536;
#pragma omp parallel for schedule(static) if (parallel)
    for (int b = 0; b < bands; b++) integral_band(S, row, img, H * b / bands, H * (b + 1) / bands);
    for (int b = 1; b < bands; b++) {
        uint32_t *last = S + row * (size_t)(H * (b + 1) / bands);
        const uint32_t *carry = S + row * (size_t)(H * b / bands);
        for (size_t i = 0; i < row; i++) last[i] += carry[i];
    }
#pragma omp parallel for schedule(static) if (parallel)
    for (int b = 1; b < bands; b++) {
        const uint32_t *carry = S + row * (size_t)(H * b / bands);
        for (int y = H * b / bands + 1; y < H * (b + 1) / bands; y++) {
            uint32_t *dst = S + row * (size_t)y;
            for (size_t i = 0; i < row; i++) dst[i] += carry[i];
        }
    }
    return RELAGE_OK;
}

static void integral_free(integral *ii) {
    free(ii->sum);
    memset(ii, 0, sizeof *ii);
}

/* Window [start, end) of output index o when n inputs are averaged down (or up) to m outputs:
 * floor(o * n / m) and ceil((o + 1) * n / m), as adaptive_avg_pool2d. */
static void area_window(int64_t o, int64_t n, int64_t m, int *start, int *end) {
    *start = (int)(o * n / m);
    *end = (int)(((o + 1) * n + m - 1) / m);
}

/* out (3, oy1 - oy0, OW), channel c at out + c * plane: rows [oy0, oy1) of the region x in
 * [x0, x0+IW), y in [y0, y0+IH) area-resampled to (OH, OW) and normalised. xwin holds 2 * OW ints.
 * PyTorch sums the window in float and divides by kh, then by kw; the sum here is exact, which is
 * the same while it stays below 2^24 (windows under 65792 pixels). */
static void resample_area(float *out, size_t plane, const integral *ii, int x0, int y0, int IW,
                          int IH, int OW, int OH, int oy0, int oy1, int *xwin) {
    for (int ox = 0; ox < OW; ox++) {
        int xa, xb;
        area_window(ox, IW, OW, &xa, &xb);
        xwin[2 * ox] = 3 * (x0 + xa);
        xwin[2 * ox + 1] = 3 * (x0 + xb);
    }
    for (int oy = oy0; oy < oy1; oy++) {
        int ya, yb;
        area_window(oy, IH, OH, &ya, &yb);
        float kh = (float)(yb - ya);
        const uint32_t *top = ii->sum + ii->row * (size_t)(y0 + ya);
        const uint32_t *bottom = ii->sum + ii->row * (size_t)(y0 + yb);
        float *dst = out + (size_t)(oy - oy0) * OW;
        for (int ox = 0; ox < OW; ox++) {
            int xa = xwin[2 * ox], xb = xwin[2 * ox + 1];
            float kw = (float)((xb - xa) / 3);
            for (int c = 0; c < 3; c++) {
                uint32_t sum = bottom[xb + c] - top[xb + c] - bottom[xa + c] + top[xa + c];
                float v = (float)sum / kh / kw;
                dst[c * plane + ox] = (v - 127.5f) * 0.0078125f;
            }
        }
    }
}

/* ---- candidates and their arithmetic ---- */

typedef struct candidate {
    float box[4]; /* x1, y1, x2, y2 */
    float score;
    float reg[4];
    float points[10]; /* x of the 5 landmarks, then y */
} candidate;

typedef struct candidate_list {
    candidate *items;
    size_t count, capacity;
} candidate_list;

static int list_push(candidate_list *list, const candidate *c) {
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? 2 * list->capacity : 64;
        candidate *items = realloc(list->items, capacity * sizeof *items);
        if (!items) return 0;
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count++] = *c;
    return 1;
}

/* Makes each box a square of the longer side about the same centre (facenet-pytorch's rerec). */
static void rerec(candidate *c) {
    float h = c->box[3] - c->box[1], w = c->box[2] - c->box[0];
    float l = w > h ? w : h;
    c->box[0] = c->box[0] + w * 0.5f - l * 0.5f;
    c->box[1] = c->box[1] + h * 0.5f - l * 0.5f;
    c->box[2] = c->box[0] + l;
    c->box[3] = c->box[1] + l;
}

/* Box regression of R- and O-Net (bbreg): offsets scaled by the side plus one. */
static void bbreg(candidate *c) {
    float w = c->box[2] - c->box[0] + 1.0f, h = c->box[3] - c->box[1] + 1.0f;
    float b0 = c->box[0] + c->reg[0] * w, b1 = c->box[1] + c->reg[1] * h;
    float b2 = c->box[2] + c->reg[2] * w, b3 = c->box[3] + c->reg[3] * h;
    c->box[0] = b0;
    c->box[1] = b1;
    c->box[2] = b2;
    c->box[3] = b3;
}

/* facenet-pytorch's pad(): the box truncated to integers, clamped to [1, w] x [1, h] (1-based,
 * inclusive), and cropped as img[y-1:ey, x-1:ex]. Returns 0 where that crop is empty, which
 * facenet-pytorch cannot handle (it would fail); such boxes are dropped here. */
static int crop_region(const candidate *c, int width, int height, int *x0, int *y0, int *cw,
                       int *ch) {
    int v[4];
    for (int i = 0; i < 4; i++) {
        float t = truncf(c->box[i]);
        if (!(t > -2147483648.0f && t < 2147483648.0f)) return 0;
        v[i] = (int)t;
    }
    int x = v[0] < 1 ? 1 : v[0], y = v[1] < 1 ? 1 : v[1];
    int ex = v[2] > width ? width : v[2], ey = v[3] > height ? height : v[3];
    if (!(ey > y - 1 && ex > x - 1)) return 0;
    *x0 = x - 1;
    *y0 = y - 1;
    *cw = ex - *x0;
    *ch = ey - *y0;
    return 1;
}

/* ---- non-maximum suppression ---- */

typedef struct rank {
    float key;
    size_t index;
} rank;

/* Descending key (NaN last), then ascending index: a stable descending sort. */
static int by_key_desc_index_asc(const void *pa, const void *pb) {
    const rank *a = pa, *b = pb;
    if (isnan(a->key) != isnan(b->key)) return isnan(a->key) ? 1 : -1;
    if (a->key > b->key || a->key < b->key) return a->key > b->key ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Descending key (NaN last), then descending index: the reverse of a stable ascending sort,
 * which is what numpy's argsort()[::-1] gives for the few boxes left at the end. */
static int by_key_desc_index_desc(const void *pa, const void *pb) {
    const rank *a = pa, *b = pb;
    if (isnan(a->key) != isnan(b->key)) return isnan(a->key) ? 1 : -1;
    if (a->key > b->key || a->key < b->key) return a->key > b->key ? -1 : 1;
    return a->index > b->index ? -1 : a->index < b->index;
}

typedef struct nms_workspace {
    rank *order;
    unsigned char *suppressed;
    float *area;
    candidate *kept;
} nms_workspace;

static void nms_workspace_free(nms_workspace *w) {
    free(w->order);
    free(w->suppressed);
    free(w->area);
    free(w->kept);
    memset(w, 0, sizeof *w);
}

static relage_status nms_workspace_alloc(nms_workspace *w, size_t n) {
    memset(w, 0, sizeof *w);
    if (n == 0) n = 1;
    w->order = malloc(n * sizeof *w->order);
    w->suppressed = malloc(n);
    w->area = malloc(n * sizeof *w->area);
    w->kept = malloc(n * sizeof *w->kept);
    if (!w->order || !w->suppressed || !w->area || !w->kept) {
        nms_workspace_free(w);
        return relage_fail(RELAGE_ERR_NOMEM, "mtcnn: no memory for %zu boxes", n);
    }
    return RELAGE_OK;
}

/* Greedy suppression over c[0..n), visiting boxes by descending score. min_overlap 0 is
 * torchvision.ops.nms (stable order, area (x2-x1)(y2-y1), IoU > thr suppresses); 1 is
 * facenet-pytorch's numpy 'Min' NMS (area with +1, intersection over the smaller area,
 * suppressed unless <= thr, ties visited from the later box as its argsort leaves them).
 * c[0..returned) becomes the kept boxes in visiting order. */
static size_t nms(candidate *c, size_t n, double thr, int min_overlap, nms_workspace *w) {
    float one = min_overlap ? 1.0f : 0.0f;
    for (size_t i = 0; i < n; i++) {
        w->order[i].key = c[i].score;
        w->order[i].index = i;
        w->suppressed[i] = 0;
        w->area[i] = (c[i].box[2] - c[i].box[0] + one) * (c[i].box[3] - c[i].box[1] + one);
    }
    qsort(w->order, n, sizeof *w->order,
          min_overlap ? by_key_desc_index_desc : by_key_desc_index_asc);
    size_t kept = 0;
    for (size_t a = 0; a < n; a++) {
        size_t i = w->order[a].index;
        if (w->suppressed[i]) continue;
        w->kept[kept++] = c[i];
        const float *bi = c[i].box;
        for (size_t b = a + 1; b < n; b++) {
            size_t j = w->order[b].index;
            if (w->suppressed[j]) continue;
            const float *bj = c[j].box;
            float xx1 = bi[0] > bj[0] ? bi[0] : bj[0], yy1 = bi[1] > bj[1] ? bi[1] : bj[1];
            float xx2 = bi[2] < bj[2] ? bi[2] : bj[2], yy2 = bi[3] < bj[3] ? bi[3] : bj[3];
            float iw = xx2 - xx1 + one, ih = yy2 - yy1 + one;
            iw = iw > 0.0f ? iw : 0.0f;
            ih = ih > 0.0f ? ih : 0.0f;
            float inter = iw * ih;
            if (min_overlap) {
                float smaller = w->area[i] < w->area[j] ? w->area[i] : w->area[j];
                float o = inter / smaller;
                if (!(o <= (float)thr)) w->suppressed[j] = 1;
            } else {
                float o = inter / (w->area[i] + w->area[j] - inter);
                if ((double)o > thr) w->suppressed[j] = 1;
            }
        }
    }
    memcpy(c, w->kept, kept * sizeof *c);
    return kept;
}

/* ---- stage 1: P-Net over the pyramid ---- */

typedef struct pyramid_level {
    double scale;
    int hs, ws; /* resampled size */
    int oh, ow; /* P-Net output size */
} pyramid_level;

typedef struct pnet_task {
    int level, r0, r1; /* output rows [r0, r1) */
    candidate_list found;
} pnet_task;

/* Per-thread buffers for P-Net strips, sized for the widest level and tallest strip. */
typedef struct pnet_buffers {
    float *input, *a, *b, *col, *row;
    int *xwin;
} pnet_buffers;

/* Output rows per strip task: about STRIP_POSITIONS positions, at least 8 rows, the level's rows
 * shared evenly among its tasks. */
static int strip_rows(const pyramid_level *lv) {
    int rows = STRIP_POSITIONS / lv->ow;
    rows = rows < 8 ? 8 : rows;
    int tasks = (lv->oh + rows - 1) / rows;
    return (lv->oh + tasks - 1) / tasks;
}

static int pnet_input_rows(const pyramid_level *lv, int r0, int r1) {
    int end = 2 * r1 + 10;
    return (end < lv->hs ? end : lv->hs) - 2 * r0;
}

static size_t max_of(const size_t *v, size_t n) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

/* Floats the feature and column buffers need for a strip of in_rows rows of a level ws wide. */
static void pnet_strip_sizes(const mtcnn *net, int in_rows, int ws, size_t *feature, size_t *col) {
    int h1 = in_rows - 2, ph = pool_out(h1, 2, 2), pw = pool_out(ws - 2, 2, 2);
    size_t f[] = {(size_t)3 * in_rows * ws, (size_t)10 * h1 * ws, (size_t)10 * ph * pw,
                  (size_t)16 * (ph - 2) * pw, (size_t)32 * (ph - 4) * pw};
    size_t c[] = {conv_scratch_floats(&net->pnet[0]), conv_scratch_floats(&net->pnet[1]),
                  conv_scratch_floats(&net->pnet[2]), conv_scratch_floats(&net->pnet[3])};
    *feature = max_of(f, sizeof f / sizeof *f) + SLACK;
    *col = max_of(c, sizeof c / sizeof *c);
}

/* Runs P-Net on output rows [r0, r1) of a level and collects the cells whose face
 * probability reaches the threshold (generateBoundingBox), in row-major order. Returns 0 when
 * out of memory. */
static int pnet_strip(const mtcnn *net, const integral *ii, const pyramid_level *lv,
                      pnet_task *task, float threshold, pnet_buffers *buf) {
    int in_rows = pnet_input_rows(lv, task->r0, task->r1), ws = lv->ws;
    int h1 = in_rows - 2, ph = pool_out(h1, 2, 2), pw = pool_out(ws - 2, 2, 2);
    int rows = ph - 4, cols = pw - 4;
    resample_area(buf->input, (size_t)in_rows * ws, ii, 0, 0, ii->width, ii->height, ws, lv->hs,
                  2 * task->r0, 2 * task->r0 + in_rows, buf->xwin);
    conv_wide(net, buf->a, buf->input, &net->pnet[0], in_rows, ws, buf->col); /* (10, h1, ws) */
    maxpool_wide(buf->b, buf->a, 10, h1, ws - 2, ws, 2, 2, buf->row);         /* (10, ph, pw) */
    conv_wide(net, buf->a, buf->b, &net->pnet[1], ph, pw, buf->col);          /* (16, ph-2, pw) */
    conv_wide(net, buf->b, buf->a, &net->pnet[2], ph - 2, pw, buf->col);      /* (32, ph-4, pw) */
    conv_wide(net, buf->a, buf->b, &net->pnet[3], rows, pw, buf->col);        /* (6, ph-4, pw) */
    size_t plane = (size_t)rows * pw;
    float scale = (float)lv->scale; /* PyTorch divides a float32 tensor by the Python float */
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < cols; x++) {
            size_t at = (size_t)y * pw + x;
            float prob = softmax2_channels(buf->a[at], buf->a[plane + at]);
            if (!(prob >= threshold)) continue;
            float bx = (float)x, by = (float)(task->r0 + y);
            candidate c = {{floorf((PNET_STRIDE * bx + 1.0f) / scale),
                            floorf((PNET_STRIDE * by + 1.0f) / scale),
                            floorf((PNET_STRIDE * bx + PNET_CELL) / scale),
                            floorf((PNET_STRIDE * by + PNET_CELL) / scale)},
                           prob,
                           {buf->a[2 * plane + at], buf->a[3 * plane + at], buf->a[4 * plane + at],
                            buf->a[5 * plane + at]},
                           {0}};
            if (!list_push(&task->found, &c)) return 0;
        }
    return 1;
}

/* Stage 1: the pyramid, P-Net, NMS 0.5 per level, NMS 0.7 over all, regression, squaring.
 * *out holds the proposals in descending score order. */
static relage_status stage1(const mtcnn *net, const integral *ii, const mtcnn_params *p,
                            candidate_list *out) {
    relage_status st = RELAGE_OK;
    int h = ii->height, w = ii->width;
    pyramid_level *levels = NULL;
    pnet_task *tasks = NULL;
    size_t n_levels = 0, n_tasks = 0, total = 0;
    nms_workspace ws = {0};
    int failed = 0;

    /* The scales exactly as facenet-pytorch computes them, in doubles. */
    double m = 12.0 / p->min_face, minl = (h < w ? h : w) * m, scale = m;
    for (double l = minl; l >= 12; l *= p->factor) n_levels++;
    if (n_levels == 0) goto cleanup;
    levels = calloc(n_levels, sizeof *levels);
    if (!levels) {
        st = relage_fail(RELAGE_ERR_NOMEM, "mtcnn: no memory for the pyramid");
        goto cleanup;
    }
    for (size_t i = 0; i < n_levels; i++, scale *= p->factor) {
        pyramid_level *lv = &levels[i];
        lv->scale = scale;
        lv->hs = (int)(h * scale + 1);
        lv->ws = (int)(w * scale + 1);
        lv->oh = pool_out(lv->hs - 2, 2, 2) - 4;
        lv->ow = pool_out(lv->ws - 2, 2, 2) - 4;
        if (lv->oh < 1 || lv->ow < 1) {
            st = relage_fail(RELAGE_ERR_INVALID_ARG, "mtcnn: pyramid level %dx%d under 12 pixels",
                             lv->ws, lv->hs);
            goto cleanup;
        }
        n_tasks += (size_t)(lv->oh + strip_rows(lv) - 1) / strip_rows(lv);
    }
    tasks = calloc(n_tasks, sizeof *tasks);
    if (!tasks) {
        st = relage_fail(RELAGE_ERR_NOMEM, "mtcnn: no memory for the pyramid");
        goto cleanup;
    }
    size_t feature_max = 0, col_max = 0;
    int ws_max = 0;
    n_tasks = 0;
    for (size_t i = 0; i < n_levels; i++) {
        pyramid_level *lv = &levels[i];
        int strip = strip_rows(lv);
        for (int r0 = 0; r0 < lv->oh; r0 += strip) {
            pnet_task *t = &tasks[n_tasks++];
            t->level = (int)i;
            t->r0 = r0;
            t->r1 = r0 + strip < lv->oh ? r0 + strip : lv->oh;
            size_t f, s;
            pnet_strip_sizes(net, pnet_input_rows(lv, t->r0, t->r1), lv->ws, &f, &s);
            feature_max = f > feature_max ? f : feature_max;
            col_max = s > col_max ? s : col_max;
        }
        ws_max = lv->ws > ws_max ? lv->ws : ws_max;
    }

#pragma omp parallel
    {
        pnet_buffers buf = {
            calloc(feature_max, sizeof(float)),     calloc(feature_max, sizeof(float)),
            calloc(feature_max, sizeof(float)),     calloc(col_max, sizeof(float)),
            malloc((size_t)ws_max * sizeof(float)), malloc(2 * (size_t)ws_max * sizeof(int))};
        int ok = buf.input && buf.a && buf.b && buf.col && buf.row && buf.xwin;
#pragma omp for schedule(dynamic, 1)
        for (size_t t = 0; t < n_tasks; t++) {
            if (ok && !failed)
                ok = pnet_strip(net, ii, &levels[tasks[t].level], &tasks[t], p->threshold[0], &buf);
        }
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
        free(buf.input);
        free(buf.a);
        free(buf.b);
        free(buf.col);
        free(buf.row);
        free(buf.xwin);
    }
    if (failed) {
        st = relage_fail(RELAGE_ERR_NOMEM, "mtcnn: no memory for P-Net");
        goto cleanup;
    }

    /* Gather each level's cells in (row, column) order and suppress within the level. */
    for (size_t t = 0; t < n_tasks; t++) total += tasks[t].found.count;
    if (total == 0) goto cleanup;
    if ((st = nms_workspace_alloc(&ws, total)) != RELAGE_OK) goto cleanup;
    out->items = malloc(total * sizeof *out->items);
    if (!out->items) {
        st = relage_fail(RELAGE_ERR_NOMEM, "mtcnn: no memory for %zu boxes", total);
        goto cleanup;
    }
    out->capacity = total;
    for (size_t t = 0; t < n_tasks;) {
        size_t begin = out->count, u = t;
        for (; u < n_tasks && tasks[u].level == tasks[t].level; u++) {
            if (!tasks[u].found.count) continue;
            memcpy(out->items + out->count, tasks[u].found.items,
                   tasks[u].found.count * sizeof *out->items);
            out->count += tasks[u].found.count;
        }
        out->count = begin + nms(out->items + begin, out->count - begin, 0.5, 0, &ws);
        t = u;
    }
    /* torchvision's batched_nms returns the survivors of all levels by descending score; the
     * second NMS over all levels keeps that order. */
    out->count = nms(out->items, out->count, 0.7, 0, &ws);
    for (size_t i = 0; i < out->count; i++) {
        candidate *c = &out->items[i];
        float regw = c->box[2] - c->box[0], regh = c->box[3] - c->box[1];
        float q1 = c->box[0] + c->reg[0] * regw, q2 = c->box[1] + c->reg[1] * regh;
        float q3 = c->box[2] + c->reg[2] * regw, q4 = c->box[3] + c->reg[3] * regh;
        c->box[0] = q1;
        c->box[1] = q2;
        c->box[2] = q3;
        c->box[3] = q4;
        rerec(c);
    }

cleanup:
    if (tasks)
        for (size_t t = 0; t < n_tasks; t++) free(tasks[t].found.items);
    free(tasks);
    free(levels);
    nms_workspace_free(&ws);
    return st;
}

/* ---- stages 2 and 3: R-Net and O-Net on crops ---- */

/* Per-thread buffers for R- and O-Net batches. */
typedef struct refine_buffers {
    float *x, *a, *b, *scratch, *row;
    int *xwin;
} refine_buffers;

/* Max-pool kernel after each layer (stride 2), 0 for none. */
static const int RNET_POOL[5] = {3, 3, 0, 0, 0};
static const int ONET_POOL[6] = {3, 3, 2, 0, 0, 0};

/* Runs n_layers layers on buf->x, G normalised crops (3, G, size, size), and returns the
 * output (OC, G): R-Net's 2 logits and 4 box offsets, or O-Net's 2 logits, 4 offsets and 10
 * landmarks (5 x, then 5 y, relative to the crop). */
static const float *forward_batch(const mtcnn *net, const mtcnn_conv *layers, const int *pool,
                                  int n_layers, int size, int G, refine_buffers *buf) {
    const float *in = buf->x;
    int H = size;
    for (int i = 0; i < n_layers; i++) {
        const mtcnn_conv *l = &layers[i];
        float *dst = in == buf->a ? buf->b : buf->a;
        conv2d_direct d = direct_of(l);
        net->backend->conv2d_direct_forward(dst, in, &d, G, H, H, buf->scratch);
        H = H - l->k + 1;
        in = dst;
        if (pool[i]) {
            float *pooled = dst == buf->a ? buf->b : buf->a;
            maxpool_wide(pooled, dst, l->out * G, H, H, H, pool[i], 2, buf->row);
            H = pool_out(H, pool[i], 2);
            in = pooled;
        }
    }
    return in;
}

/* Runs R-Net (size 24) or O-Net (size 48) on the crop of every candidate, in batches, and
 * writes the raw outputs, outputs[k * n_out ...]; valid[k] is 0 where the crop is empty. */
static relage_status refine(const mtcnn *net, const integral *ii, const candidate *c, size_t n,
                            int size, float *outputs, int n_out, unsigned char *valid) {
    int onet = size == ONET_SIZE, n_layers = onet ? 6 : 5;
    const mtcnn_conv *layers = onet ? net->onet : net->rnet;
    const int *pool = onet ? ONET_POOL : RNET_POOL;
    /* About 8 batches of up to 8 (O-Net) or 16 (R-Net) crops, so that the threads end close
     * together, of a multiple of 2 (O-Net) or 4 (R-Net) crops, which fills the panels of
     * conv2d_direct's Winograd path. The batches depend on n only: a crop's outputs depend on
     * the size of its batch, never on the number of threads. */
    size_t max_batch = onet ? 8 : 16, unit = onet ? 2 : 4;
    size_t per_batch = ((n + 7) / 8 + unit - 1) / unit * unit;
    per_batch = per_batch < 1 ? 1 : per_batch > max_batch ? max_batch : per_batch;
    size_t batches = (n + per_batch - 1) / per_batch;
    /* conv1 has the largest output and the most columns. */
    size_t side1 = (size_t)size - 2, feature = per_batch * layers[0].out * side1 * side1;
    size_t scratch = 0;
    for (int i = 0, H = size; i < n_layers; i++) {
        conv2d_direct d = direct_of(&layers[i]);
        for (size_t G = 1; G <= per_batch; G++) {
            size_t f = conv2d_direct_batch_scratch_floats(&d, (int)G, H, H);
            scratch = f > scratch ? f : scratch;
        }
        H = H - layers[i].k + 1;
        if (pool[i]) H = pool_out(H, pool[i], 2);
    }
    int failed = 0;
#pragma omp parallel
    {
        refine_buffers buf = {malloc(3 * per_batch * size * size * sizeof(float)),
                              malloc(feature * sizeof(float)),
                              malloc(feature * sizeof(float)),
                              malloc(scratch * sizeof(float)),
                              malloc((size_t)size * sizeof(float)),
                              malloc(2 * (size_t)size * sizeof(int))};
        int ok = buf.x && buf.a && buf.b && buf.scratch && buf.row && buf.xwin;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (size_t t = 0; t < batches; t++) {
            size_t k0 = t * per_batch, G = n - k0 < per_batch ? n - k0 : per_batch;
            if (!ok) continue;
            size_t plane = G * size * size;
            for (size_t g = 0; g < G; g++) {
                int x0, y0, cw, ch;
                float *x = buf.x + g * size * size;
                valid[k0 + g] = crop_region(&c[k0 + g], ii->width, ii->height, &x0, &y0, &cw, &ch);
                if (valid[k0 + g])
                    resample_area(x, plane, ii, x0, y0, cw, ch, size, size, 0, size, buf.xwin);
                else
                    for (int ch3 = 0; ch3 < 3; ch3++)
                        memset(x + ch3 * plane, 0, size * size * sizeof(float));
            }
            const float *out = forward_batch(net, layers, pool, n_layers, size, (int)G, &buf);
            for (size_t g = 0; g < G; g++)
                for (int j = 0; j < n_out; j++) outputs[(k0 + g) * n_out + j] = out[j * G + g];
        }
        free(buf.x);
        free(buf.a);
        free(buf.b);
        free(buf.scratch);
        free(buf.row);
        free(buf.xwin);
    }
    if (failed)
        return relage_fail(RELAGE_ERR_NOMEM, "mtcnn: no memory for %s", onet ? "O-Net" : "R-Net");
    return RELAGE_OK;
}

/* Stage 2 (R-Net, last = 0) or 3 (O-Net, last = 1) on list, in place. */
static relage_status stage_refine(const mtcnn *net, const integral *ii, const mtcnn_params *p,
                                  candidate_list *list, int last) {
    relage_status st = RELAGE_OK;
    size_t n = list->count, kept = 0;
    int n_out = last ? 16 : 6, size = last ? ONET_SIZE : RNET_SIZE;
    float threshold = p->threshold[last ? 2 : 1];
    float *outputs = malloc((n ? n : 1) * n_out * sizeof(float));
    unsigned char *valid = malloc(n ? n : 1);
    nms_workspace ws = {0};
    if (!outputs || !valid) {
        st = relage_fail(RELAGE_ERR_NOMEM, "mtcnn: no memory for %zu boxes", n);
        goto cleanup;
    }
    if ((st = refine(net, ii, list->items, n, size, outputs, n_out, valid)) != RELAGE_OK)
        goto cleanup;
    for (size_t k = 0; k < n; k++) {
        const float *o = outputs + k * n_out;
        float score = softmax2_lastdim(o[0], o[1]);
        if (!valid[k] || !(score > threshold)) continue;
        candidate c = list->items[k];
        c.score = score;
        memcpy(c.reg, o + 2, sizeof c.reg);
        if (last) {
            float w = c.box[2] - c.box[0] + 1.0f, h = c.box[3] - c.box[1] + 1.0f;
            for (int i = 0; i < 5; i++) {
                c.points[i] = w * o[6 + i] + c.box[0] - 1.0f;
                c.points[5 + i] = h * o[11 + i] + c.box[1] - 1.0f;
            }
        }
        list->items[kept++] = c;
    }
    list->count = kept;
    if ((st = nms_workspace_alloc(&ws, kept)) != RELAGE_OK) goto cleanup;
    if (!last) {
        list->count = nms(list->items, kept, 0.7, 0, &ws);
        for (size_t k = 0; k < list->count; k++) {
            bbreg(&list->items[k]);
            rerec(&list->items[k]);
        }
    } else {
        for (size_t k = 0; k < kept; k++) bbreg(&list->items[k]);
        list->count = nms(list->items, kept, 0.7, 1, &ws);
    }

cleanup:
    free(outputs);
    free(valid);
    nms_workspace_free(&ws);
    return st;
}

/* ---- detection ---- */

static relage_status check_arguments(const mtcnn *net, const image *img, const mtcnn_params *p,
                                     face_detection **faces, size_t *n_faces) {
    if (!net || !img || !faces || !n_faces)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "mtcnn_detect: NULL argument");
    if (!img->data || img->width < 1 || img->height < 1 ||
        (img->channels != 1 && img->channels != 3))
        return relage_fail(RELAGE_ERR_INVALID_ARG,
                           "mtcnn_detect: image %dx%d with %d channels (want 1 or 3)", img->width,
                           img->height, img->channels);
    if (!(p->min_face > 0.0 && p->min_face < 1e9) || !(p->factor > 0.0 && p->factor < 1.0))
        return relage_fail(RELAGE_ERR_INVALID_ARG,
                           "mtcnn_detect: min_face %g must be > 0 and factor %g in (0, 1)",
                           p->min_face, p->factor);
    for (int i = 0; i < 3; i++)
        if (!(p->threshold[i] >= 0.0f && p->threshold[i] <= 1.0f))
            return relage_fail(RELAGE_ERR_INVALID_ARG,
                               "mtcnn_detect: threshold[%d] = %g is outside [0, 1]", i,
                               (double)p->threshold[i]);
    /* The largest pyramid level is 12 / min_face times the image. */
    double scale = 12.0 / p->min_face;
    if ((double)img->width * scale * (double)img->height * scale > 4e9)
        return relage_fail(RELAGE_ERR_INVALID_ARG,
                           "mtcnn_detect: min_face %g makes a %dx%d image's pyramid too large",
                           p->min_face, img->width, img->height);
    return RELAGE_OK;
}

relage_status mtcnn_detect(const mtcnn *net, const image *img, const mtcnn_params *params,
                           face_detection **faces, size_t *n_faces) {
    relage_status st;
    mtcnn_params p = params ? *params : mtcnn_default_params();
    integral ii = {0};
    candidate_list list = {0};
    rank *order = NULL;
    face_detection *result = NULL;

    if (faces) *faces = NULL;
    if (n_faces) *n_faces = 0;
    if ((st = check_arguments(net, img, &p, faces, n_faces)) != RELAGE_OK) return st;
    if ((st = integral_build(&ii, img)) != RELAGE_OK) goto cleanup;
    if ((st = stage1(net, &ii, &p, &list)) != RELAGE_OK) goto cleanup;
    if (list.count && (st = stage_refine(net, &ii, &p, &list, 0)) != RELAGE_OK) goto cleanup;
    if (list.count && (st = stage_refine(net, &ii, &p, &list, 1)) != RELAGE_OK) goto cleanup;
    if (list.count == 0) goto cleanup;

    /* MTCNN.detect(select_largest=True): np.argsort of the areas, reversed. */
    order = malloc(list.count * sizeof *order);
    result = malloc(list.count * sizeof *result);
    if (!order || !result) {
        st = relage_fail(RELAGE_ERR_NOMEM, "mtcnn: no memory for %zu faces", list.count);
        goto cleanup;
    }
    for (size_t i = 0; i < list.count; i++) {
        const float *b = list.items[i].box;
        order[i].key = (b[2] - b[0]) * (b[3] - b[1]);
        order[i].index = i;
    }
    qsort(order, list.count, sizeof *order, by_key_desc_index_desc);
    for (size_t i = 0; i < list.count; i++) {
        const candidate *c = &list.items[order[i].index];
        face_detection *f = &result[i];
        memcpy(f->box, c->box, sizeof f->box);
        f->prob = c->score;
        for (int k = 0; k < 5; k++) {
            f->landmarks[k][0] = c->points[k];
            f->landmarks[k][1] = c->points[5 + k];
        }
    }
    *faces = result;
    *n_faces = list.count;
    result = NULL;

cleanup:
    integral_free(&ii);
    free(list.items);
    free(order);
    free(result);
    return st;
}
