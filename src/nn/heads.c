/* The rn and rng heads. feat is channel-major (B,C,N), so the cell vector a_j is the column
 * feat[b, :, j]. */
#include "nn/heads.h"

#include <string.h>

#include "nn/linear.h"
#include "nn/relu.h"

size_t rn_literal_scratch_doubles(int C, int N) {
    size_t pair = 2 * (size_t)C, cells = (size_t)C * N;
    return pair > cells ? pair : cells;
}

void rn_literal_forward(float *z, const float *feat, int B, int C, int N, double *scratch) {
    double *sum = scratch; /* (2C): the running sum of the pair vectors */
    double pairs = (double)N * N;
    for (int b = 0; b < B; b++) {
        const float *a = feat + (size_t)b * C * N;
        memset(sum, 0, sizeof(double) * 2 * C);
        for (int j = 0; j < N; j++)
            for (int k = 0; k < N; k++)
                for (int c = 0; c < C; c++) {
                    sum[c] += (double)a[(size_t)c * N + j];     /* first half: a_j */
                    sum[C + c] += (double)a[(size_t)c * N + k]; /* second half: a_k */
                }
        for (int c = 0; c < 2 * C; c++) z[(size_t)b * 2 * C + c] = (float)(sum[c] / pairs);
    }
}

void rn_literal_backward(float *dfeat, const float *dz, int B, int C, int N, double *scratch) {
    double *acc = scratch; /* (C,N) */
    double pairs = (double)N * N;
    for (int b = 0; b < B; b++) {
        const float *d = dz + (size_t)b * 2 * C;
        memset(acc, 0, sizeof(double) * C * N);
        for (int j = 0; j < N; j++)
            for (int k = 0; k < N; k++)
                for (int c = 0; c < C; c++) {
                    acc[(size_t)c * N + j] += (double)d[c] / pairs;
                    acc[(size_t)c * N + k] += (double)d[C + c] / pairs;
                }
        for (size_t i = 0; i < (size_t)C * N; i++) dfeat[(size_t)b * C * N + i] = (float)acc[i];
    }
}

void rn_fast_forward(float *z, const float *feat, int B, int C, int N) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const float *a = feat + ((size_t)b * C + c) * N;
            double sum = 0.0;
            for (int j = 0; j < N; j++) sum += (double)a[j];
            float mean = (float)(sum / N);
            z[(size_t)b * 2 * C + c] = mean;
            z[(size_t)b * 2 * C + C + c] = mean;
        }
}

void rn_fast_backward(float *dfeat, const float *dz, int B, int C, int N) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            float g = (dz[(size_t)b * 2 * C + c] + dz[(size_t)b * 2 * C + C + c]) / (float)N;
            for (int j = 0; j < N; j++) dfeat[((size_t)b * C + c) * N + j] = g;
        }
}

/* Layout of the kept activations: x (B,N,C+2), u and v (B,N,H), h1 and h2 (B,N,N,H), s (B,H),
 * z (B,H). */
typedef struct rng_acts {
    float *x, *u, *v, *h1, *h2, *s, *z;
} rng_acts;

static rng_acts rng_layout(float *base, const rng_head_shape *s) {
    size_t N = (size_t)s->h * s->w, B = s->B, H = s->H, D = s->C + 2;
    rng_acts a;
    a.x = base;
    a.u = a.x + B * N * D;
    a.v = a.u + B * N * H;
    a.h1 = a.v + B * N * H;
    a.h2 = a.h1 + B * N * N * H;
    a.s = a.h2 + B * N * N * H;
    a.z = a.s + B * H;
    return a;
}

size_t rng_head_act_floats(const rng_head_shape *s) {
    size_t N = (size_t)s->h * s->w, B = s->B, H = s->H, D = s->C + 2;
    return B * N * D + 2 * B * N * H + 2 * B * N * N * H + 2 * B * H;
}

size_t rng_head_scratch_floats(const rng_head_shape *s) {
    size_t N = (size_t)s->h * s->w, B = s->B, H = s->H, D = s->C + 2;
    /* dz_pre, ds (B,H); dh2, dh1 (B,N,N,H); du, dv (B,N,H); dx (B,N,D) */
    return 2 * B * H + 2 * B * N * N * H + 2 * B * N * H + B * N * D;
}

static float coordinate(int i, int n) {
    return n > 1 ? -1.0f + 2.0f * (float)i / (float)(n - 1) : -1.0f;
}

float *rng_head_forward(float *acts, const float *feat, const rng_head_params *p,
                        const rng_head_shape *s) {
    size_t N = (size_t)s->h * s->w, B = s->B, H = s->H, C = s->C, D = C + 2;
    rng_acts a = rng_layout(acts, s);
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < N; j++) {
            float *x = a.x + (b * N + j) * D;
            for (size_t c = 0; c < C; c++) x[c] = feat[(b * C + c) * N + j];
            x[C] = coordinate((int)(j / s->w), s->h);
            x[C + 1] = coordinate((int)(j % s->w), s->w);
        }
    linear_forward(a.u, a.x, p->g1a_weight, p->g1a_bias, B * N, D, H);
    linear_forward(a.v, a.x, p->g1b_weight, NULL, B * N, D, H);
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < N; j++)
            for (size_t k = 0; k < N; k++) {
                const float *u = a.u + (b * N + j) * H, *v = a.v + (b * N + k) * H;
                float *h1 = a.h1 + ((b * N + j) * N + k) * H;
                for (size_t i = 0; i < H; i++) h1[i] = u[i] + v[i] > 0.0f ? u[i] + v[i] : 0.0f;
            }
    linear_forward(a.h2, a.h1, p->g2_weight, p->g2_bias, B * N * N, H, H);
    relu_forward(a.h2, a.h2, B * N * N * H);
    for (size_t b = 0; b < B; b++)
        for (size_t i = 0; i < H; i++) {
            double sum = 0.0;
            for (size_t jk = 0; jk < N * N; jk++) sum += (double)a.h2[(b * N * N + jk) * H + i];
            a.s[b * H + i] = (float)(sum / (double)(N * N));
        }
    linear_forward(a.z, a.s, p->f1_weight, p->f1_bias, B, H, H);
    relu_forward(a.z, a.z, B * H);
    return a.z;
}

void rng_head_backward(float *dfeat, const rng_head_params *g, const float *dz, const float *acts,
                       const rng_head_params *p, const rng_head_shape *s, float *scratch) {
    size_t N = (size_t)s->h * s->w, B = s->B, H = s->H, C = s->C, D = C + 2;
    rng_acts a = rng_layout((float *)acts, s);
    float *dz_pre = scratch, *ds = dz_pre + B * H, *dh2 = ds + B * H, *dh1 = dh2 + B * N * N * H;
    float *du = dh1 + B * N * N * H, *dv = du + B * N * H, *dx = dv + B * N * H;
    relu_backward(dz_pre, dz, a.z, B * H);
    linear_backward(ds, g->f1_weight, g->f1_bias, dz_pre, a.s, p->f1_weight, B, H, H);
    float inv_pairs = 1.0f / (float)(N * N);
    for (size_t b = 0; b < B; b++)
        for (size_t jk = 0; jk < N * N; jk++)
            for (size_t i = 0; i < H; i++) {
                size_t at = (b * N * N + jk) * H + i;
                dh2[at] = a.h2[at] > 0.0f ? ds[b * H + i] * inv_pairs : 0.0f;
            }
    linear_backward(dh1, g->g2_weight, g->g2_bias, dh2, a.h1, p->g2_weight, B * N * N, H, H);
    relu_backward(dh1, dh1, a.h1, B * N * N * H);
    memset(du, 0, sizeof(float) * 2 * B * N * H);
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < N; j++)
            for (size_t k = 0; k < N; k++) {
                const float *d = dh1 + ((b * N + j) * N + k) * H;
                float *duj = du + (b * N + j) * H, *dvk = dv + (b * N + k) * H;
                for (size_t i = 0; i < H; i++) {
                    duj[i] += d[i];
                    dvk[i] += d[i];
                }
            }
    linear_backward(dx, g->g1a_weight, g->g1a_bias, du, a.x, p->g1a_weight, B * N, D, H);
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < N; j++)
            for (size_t c = 0; c < C; c++) dfeat[(b * C + c) * N + j] = dx[(b * N + j) * D + c];
    linear_backward(dx, g->g1b_weight, NULL, dv, a.x, p->g1b_weight, B * N, D, H);
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < N; j++)
            for (size_t c = 0; c < C; c++) dfeat[(b * C + c) * N + j] += dx[(b * N + j) * D + c];
}
