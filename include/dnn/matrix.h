/*
 * matrix.h - the only module that calls BLAS.
 *
 * All matrices in dnn are column-major with examples as columns (course
 * notation: X is (n_x, m)).  Weights W[l] (n[l], n[l-1]) are stored row-major,
 * as numpy and the checkpoint hold them, which is the column-major W[l]^T; the
 * model passes the transpose flags so BLAS reads them in place, no copies.
 */
#ifndef DNN_MATRIX_H
#define DNN_MATRIX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dnn/common.h"

/* C (M x N) = alpha * op(A) op(B) + beta * C, column-major; ta/tb: 0 or 1 (transpose). */
void dnn_matrix_gemm_s(int ta, int tb, size_t M, size_t N, size_t K, float alpha,
                       const float *A, size_t lda, const float *B, size_t ldb, float beta,
                       float *C, size_t ldc);
void dnn_matrix_gemm_d(int ta, int tb, size_t M, size_t N, size_t K, double alpha,
                       const double *A, size_t lda, const double *B, size_t ldb, double beta,
                       double *C, size_t ldc);

/*
 * C (M x N) = A^T B, column-major, A (K x M) and B (K x N): the product of
 * every evaluation pass.  Each element is one dot product computed in one
 * fixed order, so a column of C has the same bits whatever the other columns
 * are, whichever CPU or thread count (README, Batch invariance).
 */
void dnn_matrix_dot_s(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb, float *C,
                      size_t ldc);
void dnn_matrix_dot_d(size_t M, size_t N, size_t K, const double *A, size_t lda, const double *B, size_t ldb,
                      double *C, size_t ldc);

/*
 * bf16 (--precision bf16, README, Data-parallel training and determinism): C (M x N, float32) = alpha op(A) op(B)
 * + beta C with A and B in bfloat16 (the top 16 bits of a float32), float32
 * accumulation, through oneDNN.  Call dnn_matrix_bf16_init first.  Bitwise
 * the same for any thread count, like the float products.
 */
void dnn_matrix_gemm_bf16(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const uint16_t *A,
                          size_t lda, const uint16_t *B, size_t ldb, float beta, float *C, size_t ldc);

/* 0 when bf16 products can run here (a CPU with AVX512_BF16 and oneDNN's
 * engine), else DNN_EINVAL and msg says why and what to use instead. */
int dnn_matrix_bf16_init(char *msg);

/* Create, at set-up, the primitives that gemm_bf16 with this shape, these
 * leading dimensions and this beta (alpha 1) will use; 0 or DNN_EINVAL. */
int dnn_matrix_bf16_prepare(int ta, int tb, size_t M, size_t N, size_t K, size_t lda, size_t ldb, size_t ldc,
                            float beta, char *msg);

/* float32 -> bfloat16, rounded to nearest, ties to even; a NaN stays a (quiet) NaN. */
static inline uint16_t dnn_bf16_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float dnn_bf16_value(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* dst[i] = dnn_bf16_round(src[i]) for i < n. */
void dnn_matrix_to_bf16(uint16_t *restrict dst, const float *restrict src, size_t n);

/*
 * Run fn(ctx, lo, hi) over parts [lo, hi) of [0, n) on the pool's threads and
 * wait: a power of two of them (at most 8), each at least grain long (split at
 * multiples of 16 when grain >= 16).  The parts depend only on n and grain,
 * so element-wise work gives the same bits for any thread count.
 */
void dnn_matrix_parallel(void (*fn)(void *ctx, size_t lo, size_t hi), void *ctx, size_t n, size_t grain);

/* Set the number of threads that share a large product (a pool in matrix.c;
 * OpenBLAS itself runs single-threaded); returns the count in effect. */
int dnn_matrix_set_threads(int n);

/* Current BLAS thread count. */
int dnn_matrix_threads(void);

#endif
