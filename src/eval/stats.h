/* Statistics for comparing models over seeds, as the paper does: mean and sample standard
 * deviation, the Shapiro-Wilk normality test (Royston's algorithm AS R94, as scipy and R use),
 * and Student's, Welch's and the paired two-sided t-tests. p-values come from the regularised
 * incomplete beta function; all in double. Verified against scipy (tests/test_stats.c). */
#ifndef RELAGE_EVAL_STATS_H
#define RELAGE_EVAL_STATS_H

#include <stddef.h>

#include "relage.h"

/* Sorts x ascending in place. */
void stats_sort(double *x, size_t n);

double stats_mean(const double *x, size_t n);
/* Sample standard deviation (n - 1 in the denominator); 0 for n < 2. */
double stats_sd(const double *x, size_t n);

/* Shapiro-Wilk W and its p-value for 3 <= n <= 5000 values (in any order; x is not changed).
 * RELAGE_ERR_INVALID_ARG for n outside that range or when all values are equal. */
relage_status stats_shapiro_wilk(const double *x, size_t n, double *w, double *p);

typedef struct ttest_result {
    double t, df, p; /* p two-sided */
} ttest_result;

/* Two independent samples, pooled variance (Student) or not (Welch); each needs n >= 2 and
 * the pooled (or Welch) variance must not be 0, else RELAGE_ERR_INVALID_ARG. */
relage_status stats_ttest_student(const double *x, size_t nx, const double *y, size_t ny,
                                  ttest_result *r);
relage_status stats_ttest_welch(const double *x, size_t nx, const double *y, size_t ny,
                                ttest_result *r);
/* Paired samples x[i], y[i] (n >= 2; differences not all equal). */
relage_status stats_ttest_paired(const double *x, const double *y, size_t n, ttest_result *r);

/* The two-sided p of Student's t with df degrees of freedom. */
double stats_t_two_sided_p(double t, double df);

#endif
