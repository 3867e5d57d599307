/* Figure 8 of the paper: for one face, how much each ordered pair of feature-map cells (j, k)
 * adds to the predicted age. The expected age E is linearised at the image through the head's
 * vector z (g = dE/dz = W_cls^T (p * (c - E)), p the softmax over ages c):
 *   rn:   z = mean_{j,k} [a_j; a_k], so pair (j,k) adds g . [a_j; a_k] / N^2 (s(j) + s(k));
 *   base: z = GAP = mean_{j,k} (a_j + a_k) / 2, so pair (j,k) adds g . (a_j + a_k) / (2 N^2);
 *   rng:  z = relu(F s + bf), s = mean_{j,k} g_jk, so pair (j,k) adds
 *         (F^T (g * [z > 0])) . g_jk / N^2, with the pair's g activation g_jk.
 * The N x N contributions sum to g . z (rn, base) or dE/ds . s (rng): the first-order share of E
 * that the pairs carry. */
#ifndef RELAGE_EVAL_EXPLAIN_H
#define RELAGE_EVAL_EXPLAIN_H

#include "image/image.h"
#include "nn/resnet.h"
#include "relage.h"

/* Runs the model on one input (1,3,S,S) and writes the N*N pair contributions (row j, column
 * k) to map (N = feature cells) and the expected age to *age. The model needs room for one
 * image. */
relage_status explain_pairs(model *m, const float *input, float *map, float *age);

/* Draws the face with the h x w cell grid beside the N x N heat map (red adds years, blue
 * removes them) and a colour scale, as a PNG. */
relage_status explain_figure(const char *path, const image *face, const float *map, int h, int w,
                             float age, const char *title);

#endif
