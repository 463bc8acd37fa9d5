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

/* C (M x N) = alpha * op(A) op(B) + beta * C, column-major; ta/tb: 0 or 1 (transpose). */
void dnn_matrix_gemm_s(int ta, int tb, size_t M, size_t N, size_t K, float alpha,
                       const float *A, size_t lda, const float *B, size_t ldb, float beta,
                       float *C, size_t ldc);
void dnn_matrix_gemm_d(int ta, int tb, size_t M, size_t N, size_t K, double alpha,
                       const double *A, size_t lda, const double *B, size_t ldb, double beta,
                       double *C, size_t ldc);

/* Set the number of threads that share a large product (a pool in matrix.c;
 * OpenBLAS itself runs single-threaded); returns the count in effect. */
int dnn_matrix_set_threads(int n);

/* Current BLAS thread count. */
int dnn_matrix_threads(void);

#endif
