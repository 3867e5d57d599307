/* Direct 2-d convolution for thin layers (MTCNN's): square kernel, stride 1, no padding, the bias
 * and an optional PReLU fused, on weights packed once by conv2d_direct_pack. On such layers (few
 * channels, small maps) it runs about three times as fast as conv2d_forward's im2col + gemm.
 * Shapes: weight (OC,C,K,K), bias (OC), alpha (OC) or NULL; out = PReLU(conv(inp) + bias) with
 * the bias added after the products, as PyTorch does; PReLU(v) = v where v > 0, else alpha * v.
 * The products are summed over (c, ky, kx) in order, except in 3x3 layers of 12 or more input
 * channels on maps wide enough to fill most of a panel of tiles (in the batched form: G images
 * side by side), which use Winograd's F(2x2, 3x3): 2.25 times fewer multiplications, results
 * that differ by float rounding. So an image's result may depend on G (the path taken), never on
 * its place in the batch or on anything else. */
#ifndef RELAGE_NN_CONV2D_DIRECT_H
#define RELAGE_NN_CONV2D_DIRECT_H

#include <stddef.h>

/* Floats a rows-form input must have readable (finite, e.g. zeroed) past its end. */
enum { CONV2D_DIRECT_SLACK = 32 };

typedef struct conv2d_direct {
    int C, OC, K;
    const float *packed; /* conv2d_direct_packed_floats(C, OC, K), from conv2d_direct_pack */
    const float *bias;   /* (OC) */
    const float *alpha;  /* (OC) PReLU slopes; NULL for none */
} conv2d_direct;

size_t conv2d_direct_packed_floats(int C, int OC, int K);

/* Rearranges weight (OC,C,K,K) into packed (conv2d_direct_packed_floats floats). */
void conv2d_direct_pack(float *packed, const float *weight, int C, int OC, int K);

/* Floats of scratch the rows form needs for layer l, and the batched form for G images of
 * H x W (not monotonic in G: take the maximum over the batch sizes used). */
size_t conv2d_direct_scratch_floats(const conv2d_direct *l);
size_t conv2d_direct_batch_scratch_floats(const conv2d_direct *l, int G, int H, int W);

/* inp (C,G,H,W) -> out (OC,G,H-K+1,W-K+1): G images held channel-major, each convolved on its
 * own. Needs H >= K and W >= K. */
void conv2d_direct_forward(float *out, const float *inp, const conv2d_direct *l, int G, int H,
                           int W, float *scratch);

/* The rows form, for large maps: inp (C,H,W) -> out (OC,H-K+1,W), where output columns
 * [0, W-K] are the valid convolution and the last K-1 columns of every row are finite garbage
 * (each row is convolved as if continued by the next one). Needs no index arithmetic, so it
 * suits maps whose valid part is the first columns of wider rows. Reads up to
 * CONV2D_DIRECT_SLACK floats past the end of inp; needs H >= K and K <= 10. */
void conv2d_direct_rows_forward(float *out, const float *inp, const conv2d_direct *l, int H, int W,
                                float *scratch);

#endif
