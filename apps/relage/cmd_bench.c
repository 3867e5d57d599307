/* relage bench: throughput of the forward pass (inference) or of a whole training step
 * (forward, the paper's three losses, backward, RMSprop) on random data. Times `iters` runs
 * after `warmup` runs and reports the median; --json prints one object per line for scripts. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/clock.h"
#include "core/rng.h"
#include "eval/stats.h"
#include "io/checkpoint.h"
#include "nn/resnet.h"

static void bench_usage(FILE *out) {
    fprintf(out, "usage: relage bench [OPTIONS]\n"
                 "\n"
                 "  --arch NAME       resnet18, resnet34 or resnet50 (default resnet50)\n"
                 "  --head NAME       base, rn or rng (default base)\n"
                 "  --rn-literal      rn: run the literal all-pairs computation\n"
                 "  --input N         input side, >= 32, e.g. 112, 128, 224 (default 224)\n"
                 "  --width W         channel width multiplier (default 1)\n"
                 "  --hidden N        rng hidden size (default 256)\n"
                 "  --batch N         images per iteration (default 1)\n"
                 "  --train           time a training step instead of inference\n"
                 "  --iters N         timed iterations (default 5)\n"
                 "  --warmup N        untimed iterations first (default 1)\n"
                 "  --threads N       threads (default: all cores)\n"
                 "  --backend NAME    dnnl (default: oneDNN) or ref (plain C, the oracle)\n"
                 "  --precision NAME  fp32 (default) or bf16 (the trunk on dnnl, on CPUs with\n"
                 "                    AVX512-BF16 or AMX; refused elsewhere)\n"
                 "  --seed N          initialisation and data seed (default 0)\n"
                 "  --save PATH       write the model afterwards as a safetensors checkpoint\n"
                 "  --json            one JSON object per line\n"
                 "  --quiet           no progress on stderr\n");
}

int cmd_bench(int argc, char **argv) {
    model_config cfg = model_default_config();
    long batch = 1, iters = 5, warmup = 1, threads = omp_get_num_procs(), seed = 0, value;
    int train = 0, json = 0, quiet = 0;
    const char *backend_name = "dnnl", *precision = "fp32", *save_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes_value = 1;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            bench_usage(stdout);
            return 0;
        } else if (strcmp(a, "--train") == 0) {
            train = 1, takes_value = 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1, takes_value = 0;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1, takes_value = 0;
        } else if (strcmp(a, "--rn-literal") == 0) {
            cfg.rn_literal = 1, takes_value = 0;
        } else if (!v) {
            fprintf(stderr, "relage bench: %s needs a value, or is not an option (see --help)\n",
                    a);
            return 2;
        } else if (strcmp(a, "--arch") == 0) {
            if (resnet_arch_parse(v, &cfg.arch) != RELAGE_OK) goto bad_value;
        } else if (strcmp(a, "--head") == 0) {
            if (head_kind_parse(v, &cfg.head) != RELAGE_OK) goto bad_value;
        } else if (strcmp(a, "--input") == 0) {
            if (!parse_int_option(a, v, 32, 4096, &value)) return 2;
            cfg.input = (int)value;
        } else if (strcmp(a, "--width") == 0) {
            char *end = NULL;
            cfg.width = strtof(v, &end);
            if (*end || !(cfg.width > 0.0f && cfg.width <= 8.0f)) {
                fprintf(stderr, "relage bench: --width expects a number in (0, 8], got '%s'\n", v);
                return 2;
            }
        } else if (strcmp(a, "--hidden") == 0) {
            if (!parse_int_option(a, v, 1, 65536, &value)) return 2;
            cfg.hidden = (int)value;
        } else if (strcmp(a, "--batch") == 0) {
            if (!parse_int_option(a, v, 1, 4096, &batch)) return 2;
        } else if (strcmp(a, "--iters") == 0) {
            if (!parse_int_option(a, v, 1, 100000, &iters)) return 2;
        } else if (strcmp(a, "--warmup") == 0) {
            if (!parse_int_option(a, v, 0, 100000, &warmup)) return 2;
        } else if (strcmp(a, "--threads") == 0) {
            if (!parse_int_option(a, v, 1, 1024, &threads)) return 2;
        } else if (strcmp(a, "--seed") == 0) {
            if (!parse_int_option(a, v, 0, 2147483647L, &seed)) return 2;
        } else if (strcmp(a, "--save") == 0) {
            save_path = v;
        } else if (strcmp(a, "--backend") == 0) {
            backend_name = v;
        } else if (strcmp(a, "--precision") == 0) {
            precision = v;
        } else {
            fprintf(stderr, "relage bench: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        i += takes_value;
        continue;
    bad_value:
        fprintf(stderr, "relage bench: %s\n", relage_last_error());
        return 2;
    }
    const backend *be = NULL;
    if (backend_select(backend_name, precision, &be) != RELAGE_OK) {
        fprintf(stderr, "relage bench: %s\n", relage_last_error());
        return 2;
    }
    cfg.seed = (uint64_t)seed;
    omp_set_num_threads((int)threads);

    model *m = NULL;
    optimizer *opt = NULL;
    float *input = NULL, *age = NULL;
    double *times = NULL;
    int rc = 1;
    if (model_create(&m, &cfg, be) != RELAGE_OK || model_reserve(m, (int)batch) != RELAGE_OK) {
        fprintf(stderr, "relage bench: %s\n", relage_last_error());
        goto cleanup;
    }
    optim_config oc = optim_default_config(OPTIM_RMSPROP);
    oc.lr = 1e-4f;
    if (train && optimizer_create(&opt, &oc, m->n_params) != RELAGE_OK) {
        fprintf(stderr, "relage bench: %s\n", relage_last_error());
        goto cleanup;
    }
    size_t n_in = (size_t)batch * 3 * cfg.input * cfg.input;
    input = malloc(n_in * sizeof(float));
    age = malloc((size_t)batch * sizeof(float));
    times = malloc((size_t)iters * sizeof(double));
    if (!input || !age || !times) {
        fprintf(stderr, "relage bench: out of memory for a batch of %ld\n", batch);
        goto cleanup;
    }
    rng r;
    rng_seed(&r, (uint64_t)seed + 1);
    for (size_t i = 0; i < n_in; i++) input[i] = (float)rng_normal(&r);
    for (long b = 0; b < batch; b++) age[b] = (float)(100.0 * rng_uniform(&r));

    progress p;
    progress_start(&p, "bench", "iters", warmup + iters, quiet);
    for (long it = 0; it < warmup + iters; it++) {
        double t0 = clock_seconds();
        relage_status st = train ? model_train_step(m, opt, input, age, (int)batch, oc.lr, NULL)
                                 : model_forward(m, input, (int)batch, 0);
        if (st != RELAGE_OK) {
            fprintf(stderr, "relage bench: %s\n", relage_last_error());
            goto cleanup;
        }
        if (!train) model_expected_age(m);
        if (it >= warmup) times[it - warmup] = clock_seconds() - t0;
        progress_update(&p, it + 1);
    }
    progress_finish(&p, warmup + iters);
    stats_sort(times, (size_t)iters);
    double median = iters % 2 ? times[iters / 2] : 0.5 * (times[iters / 2 - 1] + times[iters / 2]);
    double ms_iter = 1e3 * median, ms_img = ms_iter / (double)batch, img_s = (double)batch / median;
    const char *mode = train ? "train" : "infer";
    if (json) {
        printf("{\"arch\":\"%s\",\"head\":\"%s\",\"rn_literal\":%s,\"width\":%g,\"input\":%d,"
               "\"batch\":%ld,\"mode\":\"%s\",\"backend\":\"%s\",\"precision\":\"%s\","
               "\"threads\":%ld,\"iters\":%ld,\"warmup\":%ld,\"ms_per_iter\":%.3f,"
               "\"ms_per_iter_min\":%.3f,\"ms_per_iter_max\":%.3f,\"ms_per_img\":%.3f,"
               "\"img_per_s\":%.3f,\"params\":%zu,\"relage_version\":\"%s\"}\n",
               resnet_arch_name(cfg.arch), head_kind_name(cfg.head),
               cfg.rn_literal ? "true" : "false", (double)cfg.width, cfg.input, batch, mode,
               backend_name, precision, threads, iters, warmup, ms_iter, 1e3 * times[0],
               1e3 * times[iters - 1], ms_img, img_s, m->n_params, relage_version());
    } else {
        printf("%s %s%s %dx%d width %g, batch %ld, %s, %s %s, %ld threads: %.2f ms/img, "
               "%.2f img/s (median of %ld; %.1f-%.1f ms/iter)\n",
               resnet_arch_name(cfg.arch), head_kind_name(cfg.head),
               cfg.rn_literal ? " (literal)" : "", cfg.input, cfg.input, (double)cfg.width, batch,
               mode, backend_name, precision, threads, ms_img, img_s, iters, 1e3 * times[0],
               1e3 * times[iters - 1]);
    }
    if (save_path && checkpoint_save(m, save_path) != RELAGE_OK) {
        fprintf(stderr, "relage bench: %s\n", relage_last_error());
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(input);
    free(age);
    free(times);
    optimizer_free(opt);
    model_free(m);
    return rc;
}
