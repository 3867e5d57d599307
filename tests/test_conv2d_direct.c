/* nn/conv2d_direct through the reference backend against conv2d_forward followed by PReLU, on
 * random data: both forms (batched and rows), kernels 1-3, channel counts that do and do not
 * fill a tile, with and without PReLU, column counts that end in a partial panel, and shapes
 * that take the Winograd path of either form. The two sum in different orders, so the tolerance
 * is float32 rounding: relative 1e-4, absolute 1e-5. */
#include "backend/backend.h"
#include "core/rng.h"
#include "nn/conv2d.h"
#include "nn/conv2d_direct.h"
#include "test.h"

static const double RTOL = 1e-4, ATOL = 1e-5;

static float *random_floats(rng *r, size_t n) {
    float *v = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) v[i] = (float)(2.0 * rng_uniform(r) - 1.0);
    return v;
}

/* want (OC, H-K+1, W-K+1) for image g of inp (C, G, H, W): conv2d_forward, then PReLU. */
static void reference(float *want, const float *inp, const float *weight, const float *bias,
                      const float *alpha, int C, int OC, int K, int G, int g, int H, int W) {
    conv2d_shape s = {1, C, H, W, OC, K, K, 1, 0};
    size_t plane = (size_t)H * W, out_plane = (size_t)(H - K + 1) * (W - K + 1);
    float *image = malloc((size_t)C * plane * sizeof(float));
    float *scratch = malloc((conv2d_scratch_floats(&s) + 1) * sizeof(float));
    for (int c = 0; c < C; c++)
        memcpy(image + c * plane, inp + ((size_t)c * G + g) * plane, plane * sizeof(float));
    conv2d_forward(want, image, weight, bias, &s, scratch);
    if (alpha)
        for (int o = 0; o < OC; o++)
            for (size_t i = 0; i < out_plane; i++) {
                float *v = &want[o * out_plane + i];
                *v = *v > 0.0f ? *v : alpha[o] * *v;
            }
    free(image);
    free(scratch);
}

static void test_case(rng *r, int C, int OC, int K, int G, int H, int W, int prelu) {
    const backend *be = backend_ref();
    int OH = H - K + 1, OW = W - K + 1;
    size_t n_in = (size_t)C * G * H * W, out_plane = (size_t)OH * OW;
    float *inp = random_floats(r, n_in + CONV2D_DIRECT_SLACK);
    float *weight = random_floats(r, (size_t)OC * C * K * K);
    float *bias = random_floats(r, (size_t)OC);
    float *alpha = prelu ? random_floats(r, (size_t)OC) : NULL;
    float *packed = malloc(conv2d_direct_packed_floats(C, OC, K) * sizeof(float));
    conv2d_direct_pack(packed, weight, C, OC, K);
    conv2d_direct l = {C, OC, K, packed, bias, alpha};
    size_t rows_scratch = conv2d_direct_scratch_floats(&l);
    size_t batch_scratch = conv2d_direct_batch_scratch_floats(&l, G, H, W);
    float *scratch =
        malloc((rows_scratch > batch_scratch ? rows_scratch : batch_scratch) * sizeof(float));
    float *got = malloc((size_t)OC * G * out_plane * sizeof(float));
    float *want = malloc((size_t)OC * out_plane * sizeof(float));
    float *got_g = malloc((size_t)OC * out_plane * sizeof(float));
    char what[128];

    be->conv2d_direct_forward(got, inp, &l, G, H, W, scratch);
    for (int g = 0; g < G; g++) {
        reference(want, inp, weight, bias, alpha, C, OC, K, G, g, H, W);
        for (int o = 0; o < OC; o++)
            memcpy(got_g + o * out_plane, got + ((size_t)o * G + g) * out_plane,
                   out_plane * sizeof(float));
        snprintf(what, sizeof what, "batched C%d OC%d K%d G%d %dx%d prelu %d, image %d", C, OC, K,
                 G, H, W, prelu, g);
        CHECK_ALLCLOSE(what, got_g, want, (size_t)OC * out_plane, RTOL, ATOL);
    }

    /* The rows form on image 0 alone (the first C planes of a G = 1 layout). */
    float *rows_in = random_floats(r, (size_t)C * H * W + CONV2D_DIRECT_SLACK);
    float *rows_out = malloc((size_t)OC * OH * W * sizeof(float));
    be->conv2d_direct_rows_forward(rows_out, rows_in, &l, H, W, scratch);
    reference(want, rows_in, weight, bias, alpha, C, OC, K, 1, 0, H, W);
    for (int o = 0; o < OC; o++)
        for (int y = 0; y < OH; y++)
            memcpy(got_g + (o * OH + y) * (size_t)OW, rows_out + ((size_t)o * OH + y) * W,
                   OW * sizeof(float));
    snprintf(what, sizeof what, "rows C%d OC%d K%d %dx%d prelu %d", C, OC, K, H, W, prelu);
    CHECK_ALLCLOSE(what, got_g, want, (size_t)OC * out_plane, RTOL, ATOL);

    free(inp), free(weight), free(bias), free(alpha), free(packed), free(scratch), free(got);
    free(want), free(got_g), free(rows_in), free(rows_out);
}

int main(void) {
    rng r;
    rng_seed(&r, 20261127);
    CHECK_INT_EQ(conv2d_direct_packed_floats(3, 10, 2), 12 * 12);
    /* MTCNN's shapes, then odd ones. */
    test_case(&r, 3, 10, 3, 1, 17, 23, 1);
    test_case(&r, 10, 16, 3, 1, 9, 30, 1);
    test_case(&r, 16, 32, 3, 1, 7, 13, 1);
    test_case(&r, 32, 6, 1, 1, 5, 11, 0);
    test_case(&r, 3, 28, 3, 3, 24, 24, 1);
    test_case(&r, 28, 48, 3, 2, 11, 11, 1);
    test_case(&r, 48, 64, 2, 5, 4, 4, 1);
    test_case(&r, 64, 128, 3, 4, 3, 3, 1);
    test_case(&r, 128, 6, 1, 7, 1, 1, 0);
    /* Wide enough for the rows form's Winograd path: full and partial panels, odd heights. */
    test_case(&r, 16, 16, 3, 1, 9, 200, 1);
    test_case(&r, 16, 32, 3, 1, 8, 211, 1);
    test_case(&r, 12, 5, 3, 1, 4, 192, 0);
    /* The batched form's Winograd path (images side by side), with an odd output height. */
    test_case(&r, 32, 64, 3, 2, 23, 23, 1);
    test_case(&r, 12, 6, 3, 4, 12, 12, 0);
    test_case(&r, 28, 48, 3, 16, 11, 11, 1);
    test_case(&r, 16, 8, 3, 1, 23, 23, 1);
    test_case(&r, 5, 7, 2, 3, 6, 9, 1);
    test_case(&r, 1, 1, 1, 1, 1, 1, 0);
    test_case(&r, 2, 3, 3, 2, 3, 5, 0);
    return test_summary("test_conv2d_direct");
}
