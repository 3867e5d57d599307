/* The reference backend: the plain-C kernels of src/nn, unchanged (conv2d_direct's with GCC vector
 * types). */
#include "backend/backend.h"
#include "nn/linear.h"
#include "nn/pool.h"
#include "nn/relu.h"

static const backend ref_backend = {
    .name = "ref",
    .conv2d_forward = conv2d_forward,
    .conv2d_backward_data = conv2d_backward_data,
    .conv2d_backward_weights = conv2d_backward_weights,
    .conv2d_direct_forward = conv2d_direct_forward,
    .conv2d_direct_rows_forward = conv2d_direct_rows_forward,
    .batchnorm2d_forward_train = batchnorm2d_forward_train,
    .batchnorm2d_forward_eval = batchnorm2d_forward_eval,
    .batchnorm2d_backward = batchnorm2d_backward,
    .relu_forward = relu_forward,
    .relu_backward = relu_backward,
    .residual_add_forward = residual_add_forward,
    .maxpool_forward = maxpool_forward,
    .maxpool_backward = maxpool_backward,
    .linear_forward = linear_forward,
    .linear_backward = linear_backward,
};

const backend *backend_ref(void) {
    return &ref_backend;
}
