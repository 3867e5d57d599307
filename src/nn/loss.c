/* Softmax, cross-entropy, MSE and the expected age, forward and backward, with the sums kept
 * in double. */
#include "nn/loss.h"

#include <math.h>

int age_class(float age) {
    float r = nearbyintf(age); /* default rounding mode: half to even, as torch.round */
    if (!(r > 0.0f)) return 0;
    if (r > (float)(AGE_CLASSES - 1)) return AGE_CLASSES - 1;
    return (int)r;
}

double mse_forward(const float *pred, const float *target, size_t B) {
    double sum = 0.0;
    for (size_t b = 0; b < B; b++) {
        double d = (double)pred[b] - (double)target[b];
        sum += d * d;
    }
    return sum / (double)B;
}

void mse_backward(float *dpred, const float *pred, const float *target, size_t B, float scale) {
    for (size_t b = 0; b < B; b++) dpred[b] = scale * 2.0f * (pred[b] - target[b]) / (float)B;
}

void softmax_forward(float *probs, const float *logits, size_t B, size_t K) {
    for (size_t b = 0; b < B; b++) {
        const float *x = logits + b * K;
        float *p = probs + b * K;
        float max = x[0];
        for (size_t k = 1; k < K; k++) max = x[k] > max ? x[k] : max;
        double sum = 0.0;
        for (size_t k = 0; k < K; k++) sum += exp((double)x[k] - (double)max);
        for (size_t k = 0; k < K; k++) p[k] = (float)(exp((double)x[k] - (double)max) / sum);
    }
}

double cross_entropy_forward(const float *logits, const int *labels, size_t B, size_t K) {
    double total = 0.0;
    for (size_t b = 0; b < B; b++) {
        const float *x = logits + b * K;
        float max = x[0];
        for (size_t k = 1; k < K; k++) max = x[k] > max ? x[k] : max;
        double sum = 0.0;
        for (size_t k = 0; k < K; k++) sum += exp((double)x[k] - (double)max);
        total += log(sum) + (double)max - (double)x[labels[b]];
    }
    return total / (double)B;
}

void cross_entropy_backward(float *dlogits, const float *probs, const int *labels, size_t B,
                            size_t K, float scale) {
    float k_scale = scale / (float)B;
    for (size_t b = 0; b < B; b++)
        for (size_t k = 0; k < K; k++)
            dlogits[b * K + k] = k_scale * (probs[b * K + k] - ((int)k == labels[b] ? 1.0f : 0.0f));
}

void expected_age_forward(float *expected, const float *probs, size_t B) {
    for (size_t b = 0; b < B; b++) {
        double e = 0.0;
        for (int c = 0; c < AGE_CLASSES; c++) e += (double)c * (double)probs[b * AGE_CLASSES + c];
        expected[b] = (float)e;
    }
}

void expected_age_backward(float *dlogits, const float *dexpected, const float *probs,
                           const float *expected, size_t B) {
    for (size_t b = 0; b < B; b++)
        for (int c = 0; c < AGE_CLASSES; c++) {
            size_t i = b * AGE_CLASSES + c;
            dlogits[i] += dexpected[b] * probs[i] * ((float)c - expected[b]);
        }
}

age_loss age_loss_forward_backward(float *dreg, float *dlogits, float *probs, float *expected,
                                   int *labels, float *dexpected, const float *reg,
                                   const float *logits, const float *age, size_t B) {
    age_loss loss;
    for (size_t b = 0; b < B; b++) labels[b] = age_class(age[b]);
    softmax_forward(probs, logits, B, AGE_CLASSES);
    expected_age_forward(expected, probs, B);
    loss.mse_reg = mse_forward(reg, age, B);
    loss.cross_entropy = cross_entropy_forward(logits, labels, B, AGE_CLASSES);
    loss.mse_expected = mse_forward(expected, age, B);
    loss.total = loss.mse_reg + loss.cross_entropy + loss.mse_expected;
    mse_backward(dreg, reg, age, B, 1.0f);
    cross_entropy_backward(dlogits, probs, labels, B, AGE_CLASSES, 1.0f);
    mse_backward(dexpected, expected, age, B, 1.0f);
    expected_age_backward(dlogits, dexpected, probs, expected, B);
    return loss;
}
