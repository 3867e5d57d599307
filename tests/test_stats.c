/* Shapiro-Wilk and the t-tests against scipy (tests/fixtures/stats.json, made by
 * tools/gen_stats_fixtures.py): statistics and p-values to 1e-6 relative. */
#include <cjson/cJSON.h>
#include <math.h>

#include "eval/stats.h"
#include "test.h"

static double *numbers(const cJSON *array, size_t *n) {
    *n = (size_t)cJSON_GetArraySize(array);
    double *x = malloc(*n * sizeof *x);
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, array) x[i++] = v->valuedouble;
    return x;
}

static double num(const cJSON *o, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(o, key)->valuedouble;
}

/* relative 1e-6, with an absolute floor for p-values that are nearly 0 */
#define CHECK_REL(got, want) CHECK_NEAR(got, want, 1e-6 * fabs(want) + 1e-12)

int main(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/stats.json", RELAGE_FIXTURES);
    FILE *fp = fopen(path, "rb");
    CHECK(fp != NULL);
    if (!fp) return test_summary("test_stats");
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[len] = '\0';
    cJSON *root = cJSON_Parse(text);
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "cases")) {
        const char *kind = cJSON_GetObjectItemCaseSensitive(c, "kind")->valuestring;
        size_t nx = 0, ny = 0;
        double *x = numbers(cJSON_GetObjectItemCaseSensitive(c, "x"), &nx), *y = NULL;
        if (strcmp(kind, "shapiro") == 0) {
            double w = 0, p = 0;
            CHECK_OK(stats_shapiro_wilk(x, nx, &w, &p));
            CHECK_REL(w, num(c, "w"));
            CHECK_REL(p, num(c, "p"));
        } else {
            y = numbers(cJSON_GetObjectItemCaseSensitive(c, "y"), &ny);
            ttest_result r = {0};
            if (strcmp(kind, "ttest") == 0) {
                CHECK_OK(stats_ttest_student(x, nx, y, ny, &r));
                CHECK_REL(r.t, num(c, "student_t"));
                CHECK_REL(r.p, num(c, "student_p"));
                CHECK_OK(stats_ttest_welch(x, nx, y, ny, &r));
                CHECK_REL(r.t, num(c, "welch_t"));
                CHECK_REL(r.p, num(c, "welch_p"));
            } else {
                CHECK_OK(stats_ttest_paired(x, y, nx, &r));
                CHECK_REL(r.t, num(c, "t"));
                CHECK_REL(r.p, num(c, "p"));
            }
        }
        free(x);
        free(y);
    }
    cJSON_Delete(root);
    double same[4] = {1, 1, 1, 1}, w, p;
    CHECK_FAILS(stats_shapiro_wilk(same, 4, &w, &p), RELAGE_ERR_INVALID_ARG);
    CHECK_FAILS(stats_shapiro_wilk(same, 2, &w, &p), RELAGE_ERR_INVALID_ARG);
    return test_summary("test_stats");
}
