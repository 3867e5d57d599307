/* Single-precision matrix multiply for the reference backend, row-major:
 *   C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C
 * op(X) is X or its transpose as trans_a / trans_b say; lda, ldb, ldc are row strides of the
 * stored matrices. beta == 0 overwrites C without reading it. Threads with OpenMP. */
#ifndef RELAGE_CORE_GEMM_H
#define RELAGE_CORE_GEMM_H

#include <stddef.h>

void gemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha, const float *A,
          size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);

#endif
