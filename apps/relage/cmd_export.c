/* relage export MODEL --out FILE [--dtype f16|bf16|f32]: the same model in a smaller file, its
 * weights rounded to 16 bits (io/checkpoint.h, checkpoint_save_as). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "backend/backend.h"
#include "cli.h"
#include "inputs.h"
#include "io/checkpoint.h"
#include "relage.h"

static void export_usage(FILE *out) {
    fprintf(out, "usage: relage export MODEL --out FILE [--dtype f16|bf16|f32]\n"
                 "\n"
                 "Writes the model again with its weights (convolutions and fully connected\n"
                 "layers) stored as --dtype (default f16: half the size; bf16 keeps float32's\n"
                 "range with less precision); biases and BatchNorm stay float32. relage reads\n"
                 "every form; measure what the rounding costs with relage eval.\n");
}

static double megabytes(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_size / 1e6 : 0.0;
}

int cmd_export(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *dtype_name = "f16";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            export_usage(stdout);
            return 0;
        } else if (strcmp(a, "--out") == 0 && v) {
            out = argv[++i];
        } else if (strcmp(a, "--dtype") == 0 && v) {
            dtype_name = argv[++i];
        } else if (a[0] != '-' && !in) {
            in = a;
        } else {
            fprintf(stderr, "relage export: unexpected '%s' (see --help)\n", a);
            return 2;
        }
    }
    safetensors_dtype dtype;
    if (strcmp(dtype_name, "f16") == 0)
        dtype = SAFETENSORS_F16;
    else if (strcmp(dtype_name, "bf16") == 0)
        dtype = SAFETENSORS_BF16;
    else if (strcmp(dtype_name, "f32") == 0)
        dtype = SAFETENSORS_F32;
    else {
        fprintf(stderr, "relage export: --dtype must be f16, bf16 or f32, not '%s'\n", dtype_name);
        return 2;
    }
    if (!in || !out) {
        fprintf(stderr, "relage export: needs MODEL and --out FILE (see --help)\n");
        return 2;
    }
    const char *inputs[1] = {in};
    if (!output_path_ok("export", "--out", out, inputs, 1)) return 2;
    model *m = NULL;
    if (checkpoint_open_model(&m, in, backend_ref(), 1) != RELAGE_OK ||
        checkpoint_save_as(m, out, dtype) != RELAGE_OK) {
        fprintf(stderr, "relage export: %s\n", relage_last_error());
        model_free(m);
        return 1;
    }
    model_free(m);
    fprintf(stderr, "relage export: %s (%.1f MB) -> %s (%.1f MB, weights %s)\n", in, megabytes(in),
            out, megabytes(out), dtype_name);
    return 0;
}
