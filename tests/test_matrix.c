/*
 * test_matrix.c - CUnit suite for the matrix module (the BLAS wrappers).
 *
 * The reference is a naive triple loop in long double over the column-major
 * definition C = alpha op(A) op(B) + beta C.  Every transpose combination is
 * tried on non-square shapes stored with leading dimensions larger than the
 * row count; the padding rows must come back untouched.  Inputs come from a
 * small LCG in this file, so nothing depends on dnn's own generator.
 */
#include "dnn/matrix.h"

#include "dnn_test.h"
#include <CUnit/Basic.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t lcg_state;

static void lcg_seed(uint64_t s) { lcg_state = s * 2862933555777941757ULL + 3037000493ULL; }

/* Uniform in [-1, 1) from the top 53 bits of a 64-bit LCG. */
static double lcg_uniform(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

#define PAD_VALUE 12345.0 /* marks storage outside the logical matrices */

/* Element (i, j) of op(X) where X is stored column-major with leading dim ld. */
static long double op_at(const double *X, size_t ld, int t, size_t i, size_t j)
{
    return t ? X[j + i * ld] : X[i + j * ld];
}

/* Naive reference: C = alpha op(A) op(B) + beta C, all column-major. */
static void naive_gemm(int ta, int tb, size_t M, size_t N, size_t K, double alpha, const double *A,
                       size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc)
{
    for (size_t j = 0; j < N; j++)
        for (size_t i = 0; i < M; i++) {
            long double s = 0;
            for (size_t k = 0; k < K; k++)
                s += op_at(A, lda, ta, i, k) * op_at(B, ldb, tb, k, j);
            C[i + j * ldc] = (double)((long double)alpha * s + (long double)beta * C[i + j * ldc]);
        }
}

/*
 * Fill a (rows x cols) column-major matrix with leading dimension ld:
 * values in [-1, 1) inside, PAD_VALUE in the padding rows.
 */
static void fill(double *X, size_t rows, size_t cols, size_t ld)
{
    for (size_t j = 0; j < cols; j++)
        for (size_t i = 0; i < ld; i++)
            X[i + j * ld] = i < rows ? lcg_uniform() : PAD_VALUE;
}

/*
 * Run both precisions on one shape and transpose combination and compare
 * with the reference.  Tolerances: double 1e-13 and float 2e-6 times
 * (K + 1) (each term is at most 1 in magnitude), absolute.
 */
static void check_case(int ta, int tb, size_t M, size_t N, size_t K, size_t pad, double alpha,
                       double beta, unsigned seed)
{
    size_t arows = ta ? K : M, acols = ta ? M : K;
    size_t brows = tb ? N : K, bcols = tb ? K : N;
    size_t lda = arows + pad, ldb = brows + pad + 1, ldc = M + pad + 2;
    double *A = malloc(lda * acols * sizeof *A), *B = malloc(ldb * bcols * sizeof *B);
    double *C0 = malloc(ldc * N * sizeof *C0), *Cref = malloc(ldc * N * sizeof *Cref);
    double *Cd = malloc(ldc * N * sizeof *Cd);
    float *As = malloc(lda * acols * sizeof *As), *Bs = malloc(ldb * bcols * sizeof *Bs);
    float *Cs = malloc(ldc * N * sizeof *Cs);
    CU_ASSERT_FATAL(A && B && C0 && Cref && Cd && As && Bs && Cs);
    lcg_seed(seed);
    fill(A, arows, acols, lda);
    fill(B, brows, bcols, ldb);
    fill(C0, M, N, ldc);
    /* Round inputs to float first, so both precisions share one reference up to rounding. */
    for (size_t i = 0; i < lda * acols; i++)
        A[i] = As[i] = (float)A[i];
    for (size_t i = 0; i < ldb * bcols; i++)
        B[i] = Bs[i] = (float)B[i];
    for (size_t i = 0; i < ldc * N; i++)
        C0[i] = Cs[i] = (float)C0[i];
    memcpy(Cref, C0, ldc * N * sizeof *Cref);
    memcpy(Cd, C0, ldc * N * sizeof *Cd);
    naive_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cref, ldc);
    dnn_matrix_gemm_d(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cd, ldc);
    dnn_matrix_gemm_s(ta, tb, M, N, K, (float)alpha, As, lda, Bs, ldb, (float)beta, Cs, ldc);
    double tol_d = 1e-13 * (double)(K + 1), tol_s = 2e-6 * (double)(K + 1);
    double worst_d = 0, worst_s = 0;
    int pad_ok = 1;
    for (size_t j = 0; j < N; j++)
        for (size_t i = 0; i < ldc; i++) {
            size_t p = i + j * ldc;
            if (i >= M) {
                pad_ok &= Cd[p] == PAD_VALUE && Cs[p] == (float)PAD_VALUE;
                continue;
            }
            worst_d = fmax(worst_d, fabs(Cd[p] - Cref[p]));
            worst_s = fmax(worst_s, fabs((double)Cs[p] - Cref[p]));
        }
    if (worst_d > tol_d || worst_s > tol_s || !pad_ok)
        fprintf(stderr, "\n  gemm ta=%d tb=%d M=%zu N=%zu K=%zu: max error double %.3g float %.3g, padding %s\n",
                ta, tb, M, N, K, worst_d, worst_s, pad_ok ? "kept" : "OVERWRITTEN");
    CU_ASSERT(worst_d <= tol_d);
    CU_ASSERT(worst_s <= tol_s);
    CU_ASSERT(pad_ok);
    free(A), free(B), free(C0), free(Cref), free(Cd), free(As), free(Bs), free(Cs);
}

/* All four transpose combinations on a small non-square shape, ld > rows. */
static void test_matrix_gemm_transposes_small(void)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            check_case(ta, tb, 5, 3, 4, 2, 1.5, -0.5, 10u + (unsigned)(2 * ta + tb));
}

/* Shapes large enough for OpenBLAS's blocked kernels, with odd sizes. */
static void test_matrix_gemm_transposes_blocked(void)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_case(ta, tb, 37, 29, 41, 3, 1.0, 0.0, 20u + (unsigned)(2 * ta + tb));
            check_case(ta, tb, 130, 7, 259, 1, -0.75, 1.0, 30u + (unsigned)(2 * ta + tb));
        }
}

/* Degenerate shapes: one row, one column, K = 1 (outer product). */
static void test_matrix_gemm_thin_shapes(void)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_case(ta, tb, 1, 6, 5, 1, 1.0, 0.0, 40u);
            check_case(ta, tb, 6, 1, 5, 1, 1.0, 1.0, 41u);
            check_case(ta, tb, 4, 3, 1, 2, 2.0, 0.25, 42u);
        }
}

/*
 * beta = 0 must ignore what C holds: the model writes Z into uninitialized
 * activation buffers with beta = 0, so a NaN left there must not survive.
 */
static void test_matrix_gemm_beta_zero_ignores_c(void)
{
    double A[6] = {1, 2, 3, 4, 5, 6}, B[3] = {1, -1, 2}; /* A (2x3), B (3x1) */
    double C[2] = {NAN, INFINITY};
    float As[6] = {1, 2, 3, 4, 5, 6}, Bs[3] = {1, -1, 2}, Cs[2] = {NAN, -INFINITY};
    dnn_matrix_gemm_d(0, 0, 2, 1, 3, 1.0, A, 2, B, 3, 0.0, C, 2);
    dnn_matrix_gemm_s(0, 0, 2, 1, 3, 1.0f, As, 2, Bs, 3, 0.0f, Cs, 2);
    /* column-major A = [[1,3,5],[2,4,6]]: A B = [1-3+10, 2-4+12] = [8, 10] */
    CU_ASSERT_EQUAL(C[0], 8.0);
    CU_ASSERT_EQUAL(C[1], 10.0);
    CU_ASSERT_EQUAL(Cs[0], 8.0f);
    CU_ASSERT_EQUAL(Cs[1], 10.0f);
}

/* A hand-computed product with transposes, exact in both precisions. */
static void test_matrix_gemm_hand_values(void)
{
    /* A stored column-major (3x2) = [[1,4],[2,5],[3,6]]; op(A) = A^T (2x3). */
    double A[6] = {1, 2, 3, 4, 5, 6};
    /* B stored column-major (2x3) = [[1,0,2],[0,1,-1]]; op(B) = B^T (3x2). */
    double B[6] = {1, 0, 0, 1, 2, -1};
    double C[4] = {1, 1, 1, 1};
    /* A^T B^T = [[1+0+6, 0+2-3],[4+0+12, 0+5-6]] = [[7,-1],[16,-1]]; C = 2*that - C */
    dnn_matrix_gemm_d(1, 1, 2, 2, 3, 2.0, A, 3, B, 2, -1.0, C, 2);
    CU_ASSERT_EQUAL(C[0], 13.0);
    CU_ASSERT_EQUAL(C[1], 31.0);
    CU_ASSERT_EQUAL(C[2], -3.0);
    CU_ASSERT_EQUAL(C[3], -3.0);
    float As[6] = {1, 2, 3, 4, 5, 6}, Bs[6] = {1, 0, 0, 1, 2, -1}, Cs[4] = {1, 1, 1, 1};
    dnn_matrix_gemm_s(1, 1, 2, 2, 3, 2.0f, As, 3, Bs, 2, -1.0f, Cs, 2);
    CU_ASSERT_EQUAL(Cs[0], 13.0f);
    CU_ASSERT_EQUAL(Cs[1], 31.0f);
    CU_ASSERT_EQUAL(Cs[2], -3.0f);
    CU_ASSERT_EQUAL(Cs[3], -3.0f);
}

/*
 * Products large enough to be split over the thread pool (rows of C when M is
 * the larger side, columns otherwise), for every transpose combination: equal
 * to the reference, and bitwise equal to the one-thread result, since the
 * split leaves each element's K-sum to a single ?gemm call.
 */
static void test_matrix_gemm_split_threads(void)
{
    int before = dnn_matrix_threads();
    CU_ASSERT_EQUAL_FATAL(dnn_matrix_set_threads(3), 3);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_case(ta, tb, 301, 70, 120, 2, 1.0, 0.5, 40u + (unsigned)(2 * ta + tb)); /* split by rows */
            check_case(ta, tb, 70, 301, 120, 1, -1.0, 1.0, 50u + (unsigned)(2 * ta + tb)); /* by columns */
        }
    size_t M = 257, N = 190, K = 150;
    float *A = malloc(M * K * sizeof *A), *B = malloc(K * N * sizeof *B);
    float *C1 = malloc(M * N * sizeof *C1), *C3 = malloc(M * N * sizeof *C3);
    CU_ASSERT_FATAL(A && B && C1 && C3);
    for (size_t i = 0; i < M * K; i++)
        A[i] = (float)sin((double)i);
    for (size_t i = 0; i < K * N; i++)
        B[i] = (float)cos((double)i * 0.7);
    dnn_matrix_gemm_s(1, 0, M, N, K, 1, A, K, B, K, 0, C3, M); /* 3 threads */
    dnn_matrix_set_threads(1);
    dnn_matrix_gemm_s(1, 0, M, N, K, 1, A, K, B, K, 0, C1, M);
    CU_ASSERT(memcmp(C1, C3, M * N * sizeof *C1) == 0);
    free(A), free(B), free(C1), free(C3);
    dnn_matrix_set_threads(before);
}

/*
 * dnn_matrix_dot: C = A^T B where each element is the documented fixed-order
 * dot product (README, Batch invariance): lanes of W = 16 floats / 8 doubles,
 * lane l fusing k = l, l + W, ... in order (lanes past K fuse 0 * 0), then
 * halved pairwise.  The reference below is that definition written with
 * fmaf/fma one element at a time; the result must equal it bitwise, for the
 * AVX-512 kernel and for the portable one (ctest unit_matrix_portable runs
 * this suite with DNN_DOT_PORTABLE=1), for K not a multiple of W, tile edges
 * (M, N not multiples of 4), leading dimensions above the row counts, and 1
 * or 3 threads.  It must also be close to the long double product.
 */
static float ref_dot_s(const float *a, const float *b, size_t K)
{
    float acc[16] = {0}, s8[8], s4[4], s2[2];
    for (size_t k = 0; k < K; k += 16)
        for (size_t l = 0; l < 16; l++)
            acc[l] = k + l < K ? fmaf(a[k + l], b[k + l], acc[l]) : fmaf(0.0f, 0.0f, acc[l]);
    for (int l = 0; l < 8; l++)
        s8[l] = acc[l] + acc[l + 8];
    for (int l = 0; l < 4; l++)
        s4[l] = s8[l] + s8[l + 4];
    for (int l = 0; l < 2; l++)
        s2[l] = s4[l] + s4[l + 2];
    return s2[0] + s2[1];
}

static double ref_dot_d(const double *a, const double *b, size_t K)
{
    double acc[8] = {0}, s4[4], s2[2];
    for (size_t k = 0; k < K; k += 8)
        for (size_t l = 0; l < 8; l++)
            acc[l] = k + l < K ? fma(a[k + l], b[k + l], acc[l]) : fma(0.0, 0.0, acc[l]);
    for (int l = 0; l < 4; l++)
        s4[l] = acc[l] + acc[l + 4];
    for (int l = 0; l < 2; l++)
        s2[l] = s4[l] + s4[l + 2];
    return s2[0] + s2[1];
}

static void dot_case(size_t M, size_t N, size_t K, int threads)
{
    size_t lda = K + 3, ldb = K + 5, ldc = M + 2;
    float *As = malloc(lda * M * sizeof *As), *Bs = malloc(ldb * N * sizeof *Bs), *Cs = malloc(ldc * N * sizeof *Cs);
    double *Ad = malloc(lda * M * sizeof *Ad), *Bd = malloc(ldb * N * sizeof *Bd), *Cd = malloc(ldc * N * sizeof *Cd);
    CU_ASSERT_FATAL(As && Bs && Cs && Ad && Bd && Cd);
    lcg_seed(M * 1000003u + N * 101u + K);
    for (size_t i = 0; i < lda * M; i++)
        As[i] = (float)(Ad[i] = lcg_uniform());
    for (size_t i = 0; i < ldb * N; i++)
        Bs[i] = (float)(Bd[i] = lcg_uniform());
    for (size_t i = 0; i < ldc * N; i++)
        Cs[i] = (float)(Cd[i] = PAD_VALUE);
    int before = dnn_matrix_threads();
    dnn_matrix_set_threads(threads);
    dnn_matrix_dot_s(M, N, K, As, lda, Bs, ldb, Cs, ldc);
    dnn_matrix_dot_d(M, N, K, Ad, lda, Bd, ldb, Cd, ldc);
    dnn_matrix_set_threads(before);
    size_t bad_s = 0, bad_d = 0, pad = 0;
    double worst = 0;
    for (size_t j = 0; j < N; j++)
        for (size_t i = 0; i < ldc; i++) {
            if (i >= M) {
                pad += Cs[j * ldc + i] != (float)PAD_VALUE || Cd[j * ldc + i] != PAD_VALUE;
                continue;
            }
            float ws = ref_dot_s(As + i * lda, Bs + j * ldb, K);
            double wd = ref_dot_d(Ad + i * lda, Bd + j * ldb, K);
            bad_s += memcmp(&ws, &Cs[j * ldc + i], sizeof ws) != 0;
            bad_d += memcmp(&wd, &Cd[j * ldc + i], sizeof wd) != 0;
            long double s = 0;
            for (size_t k = 0; k < K; k++)
                s += (long double)Ad[i * lda + k] * Bd[j * ldb + k];
            double e = fabs((double)(s - Cd[j * ldc + i]));
            worst = e > worst ? e : worst;
        }
    if (bad_s || bad_d || pad || worst > 1e-13)
        fprintf(stderr, "dot %zux%zux%zu threads %d: %zu float and %zu double elements differ from the defined order, "
                "%zu padding cells written, max |error| %.3g\n", M, N, K, threads, bad_s, bad_d, pad, worst);
    CU_ASSERT_EQUAL(bad_s, 0);
    CU_ASSERT_EQUAL(bad_d, 0);
    CU_ASSERT_EQUAL(pad, 0);
    CU_ASSERT(worst <= 1e-13);
    free(As), free(Bs), free(Cs), free(Ad), free(Bd), free(Cd);
}

static void test_matrix_dot_defined_order(void)
{
    dot_case(1, 1, 1, 1);
    dot_case(5, 3, 15, 1);   /* K below one lane group */
    dot_case(9, 7, 33, 1);   /* K tails of both widths, tile edges */
    dot_case(12, 8, 64, 1);  /* whole tiles */
    dot_case(37, 301, 131, 3); /* split over the pool */
    dot_case(3, 2, 0, 1);    /* K = 0: zeros */
}

/* The thread count setter clamps to >= 1 and the getter agrees with it. */
static void test_matrix_threads(void)
{
    int before = dnn_matrix_threads();
    CU_ASSERT(before >= 1);
    CU_ASSERT_EQUAL(dnn_matrix_set_threads(1), 1);
    CU_ASSERT_EQUAL(dnn_matrix_threads(), 1);
    CU_ASSERT_EQUAL(dnn_matrix_set_threads(0), 1); /* clamped */
    dnn_matrix_set_threads(before);
}

int main(void)
{
    static const dnn_test_t tests[] = {
        {"test_matrix_gemm_transposes_small", test_matrix_gemm_transposes_small},
        {"test_matrix_gemm_transposes_blocked", test_matrix_gemm_transposes_blocked},
        {"test_matrix_gemm_thin_shapes", test_matrix_gemm_thin_shapes},
        {"test_matrix_gemm_beta_zero_ignores_c", test_matrix_gemm_beta_zero_ignores_c},
        {"test_matrix_gemm_hand_values", test_matrix_gemm_hand_values},
        {"test_matrix_gemm_split_threads", test_matrix_gemm_split_threads},
        {"test_matrix_threads", test_matrix_threads},
        {"test_matrix_dot_defined_order", test_matrix_dot_defined_order},
    };
    return dnn_test_run("test_matrix", NULL, NULL, tests, sizeof tests / sizeof tests[0]);
}
