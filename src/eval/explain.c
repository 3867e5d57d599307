/* Pair contributions and their figure (explain.h). */
#include "eval/explain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "nn/heads.h"
#include "nn/loss.h"

/* g = dE/dz = W_cls^T (p * (c - E)) for image 0. */
static void age_gradient(const model *m, double *g) {
    const float *w = m->params + m->fc_cls_weight, *p = m->probs;
    double e = m->expected[0];
    for (int d = 0; d < m->head_dim; d++) g[d] = 0;
    for (int c = 0; c < AGE_CLASSES; c++) {
        double s = (double)p[c] * (c - e);
        for (int d = 0; d < m->head_dim; d++) g[d] += s * (double)w[(size_t)c * m->head_dim + d];
    }
}

/* The rng head's pair activations g_jk, recomputed from the feature map, dotted with v. */
static void rng_pairs(const model *m, const float *feat, const double *v, float *map) {
    int C = m->feat_c, H = m->config.hidden, h = m->feat_h, w = m->feat_w, N = h * w;
    const float *U = m->params + m->g1a_weight, *b1 = m->params + m->g1a_bias;
    const float *V = m->params + m->g1b_weight, *W2 = m->params + m->g2_weight;
    const float *b2 = m->params + m->g2_bias;
    double *ux = calloc((size_t)N * H, sizeof *ux), *vx = calloc((size_t)N * H, sizeof *vx);
    if (!ux || !vx) goto done;
    for (int j = 0; j < N; j++) {
        double cy = h > 1 ? -1.0 + 2.0 * (j / w) / (h - 1) : -1.0;
        double cx = w > 1 ? -1.0 + 2.0 * (j % w) / (w - 1) : -1.0;
        for (int o = 0; o < H; o++) {
            const float *ur = U + (size_t)o * (C + 2), *vr = V + (size_t)o * (C + 2);
            double su = b1[o], sv = 0;
            for (int c = 0; c < C; c++) {
                double a = feat[(size_t)c * N + j];
                su += (double)ur[c] * a;
                sv += (double)vr[c] * a;
            }
            su += (double)ur[C] * cy + (double)ur[C + 1] * cx;
            sv += (double)vr[C] * cy + (double)vr[C + 1] * cx;
            ux[(size_t)j * H + o] = su;
            vx[(size_t)j * H + o] = sv;
        }
    }
#pragma omp parallel for schedule(dynamic)
    for (int j = 0; j < N; j++) {
        double *hid = malloc((size_t)H * sizeof *hid);
        for (int k = 0; k < N && hid; k++) {
            for (int o = 0; o < H; o++) {
                double t = ux[(size_t)j * H + o] + vx[(size_t)k * H + o];
                hid[o] = t > 0 ? t : 0;
            }
            double dot = 0;
            for (int o = 0; o < H; o++) {
                double t = b2[o];
                for (int i = 0; i < H; i++) t += (double)W2[(size_t)o * H + i] * hid[i];
                if (t > 0) dot += v[o] * t;
            }
            map[(size_t)j * N + k] = (float)(dot / ((double)N * N));
        }
        free(hid);
    }
done:
    free(ux);
    free(vx);
}

relage_status explain_pairs(model *m, const float *input, float *map, float *age) {
    relage_status st = model_forward(m, input, 1, 0);
    if (st != RELAGE_OK) return st;
    model_expected_age(m);
    *age = m->expected[0];
    const float *feat = m->feat ? m->feat : m->blocks[m->n_blocks - 1].out;
    int C = m->feat_c, N = m->feat_h * m->feat_w, D = m->head_dim;
    double *g = malloc((size_t)D * sizeof *g), *s = calloc((size_t)N * 2, sizeof *s);
    if (!g || !s) {
        free(g);
        free(s);
        return relage_fail(RELAGE_ERR_NOMEM, "explain: out of memory");
    }
    age_gradient(m, g);
    double nn = (double)N * N;
    switch (m->config.head) {
    case HEAD_BASE:
    case HEAD_RN: {
        /* s[j] = g_first . a_j, s[N + k] = g_second . a_k */
        int half = m->config.head == HEAD_RN;
        for (int j = 0; j < N; j++)
            for (int c = 0; c < C; c++) {
                double a = feat[(size_t)c * N + j];
                s[j] += (half ? g[c] : 0.5 * g[c]) * a;
                s[N + j] += (half ? g[C + c] : 0.5 * g[c]) * a;
            }
        for (int j = 0; j < N; j++)
            for (int k = 0; k < N; k++) map[(size_t)j * N + k] = (float)((s[j] + s[N + k]) / nn);
        break;
    }
    case HEAD_RNG: {
        /* dE/ds = F^T (g * [z > 0]), z the head's output (the last activations) */
        int H = m->config.hidden;
        rng_head_shape hs = {1, C, m->feat_h, m->feat_w, H};
        const float *z = m->head_acts + rng_head_act_floats(&hs) - (size_t)H;
        const float *F = m->params + m->f1_weight;
        double *v = calloc((size_t)H, sizeof *v);
        if (!v) {
            free(g);
            free(s);
            return relage_fail(RELAGE_ERR_NOMEM, "explain: out of memory");
        }
        for (int o = 0; o < H; o++)
            if (z[o] > 0)
                for (int i = 0; i < H; i++) v[i] += g[o] * (double)F[(size_t)o * H + i];
        rng_pairs(m, feat, v, map);
        free(v);
        break;
    }
    }
    free(g);
    free(s);
    return RELAGE_OK;
}

/* Diverging colour: blue (-1) through white (0) to red (+1). */
static void diverging(double t, uint8_t rgb[3]) {
    if (t > 1) t = 1;
    if (t < -1) t = -1;
    double a = fabs(t);
    uint8_t fade = (uint8_t)lround(255 * (1 - a));
    if (t >= 0) {
        rgb[0] = 255, rgb[1] = fade, rgb[2] = fade;
    } else {
        rgb[0] = fade, rgb[1] = fade, rgb[2] = 255;
    }
}

relage_status explain_figure(const char *path, const image *face, const float *map, int h, int w,
                             float age, const char *title) {
    static const uint8_t black[3] = {0, 0, 0}, white[3] = {255, 255, 255}, grid[3] = {255, 255, 0};
    int N = h * w, side = 392, cell = side / N > 1 ? side / N : 1, heat = cell * N;
    int pad = 24, top = 44, width = pad * 3 + side + heat + 70, height = top + side + 60;
    if (heat + 0 > height - top - 30) height = top + heat + 60;
    image canvas = {0}, shown = {0};
    relage_status st = image_alloc(&canvas, width, height, 3);
    if (st != RELAGE_OK) return st;
    image_fill_rect(&canvas, 0, 0, width - 1, height - 1, white);
    if ((st = image_resize_bilinear(&shown, face, side, side)) != RELAGE_OK) goto done;
    for (int y = 0; y < side; y++)
        memcpy(canvas.data + ((size_t)(top + y) * width + pad) * 3,
               shown.data + (size_t)y * side * 3, (size_t)side * 3);
    for (int i = 1; i < h; i++)
        image_draw_line(&canvas, pad, top + i * side / h, pad + side - 1, top + i * side / h, grid,
                        1);
    for (int i = 1; i < w; i++)
        image_draw_line(&canvas, pad + i * side / w, top, pad + i * side / w, top + side - 1, grid,
                        1);
    for (int j = 0; j < N; j++) { /* cell numbers, row by row */
        char t[16];
        snprintf(t, sizeof t, "%d", j);
        image_draw_text(&canvas, pad + (j % w) * side / w + 2, top + (j / w) * side / h + 2, t,
                        grid, 1);
    }
    double lim = 0;
    for (int i = 0; i < N * N; i++)
        if (fabs((double)map[i]) > lim) lim = fabs((double)map[i]);
    if (lim == 0) lim = 1;
    int hx = pad * 2 + side;
    for (int j = 0; j < N; j++)
        for (int k = 0; k < N; k++) {
            uint8_t rgb[3];
            diverging((double)map[(size_t)j * N + k] / lim, rgb);
            image_fill_rect(&canvas, hx + k * cell, top + j * cell, hx + (k + 1) * cell - 1,
                            top + (j + 1) * cell - 1, rgb);
        }
    image_draw_rect(&canvas, hx - 1, top - 1, hx + heat, top + heat, black, 1);
    int bx = hx + heat + 16; /* colour scale */
    for (int y = 0; y < heat; y++) {
        uint8_t rgb[3];
        diverging(1.0 - 2.0 * y / (heat - 1 > 0 ? heat - 1 : 1), rgb);
        image_fill_rect(&canvas, bx, top + y, bx + 12, top + y, rgb);
    }
    char t[160];
    snprintf(t, sizeof t, "%+.3g", lim);
    image_draw_text(&canvas, bx, top - 12, t, black, 1);
    snprintf(t, sizeof t, "%+.3g", -lim);
    image_draw_text(&canvas, bx, top + heat + 4, t, black, 1);
    double total = 0;
    for (int i = 0; i < N * N; i++) total += (double)map[i];
    image_draw_text(&canvas, pad, 8, title, black, 2);
    snprintf(t, sizeof t,
             "predicted age %.1f; pairs add %+.2f years in all (row j, column k: pair "
             "(j,k), years)",
             (double)age, total);
    image_draw_text(&canvas, pad, height - 40, t, black, 1);
    st = image_save_png(&canvas, path);
done:
    image_free(&shown);
    image_free(&canvas);
    return st;
}
