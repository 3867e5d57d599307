/* Charts as PNG images: axes with round-number ticks, a title and axis labels, bars, lines,
 * points and a legend, drawn with src/image's primitives; and the figures of the paper built
 * on them (age histograms, kernel density estimates over seeds, predicted against true age). */
#ifndef RELAGE_EVAL_PLOT_H
#define RELAGE_EVAL_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"
#include "relage.h"

typedef struct chart {
    image canvas;
    double x0, x1, y0, y1;        /* data range shown */
    int left, right, top, bottom; /* plot area in pixels */
    int legend_entries;
} chart;

/* A white canvas with the plot area, axes, ticks, title and labels. The ranges must be
 * non-empty (x0 < x1, y0 < y1). */
relage_status chart_begin(chart *c, int width, int height, double x0, double x1, double y0,
                          double y1, const char *title, const char *xlabel, const char *ylabel);
void chart_bar(chart *c, double xa, double xb, double y, const uint8_t rgb[3]);
void chart_line(chart *c, const double *x, const double *y, size_t n, const uint8_t rgb[3],
                int width);
void chart_point(chart *c, double x, double y, const uint8_t rgb[3], int radius);
void chart_legend(chart *c, const char *label, const uint8_t rgb[3]);
/* Writes the PNG and frees the canvas (also on failure). */
relage_status chart_save(chart *c, const char *path);

/* A categorical palette of 8 colours. */
const uint8_t *chart_colour(size_t i);

/* Gaussian kernel density of values at the m points xs, with scipy's gaussian_kde default
 * bandwidth (Scott: sd * n^(-1/5)); n >= 2 with sd > 0, else all zeros. */
void kde_gaussian(const double *values, size_t n, const double *xs, double *ys, size_t m);

/* Figure 3: histogram of ages in 1-year bins from 0 to 100 (older ages in the last bin). */
relage_status figure_age_histogram(const char *path, const char *title, const double *ages,
                                   size_t n);

/* Figures 6 and 7: one kernel density curve per model of a metric over seeds. */
relage_status figure_kde(const char *path, const char *title, const char *metric,
                         const char *const *names, const double *const *values,
                         const size_t *counts, size_t n_models);

/* Learning curves: one line per run of a metric by epoch (curves[r][e] is epoch e + 1; NAN
 * points are left out), coloured by model, with one legend entry per model. */
relage_status figure_curves(const char *path, const char *title, const char *metric,
                            const char *const *models, const double *const *curves,
                            const size_t *lengths, size_t n_runs);

/* Predicted against true age, with the diagonal. */
relage_status figure_scatter(const char *path, const char *title, const double *truth,
                             const double *predicted, size_t n);

/* Error by age: mean absolute error (bars) in 5-year bins of the true age, with each bin's
 * count as a line on the same axis scaled to the tallest bar, and the overall MAE. */
relage_status figure_error_by_age(const char *path, const char *title, const double *truth,
                                  const double *predicted, size_t n);

/* Figures 4 and 5: images as a grid of square tiles (each resized to fit tile x tile, centred)
 * with a caption of up to two lines under each. An image that cannot be read leaves its tile
 * grey with its error as caption. */
relage_status figure_image_grid(const char *path, const char *title, const char *const *images,
                                const char *const *captions, size_t n, int columns, int tile);

#endif
