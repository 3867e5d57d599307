/* Blocked, packed SGEMM in plain C: B is packed in (KC x NC) panels shared by all threads,
 * A in (MC x KC) blocks per thread, and a (MR x NR) register tile is accumulated by a kernel
 * that the compiler vectorises; the kernel is cloned for AVX-512, AVX2 and baseline x86-64 and
 * the best one is chosen at run time by the loader (GCC function multi-versioning). */
#include "core/gemm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { MR = 6, NR = 32, MC = 72, KC = 256, NC = 512, CHUNK = 128 };

/* The packed B panel is owned by the calling thread, reused across calls and freed when the
 * thread ends (servers start and end threads per connection). */
static pthread_key_t packed_b_key;
static pthread_once_t packed_b_once = PTHREAD_ONCE_INIT;

static void packed_b_key_create(void) {
    pthread_key_create(&packed_b_key, free);
}

static float *packed_b_buffer(void) {
    pthread_once(&packed_b_once, packed_b_key_create);
    float *p = pthread_getspecific(packed_b_key);
    if (!p && (p = aligned_alloc(64, sizeof(float) * KC * NC)))
        pthread_setspecific(packed_b_key, p);
    return p;
}

static inline float element(const float *X, size_t ld, int trans, size_t r, size_t c) {
    return trans ? X[c * ld + r] : X[r * ld + c];
}

/* Bp (kc, ncp) with ncp = nc rounded up to NR, zero-padded. */
static void pack_b(float *Bp, const float *B, size_t ldb, int trans_b, size_t k0, size_t j0,
                   size_t kc, size_t nc) {
    size_t ncp = (nc + NR - 1) / NR * NR;
#pragma omp parallel for schedule(static) if (kc * nc > 16384)
    for (size_t k = 0; k < kc; k++) {
        float *row = Bp + k * ncp;
        if (!trans_b) {
            memcpy(row, B + (k0 + k) * ldb + j0, nc * sizeof(float));
        } else {
            for (size_t j = 0; j < nc; j++) row[j] = B[(j0 + j) * ldb + k0 + k];
        }
        for (size_t j = nc; j < ncp; j++) row[j] = 0.0f;
    }
}

/* Ap: row blocks of MR rows, each stored k-major (kc, MR), scaled by alpha, zero-padded. */
static void pack_a(float *Ap, const float *A, size_t lda, int trans_a, size_t i0, size_t k0,
                   size_t mc, size_t kc, float alpha) {
    for (size_t ib = 0; ib < mc; ib += MR) {
        float *block = Ap + ib * kc;
        for (size_t k = 0; k < kc; k++) {
            for (size_t r = 0; r < MR; r++) {
                size_t i = ib + r;
                block[k * MR + r] =
                    i < mc ? alpha * element(A, lda, trans_a, i0 + i, k0 + k) : 0.0f;
            }
        }
    }
}

/* C tile (rows x cols <= MR x NR) += Ap block (kc, MR) * Bp strip (kc, NR with stride ncp).
 * Plain loops that the compiler vectorises for each clone's vector width. */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) static void
kernel(size_t kc, const float *Ap, const float *Bp, size_t ncp, float *C, size_t ldc, size_t rows,
       size_t cols) {
    float acc[MR][NR] = {{0}};
    for (size_t k = 0; k < kc; k++) {
        const float *b = Bp + k * ncp;
        const float *a = Ap + k * MR;
        for (int r = 0; r < MR; r++)
            for (int c = 0; c < NR; c++) acc[r][c] += a[r] * b[c];
    }
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) C[r * ldc + c] += acc[r][c];
}

void gemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha, const float *A,
          size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    if (M == 0 || N == 0) return;
    for (size_t i = 0; i < M; i++) {
        float *row = C + i * ldc;
        if (beta == 0.0f)
            memset(row, 0, N * sizeof(float));
        else if (beta != 1.0f)
            for (size_t j = 0; j < N; j++) row[j] *= beta;
    }
    if (K == 0 || alpha == 0.0f) return;
    float *Bp = packed_b_buffer();
    if (!Bp) { /* no memory for the panel: the unblocked product, slow but right */
        for (size_t i = 0; i < M; i++)
            for (size_t k = 0; k < K; k++) {
                float a = alpha * element(A, lda, trans_a, i, k);
                for (size_t j = 0; j < N; j++) C[i * ldc + j] += a * element(B, ldb, trans_b, k, j);
            }
        return;
    }
    for (size_t j0 = 0; j0 < N; j0 += NC) {
        size_t nc = N - j0 < NC ? N - j0 : NC;
        size_t ncp = (nc + NR - 1) / NR * NR;
        for (size_t k0 = 0; k0 < K; k0 += KC) {
            size_t kc = K - k0 < KC ? K - k0 : KC;
            pack_b(Bp, B, ldb, trans_b, k0, j0, kc, nc);
            /* Tasks are (row block, column chunk) pairs so that a short, wide product still
             * spreads over all threads; each task packs its own A block. */
            size_t row_blocks = (M + MC - 1) / MC, col_chunks = (nc + CHUNK - 1) / CHUNK;
            size_t tasks = row_blocks * col_chunks;
#pragma omp parallel for schedule(dynamic) if (M * nc * kc > 65536)
            for (size_t task = 0; task < tasks; task++) {
                float Ap[MC * KC] __attribute__((aligned(64)));
                size_t i0 = task / col_chunks * MC, c0 = task % col_chunks * CHUNK;
                size_t mc = M - i0 < MC ? M - i0 : MC, c1 = nc - c0 < CHUNK ? nc : c0 + CHUNK;
                pack_a(Ap, A, lda, trans_a, i0, k0, mc, kc, alpha);
                for (size_t ib = 0; ib < mc; ib += MR) {
                    size_t rows = mc - ib < MR ? mc - ib : MR;
                    for (size_t jb = c0; jb < c1; jb += NR) {
                        size_t cols = nc - jb < NR ? nc - jb : NR;
                        kernel(kc, Ap + ib * kc, Bp + jb, ncp, C + (i0 + ib) * ldc + j0 + jb, ldc,
                               rows, cols);
                    }
                }
            }
        }
    }
}
