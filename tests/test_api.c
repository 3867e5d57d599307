/* The public API (include/relage.h) at its edges: NULL handles and results, bad RGB buffers,
 * the pixel limit, "auto" as the model's own detector, results zeroed on failure and safe to
 * free twice. A tiny random model, saved here; no detector ("none") unless said. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "nn/resnet.h"
#include "test.h"

static char model_path[64];

static void save_tiny_model(void) {
    model_config c = model_default_config();
    c.arch = RESNET18, c.width = 1.0f / 16, c.input = 64, c.seed = 3;
    model *m = NULL;
    CHECK_OK(model_create(&m, &c, NULL));
    if (!m) exit(test_summary("test_api"));
    snprintf(model_path, sizeof model_path, "/tmp/relage-test-api-%d.safetensors", (int)getpid());
    CHECK_OK(checkpoint_save(m, model_path));
    model_free(m);
}

static int zeroed(const relage_result *r) {
    const unsigned char *b = (const unsigned char *)r;
    for (size_t i = 0; i < sizeof *r; i++)
        if (b[i]) return 0;
    return 1;
}

static void test_edges(void) {
    relage_predictor_options opt = relage_predictor_default_options();
    opt.detector = "none";
    opt.threads = 1;
    CHECK(opt.max_pixels == 100000000u);
    CHECK_FAILS(relage_predictor_create(NULL, model_path, &opt), RELAGE_ERR_INVALID_ARG);
    relage_predictor *p = NULL;
    CHECK_OK(relage_predictor_create(&p, model_path, &opt));
    if (!p) return;
    relage_result r;
    memset(&r, 0xAB, sizeof r);
    CHECK_FAILS(relage_predict_file(NULL, "x.png", &r), RELAGE_ERR_INVALID_ARG);
    CHECK(zeroed(&r));
    CHECK_FAILS(relage_predict_file(p, "x.png", NULL), RELAGE_ERR_INVALID_ARG);
    CHECK_FAILS(relage_predict_encoded(NULL, "abc", 3, "x", &r), RELAGE_ERR_INVALID_ARG);
    CHECK(strcmp(relage_predictor_notes(NULL), "") == 0);

    enum { W = 40, H = 30 };
    static uint8_t rgb[H][W * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W * 3; x++) rgb[y][x] = (uint8_t)(x * 7 + y * 3);
    CHECK_FAILS(relage_predict_rgb(p, NULL, W, H, W * 3, &r), RELAGE_ERR_INVALID_ARG);
    CHECK(strstr(relage_last_error(), "NULL pixels") != NULL);
    CHECK_FAILS(relage_predict_rgb(p, &rgb[0][0], 0, H, W * 3, &r), RELAGE_ERR_INVALID_ARG);
    CHECK(strstr(relage_last_error(), "a 0x30 image") != NULL);
    CHECK_FAILS(relage_predict_rgb(p, &rgb[0][0], W, H, W * 3 - 1, &r), RELAGE_ERR_INVALID_ARG);
    CHECK(strstr(relage_last_error(), "stride 119 is less than 3 * width (120)") != NULL);
    CHECK(zeroed(&r));
    CHECK_OK(relage_predict_rgb(p, &rgb[0][0], W, H, W * 3, &r));
    CHECK(r.n_faces == 1 && r.whole_image && r.width == W && r.height == H);
    CHECK(r.n_faces == 1 && r.faces[0].age >= 0 && r.faces[0].age <= 100);
    relage_result_free(&r);
    relage_result_free(&r); /* twice: safe */
    CHECK(zeroed(&r));
    relage_predictor_free(p);

    /* the pixel limit, before any copy */
    opt.max_pixels = W * H - 1;
    CHECK_OK(relage_predictor_create(&p, model_path, &opt));
    if (p) {
        CHECK_FAILS(relage_predict_rgb(p, &rgb[0][0], W, H, W * 3, &r), RELAGE_ERR_TOO_LARGE);
        CHECK(strstr(relage_last_error(), "over the limit of 1199 pixels") != NULL);
        CHECK(strcmp(relage_status_string(RELAGE_ERR_TOO_LARGE), "too large") == 0);
        CHECK_FAILS(relage_predict_rgb(p, &rgb[0][0], INT32_MAX, 1, (size_t)INT32_MAX * 3, &r),
                    RELAGE_ERR_TOO_LARGE);
        relage_predictor_free(p);
    }

    /* "auto" is the model's own detector, as NULL is; anything else unknown is refused */
    opt = relage_predictor_default_options();
    setenv("RELAGE_MTCNN", "", 1); /* empty: not named; no weights at home either */
    setenv("HOME", "/nonexistent", 1);
    relage_predictor *a = NULL, *b = NULL;
    relage_status sa = relage_predictor_create(&a, model_path, &opt);
    opt.detector = "auto";
    relage_status sb = relage_predictor_create(&b, model_path, &opt);
    CHECK_INT_EQ(sa, sb);
    if (a && b) CHECK(strcmp(relage_predictor_notes(a), relage_predictor_notes(b)) == 0);
    CHECK(a && strstr(relage_predictor_notes(a), "detector cascade") != NULL); /* fell back */
    relage_predictor_free(a);
    relage_predictor_free(b);
    /* a weights folder named by RELAGE_MTCNN must hold them: a typo does not fall back */
    setenv("RELAGE_MTCNN", "/nonexistent", 1);
    CHECK_FAILS(relage_predictor_create(&a, model_path, &opt), RELAGE_ERR_IO);
    CHECK(strstr(relage_last_error(), "MTCNN weights not found in /nonexistent") != NULL);
    unsetenv("RELAGE_MTCNN");
    opt.detector = "haar";
    CHECK_FAILS(relage_predictor_create(&a, model_path, &opt), RELAGE_ERR_INVALID_ARG);
    CHECK(strstr(relage_last_error(), "choose mtcnn, cascade, none, or auto") != NULL);
}

int main(void) {
    save_tiny_model();
    test_edges();
    remove(model_path);
    return test_summary("test_api");
}
