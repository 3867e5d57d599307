/* The heads that turn the backbone's feature map feat (B,C,h,w), N = h*w cells, into the
 * vector z that the two outputs fc_reg and fc_cls read:
 *   base: z = global average pool (B,C)                                     (in pool.h)
 *   rn:   the paper's relational head: z = mean over all N*N ordered pairs (j,k) of the
 *         concatenation [a_j; a_k] (B,2C). The literal computation forms every pair; the fast
 *         one uses the identity mean_{j,k} [a_j; a_k] = [GAP; GAP]. Both are kept and tested equal.
 *   rng:  a true relational network (Santoro et al. 2017): with x_j = [a_j; c_j] and c_j the
 *         cell's (y, x) coordinates in [-1, 1] (linspace, -1 for a single row or column),
 *         g_jk = relu(W2 relu(U x_j + b1 + V x_k) + b2), s = mean_{j,k} g_jk,
 *         z = relu(F s + bf) (B,H). The first layer is factorised, so it costs 2N products
 *         instead of N*N. Parameter names follow the PyTorch reference: g1a (U, b1), g1b (V),
 *         g2 (W2, b2), f1 (F, bf). */
#ifndef RELAGE_NN_HEADS_H
#define RELAGE_NN_HEADS_H

#include <stddef.h>

/* rn, literal: scratch holds rn_literal_scratch_doubles(C, N) doubles. */
size_t rn_literal_scratch_doubles(int C, int N);
void rn_literal_forward(float *z, const float *feat, int B, int C, int N, double *scratch);
/* dfeat (B,C,N) is written. */
void rn_literal_backward(float *dfeat, const float *dz, int B, int C, int N, double *scratch);

/* rn, fast: z = [GAP; GAP]. */
void rn_fast_forward(float *z, const float *feat, int B, int C, int N);
void rn_fast_backward(float *dfeat, const float *dz, int B, int C, int N);

typedef struct rng_head_shape {
    int B, C, h, w, H; /* H: hidden size of g and f */
} rng_head_shape;

/* Pointers into a parameter (or gradient) block; shapes (H, C+2), (H), (H, C+2), (H, H), (H),
 * (H, H), (H). */
typedef struct rng_head_params {
    float *g1a_weight, *g1a_bias, *g1b_weight, *g2_weight, *g2_bias, *f1_weight, *f1_bias;
} rng_head_params;

/* Floats of the activations the forward keeps for the backward, and of backward scratch. */
size_t rng_head_act_floats(const rng_head_shape *s);
size_t rng_head_scratch_floats(const rng_head_shape *s);

/* Writes the activations into acts; returns a pointer to z (B,H) inside acts. */
float *rng_head_forward(float *acts, const float *feat, const rng_head_params *p,
                        const rng_head_shape *s);

/* dfeat (B,C,h,w) is written; the gradients in g are accumulated. */
void rng_head_backward(float *dfeat, const rng_head_params *g, const float *dz, const float *acts,
                       const rng_head_params *p, const rng_head_shape *s, float *scratch);

#endif
