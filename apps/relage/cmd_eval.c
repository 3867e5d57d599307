/* relage eval --predictions FILE --labels FILE: MAE, epsilon-error, real-age MAE and a
 * breakdown by age group of an existing predictions CSV. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "eval/metrics.h"
#include "inputs.h"

static void eval_usage(FILE *out) {
    fprintf(out,
            "usage: relage eval --predictions FILE --labels FILE [--json] [--challenge]\n"
            "\n"
            "  --predictions FILE  CSV with file_name,predicted_age\n"
            "  --labels FILE       APPA-REAL gt_avg_*.csv, ChaLearn 2015/2016, or path,age[,std]\n"
            "  --challenge         missing predictions count as epsilon 1 over all labels (the\n"
            "                      official rule); by default they are counted and reported\n"
            "  --json              one JSON object\n"
            "\n"
            "epsilon = 1 - exp(-(x - mu)^2 / (2 sigma^2)); for sigma = 0 it is 0 when x == mu,\n"
            "else 1.\n");
}

int cmd_eval(int argc, char **argv) {
    const char *pred_path = NULL, *label_path = NULL;
    int json = 0, challenge = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            eval_usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--challenge") == 0) {
            challenge = 1;
        } else if ((strcmp(a, "--predictions") == 0 || strcmp(a, "--labels") == 0) &&
                   i + 1 < argc) {
            *(a[2] == 'p' ? &pred_path : &label_path) = argv[++i];
        } else {
            fprintf(stderr, "relage eval: unknown or incomplete option '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!pred_path || !label_path) {
        fprintf(stderr, "relage eval: needs --predictions FILE and --labels FILE (see --help)\n");
        return 2;
    }
    label_set labels;
    prediction_set preds;
    eval_result r;
    if (label_set_read(&labels, label_path) != RELAGE_OK) {
        fprintf(stderr, "relage eval: %s\n", relage_last_error());
        return 1;
    }
    if (prediction_set_read(&preds, pred_path) != RELAGE_OK ||
        eval_predictions(&labels, &preds, challenge, &r) != RELAGE_OK) {
        fprintf(stderr, "relage eval: %s\n", relage_last_error());
        label_set_free(&labels);
        return 1;
    }
    static const char *const GROUPS[AGE_GROUPS] = {"0-9",   "10-19", "20-29", "30-39",
                                                   "40-49", "50-59", "60-69", "70+"};
    if (json) {
        printf("{\"n\":%zu,\"mae\":", r.n);
        json_print_number(stdout, r.mae, 4);
        printf(",\"eps\":");
        json_print_number(stdout, r.eps, 4);
        if (r.n_real) {
            printf(",\"mae_real\":");
            json_print_number(stdout, r.mae_real, 4);
        }
        printf(",\"n_missing\":%zu,\"n_extra\":%zu,\"challenge\":%s,\"groups\":{", r.n_missing,
               r.n_extra, challenge ? "true" : "false");
        for (int g = 0, first = 1; g < AGE_GROUPS; g++) {
            if (!r.groups[g].n) continue;
            printf("%s\"%s\":{\"n\":%zu,\"mae\":%.4f,\"eps\":", first ? "" : ",", GROUPS[g],
                   r.groups[g].n, r.groups[g].mae);
            json_print_number(stdout, r.groups[g].eps, 4);
            printf("}");
            first = 0;
        }
        printf("}}\n");
    } else {
        printf("%zu images: MAE %.3f, epsilon-error %.4f", r.n, r.mae, r.eps);
        if (r.n_real) printf(", MAE vs real age %.3f", r.mae_real);
        printf("\n%zu labelled images without a prediction%s, %zu predictions without a label\n",
               r.n_missing, challenge ? " (counted as epsilon 1)" : "", r.n_extra);
        printf("%-8s %6s %8s %8s\n", "age", "n", "MAE", "epsilon");
        for (int g = 0; g < AGE_GROUPS; g++)
            if (r.groups[g].n)
                printf("%-8s %6zu %8.3f %8.4f\n", GROUPS[g], r.groups[g].n, r.groups[g].mae,
                       r.groups[g].eps);
    }
    prediction_set_free(&preds);
    label_set_free(&labels);
    return 0;
}
