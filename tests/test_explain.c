/* The pair heat map (src/eval/explain.h) on tiny random models: for rn and base the N x N
 * contributions sum to g . z, the first-order share of the expected age (g = dE/dz), and equal
 * s(j) + s(k); for rng, recomputing every pair's g activation, they sum to dE/ds . s with the
 * head's own s; the figure is written. */
#include "core/rng.h"
#include "eval/explain.h"
#include "nn/heads.h"
#include "nn/loss.h"
#include "test.h"

static double dot_g_z(const model *m) {
    const float *w = m->params + m->fc_cls_weight;
    double e = m->expected[0], total = 0;
    for (int d = 0; d < m->head_dim; d++) {
        double g = 0;
        for (int c = 0; c < AGE_CLASSES; c++)
            g += (double)m->probs[c] * (c - e) * (double)w[(size_t)c * m->head_dim + d];
        total += g * (double)m->z[d];
    }
    return total;
}

static void test_head(head_kind head) {
    model_config c = model_default_config();
    c.arch = RESNET18;
    c.head = head;
    c.width = 1.0f / 16;
    c.input = 96;
    c.hidden = 8;
    c.seed = 3;
    model *m = NULL;
    CHECK_OK(model_create(&m, &c, NULL));
    CHECK_OK(model_reserve(m, 1));
    size_t n = (size_t)3 * 96 * 96;
    float *x = malloc(n * sizeof *x), age = 0;
    rng r;
    rng_seed(&r, 5);
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_normal(&r);
    int N = m->feat_h * m->feat_w;
    float *map = malloc((size_t)N * N * sizeof *map);
    CHECK_OK(explain_pairs(m, x, map, &age));
    CHECK_NEAR(age, m->expected[0], 1e-6);
    double total = 0;
    for (int i = 0; i < N * N; i++) total += (double)map[i];
    if (head != HEAD_RNG) {
        CHECK_NEAR(total, dot_g_z(m), 1e-5 * (1 + fabs(total)));
        /* additive: map[j][k] - map[j][0] does not depend on j */
        for (int j = 1; j < N; j++)
            CHECK_NEAR(map[(size_t)j * N + 1] - map[(size_t)j * N], map[1] - map[0], 1e-6);
    } else {
        /* dE/ds . s with the head's own s and z (the last 2H activations), g = dE/dz */
        rng_head_shape hs = {1, m->feat_c, m->feat_h, m->feat_w, c.hidden};
        const float *end = m->head_acts + rng_head_act_floats(&hs);
        const float *s_act = end - 2 * c.hidden, *z = end - c.hidden;
        const float *w = m->params + m->fc_cls_weight, *F = m->params + m->f1_weight;
        double want = 0, e = m->expected[0];
        for (int o = 0; o < c.hidden; o++) {
            if (!(z[o] > 0)) continue;
            double g = 0;
            for (int k = 0; k < AGE_CLASSES; k++)
                g += (double)m->probs[k] * (k - e) * (double)w[(size_t)k * c.hidden + o];
            for (int i = 0; i < c.hidden; i++)
                want += g * (double)F[(size_t)o * c.hidden + i] * (double)s_act[i];
        }
        CHECK_NEAR(total, want, 1e-4 * (1 + fabs(want)));
    }
    image face = {0};
    CHECK_OK(image_alloc(&face, 96, 96, 3));
    CHECK_OK(explain_figure("/tmp/relage_test_explain.png", &face, map, m->feat_h, m->feat_w, age,
                            "test"));
    image_free(&face);
    free(map);
    free(x);
    model_free(m);
}

int main(void) {
    test_head(HEAD_BASE);
    test_head(HEAD_RN);
    test_head(HEAD_RNG);
    return test_summary("test_explain");
}
