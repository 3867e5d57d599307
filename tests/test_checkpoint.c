/* Checkpoints: a bit-exact round trip with metadata; loading a torchvision-style state_dict as a
 * backbone (fc.* unexpected, heads missing, both reported); strict loads; and crafted bad files
 * (shape mismatch, wrong dtype, truncated, bad header, absurd sizes), each a clear error naming
 * the tensor or file, with the model left unchanged. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "test.h"

static char dir[] = "/tmp/relage-test-checkpoint-XXXXXX";

static const char *temp_path(const char *name) {
    static char path[4][256];
    static int at;
    at = (at + 1) % 4;
    snprintf(path[at], sizeof path[at], "%s/%s", dir, name);
    return path[at];
}

static model *tiny(head_kind head) {
    model_config c = model_default_config();
    c.arch = RESNET18, c.head = head, c.width = 1.0f / 16, c.input = 64, c.hidden = 8, c.seed = 3;
    model *m = NULL;
    CHECK_OK(model_create(&m, &c, NULL));
    if (!m) exit(test_summary("test_checkpoint"));
    return m;
}

/* Moves every parameter and statistic away from its initial value. */
static void perturb(model *m) {
    rng r;
    rng_seed(&r, 11);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] += (float)(0.01 * rng_normal(&r));
    for (size_t i = 0; i < m->n_buffers; i++) m->buffers[i] += (float)(0.1 * rng_uniform(&r));
    for (size_t i = 0; i < m->n_counters; i++) m->counters[i] = (int64_t)i + 5;
}

static int same_model(const model *a, const model *b) {
    return a->n_params == b->n_params &&
           memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0 &&
           memcmp(a->buffers, b->buffers, a->n_buffers * sizeof(float)) == 0 &&
           memcmp(a->counters, b->counters, a->n_counters * sizeof(int64_t)) == 0;
}

static void test_round_trip(void) {
    model *a = tiny(HEAD_RNG);
    perturb(a);
    snprintf(a->crop, sizeof a->crop, "mtcnn largest margin=0 square=0 size=128");
    const char *path = temp_path("round.safetensors");
    CHECK_OK(checkpoint_save(a, path));
    model_config c;
    CHECK_OK(checkpoint_read_config(path, &c));
    CHECK_INT_EQ(c.arch, RESNET18);
    CHECK_INT_EQ(c.head, HEAD_RNG);
    CHECK_INT_EQ(c.input, 64);
    CHECK_INT_EQ(c.hidden, 8);
    CHECK(c.width == 1.0f / 16);
    model *b = NULL;
    CHECK_OK(model_create(&b, &c, NULL));
    checkpoint_report r;
    CHECK_OK(checkpoint_load(b, path, 1, &r));
    CHECK_INT_EQ(r.loaded, a->n_tensors);
    CHECK(same_model(a, b));
    CHECK(strcmp(b->crop, a->crop) == 0);
    safetensors_file *f = NULL;
    CHECK_OK(safetensors_open(&f, path));
    const char *version = f ? safetensors_metadata(f, "relage_version") : NULL;
    CHECK(version && strcmp(version, RELAGE_VERSION) == 0);
    const char *mean = f ? safetensors_metadata(f, "mean") : NULL;
    CHECK(mean && strcmp(mean, "0.485,0.456,0.406") == 0);
    const safetensors_tensor *t = f ? safetensors_find(f, "layer1.0.bn1.num_batches_tracked") : 0;
    CHECK(t && t->dtype == SAFETENSORS_I64 && t->ndim == 0);
    safetensors_close(f);
    model_free(a);
    model_free(b);
}

/* Writes the backbone of m plus a torchvision classifier fc (1000 classes), as a torchvision
 * state_dict saved with safetensors would look. */
static void write_torchvision_like(const model *m, const char *path) {
    safetensors_writer *w = safetensors_writer_new();
    for (size_t i = 0; i < m->n_tensors; i++) {
        const model_tensor *t = &m->tensors[i];
        if (strncmp(t->name, "layer", 5) != 0 && strncmp(t->name, "conv1", 5) != 0 &&
            strncmp(t->name, "bn1", 3) != 0)
            continue;
        if (t->kind == TENSOR_COUNTER)
            CHECK_OK(safetensors_writer_add(w, t->name, SAFETENSORS_I64, 0, t->shape,
                                            &m->counters[t->offset]));
        else
            CHECK_OK(safetensors_writer_add(w, t->name, SAFETENSORS_F32, t->ndim, t->shape,
                                            model_tensor_data(m, t)));
    }
    int64_t fc_w[2] = {1000, m->feat_c}, fc_b[1] = {1000};
    float *zeros = calloc(1000 * (size_t)m->feat_c, sizeof(float));
    CHECK_OK(safetensors_writer_add(w, "fc.weight", SAFETENSORS_F32, 2, fc_w, zeros));
    CHECK_OK(safetensors_writer_add(w, "fc.bias", SAFETENSORS_F32, 1, fc_b, zeros));
    CHECK_OK(safetensors_writer_save(w, path));
    safetensors_writer_free(w);
    free(zeros);
}

static void test_backbone_from_torchvision(void) {
    model *src = tiny(HEAD_BASE), *dst = tiny(HEAD_RN);
    perturb(src);
    const char *path = temp_path("torchvision.safetensors");
    write_torchvision_like(src, path);
    checkpoint_report r;
    CHECK_FAILS(checkpoint_load(dst, path, 1, &r), RELAGE_ERR_MISMATCH); /* strict */
    CHECK(strstr(relage_last_error(), "fc.weight") != NULL);
    CHECK_OK(checkpoint_load(dst, path, 0, &r));
    CHECK_INT_EQ(r.missing, 4); /* fc_reg and fc_cls, weight and bias */
    CHECK_INT_EQ(r.unexpected, 2);
    CHECK(strstr(r.unexpected_names, "fc.weight") && strstr(r.unexpected_names, "fc.bias"));
    CHECK(strstr(r.missing_names, "fc_reg.weight") && strstr(r.missing_names, "fc_cls.bias"));
    const model_tensor *t = model_find_tensor(dst, "layer4.1.conv2.weight");
    CHECK(memcmp(model_tensor_data(dst, t), src->params + t->offset, t->numel * 4) == 0);
    model_free(src);
    model_free(dst);
}

/* Each bad file must fail with the expected status, mention `needle`, and leave m as it was. */
static void expect_rejected(model *m, const char *path, relage_status status, const char *needle) {
    model *before = tiny(HEAD_BASE);
    memcpy(before->params, m->params, m->n_params * sizeof(float));
    memcpy(before->buffers, m->buffers, m->n_buffers * sizeof(float));
    memcpy(before->counters, m->counters, m->n_counters * sizeof(int64_t));
    CHECK_FAILS(checkpoint_load(m, path, 0, NULL), status);
    if (!strstr(relage_last_error(), needle)) {
        test_failures++;
        fprintf(stderr, "error text '%s' does not mention '%s'\n", relage_last_error(), needle);
    }
    CHECK(same_model(m, before));
    model_free(before);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (!fp) return;
    fwrite(data, 1, n, fp);
    fclose(fp);
}

static void test_bad_files(void) {
    model *m = tiny(HEAD_BASE), *other = tiny(HEAD_BASE);
    perturb(other);

    /* A shape mismatch: the same names from a wider network. */
    model_config wide = model_default_config();
    wide.arch = RESNET18, wide.width = 1.0f / 8, wide.input = 64;
    model *w = NULL;
    CHECK_OK(model_create(&w, &wide, NULL));
    const char *path = temp_path("wide.safetensors");
    CHECK_OK(checkpoint_save(w, path));
    expect_rejected(m, path, RELAGE_ERR_MISMATCH, "conv1.weight");
    model_free(w);

    /* Wrong dtypes: a counter stored as F32, a weight stored as I64. */
    int64_t scalar_shape[1] = {0}, bias_shape[1] = {1};
    float one = 1.0f;
    int64_t big = 7;
    safetensors_writer *sw = safetensors_writer_new();
    CHECK_OK(safetensors_writer_add(sw, "bn1.num_batches_tracked", SAFETENSORS_F32, 0, scalar_shape,
                                    &one));
    path = temp_path("dtype1.safetensors");
    CHECK_OK(safetensors_writer_save(sw, path));
    safetensors_writer_free(sw);
    expect_rejected(m, path, RELAGE_ERR_MISMATCH, "bn1.num_batches_tracked");
    sw = safetensors_writer_new();
    CHECK_OK(safetensors_writer_add(sw, "fc_reg.bias", SAFETENSORS_I64, 1, bias_shape, &big));
    path = temp_path("dtype2.safetensors");
    CHECK_OK(safetensors_writer_save(sw, path));
    safetensors_writer_free(sw);
    expect_rejected(m, path, RELAGE_ERR_MISMATCH, "fc_reg.bias");

    /* A good checkpoint cut short: the data section ends early. */
    path = temp_path("good.safetensors");
    CHECK_OK(checkpoint_save(other, path));
    FILE *fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    rewind(fp);
    char *bytes = malloc((size_t)size);
    CHECK_INT_EQ(fread(bytes, 1, (size_t)size, fp), size);
    fclose(fp);
    const char *cut = temp_path("truncated.safetensors");
    write_bytes(cut, bytes, (size_t)size - 100);
    expect_rejected(m, cut, RELAGE_ERR_FORMAT, "truncated.safetensors");
    /* Its header cut in the middle. */
    write_bytes(cut, bytes, 40);
    expect_rejected(m, cut, RELAGE_ERR_FORMAT, "truncated.safetensors");
    /* A header that is not JSON. */
    memcpy(bytes + 8, "{{{{", 4);
    const char *bad = temp_path("badheader.safetensors");
    write_bytes(bad, bytes, (size_t)size);
    expect_rejected(m, bad, RELAGE_ERR_FORMAT, "badheader.safetensors");
    free(bytes);
    /* Absurd sizes: a header length of 2^62, and a tensor of 10^15 x 10^15 elements. */
    unsigned char huge[16] = {0, 0, 0, 0, 0, 0, 0, 0x40, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    const char *absurd = temp_path("absurd.safetensors");
    write_bytes(absurd, huge, sizeof huge);
    expect_rejected(m, absurd, RELAGE_ERR_FORMAT, "absurd.safetensors");
    const char *json = "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[1000000000000000,"
                       "1000000000000000],\"data_offsets\":[0,4]}}";
    size_t len = strlen(json);
    unsigned char *file = calloc(8 + len + 4, 1);
    for (int i = 0; i < 8; i++) file[i] = (unsigned char)(len >> (8 * i));
    memcpy(file + 8, json, len);
    write_bytes(absurd, file, 8 + len + 4);
    expect_rejected(m, absurd, RELAGE_ERR_FORMAT, "conv1.weight");
    free(file);
    /* A NaN or an infinity in a weight (f32, and f16 as export writes), rejected before any
     * tensor is copied. */
    model *nan_model = tiny(HEAD_BASE);
    perturb(nan_model);
    nan_model->params[nan_model->n_params - 1] = NAN;
    path = temp_path("nan.safetensors");
    CHECK_OK(checkpoint_save(nan_model, path));
    expect_rejected(m, path, RELAGE_ERR_FORMAT, "NaN or an infinity");
    nan_model->params[nan_model->n_params - 1] = 0;
    nan_model->params[0] = INFINITY;
    path = temp_path("inf16.safetensors");
    CHECK_OK(checkpoint_save_as(nan_model, path, SAFETENSORS_F16));
    expect_rejected(m, path, RELAGE_ERR_FORMAT, "NaN or an infinity");
    model_free(nan_model);
    /* Not there at all; and not a relage checkpoint. */
    expect_rejected(m, temp_path("missing.safetensors"), RELAGE_ERR_IO, "missing.safetensors");
    model_config c;
    CHECK_FAILS(checkpoint_read_config(temp_path("dtype1.safetensors"), &c), RELAGE_ERR_FORMAT);
    /* A save into a folder that does not exist fails and creates nothing. */
    CHECK_FAILS(checkpoint_save(m, "/nonexistent-relage-dir/x.safetensors"), RELAGE_ERR_IO);
    model_free(m);
    model_free(other);
}

/* checkpoint_save_as: weights (2+ dimensions) stored as F16 read back as their rounded values,
 * the other tensors exactly; an I64 weight type is refused. */
static void test_half_weights(void) {
    model *a = tiny(HEAD_BASE);
    perturb(a);
    const char *path = temp_path("half.safetensors");
    CHECK_OK(checkpoint_save_as(a, path, SAFETENSORS_F16));
    CHECK_FAILS(checkpoint_save_as(a, temp_path("i64.safetensors"), SAFETENSORS_I64),
                RELAGE_ERR_INVALID_ARG);
    model *b = NULL;
    CHECK_OK(checkpoint_open_model(&b, path, NULL, 1));
    safetensors_file *f = NULL;
    CHECK_OK(safetensors_open(&f, path));
    for (size_t i = 0; b && f && i < a->n_tensors; i++) {
        const model_tensor *t = &a->tensors[i];
        const safetensors_tensor *s = safetensors_find(f, t->name);
        if (t->kind == TENSOR_COUNTER) {
            CHECK(s && s->dtype == SAFETENSORS_I64 &&
                  b->counters[t->offset] == a->counters[t->offset]);
            continue;
        }
        const float *want = model_tensor_data(a, t), *got = model_tensor_data(b, &b->tensors[i]);
        CHECK(s && s->dtype == (t->ndim >= 2 ? SAFETENSORS_F16 : SAFETENSORS_F32));
        /* Rounding to nearest moves a weight by at most half an F16 ulp: 2^-11 of it, or 2^-25
         * below F16's normal range. */
        int ok = 1;
        for (size_t k = 0; k < t->numel; k++)
            ok &= t->ndim >= 2 ? fabsf(got[k] - want[k]) <= 0x1p-11f * fabsf(want[k]) + 0x1p-25f
                               : got[k] == want[k];
        if (!ok) fprintf(stderr, "tensor %s differs\n", t->name);
        CHECK(ok);
    }
    safetensors_close(f);
    model_free(a);
    model_free(b);
}

int main(void) {
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_backbone_from_torchvision();
    test_bad_files();
    test_half_weights();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary("test_checkpoint");
}
