/* The smallest program on relage's C API: how old each face in an image looks.
 *
 *   cc predict_ages.c $(pkg-config --cflags --libs relage) \
 *      -Wl,-rpath,$(pkg-config --variable=libdir relage) -o predict_ages
 *   ./predict_ages MODEL IMAGE... */
#include <relage.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL IMAGE...\n", argv[0]);
        return 2;
    }
    relage_predictor *p = NULL;
    if (relage_predictor_create(&p, argv[1], NULL) != RELAGE_OK) {
        fprintf(stderr, "%s\n", relage_last_error());
        return 1;
    }
    int failed = 0;
    for (int i = 2; i < argc; i++) {
        relage_result r;
        if (relage_predict_file(p, argv[i], &r) != RELAGE_OK) {
            fprintf(stderr, "%s\n", relage_last_error());
            failed = 1;
            continue;
        }
        for (size_t k = 0; k < r.n_faces; k++)
            printf("%s face %zu: %.1f years (80%% between %.0f and %.0f)\n", argv[i], k + 1,
                   (double)r.faces[k].age, (double)r.faces[k].interval[0],
                   (double)r.faces[k].interval[1]);
        relage_result_free(&r);
    }
    relage_predictor_free(p);
    return failed;
}
