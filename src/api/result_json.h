/* The JSON object of one image's prediction, as `relage predict --json` prints it and
 * `relage serve` answers: {"image": NAME, "whole_image": B, "faces": [{"box": [x1,y1,x2,y2],
 * "prob": P, "age": E, "spread": S, "interval": [LO, HI], "regression": R[, "dist": [...]]}]},
 * or {"image": NAME, "error": TEXT}. No trailing newline. */
#ifndef RELAGE_API_RESULT_JSON_H
#define RELAGE_API_RESULT_JSON_H

#include <stdio.h>

#include "relage.h"

void result_json_write(FILE *out, const char *image, const relage_result *r, int dist);
void error_json_write(FILE *out, const char *image, const char *error);

#endif
