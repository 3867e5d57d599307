/* Whole tiny networks against PyTorch (tests/fixtures/model_<arch>_<head>.safetensors): the
 * outputs, the loss, every parameter gradient and the BatchNorm running statistics after one
 * training forward, then the parameters after 3 steps of RMSprop and of AdamW. Also: the tensor
 * table at width 1 equals torchvision's state_dict names and shapes, and the literal and fast
 * rn paths agree at 7x7 and 4x4.
 *
 * Tolerances. The fixtures are float64 PyTorch runs from the same float32 start; our float32
 * run differs by rounding that the network amplifies. Outputs and loss: relative 1e-4. Gradients
 * and optimiser results are compared per tensor against the tensor's largest magnitude:
 * max |got - want| <= tol * max |want|, with tol 1e-3 for ResNet-18 and 2e-2 for ResNet-50; the
 * generator measured float32 PyTorch itself at up to 2e-5 and 6e-3 of the tensor maximum on
 * these inputs (BatchNorm over 2 images of 2x2 cells in the last stage is ill-conditioned). */
#include <malloc.h>
#include <math.h>

#include "core/rng.h"
#include "fixture.h"
#include "io/checkpoint.h"
#include "nn/heads.h"
#include "nn/resnet.h"

/* max |got - want| <= tol * max |want| */
static int check_scaled(const char *what, const float *got, const float *want, size_t n,
                        double tol) {
    double max_want = 0, max_diff = 0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs((double)want[i]) > max_want) max_want = fabs((double)want[i]);
        double d = fabs((double)got[i] - (double)want[i]);
        if (d > max_diff || isnan(d)) max_diff = d, worst = i;
    }
    test_checks++;
    if (!(max_diff <= tol * max_want + 1e-12)) {
        test_failures++;
        fprintf(stderr, "%s: max |diff| %.3g at [%zu] (got %.9g want %.9g) > %.1g * max %.3g\n",
                what, max_diff, worst, (double)got[worst], (double)want[worst], tol, max_want);
        return 0;
    }
    return 1;
}

/* After optimiser steps: RMSprop's and AdamW's first updates move a weight by about 10*lr and
 * lr whatever its gradient's size, so a gradient that is zero up to rounding gets its sign,
 * and the weight its direction, from rounding; BatchNorm over few values then amplifies the
 * change. The update rules themselves are checked tightly on a flat vector (test_optim). Here,
 * all elements of all tensors together: at least `fraction` within tol of their tensor's
 * maximum. */
static size_t mostly_total, mostly_close;

static void count_close(const float *got, const float *want, size_t n, double tol) {
    double max_want = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)want[i]) > max_want) max_want = fabs((double)want[i]);
    for (size_t i = 0; i < n; i++) {
        mostly_total++;
        if (fabs((double)got[i] - (double)want[i]) <= tol * max_want + 1e-12) mostly_close++;
    }
}

static void check_tensors(const safetensors_file *f, const model *m, const char *prefix,
                          tensor_kind kind, const float *base, double tol, int mostly) {
    for (size_t i = 0; i < m->n_tensors; i++) {
        const model_tensor *t = &m->tensors[i];
        if (t->kind != kind) continue;
        char name[160];
        snprintf(name, sizeof name, "%s.%s", prefix, t->name);
        float *want = fixture_get(f, NULL, "%s", name);
        if (mostly)
            count_close(base + t->offset, want, t->numel, tol);
        else
            check_scaled(name, base + t->offset, want, t->numel, tol);
        free(want);
    }
}

static model *load_model(const safetensors_file *f, const model_config *c) {
    model *m = NULL;
    CHECK_OK(model_create(&m, c, NULL));
    if (!m) exit(test_summary("test_resnet"));
    checkpoint_report r;
    CHECK_OK(checkpoint_load_from(m, f, "param.", 1, &r));
    CHECK_OK(model_reserve(m, 2));
    return m;
}

static void test_model(resnet_arch arch, head_kind head, float width, double tol) {
    char file[96];
    snprintf(file, sizeof file, "model_%s_%s.safetensors", resnet_arch_name(arch),
             head_kind_name(head));
    safetensors_file *f = fixture_open(file);
    model_config c = model_default_config();
    c.arch = arch, c.head = head, c.width = width, c.input = 64, c.hidden = 16;
    c.rn_literal = head == HEAD_RN; /* the fixture ran the literal pairs */
    model *m = load_model(f, &c);
    float *input = fixture_get(f, NULL, "input"), *age = fixture_get(f, NULL, "age");
    optimizer *opt = NULL;
    optim_config oc = optim_default_config(OPTIM_RMSPROP);
    CHECK_OK(optimizer_create(&opt, &oc, m->n_params)); /* lr 0: a step that changes nothing */
    age_loss l = {0};
    CHECK_OK(model_train_step(m, opt, input, age, 2, 0.0f, &l));
    optimizer_free(opt);
    char what[160];
    double out_tol = tol / 10; /* outputs pass through one fewer amplification than grads */
    float total = (float)l.total;
    const struct {
        const char *name;
        const float *got;
        size_t n;
    } outputs[4] = {{"reg", m->reg, 2},
                    {"logits", m->logits, 2 * AGE_CLASSES},
                    {"expected", m->expected, 2},
                    {"loss", &total, 1}};
    for (int i = 0; i < 4; i++) {
        float *want = fixture_get(f, NULL, "%s", outputs[i].name);
        snprintf(what, sizeof what, "%s %s", file, outputs[i].name);
        check_scaled(what, outputs[i].got, want, outputs[i].n, out_tol);
        free(want);
    }
    check_tensors(f, m, "grad", TENSOR_PARAM, m->grads, tol, 0);
    check_tensors(f, m, "state", TENSOR_BUFFER, m->buffers, out_tol, 0);
    for (size_t i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].kind == TENSOR_COUNTER)
            CHECK_INT_EQ(m->counters[m->tensors[i].offset], 1);
    model_free(m);

    static const char *const names[2] = {"rmsprop", "adamw"};
    for (int k = 0; k < (head == HEAD_BASE ? 2 : 0); k++) { /* the fixtures hold them for base */
        m = load_model(f, &c);
        optim_config o = optim_default_config(k == 0 ? OPTIM_RMSPROP : OPTIM_ADAMW);
        o.lr = 1e-4f; /* the paper's, as in the fixture */
        if (k == 0) o.momentum = 0.9f, o.weight_decay = 1e-4f;
        CHECK_OK(optimizer_create(&opt, &o, m->n_params));
        for (int step = 0; step < 3; step++)
            CHECK_OK(model_train_step(m, opt, input, age, 2, o.lr, NULL));
        mostly_total = mostly_close = 0;
        check_tensors(f, m, names[k], TENSOR_PARAM, m->params, tol, 1);
        snprintf(what, sizeof what, "%s_state", names[k]);
        check_tensors(f, m, what, TENSOR_BUFFER, m->buffers, tol, 1);
        double fraction = (double)mostly_close / (double)mostly_total;
        printf("%s after 3 %s steps: %.4f%% of %zu values within %g of their tensor's max\n", file,
               names[k], 100.0 * fraction, mostly_total, tol);
        CHECK(fraction >= 0.99);
        optimizer_free(opt);
        model_free(m);
    }
    printf("%s: checked\n", file);
    free(input), free(age);
    safetensors_close(f);
}

/* Every name and shape of torchvision's resnet18/34/50 state_dict (minus fc.*), in order. */
static void test_torchvision_names(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/torchvision_names.txt", RELAGE_FIXTURES);
    FILE *fp = fopen(path, "r");
    CHECK(fp != NULL);
    if (!fp) return;
    model *m = NULL;
    char arch_name[32] = "", name[128], shape[64], line[256];
    size_t at = 0;
    while (fgets(line, sizeof line, fp)) {
        char a[32];
        if (sscanf(line, "%31s %127s %63s", a, name, shape) != 3) continue;
        if (strcmp(a, arch_name) != 0) {
            if (m) CHECK_INT_EQ(at, m->n_tensors - 4); /* + fc_reg, fc_cls */
            model_free(m);
            m = NULL;
            snprintf(arch_name, sizeof arch_name, "%s", a);
            model_config c = model_default_config();
            CHECK_OK(resnet_arch_parse(a, &c.arch));
            c.input = 32;
            CHECK_OK(model_create(&m, &c, NULL));
            if (!m) break;
            at = 0;
        }
        const model_tensor *t = &m->tensors[at++];
        char ours[64] = "";
        for (int d = 0; d < t->ndim; d++)
            snprintf(ours + strlen(ours), sizeof ours - strlen(ours), "%s%lld", d ? "x" : "",
                     (long long)t->shape[d]);
        if (t->ndim == 0) snprintf(ours, sizeof ours, "scalar");
        test_checks++;
        if (strcmp(t->name, name) != 0 || strcmp(ours, shape) != 0) {
            test_failures++;
            fprintf(stderr, "%s tensor %zu: ours %s %s, torchvision %s %s\n", a, at - 1, t->name,
                    ours, name, shape);
        }
    }
    if (m) CHECK_INT_EQ(at, m->n_tensors - 4);
    model_free(m);
    fclose(fp);
}

/* The literal pairwise rn and the fast [GAP; GAP] agree on the outputs and every gradient. */
static void test_rn_paths(int input) {
    model_config c = model_default_config();
    c.arch = RESNET18, c.head = HEAD_RN, c.width = 1.0f / 16, c.input = input, c.seed = 7;
    model *fast = NULL, *literal = NULL;
    CHECK_OK(model_create(&fast, &c, NULL));
    c.rn_literal = 1;
    CHECK_OK(model_create(&literal, &c, NULL));
    if (!fast || !literal) return;
    CHECK_OK(model_reserve(fast, 2));
    CHECK_OK(model_reserve(literal, 2));
    size_t n = (size_t)2 * 3 * input * input;
    float *x = malloc(n * sizeof(float)), age[2] = {12.5f, 70.0f};
    rng r;
    rng_seed(&r, 1);
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_normal(&r);
    optimizer *opt = NULL;
    optim_config oc = optim_default_config(OPTIM_RMSPROP);
    CHECK_OK(optimizer_create(&opt, &oc, fast->n_params));
    age_loss lf = {0}, ll = {0};
    CHECK_OK(model_train_step(fast, opt, x, age, 2, 0.0f, &lf));
    CHECK_OK(model_train_step(literal, opt, x, age, 2, 0.0f, &ll));
    CHECK_NEAR(lf.total, ll.total, 1e-5 * fabs(lf.total));
    CHECK_ALLCLOSE("rn z", literal->z, fast->z, (size_t)2 * literal->head_dim, 1e-5, 1e-7);
    CHECK_ALLCLOSE("rn logits", literal->logits, fast->logits, 2 * AGE_CLASSES, 1e-5, 1e-7);
    /* The head's own gradients agree to 1e-5; the backbone's receive dfeat that differs in the
     * last bit (a sum of N*N pair terms against one division) and BatchNorm over two images
     * amplifies that, so they are compared against each tensor's maximum. */
    for (size_t i = 0; i < fast->n_tensors; i++) {
        const model_tensor *t = &fast->tensors[i];
        if (t->kind != TENSOR_PARAM) continue;
        int head = strncmp(t->name, "fc_", 3) == 0;
        if (head)
            CHECK_ALLCLOSE(t->name, literal->grads + t->offset, fast->grads + t->offset, t->numel,
                           1e-5, 1e-8);
        else
            check_scaled(t->name, literal->grads + t->offset, fast->grads + t->offset, t->numel,
                         1e-4);
    }
    printf("rn literal == fast at %dx%d cells: loss %.6f vs %.6f\n", input / 32, input / 32,
           ll.total, lf.total);
    optimizer_free(opt);
    free(x);
    model_free(fast);
    model_free(literal);
}

/* The two rn paths on their own, at ResNet-50's width: z and dfeat to relative 1e-5. */
static void test_rn_head_paths(int side) {
    enum { B = 2, C = 2048 };
    int N = side * side;
    size_t nf = (size_t)B * C * N;
    float *feat = malloc(nf * sizeof(float)), *dz = malloc((size_t)B * 2 * C * sizeof(float));
    float *z1 = malloc((size_t)B * 2 * C * sizeof(float)), *z2 = malloc((size_t)B * 2 * C * 4);
    float *d1 = malloc(nf * sizeof(float)), *d2 = malloc(nf * sizeof(float));
    double *scratch = malloc(rn_literal_scratch_doubles(C, N) * sizeof(double));
    rng r;
    rng_seed(&r, (uint64_t)side);
    for (size_t i = 0; i < nf; i++) feat[i] = (float)rng_normal(&r);
    for (size_t i = 0; i < (size_t)B * 2 * C; i++) dz[i] = (float)rng_normal(&r);
    rn_literal_forward(z1, feat, B, C, N, scratch);
    rn_fast_forward(z2, feat, B, C, N);
    CHECK_ALLCLOSE("rn head z", z1, z2, (size_t)B * 2 * C, 1e-5, 1e-7);
    rn_literal_backward(d1, dz, B, C, N, scratch);
    rn_fast_backward(d2, dz, B, C, N);
    CHECK_ALLCLOSE("rn head dfeat", d1, d2, nf, 1e-5, 1e-8);
    free(feat), free(dz), free(z1), free(z2), free(d1), free(d2), free(scratch);
}

/* After the first step, training steps allocate nothing: the heap in use stays the same. */
static void test_no_allocation_in_step(void) {
    model_config c = model_default_config();
    c.arch = RESNET50, c.head = HEAD_RNG, c.width = 1.0f / 32, c.input = 64, c.hidden = 16;
    model *m = NULL;
    optimizer *opt = NULL;
    optim_config oc = optim_default_config(OPTIM_ADAMW);
    CHECK_OK(model_create(&m, &c, NULL));
    CHECK_OK(model_reserve(m, 2));
    CHECK_OK(optimizer_create(&opt, &oc, m->n_params));
    float *x = calloc((size_t)2 * 3 * 64 * 64, sizeof(float)), age[2] = {30.0f, 40.0f};
    CHECK_OK(model_train_step(m, opt, x, age, 2, 1e-4f, NULL));
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < 3; i++) CHECK_OK(model_train_step(m, opt, x, age, 2, 1e-4f, NULL));
    CHECK_OK(model_reserve(m, 2)); /* same capacity: nothing to do */
    struct mallinfo2 after = mallinfo2();
    CHECK_FAILS(model_forward(m, x, 3, 0), RELAGE_ERR_INVALID_ARG); /* beyond the capacity */
    CHECK_FAILS(model_train_step(m, opt, x, age, 0, 1e-4f, NULL), RELAGE_ERR_INVALID_ARG);
    CHECK_INT_EQ(after.uordblks, before.uordblks);
    CHECK_INT_EQ(after.hblkhd, before.hblkhd);
    free(x);
    optimizer_free(opt);
    model_free(m);
}

/* Inputs that are not multiples of 32, as torchvision takes them: 112 -> 4x4 (the utk128
 * protocol), 100 -> 4x4, 224 -> 7x7; a forward pass works at each. */
static void test_input_sizes(void) {
    static const int sizes[3][2] = {{112, 4}, {100, 4}, {224, 7}};
    for (int i = 0; i < 3; i++) {
        model_config c = model_default_config();
        c.arch = RESNET18, c.head = HEAD_RNG, c.width = 1.0f / 16, c.hidden = 8;
        c.input = sizes[i][0];
        model *m = NULL;
        CHECK_OK(model_create(&m, &c, NULL));
        if (!m) continue;
        CHECK_INT_EQ(m->feat_h, sizes[i][1]);
        CHECK_OK(model_reserve(m, 1));
        float *x = calloc((size_t)3 * c.input * c.input, sizeof(float));
        CHECK_OK(model_forward(m, x, 1, 0));
        CHECK(isfinite(m->logits[0]));
        free(x);
        model_free(m);
    }
    model_config bad = model_default_config();
    bad.input = 16;
    model *m = NULL;
    CHECK_FAILS(model_create(&m, &bad, NULL), RELAGE_ERR_INVALID_ARG);
}

int main(void) {
    test_input_sizes();
    test_no_allocation_in_step();
    test_torchvision_names();
    test_rn_head_paths(7);
    test_rn_head_paths(4);
    test_rn_paths(224);
    test_rn_paths(128);
    for (int h = 0; h < 3; h++) {
        test_model(RESNET18, (head_kind)h, 1.0f / 16, 1e-3);
        test_model(RESNET50, (head_kind)h, 1.0f / 32, 2e-2);
    }
    return test_summary("test_resnet");
}
