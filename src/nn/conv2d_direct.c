/* Direct convolution with fused bias and PReLU (contract in conv2d_direct.h).
 *
 * The column matrix (im2col) is built one panel of TILE_COLS columns at a time, which stays in
 * L1/L2 while every block of TILE_ROWS output channels is multiplied with it by a register tile
 * of TILE_ROWS x TILE_COLS accumulators (the one for this CPU: conv_tile). Packed weights are
 * (ceil(OC / TILE_ROWS), C*K*K, TILE_ROWS), zero-padded, so a block's weights for one column
 * row are adjacent; a 3x3 layer's Winograd weights follow them. Wide 3x3 layers take Winograd's
 * F(2x2, 3x3) (winograd_rows_forward), whose 16 products per tile are 16 small matrix products
 * done by the same tile. GCC vector types, cloned for x86-64-v3 (AVX2 + FMA) and the
 * baseline, and the tile also for x86-64-v4 (AVX-512). */
#include "nn/conv2d_direct.h"

#include <stdint.h>
#include <string.h>

enum { TILE_ROWS = 4, TILE_COLS = 24 };

typedef float vec8 __attribute__((vector_size(32)));
typedef int32_t vec8i __attribute__((vector_size(32)));
typedef float vec16 __attribute__((vector_size(64)));
typedef int32_t vec16i __attribute__((vector_size(64)));

static size_t blocks_of(int OC) {
    return ((size_t)OC + TILE_ROWS - 1) / TILE_ROWS;
}

/* Winograd F(2x2, 3x3) weights, (16, ceil(OC / TILE_ROWS), C, TILE_ROWS), follow the direct ones
 * of a 3x3 layer. */
static size_t winograd_floats(int C, int OC, int K) {
    return K == 3 ? 16 * blocks_of(OC) * TILE_ROWS * (size_t)C : 0;
}

size_t conv2d_direct_packed_floats(int C, int OC, int K) {
    return blocks_of(OC) * TILE_ROWS * (size_t)C * K * K + winograd_floats(C, OC, K);
}

void conv2d_direct_pack(float *packed, const float *weight, int C, int OC, int K) {
    size_t KK = (size_t)C * K * K, blocks = blocks_of(OC);
    for (size_t blk = 0; blk < blocks; blk++)
        for (size_t kk = 0; kk < KK; kk++)
            for (size_t r = 0; r < TILE_ROWS; r++) {
                size_t o = blk * TILE_ROWS + r;
                packed[(blk * KK + kk) * TILE_ROWS + r] =
                    o < (size_t)OC ? weight[o * KK + kk] : 0.0f;
            }
    if (K != 3) return;
    /* U = G g G^T with G = (1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1). */
    float *u = packed + blocks * TILE_ROWS * KK;
    for (size_t o = 0; o < blocks * TILE_ROWS; o++)
        for (size_t c = 0; c < (size_t)C; c++) {
            float g[3][3] = {{0}}, t[4][3], v[4][4];
            if (o < (size_t)OC) memcpy(g, weight + (o * C + c) * 9, sizeof g);
            for (int k = 0; k < 3; k++) {
                t[0][k] = g[0][k];
                t[1][k] = (g[0][k] + g[1][k] + g[2][k]) * 0.5f;
                t[2][k] = (g[0][k] - g[1][k] + g[2][k]) * 0.5f;
                t[3][k] = g[2][k];
            }
            for (int i = 0; i < 4; i++) {
                v[i][0] = t[i][0];
                v[i][1] = (t[i][0] + t[i][1] + t[i][2]) * 0.5f;
                v[i][2] = (t[i][0] - t[i][1] + t[i][2]) * 0.5f;
                v[i][3] = t[i][2];
            }
            for (size_t xi = 0; xi < 16; xi++)
                u[((xi * blocks + o / TILE_ROWS) * C + c) * TILE_ROWS + o % TILE_ROWS] =
                    v[xi / 4][xi % 4];
        }
}

/* Winograd pays (see winograd_rows_forward) from 12 input channels and for rows of tiles that
 * fill at least 80% of their panels; below that, the transforms and the part-filled panels
 * cost more than the multiplications saved (measured on MTCNN's layers). */
static int winograd_pays(const conv2d_direct *l, size_t W) {
    size_t tiles = (W + 1) / 2, panels = (tiles + TILE_COLS - 1) / TILE_COLS;
    return l->K == 3 && l->C >= 12 && 5 * tiles >= 4 * panels * TILE_COLS;
}

static size_t winograd_scratch_floats(const conv2d_direct *l) {
    return 16 * ((size_t)l->C + blocks_of(l->OC) * TILE_ROWS) * TILE_COLS;
}

size_t conv2d_direct_scratch_floats(const conv2d_direct *l) {
    size_t direct = (size_t)l->C * l->K * l->K * TILE_COLS;
    size_t winograd = l->K == 3 ? winograd_scratch_floats(l) : 0;
    return direct > winograd ? direct : winograd;
}

/* The batched form's Winograd path puts the images side by side, each in a band of even width
 * Wp, so that every image meets the same tiling whatever its place in the batch. It also
 * computes the rows and columns between images and a row of tiles covering an odd last row; it
 * pays where at least two thirds of that work is valid outputs and the panels are full enough. */
static int winograd_batch_pays(const conv2d_direct *l, int G, int H, int W) {
    size_t OH = (size_t)H - 2, OW = (size_t)W - 2, Wp = ((size_t)W + 1) / 2 * 2;
    return H >= 3 && W >= 3 && winograd_pays(l, (size_t)G * Wp) &&
           3 * OH * OW >= 2 * ((OH + 1) / 2 * 2) * Wp;
}

size_t conv2d_direct_batch_scratch_floats(const conv2d_direct *l, int G, int H, int W) {
    size_t direct = (size_t)l->C * l->K * l->K * TILE_COLS, wide = (size_t)G * ((W + 1) / 2 * 2);
    if (!winograd_batch_pays(l, G, H, W)) return direct;
    size_t winograd = (size_t)l->C * H * wide + CONV2D_DIRECT_SLACK +
                      (size_t)l->OC * (H - 2) * wide + winograd_scratch_floats(l);
    return direct > winograd ? direct : winograd;
}

/* PReLU as a select on the sign mask: v where v > 0, else alpha * v. */
#define PRELU(v, alpha, mask_type)                                                                 \
    do {                                                                                           \
        mask_type positive_ = (v) > 0.0f;                                                          \
        __typeof__(v) scaled_ = (alpha) * (v);                                                     \
        (v) = (__typeof__(v))(((mask_type)(v)&positive_) | ((mask_type)scaled_ & ~positive_));     \
    } while (0)

/* out rows [0, rows) x columns [0, cols) (row stride ldo) = PReLU(a (K, TILE_ROWS)^T
 * x b (K, TILE_COLS) + bias), no bias or PReLU where they are NULL; products are summed over k in
 * order (with FMA where the clone has it). */
__attribute__((target_clones("arch=x86-64-v3", "default"),
               optimize("fp-contract=fast"))) static void
conv_tile_256(size_t K, const float *a, const float *b, float *out, size_t ldo, int rows, int cols,
              const float *bias, const float *alpha) {
    /* Zeroed and stored register by register: as one array GCC zeroes it with rep stos and
     * spills it, which costs as much as the products when K is small. */
    vec8 acc[TILE_ROWS][3];
    for (int r = 0; r < TILE_ROWS; r++) acc[r][0] = acc[r][1] = acc[r][2] = (vec8){0};
    for (size_t k = 0; k < K; k++) {
        vec8 b0, b1, b2;
        memcpy(&b0, b + TILE_COLS * k, sizeof b0);
        memcpy(&b1, b + TILE_COLS * k + 8, sizeof b1);
        memcpy(&b2, b + TILE_COLS * k + 16, sizeof b2);
        for (int r = 0; r < TILE_ROWS; r++) {
            float w = a[TILE_ROWS * k + r];
            acc[r][0] += w * b0;
            acc[r][1] += w * b1;
            acc[r][2] += w * b2;
        }
    }
    for (int r = 0; r < TILE_ROWS && r < rows; r++) {
        vec8 v[3];
        for (int j = 0; j < 3; j++) {
            v[j] = acc[r][j];
            if (bias) v[j] += bias[r];
            if (alpha) PRELU(v[j], alpha[r], vec8i);
        }
        float *o = out + (size_t)r * ldo;
        if (cols == TILE_COLS) {
            memcpy(o, &v[0], sizeof v[0]);
            memcpy(o + 8, &v[1], sizeof v[1]);
            memcpy(o + 16, &v[2], sizeof v[2]);
        } else {
            float row[TILE_COLS];
            memcpy(row, v, sizeof row);
            memcpy(o, row, cols * sizeof(float));
        }
    }
}

/* conv_tile_256 with AVX-512: a row's 24 columns in one 16-wide and one 8-wide register, two
 * FMAs per row and k instead of three; the products summed in the same order, with FMA, as in
 * the x86-64-v3 clone. */
__attribute__((target("arch=x86-64-v4"), optimize("fp-contract=fast"))) static void
conv_tile_512(size_t K, const float *a, const float *b, float *out, size_t ldo, int rows, int cols,
              const float *bias, const float *alpha) {
    vec16 lo[TILE_ROWS];
    vec8 hi[TILE_ROWS];
    for (int r = 0; r < TILE_ROWS; r++) {
        lo[r] = (vec16){0};
        hi[r] = (vec8){0};
    }
    for (size_t k = 0; k < K; k++) {
        vec16 b0;
        vec8 b1;
        memcpy(&b0, b + TILE_COLS * k, sizeof b0);
        memcpy(&b1, b + TILE_COLS * k + 16, sizeof b1);
        for (int r = 0; r < TILE_ROWS; r++) {
            float w = a[TILE_ROWS * k + r];
            lo[r] += w * b0;
            hi[r] += w * b1;
        }
    }
    for (int r = 0; r < TILE_ROWS && r < rows; r++) {
        vec16 v0 = lo[r];
        vec8 v1 = hi[r];
        if (bias) {
            v0 += bias[r];
            v1 += bias[r];
        }
        if (alpha) {
            PRELU(v0, alpha[r], vec16i);
            PRELU(v1, alpha[r], vec8i);
        }
        float *o = out + (size_t)r * ldo;
        if (cols == TILE_COLS) {
            memcpy(o, &v0, sizeof v0);
            memcpy(o + 16, &v1, sizeof v1);
        } else {
            float row[TILE_COLS];
            memcpy(row, &v0, sizeof v0);
            memcpy(row + 16, &v1, sizeof v1);
            memcpy(o, row, cols * sizeof(float));
        }
    }
}

typedef void tile_fn(size_t K, const float *a, const float *b, float *out, size_t ldo, int rows,
                     int cols, const float *bias, const float *alpha);

/* The tile for this processor, chosen at run time. */
static tile_fn *conv_tile(void) {
    return __builtin_cpu_supports("x86-64-v4") ? conv_tile_512 : conv_tile_256;
}

/* Columns [n0, n0 + cols) of out (OC, n) from the panel (C*K*K, TILE_COLS). */
static void panel_times_weights(float *out, size_t n, size_t n0, int cols, const float *panel,
                                const conv2d_direct *l) {
    size_t KK = (size_t)l->C * l->K * l->K;
    tile_fn *tile = conv_tile();
    for (int o0 = 0; o0 < l->OC; o0 += TILE_ROWS) {
        int rows = l->OC - o0 < TILE_ROWS ? l->OC - o0 : TILE_ROWS;
        tile(KK, l->packed + (size_t)o0 * KK, panel, out + (size_t)o0 * n + n0, n, rows, cols,
             l->bias + o0, l->alpha ? l->alpha + o0 : NULL);
    }
}

/* Winograd F(2x2, 3x3) for the rows form of a 3x3 layer: each 2x2 output tile from a 4x4 input
 * tile d as A^T [U . (B^T d B)] A, the 16 products summed over channels as 16 small matrix
 * products (U the packed weights, B^T = (1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1),
 * A^T = (1 1 1 0; 0 1 -1 -1)): 2.25 times fewer multiplications than the direct sum, with
 * rounding that differs from it by a few ulps. Tiles run along one row of tiles, TILE_COLS at a
 * time; scratch holds V (16, C, TILE_COLS) and M (16, OC rounded up, TILE_COLS). */
#define LOAD8(v, p) memcpy(&(v), (p), sizeof(vec8))

/* Even and odd elements of p[0..16). */
static void deinterleave(const float *p, vec8 *even, vec8 *odd) {
    vec8 a, b;
    LOAD8(a, p);
    LOAD8(b, p + 8);
    *even = __builtin_shuffle(a, b, (vec8i){0, 2, 4, 6, 8, 10, 12, 14});
    *odd = __builtin_shuffle(a, b, (vec8i){1, 3, 5, 7, 9, 11, 13, 15});
}

/* V rows (TILE_COLS) for channel rows x[0..4) and tiles starting at column col0 (even); cols
 * tiles are real, the rest of the panel zero. */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void
winograd_input(float *v, size_t ldv, const float *const x[4], size_t col0, int cols) {
    if (cols == TILE_COLS) {
        for (int q = 0; q < TILE_COLS / 8; q++) {
            vec8 h[4][4];
            for (int i = 0; i < 4; i++) {
                vec8 e0, o0, e1, o1;
                deinterleave(x[i] + col0 + 16 * q, &e0, &o0);
                deinterleave(x[i] + col0 + 16 * q + 2, &e1, &o1);
                h[i][0] = e0 - e1;
                h[i][1] = o0 + e1;
                h[i][2] = e1 - o0;
                h[i][3] = o0 - o1;
            }
            for (int k = 0; k < 4; k++) {
                vec8 r0 = h[0][k] - h[2][k], r1 = h[1][k] + h[2][k];
                vec8 r2 = h[2][k] - h[1][k], r3 = h[1][k] - h[3][k];
                memcpy(v + (0 + k) * ldv + 8 * q, &r0, sizeof r0);
                memcpy(v + (4 + k) * ldv + 8 * q, &r1, sizeof r1);
                memcpy(v + (8 + k) * ldv + 8 * q, &r2, sizeof r2);
                memcpy(v + (12 + k) * ldv + 8 * q, &r3, sizeof r3);
            }
        }
        return;
    }
    for (int j = 0; j < TILE_COLS; j++) {
        float h[4][4];
        for (int i = 0; i < 4; i++) {
            const float *e = x[i] + col0 + 2 * j;
            if (j < cols) {
                h[i][0] = e[0] - e[2];
                h[i][1] = e[1] + e[2];
                h[i][2] = e[2] - e[1];
                h[i][3] = e[1] - e[3];
            } else {
                h[i][0] = h[i][1] = h[i][2] = h[i][3] = 0.0f;
            }
        }
        for (int k = 0; k < 4; k++) {
            v[(0 + k) * ldv + j] = h[0][k] - h[2][k];
            v[(4 + k) * ldv + j] = h[1][k] + h[2][k];
            v[(8 + k) * ldv + j] = h[2][k] - h[1][k];
            v[(12 + k) * ldv + j] = h[1][k] - h[3][k];
        }
    }
}

/* Output rows y[0..2) (NULL for a row past the map), columns [col0, col0 + 2 * TILE_COLS) clipped
 * to W, from m (16 rows of TILE_COLS, ldm apart) + bias, PReLU where alpha is non-NULL. */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void
winograd_output(float *const y[2], size_t col0, int W, const float *m, size_t ldm, float bias,
                const float *alpha) {
    for (int q = 0; q < TILE_COLS / 8; q++) {
        vec8 s[2][4], out[2][2];
        for (int k = 0; k < 4; k++) {
            vec8 m0, m1, m2, m3;
            LOAD8(m0, m + (0 + k) * ldm + 8 * q);
            LOAD8(m1, m + (4 + k) * ldm + 8 * q);
            LOAD8(m2, m + (8 + k) * ldm + 8 * q);
            LOAD8(m3, m + (12 + k) * ldm + 8 * q);
            s[0][k] = m0 + m1 + m2;
            s[1][k] = m1 - m2 - m3;
        }
        for (int i = 0; i < 2; i++) {
            out[i][0] = s[i][0] + s[i][1] + s[i][2] + bias;
            out[i][1] = s[i][1] - s[i][2] - s[i][3] + bias;
            if (alpha)
                for (int b = 0; b < 2; b++) PRELU(out[i][b], *alpha, vec8i);
        }
        size_t c = col0 + 16 * (size_t)q;
        if (c >= (size_t)W) break;
        size_t n = (size_t)W - c < 16 ? (size_t)W - c : 16;
        for (int i = 0; i < 2; i++) {
            if (!y[i]) continue;
            vec8 lo = __builtin_shuffle(out[i][0], out[i][1], (vec8i){0, 8, 1, 9, 2, 10, 3, 11});
            vec8 hi = __builtin_shuffle(out[i][0], out[i][1], (vec8i){4, 12, 5, 13, 6, 14, 7, 15});
            if (n == 16) {
                memcpy(y[i] + c, &lo, sizeof lo);
                memcpy(y[i] + c + 8, &hi, sizeof hi);
            } else {
                float row[16];
                memcpy(row, &lo, sizeof lo);
                memcpy(row + 8, &hi, sizeof hi);
                for (size_t j = 0; j < n; j++) y[i][c + j] = row[j];
            }
        }
    }
}

static void winograd_rows_forward(float *out, const float *inp, const conv2d_direct *l, int H,
                                  int W, float *scratch) {
    int C = l->C, OC = l->OC, OH = H - 2, TW = (W + 1) / 2;
    size_t blocks = blocks_of(OC), OCp = blocks * TILE_ROWS;
    const float *u = l->packed + OCp * C * 9;
    float *v = scratch, *m = scratch + 16 * (size_t)C * TILE_COLS;
    tile_fn *tile = conv_tile();
    for (int ty = 0; ty < (OH + 1) / 2; ty++) {
        for (int t0 = 0; t0 < TW; t0 += TILE_COLS) {
            int cols = TW - t0 < TILE_COLS ? TW - t0 : TILE_COLS;
            for (int c = 0; c < C; c++) {
                const float *x[4];
                for (int i = 0; i < 4; i++) {
                    int row = 2 * ty + i < H ? 2 * ty + i : H - 1;
                    x[i] = inp + ((size_t)c * H + row) * W;
                }
                winograd_input(v + (size_t)c * TILE_COLS, (size_t)C * TILE_COLS, x, 2 * (size_t)t0,
                               cols);
            }
            for (int xi = 0; xi < 16; xi++)
                for (size_t blk = 0; blk < blocks; blk++)
                    tile(C, u + (xi * blocks + blk) * C * TILE_ROWS, v + (size_t)xi * C * TILE_COLS,
                         m + (xi * OCp + blk * TILE_ROWS) * TILE_COLS, TILE_COLS, TILE_ROWS,
                         TILE_COLS, NULL, NULL);
            for (int o = 0; o < OC; o++) {
                float *y[2] = {out + ((size_t)o * OH + 2 * ty) * W,
                               2 * ty + 1 < OH ? out + ((size_t)o * OH + 2 * ty + 1) * W : NULL};
                winograd_output(y, 2 * (size_t)t0, W, m + (size_t)o * TILE_COLS, OCp * TILE_COLS,
                                l->bias[o], l->alpha ? l->alpha + o : NULL);
            }
        }
    }
}

/* In the rows form each row of the column matrix is a contiguous run of the input, and each
 * output column depends only on the same column of the column matrix, so the garbage columns
 * never reach a valid one. */
void conv2d_direct_rows_forward(float *out, const float *inp, const conv2d_direct *l, int H, int W,
                                float *scratch) {
    int K = l->K;
    if (winograd_pays(l, (size_t)W)) {
        winograd_rows_forward(out, inp, l, H, W, scratch);
        return;
    }
    size_t n = (size_t)(H - K + 1) * W;
    for (size_t n0 = 0; n0 < n; n0 += TILE_COLS) {
        for (int c = 0; c < l->C; c++)
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++)
                    memcpy(scratch + (((size_t)c * K + ky) * K + kx) * TILE_COLS,
                           inp + ((size_t)c * H + ky) * W + kx + n0, TILE_COLS * sizeof(float));
        int cols = n - n0 < TILE_COLS ? (int)(n - n0) : TILE_COLS;
        panel_times_weights(out, n, n0, cols, scratch, l);
    }
}

/* The batched form gathers only valid positions: column j of the column matrix is output
 * position (g, oy, ox), reading inp at ((c*G + g)*H + oy + ky)*W + ox + kx for row (c, ky, kx). */
void conv2d_direct_forward(float *out, const float *inp, const conv2d_direct *l, int G, int H,
                           int W, float *scratch) {
    int K = l->K, OH = H - K + 1, OW = W - K + 1;
    size_t n = (size_t)G * OH * OW;
    if (winograd_batch_pays(l, G, H, W)) {
        /* (C, H, G*Wp) through the rows form: each valid output reads its own image only. */
        size_t Wp = ((size_t)W + 1) / 2 * 2, wide = G * Wp;
        float *x = scratch, *y = x + (size_t)l->C * H * wide + CONV2D_DIRECT_SLACK;
        for (int c = 0; c < l->C; c++)
            for (int g = 0; g < G; g++)
                for (int row = 0; row < H; row++) {
                    float *dst = x + ((size_t)c * H + row) * wide + g * Wp;
                    memcpy(dst, inp + (((size_t)c * G + g) * H + row) * W, W * sizeof(float));
                    if (Wp > (size_t)W) dst[W] = 0.0f;
                }
        memset(x + (size_t)l->C * H * wide, 0, CONV2D_DIRECT_SLACK * sizeof(float));
        winograd_rows_forward(y, x, l, H, (int)wide, y + (size_t)l->OC * OH * wide);
        for (int o = 0; o < l->OC; o++)
            for (int g = 0; g < G; g++)
                for (int row = 0; row < OH; row++)
                    memcpy(out + (((size_t)o * G + g) * OH + row) * OW,
                           y + ((size_t)o * OH + row) * wide + g * Wp, OW * sizeof(float));
        return;
    }
    size_t off[TILE_COLS];
    int g = 0, oy = 0, ox = 0; /* the position of column n0, stepped without division */
    for (size_t n0 = 0; n0 < n; n0 += TILE_COLS) {
        int cols = n - n0 < TILE_COLS ? (int)(n - n0) : TILE_COLS;
        for (int j = 0; j < cols; j++) {
            off[j] = ((size_t)g * H + oy) * W + ox;
            if (++ox == OW) {
                ox = 0;
                if (++oy == OH) {
                    oy = 0;
                    g++;
                }
            }
        }
        float *dst = scratch;
        for (int c = 0; c < l->C; c++)
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++, dst += TILE_COLS) {
                    const float *src = inp + ((size_t)c * G * H + ky) * W + kx;
                    for (int j = 0; j < cols; j++) dst[j] = src[off[j]];
                    for (int j = cols; j < TILE_COLS; j++) dst[j] = 0.0f;
                }
        panel_times_weights(out, n, n0, cols, scratch, l);
    }
}
