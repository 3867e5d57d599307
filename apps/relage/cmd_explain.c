/* relage explain IMAGE --model FILE --out PNG: the paper's Figure 8 for one image, the pair heat
 * map of the largest face beside the face with its cell grid (src/eval/explain.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/predictor_internal.h"
#include "cli.h"
#include "eval/explain.h"
#include "inputs.h"
#include "relage.h"

static void explain_usage(FILE *out) {
    fprintf(out, "usage: relage explain IMAGE --model FILE --out PNG [--mtcnn DIR] [--detector "
                 "NAME]\n"
                 "\n"
                 "Draws, for the largest face, how much each ordered pair of feature-map cells\n"
                 "(j, k) adds to the predicted age (the expected age linearised through the\n"
                 "head; rn: s(j) + s(k), rng: the pair's g activation), beside the face with\n"
                 "the cell grid. Prints the N x N map as CSV with --csv.\n");
}

int cmd_explain(int argc, char **argv) {
    const char *image_path = NULL, *model_path = NULL, *out = NULL;
    relage_predictor_options opt = relage_predictor_default_options();
    int csv = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            explain_usage(stdout);
            return 0;
        } else if (strcmp(a, "--csv") == 0) {
            csv = 1;
        } else if (a[0] == '-' && a[1] == '-' && v) {
            i++;
            if (strcmp(a, "--model") == 0)
                model_path = v;
            else if (strcmp(a, "--out") == 0)
                out = v;
            else if (strcmp(a, "--mtcnn") == 0)
                opt.mtcnn_dir = v;
            else if (strcmp(a, "--detector") == 0)
                opt.detector = v;
            else {
                fprintf(stderr, "relage explain: unknown option '%s' (see --help)\n", a);
                return 2;
            }
        } else if (a[0] != '-' && !image_path) {
            image_path = a;
        } else {
            fprintf(stderr, "relage explain: unexpected '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!image_path || !model_path || !out) {
        fprintf(stderr, "relage explain: needs IMAGE, --model FILE and --out PNG (see --help)\n");
        return 2;
    }
    const char *inputs[2] = {image_path, model_path};
    if (!output_path_ok("explain", "--out", out, inputs, 2)) return 2;
    opt.max_faces = 1;
    relage_predictor *p = NULL;
    image face = {0};
    float *input = NULL, *map = NULL, age = 0;
    int rc = 1;
    if (relage_predictor_create(&p, model_path, &opt) != RELAGE_OK) goto fail;
    model *m = predictor_model(p);
    int S = m->config.input, N = m->feat_h * m->feat_w;
    input = malloc((size_t)3 * S * S * sizeof *input);
    map = malloc((size_t)N * N * sizeof *map);
    if (!input || !map) {
        fprintf(stderr, "relage explain: out of memory\n");
        goto done;
    }
    char title[160];
    const char *slash = strrchr(image_path, '/');
    snprintf(title, sizeof title, "%s: pair contributions (%s head)",
             slash ? slash + 1 : image_path, head_kind_name(m->config.head));
    if (predictor_face_input(p, image_path, &face, input) != RELAGE_OK ||
        explain_pairs(m, input, map, &age) != RELAGE_OK ||
        explain_figure(out, &face, map, m->feat_h, m->feat_w, age, title) != RELAGE_OK)
        goto fail;
    if (csv)
        for (int j = 0; j < N; j++)
            for (int k = 0; k < N; k++)
                printf("%.6g%c", (double)map[(size_t)j * N + k], k + 1 < N ? ',' : '\n');
    double total = 0;
    for (int i = 0; i < N * N; i++) total += (double)map[i];
    fprintf(stderr, "relage explain: predicted age %.2f; the %d x %d pairs add %+.3f years; %s\n",
            (double)age, N, N, total, out);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "relage explain: %s\n", relage_last_error());
done:
    free(input);
    free(map);
    image_free(&face);
    relage_predictor_free(p);
    return rc;
}
