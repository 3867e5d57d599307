/* The reference backend: the plain-C kernels of src/nn, unchanged (conv2d_direct's with GCC vector
 * types), and the choice of a backend by name. */
#include "backend/backend.h"

#include <string.h>

#include "core/status.h"
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

relage_status backend_select(const char *name, const char *precision, const backend **out) {
    *out = NULL;
    backend_precision p;
    if (strcmp(precision, "fp32") == 0)
        p = PRECISION_FP32;
    else if (strcmp(precision, "bf16") == 0)
        p = PRECISION_BF16;
    else
        return relage_fail(RELAGE_ERR_INVALID_ARG, "unknown precision '%s' (choose fp32 or bf16)",
                           precision);
    if (strcmp(name, "dnnl") == 0) return backend_dnnl(out, p);
    if (strcmp(name, "ref") != 0)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "unknown backend '%s' (choose ref or dnnl)",
                           name);
    if (p != PRECISION_FP32)
        return relage_fail(RELAGE_ERR_UNSUPPORTED,
                           "precision %s: the ref backend computes in fp32 only", precision);
    *out = &ref_backend;
    return RELAGE_OK;
}
