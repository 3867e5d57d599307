/* Chart drawing and the figures. Text is the 5x7 font at scale 2 (12 px per character). */
#include "eval/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "eval/stats.h"

static const uint8_t BLACK[3] = {0, 0, 0}, GREY[3] = {225, 225, 225}, WHITE[3] = {255, 255, 255};
enum { TEXT_SCALE = 2, CHAR_W = 6 * TEXT_SCALE, CHAR_H = 7 * TEXT_SCALE };

const uint8_t *chart_colour(size_t i) {
    static const uint8_t palette[8][3] = {{31, 119, 180},  {255, 127, 14},  {44, 160, 44},
                                          {214, 39, 40},   {148, 103, 189}, {140, 86, 75},
                                          {227, 119, 194}, {127, 127, 127}};
    return palette[i % 8];
}

static int px(const chart *c, double x) {
    return c->left + (int)lround((x - c->x0) / (c->x1 - c->x0) * (c->right - c->left));
}

static int py(const chart *c, double y) {
    return c->bottom - (int)lround((y - c->y0) / (c->y1 - c->y0) * (c->bottom - c->top));
}

/* A round tick step giving about `target` ticks over span. */
static double tick_step(double span, int target) {
    double raw = span / target, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

static void text(chart *c, int x, int y, const char *s) {
    image_draw_text(&c->canvas, x, y, s, BLACK, TEXT_SCALE);
}

static void format_tick(char *buf, size_t size, double v, double step) {
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step));
    snprintf(buf, size, "%.*f", decimals, fabs(v) < 1e-12 ? 0.0 : v);
}

relage_status chart_begin(chart *c, int width, int height, double x0, double x1, double y0,
                          double y1, const char *title, const char *xlabel, const char *ylabel) {
    memset(c, 0, sizeof *c);
    if (!(x0 < x1) || !(y0 < y1) || width < 200 || height < 150)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "chart: empty range or canvas too small");
    relage_status st = image_alloc(&c->canvas, width, height, 3);
    if (st != RELAGE_OK) return st;
    memset(c->canvas.data, 255, (size_t)width * height * 3);
    c->x0 = x0, c->x1 = x1, c->y0 = y0, c->y1 = y1;
    c->left = 10 * CHAR_W, c->right = width - 2 * CHAR_W;
    c->top = 3 * CHAR_H, c->bottom = height - 4 * CHAR_H;
    char buf[32];
    double sx = tick_step(x1 - x0, 8), sy = tick_step(y1 - y0, 6);
    for (double v = ceil(y0 / sy) * sy; v <= y1 + 1e-9 * sy; v += sy) {
        int y = py(c, v);
        image_draw_line(&c->canvas, c->left, y, c->right, y, GREY, 1);
        format_tick(buf, sizeof buf, v, sy);
        text(c, c->left - CHAR_W * ((int)strlen(buf) + 1), y - CHAR_H / 2, buf);
    }
    for (double v = ceil(x0 / sx) * sx; v <= x1 + 1e-9 * sx; v += sx) {
        int x = px(c, v);
        image_draw_line(&c->canvas, x, c->bottom, x, c->bottom + 6, BLACK, 1);
        format_tick(buf, sizeof buf, v, sx);
        text(c, x - CHAR_W * (int)strlen(buf) / 2, c->bottom + 10, buf);
    }
    image_draw_line(&c->canvas, c->left, c->top, c->left, c->bottom, BLACK, 2);
    image_draw_line(&c->canvas, c->left, c->bottom, c->right, c->bottom, BLACK, 2);
    if (title) text(c, (width - CHAR_W * (int)strlen(title)) / 2, CHAR_H, title);
    if (xlabel)
        text(c, (c->left + c->right - CHAR_W * (int)strlen(xlabel)) / 2, height - 2 * CHAR_H,
             xlabel);
    if (ylabel) text(c, CHAR_W / 2, c->top - 2 * CHAR_H + 4, ylabel);
    return RELAGE_OK;
}

void chart_bar(chart *c, double xa, double xb, double y, const uint8_t rgb[3]) {
    int a = px(c, xa), b = px(c, xb) - 1;
    image_fill_rect(&c->canvas, a, py(c, y), b > a ? b : a, c->bottom - 1, rgb);
}

void chart_line(chart *c, const double *x, const double *y, size_t n, const uint8_t rgb[3],
                int width) {
    for (size_t i = 1; i < n; i++)
        image_draw_line(&c->canvas, px(c, x[i - 1]), py(c, y[i - 1]), px(c, x[i]), py(c, y[i]), rgb,
                        width);
}

void chart_point(chart *c, double x, double y, const uint8_t rgb[3], int radius) {
    image_draw_disc(&c->canvas, px(c, x), py(c, y), radius, rgb);
}

void chart_legend(chart *c, const char *label, const uint8_t rgb[3]) {
    int x = c->right - CHAR_W * ((int)strlen(label) + 4),
        y = c->top + c->legend_entries * 2 * CHAR_H;
    image_fill_rect(&c->canvas, x - 4, y - 4, c->right - 4, y + CHAR_H + 4, WHITE);
    image_fill_rect(&c->canvas, x, y + 2, x + 2 * CHAR_W, y + CHAR_H - 2, rgb);
    text(c, x + 3 * CHAR_W, y, label);
    c->legend_entries++;
}

relage_status chart_save(chart *c, const char *path) {
    relage_status st = image_save_png(&c->canvas, path);
    image_free(&c->canvas);
    return st;
}

void kde_gaussian(const double *values, size_t n, const double *xs, double *ys, size_t m) {
    double sd = stats_sd(values, n), h = sd * pow((double)n, -0.2);
    for (size_t j = 0; j < m; j++) {
        double sum = 0.0;
        if (n >= 2 && h > 0)
            for (size_t i = 0; i < n; i++) {
                double u = (xs[j] - values[i]) / h;
                sum += exp(-0.5 * u * u);
            }
        ys[j] = n >= 2 && h > 0 ? sum / ((double)n * h * sqrt(2.0 * 3.14159265358979323846)) : 0;
    }
}

relage_status figure_age_histogram(const char *path, const char *title, const double *ages,
                                   size_t n) {
    size_t counts[101] = {0}, max = 1;
    for (size_t i = 0; i < n; i++) {
        int a = ages[i] < 0 ? 0 : ages[i] > 100 ? 100 : (int)ages[i];
        if (++counts[a] > max) max = counts[a];
    }
    chart c;
    relage_status st =
        chart_begin(&c, 1000, 560, 0, 101, 0, (double)max * 1.08, title, "age", "images");
    if (st != RELAGE_OK) return st;
    for (int a = 0; a <= 100; a++)
        if (counts[a]) chart_bar(&c, a, a + 1, (double)counts[a], chart_colour(0));
    char label[64];
    snprintf(label, sizeof label, "%zu images", n);
    chart_legend(&c, label, chart_colour(0));
    return chart_save(&c, path);
}

relage_status figure_error_by_age(const char *path, const char *title, const double *truth,
                                  const double *predicted, size_t n) {
    enum { BINS = 20 };
    double sum[BINS] = {0}, mae[BINS] = {0}, total = 0, top = 1;
    size_t count[BINS] = {0}, most = 1;
    for (size_t i = 0; i < n; i++) {
        int b = truth[i] < 0 ? 0 : truth[i] >= 100 ? BINS - 1 : (int)(truth[i] / 5);
        double e = fabs(predicted[i] - truth[i]);
        sum[b] += e;
        total += e;
        if (++count[b] > most) most = count[b];
    }
    for (int b = 0; b < BINS; b++) {
        mae[b] = count[b] ? sum[b] / (double)count[b] : 0;
        if (mae[b] > top) top = mae[b];
    }
    chart c;
    relage_status st = chart_begin(&c, 1000, 560, 0, 100, 0, top * 1.12, title,
                                   "true age (5-year bins)", "mean absolute error (years)");
    if (st != RELAGE_OK) return st;
    double xs[BINS], ys[BINS];
    size_t m = 0;
    for (int b = 0; b < BINS; b++) {
        if (count[b]) chart_bar(&c, 5.0 * b + 0.4, 5.0 * b + 4.6, mae[b], chart_colour(0));
        xs[m] = 5.0 * b + 2.5;
        ys[m++] = top * (double)count[b] / (double)most;
    }
    chart_line(&c, xs, ys, m, chart_colour(1), 2);
    char label[96];
    snprintf(label, sizeof label, "MAE by bin (overall %.2f over %zu images)",
             n ? total / (double)n : 0.0, n);
    chart_legend(&c, label, chart_colour(0));
    snprintf(label, sizeof label, "images per bin (largest: %zu)", most);
    chart_legend(&c, label, chart_colour(1));
    return chart_save(&c, path);
}

relage_status figure_kde(const char *path, const char *title, const char *metric,
                         const char *const *names, const double *const *values,
                         const size_t *counts, size_t n_models) {
    enum { POINTS = 400 };
    double lo = INFINITY, hi = -INFINITY, xs[POINTS], ys[POINTS], top = 0;
    for (size_t m = 0; m < n_models; m++) {
        double sd = stats_sd(values[m], counts[m]);
        for (size_t i = 0; i < counts[m]; i++) {
            lo = fmin(lo, values[m][i] - 3 * sd);
            hi = fmax(hi, values[m][i] + 3 * sd);
        }
    }
    if (!(lo < hi))
        return relage_fail(RELAGE_ERR_INVALID_ARG, "KDE figure: needs models with 2 or more "
                                                   "different values");
    for (int j = 0; j < POINTS; j++) xs[j] = lo + (hi - lo) * j / (POINTS - 1);
    for (size_t m = 0; m < n_models; m++) {
        kde_gaussian(values[m], counts[m], xs, ys, POINTS);
        for (int j = 0; j < POINTS; j++) top = fmax(top, ys[j]);
    }
    if (!(top > 0)) return relage_fail(RELAGE_ERR_INVALID_ARG, "KDE figure: no spread to show");
    chart c;
    relage_status st = chart_begin(&c, 1000, 560, lo, hi, 0, top * 1.1, title, metric, "density");
    if (st != RELAGE_OK) return st;
    for (size_t m = 0; m < n_models; m++) {
        kde_gaussian(values[m], counts[m], xs, ys, POINTS);
        chart_line(&c, xs, ys, POINTS, chart_colour(m), 3);
        for (size_t i = 0; i < counts[m]; i++)
            chart_point(&c, values[m][i], top * 0.02, chart_colour(m), 5);
        char label[96];
        snprintf(label, sizeof label, "%s (%zu)", names[m], counts[m]);
        chart_legend(&c, label, chart_colour(m));
    }
    return chart_save(&c, path);
}

/* The first run of run r's model. */
static size_t first_run_of(const char *const *models, size_t r) {
    size_t first = 0;
    while (strcmp(models[first], models[r]) != 0) first++;
    return first;
}

relage_status figure_curves(const char *path, const char *title, const char *metric,
                            const char *const *models, const double *const *curves,
                            const size_t *lengths, size_t n_runs) {
    double lo = INFINITY, hi = -INFINITY;
    size_t epochs = 0;
    for (size_t r = 0; r < n_runs; r++)
        for (size_t e = 0; e < lengths[r]; e++)
            if (isfinite(curves[r][e])) {
                lo = fmin(lo, curves[r][e]);
                hi = fmax(hi, curves[r][e]);
                epochs = e + 1 > epochs ? e + 1 : epochs;
            }
    if (!(lo < hi) || epochs < 2)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "curves figure: needs runs with 2 or more "
                                                   "epochs of different values");
    double pad = 0.05 * (hi - lo), *xs = malloc(epochs * sizeof *xs),
           *ys = malloc(epochs * sizeof *ys);
    chart c;
    relage_status st = xs && ys ? chart_begin(&c, 1000, 560, 1, (double)epochs, lo - pad, hi + pad,
                                              title, "epoch", metric)
                                : relage_fail(RELAGE_ERR_NOMEM, "curves figure: out of memory");
    for (size_t r = 0; st == RELAGE_OK && r < n_runs; r++) {
        size_t first = first_run_of(models, r), colour = 0, runs_of_model = 0;
        for (size_t q = 0; q < first; q++)
            colour += first_run_of(models, q) == q; /* models before */
        size_t n = 0;
        for (size_t e = 0; e < lengths[r]; e++)
            if (isfinite(curves[r][e])) {
                xs[n] = (double)(e + 1);
                ys[n++] = curves[r][e];
            }
        chart_line(&c, xs, ys, n, chart_colour(colour), 2);
        if (first != r) continue;
        for (size_t q = r; q < n_runs; q++) runs_of_model += strcmp(models[q], models[r]) == 0;
        char label[96];
        snprintf(label, sizeof label, "%s (%zu run%s)", models[r], runs_of_model,
                 runs_of_model == 1 ? "" : "s");
        chart_legend(&c, label, chart_colour(colour));
    }
    free(xs);
    free(ys);
    return st == RELAGE_OK ? chart_save(&c, path) : st;
}

relage_status figure_scatter(const char *path, const char *title, const double *truth,
                             const double *predicted, size_t n) {
    chart c;
    relage_status st =
        chart_begin(&c, 760, 760, 0, 100, 0, 100, title, "true age", "predicted age");
    if (st != RELAGE_OK) return st;
    double diag[2] = {0, 100};
    chart_line(&c, diag, diag, 2, chart_colour(7), 2);
    for (size_t i = 0; i < n; i++)
        chart_point(&c, fmin(fmax(truth[i], 0), 100), fmin(fmax(predicted[i], 0), 100),
                    chart_colour(0), 3);
    return chart_save(&c, path);
}

relage_status figure_image_grid(const char *path, const char *title, const char *const *images,
                                const char *const *captions, size_t n, int columns, int tile) {
    if (n == 0 || columns < 1 || tile < 32)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "image grid: nothing to draw");
    int rows = (int)((n + (size_t)columns - 1) / (size_t)columns), pad = 8;
    int cell_h = tile + 3 * CHAR_H + pad, width = columns * (tile + pad) + pad;
    int height = 3 * CHAR_H + rows * cell_h + pad;
    image canvas = {0};
    relage_status st = image_alloc(&canvas, width, height, 3);
    if (st != RELAGE_OK) return st;
    memset(canvas.data, 255, (size_t)width * height * 3);
    if (title)
        image_draw_text(&canvas, (width - CHAR_W * (int)strlen(title)) / 2, CHAR_H, title, BLACK,
                        TEXT_SCALE);
    for (size_t i = 0; i < n; i++) {
        int x = pad + (int)(i % (size_t)columns) * (tile + pad);
        int y = 3 * CHAR_H + (int)(i / (size_t)columns) * cell_h;
        image img = {0}, small = {0};
        const char *caption = captions[i];
        if (image_load(&img, images[i], NULL) == RELAGE_OK) {
            double scale = (double)tile / (img.width > img.height ? img.width : img.height);
            int w = (int)lround(img.width * scale), h = (int)lround(img.height * scale);
            if (image_resize_bilinear(&small, &img, w < 1 ? 1 : w, h < 1 ? 1 : h) == RELAGE_OK) {
                int ox = x + (tile - small.width) / 2, oy = y + (tile - small.height) / 2;
                for (int r = 0; r < small.height; r++)
                    memcpy(canvas.data + ((size_t)(oy + r) * width + ox) * 3,
                           small.data + (size_t)r * small.width * 3, (size_t)small.width * 3);
            }
        } else {
            image_fill_rect(&canvas, x, y, x + tile - 1, y + tile - 1, GREY);
            caption = "unreadable";
        }
        image_draw_text(&canvas, x, y + tile + 4, caption, BLACK, TEXT_SCALE);
        image_free(&small);
        image_free(&img);
    }
    st = image_save_png(&canvas, path);
    image_free(&canvas);
    return st;
}
