/* Accuracy of apparent-age predictions: MAE against the mean of the human votes, the
 * epsilon-error 1 - exp(-(x - mu)^2 / (2 sigma^2)) of the ChaLearn LAP challenges, MAE against
 * the real age where the labels have it, and a breakdown by age group (0-9, ..., 70+).
 *
 * sigma = 0 (11 APPA-REAL test images): the limit of the formula, 0 when the prediction equals
 * mu exactly and 1 otherwise. */
#ifndef RELAGE_EVAL_METRICS_H
#define RELAGE_EVAL_METRICS_H

#include <stddef.h>

#include "data/labels.h"
#include "relage.h"

/* Reads predictions: a CSV with columns file_name (or image, path) and predicted_age (or age),
 * header required; a name given twice is RELAGE_ERR_FORMAT naming both lines. */
typedef struct prediction_set {
    char **names;
    double *ages;
    size_t n;
} prediction_set;
relage_status prediction_set_read(prediction_set *preds, const char *path);
void prediction_set_free(prediction_set *preds);

/* Writes predictions atomically: PRED_CSV "file_name,predicted_age" with a header (what
 * prediction_set_read reads), or the ChaLearn submission files, PRED_CHALEARN15 "name;age" and
 * PRED_CHALEARN16 "name,age" without one. Ages with 4 decimals. */
typedef enum prediction_format { PRED_CSV, PRED_CHALEARN15, PRED_CHALEARN16 } prediction_format;
relage_status prediction_set_write(const prediction_set *preds, const char *path,
                                   prediction_format format);

double epsilon_error(double prediction, double mean, double std);

enum { AGE_GROUPS = 8 }; /* 0-9, 10-19, ..., 60-69, 70+ by the label's mean */

typedef struct eval_group {
    size_t n;
    double mae, eps;
} eval_group;

typedef struct eval_result {
    size_t n;         /* labelled images with a prediction (the metrics' denominator) */
    size_t n_missing; /* labelled images without a prediction */
    size_t n_extra;   /* predictions without a label */
    size_t n_real;    /* of n, those with a real age */
    double mae, eps, mae_real;
    eval_group groups[AGE_GROUPS];
    eval_group gender[2], race[5]; /* by the labels' codes where they carry them (UTKFace) */
} eval_result;

/* The prediction of each label: match[i] is the index into preds of the one whose name equals
 * label i's exactly, else whose part after the last '/' equals label i's, else EVAL_NO_MATCH.
 * Ambiguity is RELAGE_ERR_FORMAT naming the names: two predictions with label i's base name, or
 * one prediction matching two labels. O((labels + predictions) log predictions). Prediction
 * files with a name twice are refused when read (prediction_set_read). */
#define EVAL_NO_MATCH ((size_t)-1)
relage_status eval_match(const label_set *labels, const prediction_set *preds, size_t *match);

/* Matches predictions to labels as eval_match does.
 * challenge: missing predictions count as epsilon 1 over the whole label file, the official
 * rule: epsilon is then averaged over all labels (n still counts the matched images). */
relage_status eval_predictions(const label_set *labels, const prediction_set *preds, int challenge,
                               eval_result *result);

#endif
