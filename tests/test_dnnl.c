/* The oneDNN backend against the reference backend, on whole tiny networks (ResNet-18 at width
 * 1/16 and ResNet-50 at width 1/32, each head): the outputs and every gradient of a training
 * forward and backward, the running statistics and counters, the inference path (BatchNorm
 * folded, fused post-ops) before and after training steps, batches of several sizes, and
 * the inference path again after RMSprop steps, and no allocation in training steps and
 * inference once the plans exist. fp32 tolerance: relative 1e-4 on outputs, and on
 * gradients per tensor max |dnnl - ref| <= 1e-4 * max |ref| where the network's conditioning
 * allows it (see test_network).
 *
 * bf16, where the CPU has AVX512-BF16 or AMX (whether it has is asked of the CPU itself, and
 * elsewhere the refusal is checked): the trunk rounds activations and weights to 8 significant
 * bits (unit roundoff 2^-8) and accumulates in fp32. How far that moves the results depends on
 * the network's conditioning, so the tolerances come from ref itself: a probe, ref with its
 * input and convolution weights (what bf16 rounds) moved by random relative amounts of up to
 * 2^-8, shows what rounding of that size does to the network; bf16 also rounds every
 * activation, so its differences from ref may be 4x the probe's, but never more than a fixed
 * cap (so that an ill-conditioned probe cannot make a check vacuous), and must be above fp32's
 * (bf16 really ran). ResNet-18: training outputs, running statistics and the gradient direction
 * (1 - cosine), and the folded inference path; ResNet-50 at torchvision's initialisation is too
 * ill-conditioned in training mode (BatchNorm over 4x4 maps of 4 images: the probe alone turns
 * its gradients by 60 degrees), so only its inference path is compared. Training itself: 200
 * RMSprop steps of a tiny ResNet-18 must follow the fp32 loss curve, each window of 20 steps
 * within 10% of fp32's mean or 1% of the starting loss. */
#include <malloc.h>

#include "core/rng.h"
#include "nn/resnet.h"
#include "test.h"

static double worst_grad, worst_out;

/* max |a - b| / max |b| over n values */
static double scaled_diff(const float *a, const float *b, size_t n) {
    double mb = 0, md = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs((double)b[i]) > mb) mb = fabs((double)b[i]);
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > md || isnan(d)) md = d;
    }
    return mb > 0 ? md / mb : md;
}

/* Of the reg and logits outputs together. */
static double out_diff(const model *a, const model *ref, int B) {
    return fmax(scaled_diff(a->reg, ref->reg, (size_t)B),
                scaled_diff(a->logits, ref->logits, (size_t)B * AGE_CLASSES));
}

/* Largest over the tensors of one kind: gradients of parameters, or buffers. */
static double tensors_diff(const model *a, const model *ref, tensor_kind kind) {
    double worst = 0;
    for (size_t i = 0; i < ref->n_tensors; i++) {
        const model_tensor *t = &ref->tensors[i];
        if (t->kind != kind) continue;
        const float *x = kind == TENSOR_PARAM ? a->grads : a->buffers;
        const float *y = kind == TENSOR_PARAM ? ref->grads : ref->buffers;
        worst = fmax(worst, scaled_diff(x + t->offset, y + t->offset, t->numel));
    }
    return worst;
}

static void check_scaled(const char *what, double d, double tol, double *worst) {
    if (d > *worst || isnan(d)) *worst = d;
    test_checks++;
    if (!(d <= tol)) {
        test_failures++;
        fprintf(stderr, "%s: scaled difference %.3g > %.1g\n", what, d, tol);
    }
}

static void check_close(const char *what, const float *got, const float *want, size_t n, double tol,
                        double *worst) {
    check_scaled(what, scaled_diff(got, want, n), tol, worst);
}

static void random_input(float *x, size_t n, uint64_t seed) {
    rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_normal(&r);
}

static model *make(const model_config *c, const backend *be, int batch) {
    model *m = NULL;
    CHECK_OK(model_create(&m, c, be));
    if (!m) exit(test_summary("test_dnnl"));
    CHECK_OK(model_reserve(m, batch));
    return m;
}

static void compare_models(const char *name, const model *a, const model *ref, double tol) {
    for (size_t i = 0; i < ref->n_tensors; i++) {
        const model_tensor *t = &ref->tensors[i];
        char what[256];
        if (t->kind == TENSOR_PARAM) {
            snprintf(what, sizeof what, "%s grad %s", name, t->name);
            check_close(what, a->grads + t->offset, ref->grads + t->offset, t->numel, tol,
                        &worst_grad);
        } else if (t->kind == TENSOR_BUFFER) {
            snprintf(what, sizeof what, "%s %s", name, t->name);
            check_close(what, a->buffers + t->offset, ref->buffers + t->offset, t->numel, tol,
                        &worst_out);
        } else {
            CHECK_INT_EQ(a->counters[t->offset], ref->counters[t->offset]);
        }
    }
}

static void outputs_close(const char *name, const model *a, const model *ref, int B, double tol) {
    char what[256];
    snprintf(what, sizeof what, "%.200s outputs", name);
    check_scaled(what, out_diff(a, ref, B), tol, &worst_out);
}

static void train_forward_backward(model *m, const float *x, const float *age, int B) {
    memset(m->grads, 0, m->n_params * sizeof(float));
    CHECK_OK(model_forward(m, x, B, 1));
    age_loss_forward_backward(m->dreg, m->dlogits, m->probs, m->expected, m->labels, m->dexpected,
                              m->reg, m->logits, age, (size_t)B);
    CHECK_OK(model_backward(m, m->dreg, m->dlogits));
}

/* The tiny networks the backends are compared on. */
static model_config network_config(resnet_arch arch, head_kind head, float width, int input) {
    model_config c = model_default_config();
    c.arch = arch;
    c.head = head;
    c.width = width;
    c.input = input;
    c.hidden = 16;
    c.seed = 7;
    return c;
}

static void test_network(resnet_arch arch, head_kind head, float width, int input) {
    const backend *dnnl;
    CHECK_OK(backend_dnnl(&dnnl, PRECISION_FP32));
    model_config c = network_config(arch, head, width, input);
    enum { B = 4 };
    model *ref = make(&c, NULL, B), *d = make(&c, dnnl, B), *probe = make(&c, NULL, B);
    char name[96];
    snprintf(name, sizeof name, "%s/%s", resnet_arch_name(arch), head_kind_name(head));
    size_t n_in = (size_t)B * 3 * input * input;
    float *x = malloc(n_in * sizeof *x), *x2 = malloc(n_in * sizeof *x2), age[B] = {3, 25, 47, 90};
    random_input(x, n_in, 11);
    random_input(x2, n_in, 12);
    for (size_t i = 0; i < n_in; i++) x2[i] = x[i] * (1.0f + 1e-6f * x2[i]);

    /* A training forward and backward from the same start. The gradient tolerance is 1e-4 of
     * each tensor's largest value, or three times the spread of ref's own gradients when its
     * input moves by 1e-6 (relative), whichever is larger: a torchvision-initialised
     * ResNet-50 (no zero-initialised last BatchNorm) amplifies fp32 rounding in its backward
     * pass by up to 1e5 at these sizes, so two correct fp32 implementations differ there. */
    train_forward_backward(ref, x, age, B);
    train_forward_backward(d, x, age, B);
    train_forward_backward(probe, x2, age, B);
    double sensitivity = tensors_diff(probe, ref, TENSOR_PARAM), tol = fmax(1e-4, 3 * sensitivity);
    fprintf(stderr, "%s: ref's gradients move %.3g under a 1e-6 input change; dnnl vs ref %.3g\n",
            name, sensitivity, tensors_diff(d, ref, TENSOR_PARAM));
    outputs_close(name, d, ref, B, 1e-4);
    compare_models(name, d, ref, tol);

    /* Inference (folded BatchNorm) at two batch sizes, against ref's evaluation mode. */
    for (int b = 1; b <= B; b += B - 1) {
        CHECK_OK(model_forward(ref, x, b, 0));
        CHECK_OK(model_forward(d, x, b, 0));
        outputs_close(name, d, ref, b, 1e-4);
    }
    CHECK_FAILS(model_backward(d, d->dreg, d->dlogits), RELAGE_ERR_UNSUPPORTED);

    /* Three RMSprop steps on the dnnl model; the folded weights must follow the new parameters
     * and running statistics (checked against ref given the same values). */
    optimizer *opt = NULL;
    optim_config oc = optim_default_config(OPTIM_RMSPROP);
    CHECK_OK(optimizer_create(&opt, &oc, d->n_params));
    for (int s = 0; s < 3; s++) CHECK_OK(model_train_step(d, opt, x, age, B, 1e-3f, NULL));
    memcpy(ref->params, d->params, d->n_params * sizeof(float));
    memcpy(ref->buffers, d->buffers, d->n_buffers * sizeof(float));
    CHECK_OK(model_forward(ref, x, B, 0));
    CHECK_OK(model_forward(d, x, B, 0));
    char what[256];
    snprintf(what, sizeof what, "%s after steps", name);
    outputs_close(what, d, ref, B, 1e-4);

    /* A smaller training batch gets its own plan. */
    CHECK_OK(model_forward(ref, x, 2, 1));
    CHECK_OK(model_forward(d, x, 2, 1));
    snprintf(what, sizeof what, "%s batch 2", name);
    outputs_close(what, d, ref, 2, 1e-4);
    optimizer_free(opt);
    model_free(ref);
    model_free(d);
    model_free(probe);
    free(x);
    free(x2);
}

/* After the plans exist, training steps and inference allocate nothing. */
static void test_no_allocation(void) {
    const backend *dnnl;
    CHECK_OK(backend_dnnl(&dnnl, PRECISION_FP32));
    model_config c = model_default_config();
    c.arch = RESNET18;
    c.width = 0.25f;
    c.input = 64;
    model *m = make(&c, dnnl, 2);
    optimizer *opt = NULL;
    optim_config oc = optim_default_config(OPTIM_RMSPROP);
    CHECK_OK(optimizer_create(&opt, &oc, m->n_params));
    float *x = calloc((size_t)2 * 3 * 64 * 64, sizeof(float)), age[2] = {30.0f, 40.0f};
    for (int i = 0; i < 2;
         i++) { /* the second step still makes a few hundred bytes of lazy state */
        CHECK_OK(model_train_step(m, opt, x, age, 2, 1e-4f, NULL));
        CHECK_OK(model_forward(m, x, 2, 0));
    }
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < 3; i++) {
        CHECK_OK(model_train_step(m, opt, x, age, 2, 1e-4f, NULL));
        CHECK_OK(model_forward(m, x, 2, 0));
    }
    struct mallinfo2 after = mallinfo2();
    CHECK_INT_EQ(after.uordblks, before.uordblks);
    CHECK_INT_EQ(after.hblkhd, before.hblkhd);
    free(x);
    optimizer_free(opt);
    model_free(m);
}

/* ResNet-18 at full width on 64 px: the last stage's 2x2 maps take the plain-layout backward
 * weights (oneDNN has no AVX2 kernel there); its gradients still match ref. */
static void test_plain_backward_weights(void) {
    const backend *dnnl;
    CHECK_OK(backend_dnnl(&dnnl, PRECISION_FP32));
    model_config c = model_default_config();
    c.arch = RESNET18;
    c.input = 64;
    c.seed = 3;
    enum { B = 2 };
    model *ref = make(&c, NULL, B), *d = make(&c, dnnl, B);
    size_t n = (size_t)B * 3 * 64 * 64;
    float *x = malloc(n * sizeof *x), age[B] = {10, 60};
    random_input(x, n, 21);
    train_forward_backward(ref, x, age, B);
    train_forward_backward(d, x, age, B);
    outputs_close("resnet18 w1 @64", d, ref, B, 1e-4);
    compare_models("resnet18 w1 @64", d, ref, 1e-4);
    free(x);
    model_free(ref);
    model_free(d);
}

/* Cosine of the angle between two models' whole parameter gradients. */
static double grad_cosine(const model *a, const model *b) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < a->n_params; i++) {
        ab += (double)a->grads[i] * (double)b->grads[i];
        aa += (double)a->grads[i] * (double)a->grads[i];
        bb += (double)b->grads[i] * (double)b->grads[i];
    }
    return ab / sqrt(aa * bb);
}

/* Moves every value by a random relative amount of up to bf16's unit roundoff, 2^-8. */
static void perturb(float *v, size_t n, uint64_t seed) {
    rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        v[i] *= 1.0f + 0x1p-8f * (float)(2.0 * rng_uniform(&r) - 1.0);
}

/* The convolution weights (4-D parameters): what the bf16 trunk rounds; BatchNorm and the head
 * stay fp32. */
static void perturb_convolutions(model *m, uint64_t seed) {
    for (size_t i = 0; i < m->n_tensors; i++) {
        const model_tensor *t = &m->tensors[i];
        if (t->kind == TENSOR_PARAM && t->ndim == 4)
            perturb(m->params + t->offset, t->numel, seed + i);
    }
}

typedef struct spread {
    double out, stats, grad; /* scaled output and running-statistic differences, 1 - cosine */
} spread;

static spread train_spread(const model *a, const model *ref, int B) {
    spread s = {out_diff(a, ref, B), tensors_diff(a, ref, TENSOR_BUFFER), 1 - grad_cosine(a, ref)};
    return s;
}

/* Above fp32's differences (1e-4: bf16 really ran) and within 4x the probe's (bf16 also rounds
 * every activation), or the floor, and never above the cap. */
static void check_within(const char *what, double got, double probe, double floor, double cap) {
    double tol = fmin(cap, fmax(floor, 4 * probe));
    test_checks++;
    if (!(got > 1e-4 && got <= tol)) {
        test_failures++;
        fprintf(stderr, "%s: %.3g not in (1e-4, %.3g] (4x the probe's %.3g, floor %.3g, cap %.3g)\n",
                what, got, tol, probe, floor, cap);
    }
}

static void test_network_bf16(const backend *bf16, resnet_arch arch, head_kind head, float width,
                              int input, int training) {
    model_config c = network_config(arch, head, width, input);
    enum { B = 4 };
    model *ref = make(&c, NULL, B), *d = make(&c, bf16, B), *probe = make(&c, NULL, B);
    char name[96], what[160];
    snprintf(name, sizeof name, "bf16 %s/%s @%d", resnet_arch_name(arch), head_kind_name(head),
             input);
    size_t n_in = (size_t)B * 3 * input * input;
    float *x = malloc(n_in * sizeof *x), *xp = malloc(n_in * sizeof *xp), age[B] = {3, 25, 47, 90};
    random_input(x, n_in, 11);
    memcpy(xp, x, n_in * sizeof *x);
    perturb(xp, n_in, 12);
    perturb_convolutions(probe, 13);
    train_forward_backward(ref, x, age, B);
    train_forward_backward(d, x, age, B);
    train_forward_backward(probe, xp, age, B);
    spread sd = train_spread(d, ref, B), sp = train_spread(probe, ref, B);
    fprintf(stderr,
            "%s training: outputs %.3g (probe %.3g), running statistics %.3g (%.3g), "
            "1 - gradient cosine %.3g (%.3g)\n",
            name, sd.out, sp.out, sd.stats, sp.stats, sd.grad, sp.grad);
    CHECK(isfinite(sd.out) && isfinite(sd.stats) && isfinite(sd.grad));
    if (training) {
        snprintf(what, sizeof what, "%s training outputs", name);
        check_within(what, sd.out, sp.out, 2e-2, 0.1);
        snprintf(what, sizeof what, "%s running statistics", name);
        check_within(what, sd.stats, sp.stats, 1e-2, 0.1);
        snprintf(what, sizeof what, "%s 1 - gradient cosine", name);
        check_within(what, sd.grad, sp.grad, 1e-2, 0.2);
    }
    for (size_t i = 0; i < ref->n_tensors; i++)
        if (ref->tensors[i].kind == TENSOR_COUNTER)
            CHECK_INT_EQ(d->counters[ref->tensors[i].offset], ref->counters[ref->tensors[i].offset]);
    for (int b = 1; b <= B; b += B - 1) { /* inference, folded, at two batch sizes */
        CHECK_OK(model_forward(ref, x, b, 0));
        CHECK_OK(model_forward(d, x, b, 0));
        CHECK_OK(model_forward(probe, xp, b, 0));
        double od = out_diff(d, ref, b), op = out_diff(probe, ref, b);
        fprintf(stderr, "%s inference batch %d: outputs %.3g (probe %.3g)\n", name, b, od, op);
        snprintf(what, sizeof what, "%s inference batch %d", name, b);
        check_within(what, od, op, 2e-2, 0.1);
        worst_out = fmax(worst_out, od);
    }
    model_free(ref);
    model_free(d);
    model_free(probe);
    free(x);
    free(xp);
}

/* 200 RMSprop steps of a tiny ResNet-18 on one fixed batch, fp32 and bf16 from the same start;
 * prints both curves (means over windows of 20 steps). */
static void test_bf16_loss_curve(const backend *fp32, const backend *bf16) {
    model_config c = model_default_config();
    c.arch = RESNET18;
    c.width = 0.25f;
    c.input = 64;
    c.seed = 5;
    enum { B = 8, STEPS = 200, WINDOW = 20 };
    model *mf = make(&c, fp32, B), *mb = make(&c, bf16, B);
    optimizer *of = NULL, *ob = NULL;
    optim_config oc = optim_default_config(OPTIM_RMSPROP);
    CHECK_OK(optimizer_create(&of, &oc, mf->n_params));
    CHECK_OK(optimizer_create(&ob, &oc, mb->n_params));
    size_t n = (size_t)B * 3 * 64 * 64;
    float *x = malloc(n * sizeof *x), age[B] = {4, 12, 19, 27, 38, 51, 66, 80};
    random_input(x, n, 31);
    double wf[STEPS / WINDOW] = {0}, wb[STEPS / WINDOW] = {0};
    for (int s = 0; s < STEPS; s++) {
        age_loss lf, lb;
        CHECK_OK(model_train_step(mf, of, x, age, B, 1e-3f, &lf));
        CHECK_OK(model_train_step(mb, ob, x, age, B, 1e-3f, &lb));
        wf[s / WINDOW] += lf.total / WINDOW;
        wb[s / WINDOW] += lb.total / WINDOW;
    }
    fprintf(stderr, "bf16 loss curve (window means, fp32 / bf16):");
    for (int w = 0; w < STEPS / WINDOW; w++) {
        fprintf(stderr, " %.1f/%.1f", wf[w], wb[w]);
        double tol = fmax(0.1 * wf[w], 0.01 * wf[0]);
        test_checks++;
        if (!(fabs(wb[w] - wf[w]) <= tol)) {
            test_failures++;
            fprintf(stderr, " (window %d off by more than %.3g)", w + 1, tol);
        }
    }
    fprintf(stderr, "\n");
    CHECK(wf[STEPS / WINDOW - 1] < 0.5 * wf[0] && wb[STEPS / WINDOW - 1] < 0.5 * wb[0]);
    optimizer_free(of);
    optimizer_free(ob);
    model_free(mf);
    model_free(mb);
    free(x);
}

static void test_bf16(void) {
    const backend *fp32, *bf16;
    CHECK_OK(backend_dnnl(&fp32, PRECISION_FP32));
    if (backend_dnnl(&bf16, PRECISION_BF16) != RELAGE_OK) {
        fprintf(stderr, "bf16 not tested: %s\n", relage_last_error());
        return;
    }
    for (int h = 0; h < 3; h++) {
        test_network_bf16(bf16, RESNET18, (head_kind)h, 0.25f, 128, 1);
        test_network_bf16(bf16, RESNET50, (head_kind)h, 0.25f, 128, 0);
    }
    test_bf16_loss_curve(fp32, bf16);
}

static void test_select(void) {
    const backend *be;
    CHECK_OK(backend_select("ref", "fp32", &be));
    CHECK(be && strcmp(be->name, "ref") == 0);
    CHECK_OK(backend_select("dnnl", "fp32", &be));
    CHECK(be && strcmp(be->name, "dnnl") == 0);
    CHECK_FAILS(backend_select("cuda", "fp32", &be), RELAGE_ERR_INVALID_ARG);
    CHECK_FAILS(backend_select("dnnl", "fp16", &be), RELAGE_ERR_INVALID_ARG);
    CHECK_FAILS(backend_select("ref", "bf16", &be), RELAGE_ERR_UNSUPPORTED);
    /* bf16 where the CPU itself says it has AVX512-BF16 (every AMX CPU has it too) */
    relage_status st = backend_select("dnnl", "bf16", &be);
    if (__builtin_cpu_supports("avx512bf16")) {
        CHECK_INT_EQ(st, RELAGE_OK);
        CHECK(be && strcmp(be->name, "dnnl") == 0 && be->precision == PRECISION_BF16);
    } else {
        CHECK_INT_EQ(st, RELAGE_ERR_UNSUPPORTED);
        CHECK(strstr(relage_last_error(), "precision bf16 needs AVX512-BF16 or AMX, and this CPU "
                                          "offers ") != NULL);
        fprintf(stderr, "bf16 refusal: %s\n", relage_last_error());
    }
}

int main(void) {
    test_select();
    test_no_allocation();
    test_plain_backward_weights();
    for (int h = 0; h < 3; h++) {
        test_network(RESNET18, (head_kind)h, 1.0f / 16, 64);
        test_network(RESNET50, (head_kind)h, 1.0f / 16, 96);
    }
    fprintf(stderr, "largest scaled difference dnnl vs ref: gradients %.3g, outputs %.3g\n",
            worst_grad, worst_out);
    worst_out = 0;
    test_bf16();
    fprintf(stderr, "bf16: largest scaled output difference %.3g\n", worst_out);
    return test_summary("test_dnnl");
}
