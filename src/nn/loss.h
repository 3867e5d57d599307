/* The paper's outputs and losses. Ages are classes 0..100 (AGE_CLASSES); the prediction is the
 * expected age E = sum_c c * softmax(logits)_c (DEX), and the training loss is, with equal
 * weights, MSE(reg, age) + cross-entropy(logits, class(age)) + MSE(E, age), each a batch mean.
 * reg, age and E are (B); logits and probs are (B, AGE_CLASSES). */
#ifndef RELAGE_NN_LOSS_H
#define RELAGE_NN_LOSS_H

#include <stddef.h>

enum { AGE_CLASSES = 101 };

/* round(age) half to even (as torch.round), clamped to 0..100. */
int age_class(float age);

/* Mean of (pred - target)^2; its backward writes dpred = scale * 2 (pred - target) / B. */
double mse_forward(const float *pred, const float *target, size_t B);
void mse_backward(float *dpred, const float *pred, const float *target, size_t B, float scale);

/* Row-wise softmax of (B, K) logits. */
void softmax_forward(float *probs, const float *logits, size_t B, size_t K);

/* Mean of -log softmax(logits)[label]; the backward writes dlogits = scale (probs - onehot) / B. */
double cross_entropy_forward(const float *logits, const int *labels, size_t B, size_t K);
void cross_entropy_backward(float *dlogits, const float *probs, const int *labels, size_t B,
                            size_t K, float scale);

/* E (B) from probs (B, AGE_CLASSES); the backward accumulates
 * dlogits[b][c] += dE[b] * probs[b][c] * (c - E[b]). */
void expected_age_forward(float *expected, const float *probs, size_t B);
void expected_age_backward(float *dlogits, const float *dexpected, const float *probs,
                           const float *expected, size_t B);

/* Loss values in double: they are reported and averaged, and finite differences read them. */
typedef struct age_loss {
    double mse_reg, cross_entropy, mse_expected, total;
} age_loss;

/* The whole loss and its gradients. probs and expected are outputs (kept for the caller);
 * labels is (B) scratch; dexpected is (B) scratch. dreg and dlogits are written. */
age_loss age_loss_forward_backward(float *dreg, float *dlogits, float *probs, float *expected,
                                   int *labels, float *dexpected, const float *reg,
                                   const float *logits, const float *age, size_t B);

#endif
