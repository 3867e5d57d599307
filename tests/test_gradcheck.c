/* Finite-difference gradient check of the reference kernels: for a scalar
 * L = sum(out * w) with random w, the analytic gradient of each input and parameter is
 * compared with the central difference (L(x+h) - L(x-h)) / 2h at random elements. The kernels
 * compute in float32, so L is accumulated in double and h = 1e-2 keeps the rounding term
 * (~1e-7 |L| / h) and the truncation term (~h^2) near 1e-4; elements are drawn away from the
 * kinks of ReLU and max-pool. Tolerance: |fd - analytic| <= 2e-3 + 2e-2 |analytic|. */
#include <math.h>

#include "core/rng.h"
#include "nn/batchnorm2d.h"
#include "nn/conv2d.h"
#include "nn/heads.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/pool.h"
#include "test.h"

static rng r;

static float *randn(size_t n, float scale) {
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = scale * (float)rng_normal(&r);
    return x;
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

/* The forward as a closure: evaluates L for the current inputs. */
typedef double (*loss_fn)(void *ctx);

static void check_fd(const char *what, loss_fn loss, void *ctx, float *x, const float *grad,
                     size_t n) {
    const float h = 1e-2f;
    int samples = n < 12 ? (int)n : 12;
    for (int s = 0; s < samples; s++) {
        size_t i = n <= 12 ? (size_t)s : (size_t)(rng_next(&r) % n);
        float saved = x[i];
        x[i] = saved + h;
        double up = loss(ctx);
        x[i] = saved - h;
        double down = loss(ctx);
        x[i] = saved;
        double fd = (up - down) / (2.0 * (double)h), an = (double)grad[i];
        test_checks++;
        if (!(fabs(fd - an) <= 2e-3 + 2e-2 * fabs(an))) {
            test_failures++;
            fprintf(stderr, "%s[%zu]: finite difference %.6g, analytic %.6g\n", what, i, fd, an);
        }
    }
}

/* ---- conv2d ---- */
typedef struct {
    conv2d_shape s;
    float *inp, *weight, *bias, *out, *w, *scratch;
} conv_ctx;

static double conv_loss(void *p) {
    conv_ctx *c = p;
    conv2d_forward(c->out, c->inp, c->weight, c->bias, &c->s, c->scratch);
    return dot(c->out, c->w, (size_t)c->s.B * c->s.OC * conv2d_out_h(&c->s) * conv2d_out_w(&c->s));
}

static void gradcheck_conv(conv2d_shape s) {
    size_t n_in = (size_t)s.B * s.C * s.H * s.W, n_w = (size_t)s.OC * s.C * s.KH * s.KW;
    size_t n_out = (size_t)s.B * s.OC * conv2d_out_h(&s) * conv2d_out_w(&s);
    conv_ctx c = {s,
                  randn(n_in, 1),
                  randn(n_w, 0.3f),
                  randn((size_t)s.OC, 1),
                  malloc(n_out * sizeof(float)),
                  randn(n_out, 1),
                  malloc((conv2d_scratch_floats(&s) + 1) * sizeof(float))};
    float *dinp = malloc(n_in * sizeof(float)), *dw = calloc(n_w, sizeof(float));
    float *db = calloc((size_t)s.OC, sizeof(float));
    conv2d_backward_data(dinp, c.w, c.weight, &s, c.scratch);
    conv2d_backward_weights(dw, db, c.w, c.inp, &s, c.scratch);
    check_fd("conv dinp", conv_loss, &c, c.inp, dinp, n_in);
    check_fd("conv dweight", conv_loss, &c, c.weight, dw, n_w);
    check_fd("conv dbias", conv_loss, &c, c.bias, db, (size_t)s.OC);
    free(c.inp), free(c.weight), free(c.bias), free(c.out), free(c.w), free(c.scratch);
    free(dinp), free(dw), free(db);
}

/* ---- batchnorm (training) ---- */
typedef struct {
    batchnorm2d_shape s;
    float *inp, *gamma, *beta, *out, *w, mean[8], rstd[8];
} bn_ctx;

static double bn_loss(void *p) {
    bn_ctx *c = p;
    batchnorm2d_forward_train(c->out, c->mean, c->rstd, c->inp, c->gamma, c->beta, NULL, NULL,
                              &c->s, 0.1f, 1e-5f);
    return dot(c->out, c->w, (size_t)c->s.B * c->s.C * c->s.HW);
}

static void gradcheck_bn(void) {
    bn_ctx c = {{3, 4, 6}, NULL, NULL, NULL, NULL, NULL, {0}, {0}};
    size_t n = 3 * 4 * 6;
    c.inp = randn(n, 2), c.gamma = randn(4, 1), c.beta = randn(4, 1);
    c.out = malloc(n * sizeof(float)), c.w = randn(n, 1);
    float *dinp = malloc(n * sizeof(float)), dg[4] = {0}, db[4] = {0};
    bn_loss(&c);
    batchnorm2d_backward(dinp, dg, db, c.w, c.inp, c.mean, c.rstd, c.gamma, &c.s, 1);
    check_fd("bn dinp", bn_loss, &c, c.inp, dinp, n);
    check_fd("bn dgamma", bn_loss, &c, c.gamma, dg, 4);
    check_fd("bn dbeta", bn_loss, &c, c.beta, db, 4);
    free(c.inp), free(c.gamma), free(c.beta), free(c.out), free(c.w), free(dinp);
}

/* ---- max-pool (distinct values spaced well beyond h, so no window changes its winner) ---- */
typedef struct {
    float *inp, *out, *w;
    int32_t *arg;
} pool_ctx;

static double pool_loss(void *p) {
    pool_ctx *c = p;
    maxpool_forward(c->out, c->arg, c->inp, 2, 2, 7, 7);
    return dot(c->out, c->w, 64);
}

static void gradcheck_maxpool(void) {
    size_t n = 2 * 2 * 7 * 7;
    pool_ctx c = {malloc(n * sizeof(float)), malloc(64 * sizeof(float)), randn(64, 1),
                  malloc(64 * sizeof(int32_t))};
    for (size_t i = 0; i < n; i++) c.inp[i] = 0.1f * (float)((i * 37) % n); /* a permutation */
    float *dinp = malloc(n * sizeof(float));
    pool_loss(&c);
    maxpool_backward(dinp, c.w, c.arg, 2, 2, 7, 7);
    check_fd("maxpool dinp", pool_loss, &c, c.inp, dinp, n);
    free(c.inp), free(c.out), free(c.w), free(c.arg), free(dinp);
}

/* ---- linear ---- */
typedef struct {
    float *inp, *weight, *bias, *out, *w;
} linear_ctx;

static double linear_loss(void *p) {
    linear_ctx *c = p;
    linear_forward(c->out, c->inp, c->weight, c->bias, 3, 5, 4);
    return dot(c->out, c->w, 12);
}

static void gradcheck_linear(void) {
    linear_ctx c = {randn(15, 1), randn(20, 1), randn(4, 1), malloc(12 * sizeof(float)),
                    randn(12, 1)};
    float dinp[15], dw[20] = {0}, db[4] = {0};
    linear_backward(dinp, dw, db, c.w, c.inp, c.weight, 3, 5, 4);
    check_fd("linear dinp", linear_loss, &c, c.inp, dinp, 15);
    check_fd("linear dweight", linear_loss, &c, c.weight, dw, 20);
    check_fd("linear dbias", linear_loss, &c, c.bias, db, 4);
    free(c.inp), free(c.weight), free(c.bias), free(c.out), free(c.w);
}

/* ---- the paper's loss ---- */
typedef struct {
    float *reg, *logits, age[4];
} loss_ctx;

static double age_loss_value(void *p) {
    loss_ctx *c = p;
    float dreg[4], dlogits[4 * AGE_CLASSES], probs[4 * AGE_CLASSES], e[4], de[4];
    int labels[4];
    return age_loss_forward_backward(dreg, dlogits, probs, e, labels, de, c->reg, c->logits, c->age,
                                     4)
        .total;
}

static void gradcheck_loss(void) {
    loss_ctx c = {randn(4, 10), randn(4 * AGE_CLASSES, 2), {3.2f, 18.0f, 44.9f, 80.0f}};
    float dreg[4], dlogits[4 * AGE_CLASSES], probs[4 * AGE_CLASSES], e[4], de[4];
    int labels[4];
    age_loss_forward_backward(dreg, dlogits, probs, e, labels, de, c.reg, c.logits, c.age, 4);
    check_fd("loss dreg", age_loss_value, &c, c.reg, dreg, 4);
    check_fd("loss dlogits", age_loss_value, &c, c.logits, dlogits, 4 * AGE_CLASSES);
    free(c.reg), free(c.logits);
}

/* ---- rng head ---- */
typedef struct {
    rng_head_shape s;
    rng_head_params p;
    float *feat, *acts, *w;
} rng_ctx;

static double rng_loss(void *p) {
    rng_ctx *c = p;
    float *z = rng_head_forward(c->acts, c->feat, &c->p, &c->s);
    return dot(z, c->w, (size_t)c->s.B * c->s.H);
}

static void gradcheck_rng(void) {
    rng_head_shape s = {2, 3, 2, 3, 5};
    size_t D = 5, H = 5, nf = 2 * 3 * 6;
    rng_ctx c = {s,
                 {randn(H * D, 0.5f), randn(H, 0.5f), randn(H * D, 0.5f), randn(H * H, 0.5f),
                  randn(H, 0.5f), randn(H * H, 0.5f), randn(H, 0.5f)},
                 randn(nf, 1),
                 malloc(rng_head_act_floats(&s) * sizeof(float)),
                 randn(2 * H, 1)};
    float *g[7] = {calloc(H * D, 4), calloc(H, 4),     calloc(H * D, 4), calloc(H * H, 4),
                   calloc(H, 4),     calloc(H * H, 4), calloc(H, 4)};
    rng_head_params gp = {g[0], g[1], g[2], g[3], g[4], g[5], g[6]};
    float *dfeat = malloc(nf * sizeof(float));
    float *scratch = malloc(rng_head_scratch_floats(&s) * sizeof(float));
    rng_loss(&c);
    rng_head_backward(dfeat, &gp, c.w, c.acts, &c.p, &s, scratch);
    check_fd("rng dfeat", rng_loss, &c, c.feat, dfeat, nf);
    float *params[7] = {c.p.g1a_weight, c.p.g1a_bias,  c.p.g1b_weight, c.p.g2_weight,
                        c.p.g2_bias,    c.p.f1_weight, c.p.f1_bias};
    static const size_t sizes[7] = {25, 5, 25, 25, 5, 25, 5};
    for (int i = 0; i < 7; i++) {
        check_fd("rng param", rng_loss, &c, params[i], g[i], sizes[i]);
    }
    for (int i = 0; i < 7; i++) free(params[i]), free(g[i]);
    free(c.feat), free(c.acts), free(c.w), free(dfeat), free(scratch);
}

int main(void) {
    rng_seed(&r, 42);
    gradcheck_conv((conv2d_shape){2, 3, 6, 6, 4, 3, 3, 1, 1});
    gradcheck_conv((conv2d_shape){1, 2, 9, 9, 3, 7, 7, 2, 3});
    gradcheck_conv((conv2d_shape){2, 4, 5, 5, 3, 1, 1, 2, 0});
    gradcheck_bn();
    gradcheck_maxpool();
    gradcheck_linear();
    gradcheck_loss();
    gradcheck_rng();
    return test_summary("test_gradcheck");
}
