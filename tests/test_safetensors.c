/* Tests for src/io/safetensors: round trips of every dtype (scalars, empty tensors, metadata),
 * atomic saving, and crafted malformed files, each of which must fail with the right status and
 * an error text naming the tensor at fault. Files live in a mkdtemp directory under /tmp that is
 * removed at the end. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "test.h"

static char temp_dir[] = "/tmp/relage_safetensors_XXXXXX";

static void temp_path(char *out, size_t size, const char *name) {
    snprintf(out, size, "%s/%s", temp_dir, name);
}

static void write_bytes(const char *name, const void *bytes, size_t size) {
    char path[256];
    temp_path(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(bytes, 1, size, f) == size);
    CHECK(fclose(f) == 0);
}

/* Reads a whole file into a malloc'd buffer (NULL if it cannot be read). */
static unsigned char *read_bytes(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    unsigned char *buffer = NULL;
    long length;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (length = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buffer = malloc((size_t)length + 1);
        if (buffer && fread(buffer, 1, (size_t)length, f) != (size_t)length) {
            free(buffer);
            buffer = NULL;
        }
        *size = (size_t)length;
    }
    fclose(f);
    return buffer;
}

/* Writes a file whose header is json (length prefix little-endian) followed by data. */
static void write_crafted(const char *name, const char *json, const void *data, size_t data_size) {
    size_t json_size = strlen(json), size = 8 + json_size + data_size;
    unsigned char *bytes = malloc(size);
    for (int i = 0; i < 8; i++) bytes[i] = (unsigned char)((uint64_t)json_size >> (8 * i));
    memcpy(bytes + 8, json, json_size);
    if (data_size) memcpy(bytes + 8 + json_size, data, data_size);
    write_bytes(name, bytes, size);
    free(bytes);
}

/* Opens temp file name, expecting status and an error text containing each non-NULL needle. */
static void expect_open_fails(const char *name, relage_status status, const char *needle1,
                              const char *needle2) {
    char path[256];
    safetensors_file *sentinel = (safetensors_file *)&path, *file = sentinel;
    temp_path(path, sizeof path, name);
    CHECK_FAILS(safetensors_open(&file, path), status);
    CHECK(file == NULL);
    const char *text = relage_last_error();
    const char *needles[] = {name, needle1, needle2};
    for (int i = 0; i < 3; i++) {
        test_checks++;
        if (needles[i] && !strstr(text, needles[i])) {
            test_failures++;
            fprintf(stderr, "%s: error text lacks \"%s\": %s\n", name, needles[i], text);
        }
    }
    if (file != sentinel) safetensors_close(file);
}

static void check_error_mentions(const char *needle) {
    test_checks++;
    if (!strstr(relage_last_error(), needle)) {
        test_failures++;
        fprintf(stderr, "error text lacks \"%s\": %s\n", needle, relage_last_error());
    }
}

static int temp_files_left(void) {
    int found = 0;
    DIR *dir = opendir(temp_dir);
    struct dirent *entry;
    while (dir && (entry = readdir(dir)))
        if (strstr(entry->d_name, ".tmp.")) found++;
    if (dir) closedir(dir);
    return found;
}

static void test_round_trip(void) {
    const float weights[6] = {1.5f, -2.25f, 0.0f, 3e-8f, 1e30f, -7.0f};
    /* 1, -2, smallest subnormal, largest subnormal, smallest normal, max, inf, -inf, NaN, -0 */
    const uint16_t halves[10] = {0x3c00, 0xc000, 0x0001, 0x03ff, 0x0400,
                                 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x8000};
    const float halves_f32[8] = {1.0f,
                                 -2.0f,
                                 5.9604644775390625e-8f,
                                 6.097555160522461e-5f,
                                 6.103515625e-5f,
                                 65504.0f,
                                 INFINITY,
                                 -INFINITY};
    const uint16_t brains[4] = {0x3f80, 0xc040, 0x4049, 0x0000};
    const float brains_f32[4] = {1.0f, -3.0f, 3.140625f, 0.0f};
    const int64_t steps[3] = {0, -1, INT64_MAX};
    const float scale = 0.5f;
    const int64_t shape_w[2] = {2, 3}, shape_h[1] = {10}, shape_b[2] = {2, 2}, shape_s[1] = {3},
                  shape_e[2] = {0, 4};
    const char *order[] = {"layer1.conv.weight", "half", "brain", "empty", "steps", "scale"};
    char path[256];
    safetensors_writer *w = safetensors_writer_new();
    safetensors_file *file = NULL;
    CHECK(w != NULL);
    if (!w) return;
    CHECK_OK(safetensors_writer_add(w, order[0], SAFETENSORS_F32, 2, shape_w, weights));
    CHECK_OK(safetensors_writer_add(w, order[1], SAFETENSORS_F16, 1, shape_h, halves));
    CHECK_OK(safetensors_writer_add(w, order[2], SAFETENSORS_BF16, 2, shape_b, brains));
    CHECK_OK(safetensors_writer_add(w, order[3], SAFETENSORS_F32, 2, shape_e, NULL));
    CHECK_OK(safetensors_writer_add(w, order[4], SAFETENSORS_I64, 1, shape_s, steps));
    CHECK_OK(safetensors_writer_add(w, order[5], SAFETENSORS_F32, 0, NULL, &scale));
    CHECK_OK(safetensors_writer_set_metadata(w, "format", "pt"));
    CHECK_OK(safetensors_writer_set_metadata(w, "note", "first"));
    CHECK_OK(safetensors_writer_set_metadata(w, "note", "say \"hi\"\n\xc3\xa9"));

    CHECK_FAILS(safetensors_writer_add(w, "half", SAFETENSORS_F32, 0, NULL, &scale),
                RELAGE_ERR_INVALID_ARG);
    check_error_mentions("half");
    CHECK_FAILS(safetensors_writer_add(w, "__metadata__", SAFETENSORS_F32, 0, NULL, &scale),
                RELAGE_ERR_INVALID_ARG);
    const int64_t negative[1] = {-1};
    CHECK_FAILS(safetensors_writer_add(w, "neg", SAFETENSORS_F32, 1, negative, weights),
                RELAGE_ERR_INVALID_ARG);
    CHECK_FAILS(safetensors_writer_add(w, "nodata", SAFETENSORS_F32, 1, shape_s, NULL),
                RELAGE_ERR_INVALID_ARG);

    temp_path(path, sizeof path, "round.safetensors");
    CHECK_OK(safetensors_writer_save(w, path));
    safetensors_writer_free(w);
    CHECK_INT_EQ(temp_files_left(), 0);

    size_t size = 0;
    unsigned char *raw = read_bytes(path, &size);
    CHECK(raw != NULL && size >= 8);
    if (raw && size >= 8) {
        uint64_t header = 0;
        for (int i = 0; i < 8; i++) header |= (uint64_t)raw[i] << (8 * i);
        CHECK_INT_EQ(header % 8, 0);
        CHECK_INT_EQ(size, 8 + header + 24 + 20 + 8 + 0 + 24 + 4);
        /* JSON, then only spaces; integers printed as integers, never "1e+15". */
        char *text = calloc(1, header + 1);
        memcpy(text, raw + 8, header);
        char *close = strrchr(text, '}');
        CHECK(text[0] == '{' && close && strspn(close + 1, " ") == strlen(close + 1));
        CHECK(strstr(text, "e+") == NULL);
        CHECK(strstr(text, "\"shape\":[2,3]") != NULL);
        free(text);
    }
    free(raw);

    CHECK_OK(safetensors_open(&file, path));
    if (!file) return;
    CHECK_INT_EQ(safetensors_count(file), 6);
    size_t expected_offset = 0;
    for (size_t i = 0; i < 6; i++) {
        const safetensors_tensor *t = safetensors_at(file, i);
        CHECK(t && strcmp(t->name, order[i]) == 0);
        if (!t) continue;
        CHECK_INT_EQ(t->offset, expected_offset);
        CHECK(safetensors_find(file, order[i]) == t);
        expected_offset += t->nbytes;
    }
    CHECK(safetensors_at(file, 6) == NULL);
    CHECK(safetensors_find(file, "absent") == NULL);
    CHECK(safetensors_metadata(file, "format") &&
          !strcmp(safetensors_metadata(file, "format"), "pt"));
    CHECK(safetensors_metadata(file, "note") &&
          !strcmp(safetensors_metadata(file, "note"), "say \"hi\"\n\xc3\xa9"));
    CHECK(safetensors_metadata(file, "absent") == NULL);

    float got[10];
    CHECK_OK(safetensors_load_f32(file, "layer1.conv.weight", 2, shape_w, got));
    CHECK_ALLCLOSE("f32", got, weights, 6, 0, 0);

    const safetensors_tensor *t = safetensors_find(file, "half");
    CHECK(t && t->dtype == SAFETENSORS_F16 && t->ndim == 1 && t->shape[0] == 10 && t->numel == 10 &&
          t->nbytes == 20);
    CHECK_OK(safetensors_read_f32(file, t, got, 10));
    CHECK_ALLCLOSE("f16", got, halves_f32, 6, 0, 0);
    CHECK(got[6] == halves_f32[6] && got[7] == halves_f32[7]); /* allclose: inf - inf is NaN */
    CHECK(isnan(got[8]));
    CHECK(got[9] == 0.0f && signbit(got[9]));

    CHECK_OK(safetensors_load_f32(file, "brain", 2, shape_b, got));
    CHECK_ALLCLOSE("bf16", got, brains_f32, 4, 0, 0);

    t = safetensors_find(file, "empty");
    CHECK(t && t->numel == 0 && t->nbytes == 0 && t->ndim == 2);
    CHECK_OK(safetensors_read_f32(file, t, NULL, 0));

    t = safetensors_find(file, "scale");
    CHECK(t && t->ndim == 0 && t->numel == 1);
    CHECK_OK(safetensors_load_f32(file, "scale", 0, NULL, got));
    CHECK(got[0] == 0.5f);

    int64_t got_steps[3] = {7, 7, 7};
    t = safetensors_find(file, "steps");
    CHECK_OK(safetensors_read_i64(file, t, got_steps, 3));
    CHECK(got_steps[0] == 0 && got_steps[1] == -1 && got_steps[2] == INT64_MAX);

    /* Mismatches name the tensor and leave the destination alone. */
    CHECK_FAILS(safetensors_read_f32(file, t, got, 3), RELAGE_ERR_MISMATCH);
    check_error_mentions("steps");
    CHECK_FAILS(safetensors_read_i64(file, safetensors_find(file, "half"), got_steps, 10),
                RELAGE_ERR_MISMATCH);
    CHECK_FAILS(safetensors_read_f32(file, safetensors_find(file, "half"), got, 9),
                RELAGE_ERR_MISMATCH);
    check_error_mentions("half");
    const int64_t transposed[2] = {3, 2};
    CHECK_FAILS(safetensors_load_f32(file, "layer1.conv.weight", 2, transposed, got),
                RELAGE_ERR_MISMATCH);
    check_error_mentions("layer1.conv.weight");
    check_error_mentions("[2, 3]");
    check_error_mentions("[3, 2]");
    CHECK_FAILS(safetensors_load_f32(file, "layer1.conv.weight", 1, shape_h, got),
                RELAGE_ERR_MISMATCH);
    CHECK_FAILS(safetensors_load_f32(file, "fc.bias", 1, shape_h, got), RELAGE_ERR_MISMATCH);
    check_error_mentions("tensor fc.bias missing");
    safetensors_tensor foreign = *safetensors_at(file, 0);
    CHECK_FAILS(safetensors_read_f32(file, &foreign, got, 6), RELAGE_ERR_INVALID_ARG);
    safetensors_close(file);
    safetensors_close(NULL);
    safetensors_writer_free(NULL);

    /* Saving over an existing file replaces it. */
    w = safetensors_writer_new();
    CHECK_OK(safetensors_writer_add(w, "only", SAFETENSORS_F32, 0, NULL, &scale));
    CHECK_OK(safetensors_writer_save(w, path));
    safetensors_writer_free(w);
    CHECK_OK(safetensors_open(&file, path));
    CHECK_INT_EQ(safetensors_count(file), 1);
    CHECK(safetensors_metadata(file, "format") == NULL);
    safetensors_close(file);
    CHECK_INT_EQ(temp_files_left(), 0);
    remove(path);
}

/* A file as another writer might lay it out: JSON order differs from offset order, metadata
 * last, newline and spaces around the JSON. */
static void test_crafted_valid(void) {
    const char *json = "{\"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]},\n"
                       " \"a\": {\"dtype\": \"BF16\", \"shape\": [2], \"data_offsets\": [0, 4]},\n"
                       " \"__metadata__\": {\"format\": \"pt\"}}\n    ";
    const unsigned char data[8] = {0x80, 0x3f, 0x00, 0x40, 0x00, 0x00, 0x40, 0xc0};
    char path[256];
    safetensors_file *file = NULL;
    float got[2];
    write_crafted("crafted.safetensors", json, data, sizeof data);
    temp_path(path, sizeof path, "crafted.safetensors");
    CHECK_OK(safetensors_open(&file, path));
    if (!file) return;
    CHECK(strcmp(safetensors_at(file, 0)->name, "a") == 0);
    CHECK(strcmp(safetensors_at(file, 1)->name, "b") == 0);
    CHECK_OK(safetensors_read_f32(file, safetensors_find(file, "a"), got, 2));
    CHECK(got[0] == 1.0f && got[1] == 2.0f);
    CHECK_OK(safetensors_read_f32(file, safetensors_find(file, "b"), got, 1));
    CHECK(got[0] == -3.0f);
    CHECK(!strcmp(safetensors_metadata(file, "format"), "pt"));
    safetensors_close(file);

    write_crafted("empty.safetensors", "{}", NULL, 0);
    temp_path(path, sizeof path, "empty.safetensors");
    CHECK_OK(safetensors_open(&file, path));
    CHECK_INT_EQ(safetensors_count(file), 0);
    safetensors_close(file);
}

static void test_atomic_save(void) {
    char path[256], dir_target[256], inner[300];
    const float value = 3.0f;
    size_t before_size = 0, after_size = 0;
    unsigned char *before, *after;
    safetensors_writer *w = safetensors_writer_new();
    CHECK_OK(safetensors_writer_add(w, "x", SAFETENSORS_F32, 0, NULL, &value));

    /* A directory that does not exist: nothing is created. */
    temp_path(path, sizeof path, "missing_dir/model.safetensors");
    CHECK_FAILS(safetensors_writer_save(w, path), RELAGE_ERR_IO);
    check_error_mentions("missing_dir");
    CHECK(access(path, F_OK) != 0);

    /* A stray file named like a temporary one is left alone by a save (temporary names are
     * unique: core/atomic_file.h, whose failures are tested in test_atomic_file). */
    write_crafted("old.safetensors", "{}", NULL, 0);
    temp_path(path, sizeof path, "old.safetensors");
    write_bytes("old.safetensors.tmp.x", "", 0);
    before = read_bytes(path, &before_size);
    CHECK_OK(safetensors_writer_save(w, path));
    after = read_bytes(path, &after_size);
    CHECK(before && after && before_size != after_size); /* replaced */
    free(before);
    free(after);

    /* The target is a folder: refused, and no temporary file is left. */
    temp_path(dir_target, sizeof dir_target, "dir_target");
    snprintf(inner, sizeof inner, "%s/keep", dir_target);
    CHECK(mkdir(dir_target, 0755) == 0);
    FILE *f = fopen(inner, "w");
    if (f) fclose(f);
    CHECK_FAILS(safetensors_writer_save(w, dir_target), RELAGE_ERR_IO);
    CHECK_INT_EQ(temp_files_left(), 1); /* only the stray old.safetensors.tmp.x */
    CHECK(access(inner, F_OK) == 0);
    remove(inner);
    rmdir(dir_target);

    /* A read-only directory; root ignores permissions, so only checked for other users. */
    if (geteuid() != 0) {
        char ro_dir[256], ro_file[300];
        temp_path(ro_dir, sizeof ro_dir, "readonly");
        snprintf(ro_file, sizeof ro_file, "%s/model.safetensors", ro_dir);
        CHECK(mkdir(ro_dir, 0755) == 0);
        CHECK_OK(safetensors_writer_save(w, ro_file));
        before = read_bytes(ro_file, &before_size);
        chmod(ro_dir, 0555);
        CHECK_OK(safetensors_writer_add(w, "y", SAFETENSORS_F32, 0, NULL, &value));
        CHECK_FAILS(safetensors_writer_save(w, ro_file), RELAGE_ERR_IO);
        after = read_bytes(ro_file, &after_size);
        CHECK(before && after && before_size == after_size && !memcmp(before, after, after_size));
        free(before);
        free(after);
        chmod(ro_dir, 0755);
        remove(ro_file);
        rmdir(ro_dir);
    }
    safetensors_writer_free(w);
}

static void test_bad_files(void) {
    unsigned char zeros[64] = {0};
    char path[256];
    safetensors_file *file = NULL;

    /* A valid two-tensor file, then cut in the data and in the header. */
    const float values[4] = {1, 2, 3, 4};
    const int64_t two[1] = {2};
    safetensors_writer *w = safetensors_writer_new();
    CHECK_OK(safetensors_writer_add(w, "first", SAFETENSORS_F32, 1, two, values));
    CHECK_OK(safetensors_writer_add(w, "second", SAFETENSORS_F32, 1, two, values + 2));
    temp_path(path, sizeof path, "whole.safetensors");
    CHECK_OK(safetensors_writer_save(w, path));
    safetensors_writer_free(w);
    size_t size = 0;
    unsigned char *whole = read_bytes(path, &size);
    CHECK(whole && size > 20);
    if (!whole) return;
    write_bytes("cut_data.safetensors", whole, size - 3);
    expect_open_fails("cut_data.safetensors", RELAGE_ERR_FORMAT, "second", "truncated");
    write_bytes("cut_header.safetensors", whole, 20);
    expect_open_fails("cut_header.safetensors", RELAGE_ERR_FORMAT, "header length", NULL);
    write_bytes("three.safetensors", whole, 3);
    expect_open_fails("three.safetensors", RELAGE_ERR_FORMAT, "too short", NULL);
    free(whole);

    unsigned char huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
    write_bytes("huge_header.safetensors", huge, sizeof huge);
    expect_open_fails("huge_header.safetensors", RELAGE_ERR_FORMAT, "header length", NULL);
    unsigned char big[16] = {0x00, 0x00, 0x00, 0x10, 0, 0, 0, 0, '{', '}'}; /* 256 MiB */
    write_bytes("big_header.safetensors", big, sizeof big);
    expect_open_fails("big_header.safetensors", RELAGE_ERR_FORMAT, "limit", NULL);
    write_bytes("zero_header.safetensors", zeros, 16);
    expect_open_fails("zero_header.safetensors", RELAGE_ERR_FORMAT, "header length is 0", NULL);
    temp_path(path, sizeof path, "no_such.safetensors");
    CHECK_FAILS(safetensors_open(&file, path), RELAGE_ERR_IO);
    check_error_mentions("No such file");
    CHECK(file == NULL);
    CHECK_FAILS(safetensors_open(&file, temp_dir), RELAGE_ERR_IO);

    static const struct {
        const char *name, *json;
        size_t data_size;
        relage_status status;
        const char *needle1, *needle2;
    } cases[] = {
        {"bad_json", "{\"w\": {\"dtype\": \"F32\",", 0, RELAGE_ERR_FORMAT, "JSON", NULL},
        {"trailing", "{} x", 0, RELAGE_ERR_FORMAT, "stray", NULL},
        {"embedded_nul", "{}\0  ", 0, RELAGE_ERR_FORMAT, "stray", NULL},
        {"not_object", "[1, 2]", 0, RELAGE_ERR_FORMAT, "not a JSON object", NULL},
        {"entry_not_object", "{\"w\": 3}", 0, RELAGE_ERR_FORMAT, "w", "not a JSON object"},
        {"no_dtype", "{\"w\": {\"shape\": [], \"data_offsets\": [0, 4]}}", 4, RELAGE_ERR_FORMAT,
         "w", "dtype"},
        {"unknown_dtype", "{\"w\": {\"dtype\": \"Q7\", \"shape\": [], \"data_offsets\": [0, 4]}}",
         4, RELAGE_ERR_UNSUPPORTED, "tensor w", "Q7"},
        {"no_shape", "{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4,
         RELAGE_ERR_FORMAT, "w", "shape"},
        {"mismatch", "{\"w\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 20]}}",
         24, RELAGE_ERR_FORMAT, "tensor w", "hold 20 bytes but F32 [2, 3] needs 24"},
        {"out_of_range", "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}}",
         8, RELAGE_ERR_FORMAT, "tensor w", "beyond"},
        {"backwards", "{\"w\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [4, 0]}}", 8,
         RELAGE_ERR_FORMAT, "tensor w", "backwards"},
        {"three_offsets",
         "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4, 8]}}", 8,
         RELAGE_ERR_FORMAT, "tensor w", "data_offsets"},
        {"negative_offset",
         "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 0]}}", 8,
         RELAGE_ERR_FORMAT, "tensor w", "negative"},
        {"negative_shape",
         "{\"w\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", 8,
         RELAGE_ERR_FORMAT, "tensor w", "negative"},
        {"fractional_shape",
         "{\"w\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 6]}}", 8,
         RELAGE_ERR_FORMAT, "tensor w", "not an integer"},
        {"string_shape",
         "{\"w\": {\"dtype\": \"F32\", \"shape\": [\"2\"], \"data_offsets\": [0, 8]}}", 8,
         RELAGE_ERR_FORMAT, "tensor w", "not a number"},
        {"nine_dims",
         "{\"w\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}",
         4, RELAGE_ERR_FORMAT, "tensor w", "9 dims"},
        {"absurd_numel",
         "{\"w\": {\"dtype\": \"F32\", \"shape\": [1e15, 1e15], \"data_offsets\": [0, 4]}}", 4,
         RELAGE_ERR_FORMAT, "tensor w", "overflow"},
        {"absurd_bytes",
         "{\"w\": {\"dtype\": \"I64\", \"shape\": [4000000000000000, 4000], \"data_offsets\": [0, "
         "4]}}",
         4, RELAGE_ERR_FORMAT, "tensor w", "overflow"},
        {"beyond_2_53",
         "{\"w\": {\"dtype\": \"F32\", \"shape\": [9007199254740992], \"data_offsets\": [0, 4]}}",
         4, RELAGE_ERR_FORMAT, "tensor w", "too large"},
        {"overlap",
         "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
         " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}",
         12, RELAGE_ERR_FORMAT, "tensors a and b overlap", NULL},
        {"contained",
         "{\"outer\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
         " \"inner\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]},"
         " \"after\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [12, 16]}}",
         16, RELAGE_ERR_FORMAT, "outer", "overlap"},
        {"duplicate",
         "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
         " \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
         8, RELAGE_ERR_FORMAT, "tensor a appears twice", NULL},
        {"metadata_number", "{\"__metadata__\": {\"epoch\": 1}}", 0, RELAGE_ERR_FORMAT, "epoch",
         "not a string"},
        {"metadata_array", "{\"__metadata__\": [\"x\"]}", 0, RELAGE_ERR_FORMAT, "__metadata__",
         NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t json_size = strlen(cases[i].json);
        if (strcmp(cases[i].name, "embedded_nul") == 0) json_size = 5;
        unsigned char bytes[512];
        for (int b = 0; b < 8; b++) bytes[b] = (unsigned char)((uint64_t)json_size >> (8 * b));
        memcpy(bytes + 8, cases[i].json, json_size);
        memset(bytes + 8 + json_size, 0, cases[i].data_size);
        write_bytes(cases[i].name, bytes, 8 + json_size + cases[i].data_size);
        expect_open_fails(cases[i].name, cases[i].status, cases[i].needle1, cases[i].needle2);
    }
}

static void remove_temp_dir(void) {
    DIR *dir = opendir(temp_dir);
    struct dirent *entry;
    char path[512];
    while (dir && (entry = readdir(dir))) {
        if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", temp_dir, entry->d_name);
        remove(path);
    }
    if (dir) closedir(dir);
    CHECK(rmdir(temp_dir) == 0);
}

/* Rounding to F16 and BF16 against NumPy's astype(float16) and PyTorch's to(bfloat16) on the
 * same floats (ties to even, subnormals, overflow to infinity), and back through reading. */
static void test_round_half(void) {
    static const float values[] = {
        0.0f,           -0.0f,          1.0f,           -2.5f,    65504.0f,  65519.0f,     65520.0f,
        1e9f,           6.1e-5f,        5.96e-8f,       2.98e-8f, 2.99e-8f,  1e-10f,       0.1f,
        1.00146484375f, 1.00048828125f, 1.00146484375f, INFINITY, -INFINITY, 3.3895314e38f};
    static const uint16_t want_f16[] = {0x0000, 0x8000, 0x3c00, 0xc100, 0x7bff, 0x7bff, 0x7c00,
                                        0x7c00, 0x03ff, 0x0001, 0x0000, 0x0001, 0x0000, 0x2e66,
                                        0x3c02, 0x3c00, 0x3c02, 0x7c00, 0xfc00, 0x7c00};
    static const uint16_t want_bf16[] = {0x0000, 0x8000, 0x3f80, 0xc020, 0x4780, 0x4780, 0x4780,
                                         0x4e6e, 0x3880, 0x3380, 0x3300, 0x3300, 0x2edc, 0x3dcd,
                                         0x3f80, 0x3f80, 0x3f80, 0x7f80, 0xff80, 0x7f7f};
    enum { N = sizeof values / sizeof values[0] };
    uint16_t got[N];
    safetensors_round_half(SAFETENSORS_F16, got, values, N);
    for (int i = 0; i < N; i++) CHECK_INT_EQ(got[i], want_f16[i]);
    safetensors_round_half(SAFETENSORS_BF16, got, values, N);
    for (int i = 0; i < N; i++) CHECK_INT_EQ(got[i], want_bf16[i]);
    float nan = NAN;
    safetensors_round_half(SAFETENSORS_F16, got, &nan, 1);
    CHECK((got[0] & 0x7c00) == 0x7c00 && (got[0] & 0x3ff) != 0);
    safetensors_round_half(SAFETENSORS_BF16, got, &nan, 1);
    CHECK((got[0] & 0x7f80) == 0x7f80 && (got[0] & 0x7f) != 0);

    /* Written as F16, read back as the rounded floats exactly. */
    char path[256];
    temp_path(path, sizeof path, "half.safetensors");
    safetensors_round_half(SAFETENSORS_F16, got, values, N);
    safetensors_writer *w = safetensors_writer_new();
    int64_t shape[1] = {N};
    CHECK_OK(safetensors_writer_add(w, "x", SAFETENSORS_F16, 1, shape, got));
    CHECK_OK(safetensors_writer_save(w, path));
    safetensors_writer_free(w);
    safetensors_file *f = NULL;
    float back[N];
    CHECK_OK(safetensors_open(&f, path));
    if (f) CHECK_OK(safetensors_read_f32(f, safetensors_find(f, "x"), back, N));
    safetensors_close(f);
    CHECK(back[2] == 1.0f && back[4] == 65504.0f && back[6] == INFINITY && back[9] == 0x1p-24f &&
          back[14] == 1.001953125f && back[15] == 1.0f);
}

/* The first infinity or NaN is found wherever it is: in the first block, at a block boundary
 * (blocks of 4096), at the very end; finite extremes (max, subnormals) pass. */
static void test_all_finite(void) {
    enum { N = 10000 };
    static float f32[N];
    static uint16_t f16[N], bf16[N];
    for (int i = 0; i < N; i++) {
        f32[i] = i % 2 ? 3.4028235e38f : -1.4e-45f;
        f16[i] = i % 2 ? 0x7bff : 0x8001;
        bf16[i] = i % 2 ? 0x7f7f : 0x0001;
    }
    const struct {
        const char *name;
        int at; /* -1: all finite */
    } cases[] = {{"none", -1}, {"first", 0}, {"boundary", 4096}, {"middle", 5000}, {"last", N - 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int at = cases[c].at;
        if (at >= 0) {
            f32[at] = NAN;
            f16[at] = 0xfc00;  /* -inf */
            bf16[at] = 0x7fc1; /* NaN */
        }
        const int64_t shape[1] = {N};
        char path[256];
        temp_path(path, sizeof path, "finite.safetensors");
        safetensors_writer *w = safetensors_writer_new();
        CHECK(w != NULL);
        if (!w) return;
        CHECK_OK(safetensors_writer_add(w, "f32", SAFETENSORS_F32, 1, shape, f32));
        CHECK_OK(safetensors_writer_add(w, "f16", SAFETENSORS_F16, 1, shape, f16));
        CHECK_OK(safetensors_writer_add(w, "bf16", SAFETENSORS_BF16, 1, shape, bf16));
        CHECK_OK(safetensors_writer_save(w, path));
        safetensors_writer_free(w);
        safetensors_file *file = NULL;
        CHECK_OK(safetensors_open(&file, path));
        for (size_t i = 0; file && i < safetensors_count(file); i++) {
            size_t bad = (size_t)-1;
            int finite = safetensors_all_finite(file, safetensors_at(file, i), &bad);
            if (at < 0) {
                CHECK(finite);
            } else {
                CHECK(!finite);
                CHECK_INT_EQ(bad, at);
            }
        }
        safetensors_close(file);
        unlink(path);
        if (at >= 0) { /* back to finite for the next case */
            f32[at] = at % 2 ? 3.4028235e38f : -1.4e-45f;
            f16[at] = at % 2 ? 0x7bff : 0x8001;
            bf16[at] = at % 2 ? 0x7f7f : 0x0001;
        }
    }
}

int main(void) {
    if (!mkdtemp(temp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_crafted_valid();
    test_atomic_save();
    test_bad_files();
    test_round_half();
    test_all_finite();
    remove_temp_dir();
    return test_summary("test_safetensors");
}
