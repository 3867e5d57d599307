/* Training runs as results files record them, for comparing models over seeds: a JSON object
 * {"runs": {ID: {"arch", "head", "seed", "optimizer", "epochs": [{"epoch", "test_mae",
 * "test_eps"?...}, ...], "test_names"?: [...], "test_pred"?: [...]}}} (the PyTorch reference's
 * format, ../shared/reference/utk128_pytorch_runs.json). A run's result is the test MAE (and
 * epsilon, where recorded) of its last epoch that has one. Runs are grouped into models by
 * arch, head and optimizer ("resnet18_base", "resnet18_base_adamw"). A path that is a folder is
 * read as a finished relage run: its summary.json and, if present, its test_predictions.csv and
 * its per-epoch log.jsonl. Each epoch's "val_mae" makes the run's learning curve. */
#ifndef RELAGE_EVAL_RUNS_H
#define RELAGE_EVAL_RUNS_H

#include <stddef.h>

#include "relage.h"

typedef struct run_result {
    char model[64];
    char id[64];
    int seed;
    double test_mae, test_eps; /* test_eps NAN when not recorded */
    size_t n_pred;
    char **test_names; /* n_pred names and predictions, or NULL */
    double *test_pred;
    size_t n_epochs;
    double *val_mae; /* validation MAE of epochs 1..n_epochs (NAN where not recorded), or NULL */
} run_result;

typedef struct run_set {
    run_result *runs;
    size_t n;
} run_set;

/* Appends the runs of one file (a runs JSON file, or a relage run folder); runs without a test
 * MAE are skipped. With a source (e.g. "pytorch"), the runs' model names become "SOURCE:MODEL",
 * to compare implementations of one model. Errors name the file and the run. */
relage_status run_set_read(run_set *set, const char *path, const char *source);

/* The records run_set_read reads from a run folder: its summary, its per-epoch log and its test
 * predictions. */
enum { RUN_SUMMARY, RUN_LOG, RUN_PREDICTIONS, RUN_RECORDS };
extern const char *const run_records[RUN_RECORDS];

/* Keeps the runs whose model is one of the comma-separated names; a name that matches no run is
 * RELAGE_ERR_INVALID_ARG listing the models there are. */
relage_status run_set_keep_models(run_set *set, const char *names);

/* RELAGE_ERR_INVALID_ARG naming both when two runs are the same model and seed (one run given
 * twice, most likely), or when there is no run at all. */
relage_status run_set_check(const run_set *set);
void run_set_free(run_set *set);

#endif
