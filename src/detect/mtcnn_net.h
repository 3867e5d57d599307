/* Internal to src/detect: the parameters of MTCNN's three networks, filled by mtcnn_weights.c and
 * run by mtcnn.c. Conv weights are (OC,C,K,K). */
#ifndef RELAGE_DETECT_MTCNN_NET_H
#define RELAGE_DETECT_MTCNN_NET_H

#include "backend/backend.h"
#include "detect/mtcnn.h"

typedef struct mtcnn_conv {
    int in, out, k; /* square kernel, stride 1, no padding */
    float *weight;  /* (out, in, k, k) */
    float *packed;  /* conv2d_direct_pack of weight */
    float *bias;    /* (out) */
    float *alpha;   /* PReLU slopes (out); NULL for none */
} mtcnn_conv;

/* The dense layers are held as convolutions: fc1 as a 3x3 convolution of the 3x3 map before
 * it (its weights (OC, C*3*3) in (c, y, x) order), the last layer as a 1x1 convolution. */
struct mtcnn {
    const backend *backend; /* runs the convolutions */
    float *params;          /* every weight, one allocation the layers point into */
    mtcnn_conv pnet[4];     /* conv1-3, then conv4_1 (2 logits) stacked over conv4_2 (4 offsets) */
    mtcnn_conv rnet[5];     /* conv1-3, fc1 (576 -> 128), fc2_1 (2) stacked over fc2_2 (4) */
    mtcnn_conv onet[6];     /* conv1-4, fc1 (1152 -> 256), fc2_1 (2), fc2_2 (4), fc2_3 (10) */
};

#endif
