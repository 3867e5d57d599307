/* Loading PyTorch fixtures (tests/fixtures/NAME.safetensors, made by tools/gen_fixtures.py) in
 * tests: each tensor is copied into a malloc'd float array that the test frees. A missing
 * tensor fails the test and returns a zeroed array, so the test goes on and reports the rest. */
#ifndef RELAGE_TEST_FIXTURE_H
#define RELAGE_TEST_FIXTURE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/safetensors.h"
#include "test.h"

__attribute__((unused)) static safetensors_file *fixture_open(const char *file) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", RELAGE_FIXTURES, file);
    safetensors_file *f = NULL;
    CHECK_OK(safetensors_open(&f, path));
    if (!f) exit(test_summary(file));
    return f;
}

/* The tensor name (printf-style) as floats; *numel receives its size if not NULL. */
__attribute__((format(printf, 3, 4), unused)) static float *
fixture_get(const safetensors_file *f, size_t *numel, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const safetensors_tensor *t = safetensors_find(f, name);
    size_t n = t ? t->numel : 1;
    float *data = calloc(n, sizeof(float));
    if (!t) {
        test_checks++;
        test_failures++;
        fprintf(stderr, "fixture tensor %s missing\n", name);
    } else {
        CHECK_OK(safetensors_read_f32(f, t, data, n));
    }
    if (numel) *numel = t ? n : 0;
    return data;
}

/* Tests `got` (n floats) against the fixture tensor of that name. */
__attribute__((format(printf, 6, 7), unused)) static int fixture_check(const safetensors_file *f,
                                                                       const float *got, size_t n,
                                                                       double rtol, double atol,
                                                                       const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    size_t want_n = 0;
    float *want = fixture_get(f, &want_n, "%s", name);
    int ok = 0;
    if (want_n != n) {
        test_checks++;
        test_failures++;
        fprintf(stderr, "%s: %zu elements, fixture has %zu\n", name, n, want_n);
    } else {
        ok = test_allclose(__FILE__, __LINE__, name, got, want, n, rtol, atol);
    }
    free(want);
    return ok;
}

#endif
