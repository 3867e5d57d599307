/* A tiny test harness: checks that print both values with file:line, an allclose that prints
 * the max abs/rel error and the first mismatches, and a summary that sets the exit code.
 * Each test file defines main(), calls its cases, and returns test_summary(). */
#ifndef RELAGE_TEST_H
#define RELAGE_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relage.h"

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!(cond)) {                                                                             \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                         \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        test_checks++;                                                                             \
        if (va_ != vb_) {                                                                          \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld vs %lld\n", __FILE__, __LINE__, #a, #b,  \
                    va_, vb_);                                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double va_ = (double)(a), vb_ = (double)(b);                                               \
        test_checks++;                                                                             \
        if (!(fabs(va_ - vb_) <= (tol))) {                                                         \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: %s ~ %s failed: %.9g vs %.9g (tol %g)\n", __FILE__, __LINE__,  \
                    #a, #b, va_, vb_, (double)(tol));                                              \
        }                                                                                          \
    } while (0)

/* Checks a call returned RELAGE_OK; prints the error text if not. */
#define CHECK_OK(call)                                                                             \
    do {                                                                                           \
        relage_status st_ = (call);                                                                \
        test_checks++;                                                                             \
        if (st_ != RELAGE_OK) {                                                                    \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,               \
                    relage_status_string(st_), relage_last_error());                               \
        }                                                                                          \
    } while (0)

/* Checks a call failed with the given status; prints the error text either way for review. */
#define CHECK_FAILS(call, status)                                                                  \
    do {                                                                                           \
        relage_status st_ = (call);                                                                \
        test_checks++;                                                                             \
        if (st_ != (status)) {                                                                     \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (%s)\n", __FILE__, __LINE__,       \
                    #call, relage_status_string(st_), relage_status_string(status),                \
                    relage_last_error());                                                          \
        }                                                                                          \
    } while (0)

/* |got - want| <= atol + rtol * |want| elementwise. Prints max abs/rel error and the first
 * mismatches on failure. Returns 1 when close. */
#define CHECK_ALLCLOSE(what, got, want, n, rtol, atol)                                             \
    test_allclose(__FILE__, __LINE__, what, got, want, n, rtol, atol)

static inline int test_allclose(const char *file, int line, const char *what, const float *got,
                                const float *want, size_t n, double rtol, double atol) {
    double max_abs = 0, max_rel = 0;
    size_t bad = 0;
    test_checks++;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i], d = fabs(g - w);
        double rel = d / (fabs(w) > 1e-30 ? fabs(w) : 1e-30);
        if (d > max_abs) max_abs = d;
        if (rel > max_rel && d > atol) max_rel = rel;
        if (!(d <= atol + rtol * fabs(w))) {
            if (bad < 5)
                fprintf(stderr, "%s:%d: %s[%zu]: got %.9g want %.9g\n", file, line, what, i, g, w);
            bad++;
        }
    }
    if (bad) {
        test_failures++;
        fprintf(stderr,
                "%s:%d: %s: %zu of %zu differ (rtol %g, atol %g); max abs err %.3g, max rel err "
                "%.3g\n",
                file, line, what, bad, n, rtol, atol, max_abs, max_rel);
        return 0;
    }
    return 1;
}

/* Prints the closing line ctest and CI read, and returns the process exit code. */
static inline int test_summary(const char *name) {
    printf("%s: %d checks, %d passed, %d failed\n", name, test_checks, test_checks - test_failures,
           test_failures);
    return test_failures ? 1 : 0;
}

#endif
