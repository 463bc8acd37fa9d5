/*
 * matrix.c - BLAS wrappers.  The one place that calls ?gemm (DESIGN §1).
 * Sizes arrive as size_t and are narrowed to BLAS's int after a range check
 * done once at model set-up (dnn_model_init refuses dimensions above INT_MAX).
 */
#include "dnn/matrix.h"

#include <cblas.h>

void dnn_matrix_gemm_s(int ta, int tb, size_t M, size_t N, size_t K, float alpha,
                       const float *A, size_t lda, const float *B, size_t ldb, float beta,
                       float *C, size_t ldc)
{
    cblas_sgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

void dnn_matrix_gemm_d(int ta, int tb, size_t M, size_t N, size_t K, double alpha,
                       const double *A, size_t lda, const double *B, size_t ldb, double beta,
                       double *C, size_t ldc)
{
    cblas_dgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

int dnn_matrix_set_threads(int n)
{
    if (n < 1)
        n = 1;
    openblas_set_num_threads(n);
    return openblas_get_num_threads();
}

int dnn_matrix_threads(void) { return openblas_get_num_threads(); }
