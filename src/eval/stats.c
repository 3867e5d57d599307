/* Shapiro-Wilk (Royston 1995, AS R94, following R's swilk.c) and t-tests. */
#include "eval/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

double stats_mean(const double *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return n ? s / (double)n : (double)NAN;
}

double stats_sd(const double *x, size_t n) {
    if (n < 2) return 0.0;
    double m = stats_mean(x, n), ss = 0.0;
    for (size_t i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    return sqrt(ss / (double)(n - 1));
}

/* Shapiro-Wilk exactly as scipy computes it (scipy/stats/statlib/swilk.f, AS R94 in single
 * precision with AS 111's PPND and AS 66's ALNORM), so that W and p agree with scipy to float
 * rounding: the data less their median are read as float, as scipy 1.10 passes them. In single
 * precision W has about 7 digits, and for samples of hundreds of values p keeps only 3-4 (1 - W is
 * small). */
static float poly(const float *c, int nord, float x) {
    float r = c[0];
    if (nord == 1) return r;
    float p = x * c[nord - 1];
    for (int j = nord - 2; j >= 1; j--) p = (p + c[j]) * x;
    return r + p;
}

/* AS 111: the normal deviate of lower tail area p. */
static float ppnd(float p) {
    float q = p - 0.5f, r;
    if (fabsf(q) <= 0.42f) {
        r = q * q;
        return q *
               (((-25.44106049637f * r + 41.39119773534f) * r + -18.61500062529f) * r +
                2.50662823884f) /
               ((((3.13082909833f * r + -21.06224101826f) * r + 23.08336743743f) * r +
                 -8.47351093090f) *
                    r +
                1.0f);
    }
    r = q > 0.0f ? 1.0f - p : p;
    if (r <= 0.0f) return 0.0f;
    r = sqrtf(-logf(r));
    float x =
        (((2.32121276858f * r + 4.85014127135f) * r + -2.29796479134f) * r + -2.78718931138f) /
        ((1.63706781897f * r + 3.54388924762f) * r + 1.0f);
    return q < 0.0f ? -x : x;
}

/* AS 66: the upper tail of the standard normal from z. */
static double alnorm_upper(double z) {
    int up = 1;
    if (z < 0.0) {
        up = 0;
        z = -z;
    }
    double r;
    if (!(z <= 7.0 || (up && z <= 38.0))) {
        r = 0.0;
    } else {
        double y = 0.5 * z * z;
        if (z <= 1.28)
            r = 0.5 -
                z * (0.398942280444 - 0.399903438504 * y /
                                          (y + 5.75885480458 -
                                           29.8213557808 / (y + 2.62433121679 +
                                                            48.6959930692 / (y + 5.92885724438))));
        else
            r = 0.398942280385 * exp(-y) /
                (z - 3.8052e-8 +
                 1.00000615302 /
                     (z + 3.98064794e-4 +
                      1.98615381364 /
                          (z - 0.151679116635 +
                           5.29330324926 /
                               (z + 4.8385912808 -
                                15.1508972451 /
                                    (z + 0.742380924027 + 30.789933034 / (z + 3.99019417011))))));
    }
    return up ? r : 1.0 - r;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void stats_sort(double *x, size_t n) {
    qsort(x, n, sizeof *x, compare_double);
}

relage_status stats_shapiro_wilk(const double *data, size_t n, double *w_out, double *p_out) {
    static const float c1[6] = {0.0f, 0.221157f, -0.147981f, -2.07119f, 4.434685f, -2.706056f};
    static const float c2[6] = {0.0f, 0.042981f, -0.293762f, -1.752461f, 5.682633f, -3.582633f};
    static const float c3[4] = {0.5440f, -0.39978f, 0.025054f, -0.0006714f};
    static const float c4[4] = {1.3822f, -0.77857f, 0.062767f, -0.0020322f};
    static const float c5[4] = {-1.5861f, -0.31082f, -0.083751f, 0.0038915f};
    static const float c6[3] = {-0.4803f, -0.082676f, 0.0030302f};
    static const float g[2] = {-2.273f, 0.459f};
    if (n < 3 || n > 5000)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "Shapiro-Wilk needs 3..5000 values, got %zu", n);
    size_t nn2 = n / 2;
    float *x = malloc(n * sizeof *x), *a = calloc(nn2 + 1, sizeof *a); /* 1-based, as AS R94 */
    relage_status st = RELAGE_OK;
    if (!x || !a) {
        st = relage_fail(RELAGE_ERR_NOMEM, "Shapiro-Wilk: out of memory");
        goto cleanup;
    }
    /* scipy subtracts the median in double before handing the sample to the float code */
    double *sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
        st = relage_fail(RELAGE_ERR_NOMEM, "Shapiro-Wilk: out of memory");
        goto cleanup;
    }
    memcpy(sorted, data, n * sizeof *sorted);
    stats_sort(sorted, n);
    double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    for (size_t i = 0; i < n; i++) x[i] = (float)(sorted[i] - median);
    free(sorted);
    float an = (float)n;
    if (n == 3) {
        a[1] = 0.70711f;
    } else {
        float an25 = an + 0.25f, summ2 = 0.0f;
        for (size_t i = 1; i <= nn2; i++) {
            a[i] = ppnd(((float)i - 0.375f) / an25);
            summ2 += a[i] * a[i];
        }
        summ2 *= 2.0f;
        float ssumm2 = sqrtf(summ2), rsn = 1.0f / sqrtf(an);
        float a1 = poly(c1, 6, rsn) - a[1] / ssumm2, fac;
        size_t i1;
        if (n > 5) {
            i1 = 3;
            float a2 = -a[2] / ssumm2 + poly(c2, 6, rsn);
            fac = sqrtf((summ2 - 2.0f * (a[1] * a[1]) - 2.0f * (a[2] * a[2])) /
                        (1.0f - 2.0f * (a1 * a1) - 2.0f * (a2 * a2)));
            a[2] = a2;
        } else {
            i1 = 2;
            fac = sqrtf((summ2 - 2.0f * (a[1] * a[1])) / (1.0f - 2.0f * (a1 * a1)));
        }
        a[1] = a1;
        for (size_t i = i1; i <= nn2; i++) a[i] = -a[i] / fac;
    }
    float range = x[n - 1] - x[0];
    if (range < 1e-19f) {
        st = relage_fail(RELAGE_ERR_INVALID_ARG, "Shapiro-Wilk: all %zu values are equal", n);
        goto cleanup;
    }
    /* 1-based I and J as in AS R94 */
    float sx = x[0] / range, sa = -a[1];
    for (size_t i = 2, j = n - 1; i <= n; i++, j--) {
        sx += x[i - 1] / range;
        if (i != j) sa += (i < j ? -1.0f : 1.0f) * a[i < j ? i : j];
    }
    sa /= an;
    sx /= an;
    float ssa = 0.0f, ssx = 0.0f, sax = 0.0f;
    for (size_t i = 1, j = n; i <= n; i++, j--) {
        float asa = i != j ? (i < j ? -1.0f : 1.0f) * a[i < j ? i : j] - sa : -sa;
        float xsx = x[i - 1] / range - sx;
        ssa += asa * asa;
        ssx += xsx * xsx;
        sax += asa * xsx;
    }
    float ssassx = sqrtf(ssa * ssx);
    float w1 = (ssassx - sax) * (ssassx + sax) / (ssa * ssx), w = 1.0f - w1;
    *w_out = (double)w;
    if (n == 3) {
        float p3 = 1.909859f * (asinf(sqrtf(w)) - 1.047198f);
        *p_out = (double)p3;
        goto cleanup;
    }
    float y = logf(w1), xx = logf(an), m, s;
    if (n <= 11) {
        float gamma = poly(g, 2, an);
        if (y >= gamma) {
            *p_out = (double)1e-19f;
            goto cleanup;
        }
        y = -logf(gamma - y);
        m = poly(c3, 4, an);
        s = expf(poly(c4, 4, an));
    } else {
        m = poly(c5, 4, xx);
        s = expf(poly(c6, 3, xx));
    }
    *p_out = (double)(float)alnorm_upper((double)((y - m) / s));
cleanup:
    free(x);
    free(a);
    return st;
}

/* Continued fraction for the incomplete beta (Lentz's method). */
static double beta_cf(double a, double b, double x) {
    const double tiny = 1e-300;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (fabs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        double m2 = 2.0 * m, num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 + num * d;
        d = fabs(d) < tiny ? 1.0 / tiny : 1.0 / d;
        c = 1.0 + num / c;
        if (fabs(c) < tiny) c = tiny;
        h *= d * c;
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 + num * d;
        d = fabs(d) < tiny ? 1.0 / tiny : 1.0 / d;
        c = 1.0 + num / c;
        if (fabs(c) < tiny) c = tiny;
        double delta = d * c;
        h *= delta;
        if (fabs(delta - 1.0) < 1e-16) break;
    }
    return h;
}

/* Regularised incomplete beta I_x(a, b). */
static double incomplete_beta(double a, double b, double x) {
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1.0) / (a + b + 2.0)) return front * beta_cf(a, b, x) / a;
    return 1.0 - front * beta_cf(b, a, 1.0 - x) / b;
}

double stats_t_two_sided_p(double t, double df) {
    if (isnan(t)) return (double)NAN;
    if (isinf(t)) return 0.0;
    return incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
}

static void sums(const double *x, size_t n, double *mean, double *var) {
    *mean = stats_mean(x, n);
    double sd = stats_sd(x, n);
    *var = sd * sd;
}

relage_status stats_ttest_student(const double *x, size_t nx, const double *y, size_t ny,
                                  ttest_result *r) {
    if (nx < 2 || ny < 2)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "t-test needs 2 or more values per sample");
    double mx, vx, my, vy;
    sums(x, nx, &mx, &vx);
    sums(y, ny, &my, &vy);
    double df = (double)(nx + ny - 2);
    double pooled = ((double)(nx - 1) * vx + (double)(ny - 1) * vy) / df;
    double se = sqrt(pooled * (1.0 / (double)nx + 1.0 / (double)ny));
    if (!(se > 0))
        return relage_fail(RELAGE_ERR_INVALID_ARG, "t-test: both samples have no variance");
    r->t = (mx - my) / se;
    r->df = df;
    r->p = stats_t_two_sided_p(r->t, df);
    return RELAGE_OK;
}

relage_status stats_ttest_welch(const double *x, size_t nx, const double *y, size_t ny,
                                ttest_result *r) {
    if (nx < 2 || ny < 2)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "t-test needs 2 or more values per sample");
    double mx, vx, my, vy;
    sums(x, nx, &mx, &vx);
    sums(y, ny, &my, &vy);
    double qx = vx / (double)nx, qy = vy / (double)ny, se2 = qx + qy;
    if (!(se2 > 0))
        return relage_fail(RELAGE_ERR_INVALID_ARG, "t-test: both samples have no variance");
    r->t = (mx - my) / sqrt(se2);
    r->df = se2 * se2 / (qx * qx / (double)(nx - 1) + qy * qy / (double)(ny - 1));
    r->p = stats_t_two_sided_p(r->t, r->df);
    return RELAGE_OK;
}

relage_status stats_ttest_paired(const double *x, const double *y, size_t n, ttest_result *r) {
    if (n < 2) return relage_fail(RELAGE_ERR_INVALID_ARG, "paired t-test needs 2 or more pairs");
    double *d = malloc(n * sizeof *d);
    if (!d) return relage_fail(RELAGE_ERR_NOMEM, "paired t-test: out of memory");
    for (size_t i = 0; i < n; i++) d[i] = x[i] - y[i];
    double m = stats_mean(d, n), sd = stats_sd(d, n);
    free(d);
    if (!(sd > 0))
        return relage_fail(RELAGE_ERR_INVALID_ARG, "paired t-test: the differences are constant");
    r->t = m / (sd / sqrt((double)n));
    r->df = (double)(n - 1);
    r->p = stats_t_two_sided_p(r->t, r->df);
    return RELAGE_OK;
}
