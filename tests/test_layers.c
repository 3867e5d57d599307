/* Every reference kernel against PyTorch (tests/fixtures/layers.safetensors): forward output,
 * input gradient and parameter gradients. The fixture is computed in float64 from float32
 * inputs, so the tolerance only has to cover float32 rounding in our kernels: relative 1e-4
 * with an absolute floor of 1e-5 (values are O(1); sums run over at most a few hundred terms). */
#include "fixture.h"
#include "nn/batchnorm2d.h"
#include "nn/conv2d.h"
#include "nn/heads.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/pool.h"
#include "nn/relu.h"

static const double RTOL = 1e-4, ATOL = 1e-5;

static void test_conv(const safetensors_file *f, const char *name, conv2d_shape s, int bias) {
    size_t n_out = (size_t)s.B * s.OC * conv2d_out_h(&s) * conv2d_out_w(&s);
    size_t n_in = (size_t)s.B * s.C * s.H * s.W, n_w = (size_t)s.OC * s.C * s.KH * s.KW;
    float *inp = fixture_get(f, NULL, "%s.inp", name);
    float *weight = fixture_get(f, NULL, "%s.weight", name);
    float *b = bias ? fixture_get(f, NULL, "%s.bias", name) : NULL;
    float *dout = fixture_get(f, NULL, "%s.dout", name);
    float *scratch = calloc(conv2d_scratch_floats(&s) + 1, sizeof(float));
    float *out = calloc(n_out, sizeof(float)), *dinp = calloc(n_in, sizeof(float));
    float *dweight = calloc(n_w, sizeof(float)), *dbias = calloc((size_t)s.OC, sizeof(float));
    conv2d_forward(out, inp, weight, b, &s, scratch);
    fixture_check(f, out, n_out, RTOL, ATOL, "%s.out", name);
    conv2d_backward_data(dinp, dout, weight, &s, scratch);
    fixture_check(f, dinp, n_in, RTOL, ATOL, "%s.dinp", name);
    conv2d_backward_weights(dweight, bias ? dbias : NULL, dout, inp, &s, scratch);
    fixture_check(f, dweight, n_w, RTOL, ATOL, "%s.dweight", name);
    if (bias) fixture_check(f, dbias, (size_t)s.OC, RTOL, ATOL, "%s.dbias", name);
    free(inp), free(weight), free(b), free(dout), free(scratch), free(out), free(dinp);
    free(dweight), free(dbias);
}

static void test_batchnorm(const safetensors_file *f, int training) {
    const char *name = training ? "bn_train" : "bn_eval";
    batchnorm2d_shape s = {3, 4, 25};
    size_t n = 3 * 4 * 25;
    float *inp = fixture_get(f, NULL, "%s.inp", name);
    float *gamma = fixture_get(f, NULL, "%s.weight", name);
    float *beta = fixture_get(f, NULL, "%s.bias", name);
    float *rm = fixture_get(f, NULL, "%s.running_mean", name);
    float *rv = fixture_get(f, NULL, "%s.running_var", name);
    float *dout = fixture_get(f, NULL, "%s.dout", name);
    float *out = calloc(n, sizeof(float)), *dinp = calloc(n, sizeof(float));
    float mean[4], rstd[4], dgamma[4] = {0}, dbeta[4] = {0};
    if (training) {
        batchnorm2d_forward_train(out, mean, rstd, inp, gamma, beta, rm, rv, &s, 0.1f, 1e-5f);
        fixture_check(f, rm, 4, RTOL, ATOL, "bn_train.running_mean_after");
        fixture_check(f, rv, 4, RTOL, ATOL, "bn_train.running_var_after");
    } else {
        batchnorm2d_forward_eval(out, inp, gamma, beta, rm, rv, &s, 1e-5f);
        for (int c = 0; c < 4; c++) {
            mean[c] = rm[c];
            rstd[c] = 1.0f / sqrtf(rv[c] + 1e-5f);
        }
    }
    fixture_check(f, out, n, RTOL, ATOL, "%s.out", name);
    batchnorm2d_backward(dinp, dgamma, dbeta, dout, inp, mean, rstd, gamma, &s, training);
    fixture_check(f, dinp, n, RTOL, ATOL, "%s.dinp", name);
    fixture_check(f, dgamma, 4, RTOL, ATOL, "%s.dweight", name);
    fixture_check(f, dbeta, 4, RTOL, ATOL, "%s.dbias", name);
    free(inp), free(gamma), free(beta), free(rm), free(rv), free(dout), free(out), free(dinp);
}

static void test_relu(const safetensors_file *f) {
    size_t n = 0;
    float *inp = fixture_get(f, &n, "relu.inp"), *dout = fixture_get(f, NULL, "relu.dout");
    float *out = calloc(n, sizeof(float)), *dinp = calloc(n, sizeof(float));
    relu_forward(out, inp, n);
    fixture_check(f, out, n, 0, 0, "relu.out");
    relu_backward(dinp, dout, out, n);
    fixture_check(f, dinp, n, 0, 0, "relu.dinp");
    free(inp), free(dout), free(out), free(dinp);
}

static void test_maxpool(const safetensors_file *f, const char *name, int side) {
    int B = 2, C = 3, o = maxpool_out_size(side);
    size_t n_in = (size_t)B * C * side * side, n_out = (size_t)B * C * o * o;
    float *inp = fixture_get(f, NULL, "%s.inp", name),
          *dout = fixture_get(f, NULL, "%s.dout", name);
    float *out = calloc(n_out, sizeof(float)), *dinp = calloc(n_in, sizeof(float));
    int32_t *arg = calloc(n_out, sizeof(int32_t));
    maxpool_forward(out, arg, inp, B, C, side, side);
    fixture_check(f, out, n_out, 0, 0, "%s.out", name);
    maxpool_backward(dinp, dout, arg, B, C, side, side);
    fixture_check(f, dinp, n_in, RTOL, ATOL, "%s.dinp", name); /* ties must go to the first */
    free(inp), free(dout), free(out), free(dinp), free(arg);
}

static void test_gap(const safetensors_file *f) {
    float *inp = fixture_get(f, NULL, "gap.inp"), *dout = fixture_get(f, NULL, "gap.dout");
    float out[10], dinp[90];
    global_avgpool_forward(out, inp, 2, 5, 9);
    fixture_check(f, out, 10, RTOL, ATOL, "gap.out");
    global_avgpool_backward(dinp, dout, 2, 5, 9);
    fixture_check(f, dinp, 90, RTOL, ATOL, "gap.dinp");
    free(inp), free(dout);
}

static void test_linear(const safetensors_file *f) {
    float *inp = fixture_get(f, NULL, "linear.inp"), *w = fixture_get(f, NULL, "linear.weight");
    float *b = fixture_get(f, NULL, "linear.bias"), *dout = fixture_get(f, NULL, "linear.dout");
    float out[15], dinp[21], dw[35] = {0}, db[5] = {0};
    linear_forward(out, inp, w, b, 3, 7, 5);
    fixture_check(f, out, 15, RTOL, ATOL, "linear.out");
    linear_backward(dinp, dw, db, dout, inp, w, 3, 7, 5);
    fixture_check(f, dinp, 21, RTOL, ATOL, "linear.dinp");
    fixture_check(f, dw, 35, RTOL, ATOL, "linear.dweight");
    fixture_check(f, db, 5, RTOL, ATOL, "linear.dbias");
    free(inp), free(w), free(b), free(dout);
}

static void test_loss(const safetensors_file *f) {
    enum { B = 6 };
    float *reg = fixture_get(f, NULL, "loss.reg"), *logits = fixture_get(f, NULL, "loss.logits");
    float *age = fixture_get(f, NULL, "loss.age");
    float dreg[B], dlogits[B * AGE_CLASSES], probs[B * AGE_CLASSES], expected[B], dexp[B];
    int labels[B];
    static const int want_labels[B] = {0, 2, 58, 100, 0, 33};
    age_loss l = age_loss_forward_backward(dreg, dlogits, probs, expected, labels, dexp, reg,
                                           logits, age, B);
    for (int b = 0; b < B; b++) CHECK_INT_EQ(labels[b], want_labels[b]);
    fixture_check(f, expected, B, RTOL, ATOL, "loss.expected");
    float values[4] = {(float)l.mse_reg, (float)l.cross_entropy, (float)l.mse_expected,
                       (float)l.total};
    fixture_check(f, &values[0], 1, RTOL, ATOL, "loss.mse_reg");
    fixture_check(f, &values[1], 1, RTOL, ATOL, "loss.ce");
    fixture_check(f, &values[2], 1, RTOL, ATOL, "loss.mse_e");
    fixture_check(f, &values[3], 1, RTOL, ATOL, "loss.total");
    fixture_check(f, dreg, B, RTOL, ATOL, "loss.dreg");
    fixture_check(f, dlogits, B * AGE_CLASSES, RTOL, ATOL, "loss.dlogits");
    free(reg), free(logits), free(age);
}

/* The two outputs on z, and their backward into dz; shared by the head tests. */
static void outputs_check(const safetensors_file *f, const char *name, const float *z, float *dz,
                          int B, int D) {
    float *wr = fixture_get(f, NULL, "%s.fc_reg.weight", name);
    float *br = fixture_get(f, NULL, "%s.fc_reg.bias", name);
    float *wc = fixture_get(f, NULL, "%s.fc_cls.weight", name);
    float *bc = fixture_get(f, NULL, "%s.fc_cls.bias", name);
    float *dreg = fixture_get(f, NULL, "%s.dreg", name);
    float *dlogits = fixture_get(f, NULL, "%s.dlogits", name);
    float *reg = calloc((size_t)B, sizeof(float));
    float *logits = calloc((size_t)B * AGE_CLASSES, sizeof(float));
    float *dz2 = calloc((size_t)B * D, sizeof(float));
    float *gwr = calloc((size_t)D, sizeof(float)), gbr[1] = {0};
    float *gwc = calloc((size_t)D * AGE_CLASSES, sizeof(float)), gbc[AGE_CLASSES] = {0};
    linear_forward(reg, z, wr, br, (size_t)B, (size_t)D, 1);
    linear_forward(logits, z, wc, bc, (size_t)B, (size_t)D, AGE_CLASSES);
    fixture_check(f, reg, (size_t)B, RTOL, ATOL, "%s.reg", name);
    fixture_check(f, logits, (size_t)B * AGE_CLASSES, RTOL, ATOL, "%s.logits", name);
    linear_backward(dz, gwr, gbr, dreg, z, wr, (size_t)B, (size_t)D, 1);
    linear_backward(dz2, gwc, gbc, dlogits, z, wc, (size_t)B, (size_t)D, AGE_CLASSES);
    for (size_t i = 0; i < (size_t)B * D; i++) dz[i] += dz2[i];
    fixture_check(f, gwr, (size_t)D, RTOL, ATOL, "%s.grad.fc_reg.weight", name);
    fixture_check(f, gbr, 1, RTOL, ATOL, "%s.grad.fc_reg.bias", name);
    fixture_check(f, gwc, (size_t)D * AGE_CLASSES, RTOL, ATOL, "%s.grad.fc_cls.weight", name);
    fixture_check(f, gbc, AGE_CLASSES, RTOL, ATOL, "%s.grad.fc_cls.bias", name);
    free(wr), free(br), free(wc), free(bc), free(dreg), free(dlogits), free(reg), free(logits);
    free(dz2), free(gwr), free(gwc);
}

static void test_head_rn(const safetensors_file *f, int literal) {
    enum { B = 2, C = 6, N = 9 };
    float *feat = fixture_get(f, NULL, "head_rn.feat");
    float z[B * 2 * C], dz[B * 2 * C], dfeat[B * C * N];
    double scratch[C * N];
    if (literal)
        rn_literal_forward(z, feat, B, C, N, scratch);
    else
        rn_fast_forward(z, feat, B, C, N);
    fixture_check(f, z, B * 2 * C, RTOL, ATOL, "head_rn.z");
    outputs_check(f, "head_rn", z, dz, B, 2 * C);
    if (literal)
        rn_literal_backward(dfeat, dz, B, C, N, scratch);
    else
        rn_fast_backward(dfeat, dz, B, C, N);
    fixture_check(f, dfeat, B * C * N, RTOL, ATOL, "head_rn.dfeat");
    free(feat);
}

static void test_head_rng(const safetensors_file *f, const char *name, int h, int w) {
    rng_head_shape s = {2, 6, h, w, 8};
    size_t D = 8, n_feat = (size_t)2 * 6 * h * w;
    const char *params[7] = {"g1a.weight", "g1a.bias",  "g1b.weight", "g2.weight",
                             "g2.bias",    "f1.weight", "f1.bias"};
    float *p[7], *g[7];
    for (int i = 0; i < 7; i++) {
        size_t n = 0;
        p[i] = fixture_get(f, &n, "%s.%s", name, params[i]);
        g[i] = calloc(n, sizeof(float));
    }
    rng_head_params wp = {p[0], p[1], p[2], p[3], p[4], p[5], p[6]};
    rng_head_params gp = {g[0], g[1], g[2], g[3], g[4], g[5], g[6]};
    float *feat = fixture_get(f, NULL, "%s.feat", name);
    float *acts = calloc(rng_head_act_floats(&s), sizeof(float));
    float *scratch = calloc(rng_head_scratch_floats(&s), sizeof(float));
    float *dfeat = calloc(n_feat, sizeof(float)), dz[16];
    float *z = rng_head_forward(acts, feat, &wp, &s);
    outputs_check(f, name, z, dz, 2, (int)D);
    rng_head_backward(dfeat, &gp, dz, acts, &wp, &s, scratch);
    fixture_check(f, dfeat, n_feat, RTOL, ATOL, "%s.dfeat", name);
    static const size_t numel[7] = {64, 8, 64, 64, 8, 64, 8};
    for (int i = 0; i < 7; i++) {
        fixture_check(f, g[i], numel[i], RTOL, ATOL, "%s.grad.%s", name, params[i]);
        free(p[i]), free(g[i]);
    }
    free(feat), free(acts), free(scratch), free(dfeat);
}

int main(void) {
    safetensors_file *f = fixture_open("layers.safetensors");
    test_conv(f, "conv_a", (conv2d_shape){2, 3, 9, 9, 4, 3, 3, 1, 1}, 1);
    test_conv(f, "conv_b", (conv2d_shape){2, 4, 10, 10, 5, 3, 3, 2, 1}, 0);
    test_conv(f, "conv_c", (conv2d_shape){1, 3, 17, 17, 4, 7, 7, 2, 3}, 0);
    test_conv(f, "conv_d", (conv2d_shape){2, 6, 7, 7, 8, 1, 1, 1, 0}, 1);
    test_conv(f, "conv_e", (conv2d_shape){2, 4, 8, 8, 6, 1, 1, 2, 0}, 0);
    test_batchnorm(f, 1);
    test_batchnorm(f, 0);
    test_relu(f);
    test_maxpool(f, "maxpool_a", 9);
    test_maxpool(f, "maxpool_b", 8);
    test_gap(f);
    test_linear(f);
    test_loss(f);
    test_head_rn(f, 1);
    test_head_rn(f, 0);
    test_head_rng(f, "head_rng", 3, 3);
    test_head_rng(f, "head_rng2", 2, 3);
    safetensors_close(f);
    return test_summary("test_layers");
}
