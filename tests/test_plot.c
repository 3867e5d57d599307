/* Charts and figures: the kernel density equals scipy's gaussian_kde, and each figure writes a
 * PNG that decodes to the expected size with the plotted colour present. */
#include <math.h>
#include <unistd.h>

#include "eval/plot.h"
#include "test.h"

static int has_colour(const image *img, const uint8_t rgb[3]) {
    for (size_t i = 0; i < (size_t)img->width * img->height; i++)
        if (memcmp(img->data + 3 * i, rgb, 3) == 0) return 1;
    return 0;
}

static void check_png(const char *path, int width, int height) {
    image img = {0};
    CHECK_OK(image_load(&img, path, NULL));
    CHECK_INT_EQ(img.width, width);
    CHECK_INT_EQ(img.height, height);
    if (img.data) CHECK(has_colour(&img, chart_colour(0)));
    image_free(&img);
    unlink(path);
}

int main(void) {
    /* scipy.stats.gaussian_kde([5.9339, 6.0113, 6.0032])([5.9, 6.0, 6.1]) */
    const double v[3] = {5.9339, 6.0113, 6.0032}, xs[3] = {5.9, 6.0, 6.1};
    const double want[3] = {2.438848425025493, 8.161736794822419, 0.20362035610185628};
    double ys[3];
    kde_gaussian(v, 3, xs, ys, 3);
    for (int i = 0; i < 3; i++) CHECK_NEAR(ys[i], want[i], 1e-9 * want[i]);

    char path[64];
    snprintf(path, sizeof path, "/tmp/relage-test-plot-%d.png", (int)getpid());
    double ages[500], pred[500];
    for (int i = 0; i < 500; i++) ages[i] = fmod(i * 37.0, 90.0), pred[i] = ages[i] + (i % 7) - 3;
    CHECK_OK(figure_age_histogram(path, "ages", ages, 500));
    check_png(path, 1000, 560);
    CHECK_OK(figure_scatter(path, "scatter", ages, pred, 500));
    check_png(path, 760, 760);
    const char *names[2] = {"a", "b"};
    const double b[3] = {5.95, 5.99, 6.02}, *values[2] = {v, b};
    const size_t counts[2] = {3, 3};
    CHECK_OK(figure_kde(path, "kde", "MAE", names, values, counts, 2));
    check_png(path, 1000, 560);
    const double same[2] = {1, 1}, *flat[1] = {same};
    const size_t two[1] = {2};
    CHECK_FAILS(figure_kde(path, "kde", "MAE", names, flat, two, 1), RELAGE_ERR_INVALID_ARG);
    CHECK_FAILS(figure_scatter("/nonexistent-dir/x.png", "s", ages, pred, 3), RELAGE_ERR_IO);
    /* an image grid with one readable image and one missing: the missing tile is grey */
    const char *images[2] = {RELAGE_FIXTURES "/images/rgb.png", "/nonexistent/face.jpg"};
    const char *captions[2] = {"true 20\npred 21", "true 30\npred 50"};
    CHECK_OK(figure_image_grid(path, "grid", images, captions, 2, 2, 64));
    image grid = {0};
    CHECK_OK(image_load(&grid, path, NULL));
    CHECK(grid.width == 2 * (64 + 8) + 8 && grid.height > 64);
    image_free(&grid);
    unlink(path);
    return test_summary("test_plot");
}
