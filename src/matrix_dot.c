/*
 * matrix_dot.c - the kernels of the evaluation products (part of the matrix
 * module; the entry points, dnn_matrix_dot_s/_d, are in matrix.c).
 *
 * C[i][j] = sum_k A[k][i] B[k][j] (A^T B, column-major), the product of the
 * evaluation passes (README, Batch invariance).  ?gemm kernels compute a
 * column of C with instructions that depend on where the column falls in
 * their register tiles (OpenBLAS's Haswell sgemm treats columns 6-11 of each
 * 12 unlike 0-5), so an example's outputs would depend on which examples are
 * evaluated with it.  Here every element is one dot product in one fixed
 * order whatever its place: W lanes (16 floats, 8 doubles), lane l holding
 * the fused multiply-adds of k = l, l+W, l+2W, ... in increasing k, then the
 * lanes halved pairwise (l + W/2, then l + W/4, ...).  The AVX-512 kernel and
 * the portable one (fma/fmaf, correctly rounded everywhere) do exactly these
 * operations, so the bits do not depend on the CPU, the tile, the thread
 * count, or OpenBLAS at all.  matrix.c shares the columns over its pool.
 */

#include "matrix_dot.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static float dot_reduce_s(const float *a)
{
    float s8[8], s4[4], s2[2];
    for (int l = 0; l < 8; l++)
        s8[l] = a[l] + a[l + 8];
    for (int l = 0; l < 4; l++)
        s4[l] = s8[l] + s8[l + 4];
    for (int l = 0; l < 2; l++)
        s2[l] = s4[l] + s4[l + 2];
    return s2[0] + s2[1];
}

static double dot_reduce_d(const double *a)
{
    double s4[4], s2[2];
    for (int l = 0; l < 4; l++)
        s4[l] = a[l] + a[l + 4];
    for (int l = 0; l < 2; l++)
        s2[l] = s4[l] + s4[l + 2];
    return s2[0] + s2[1];
}

/* The portable kernel: one element at a time. */
static void dot_portable(const dot_t *q, size_t j0, size_t j1)
{
    for (size_t j = j0; j < j1; j++)
        for (size_t i = 0; i < q->M; i++) {
            if (q->dbl) {
                const double *a = (const double *)q->A + i * q->lda, *b = (const double *)q->B + j * q->ldb;
                double acc[8] = {0};
                for (size_t k = 0; k < q->K; k += 8)
                    for (size_t l = 0; l < 8; l++)
                        acc[l] = k + l < q->K ? fma(a[k + l], b[k + l], acc[l]) : fma(0.0, 0.0, acc[l]);
                ((double *)q->C)[j * q->ldc + i] = dot_reduce_d(acc);
            } else {
                const float *a = (const float *)q->A + i * q->lda, *b = (const float *)q->B + j * q->ldb;
                float acc[16] = {0};
                for (size_t k = 0; k < q->K; k += 16)
                    for (size_t l = 0; l < 16; l++)
                        acc[l] = k + l < q->K ? fmaf(a[k + l], b[k + l], acc[l]) : fmaf(0.0f, 0.0f, acc[l]);
                ((float *)q->C)[j * q->ldc + i] = dot_reduce_s(acc);
            }
        }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DOT_AVX512 1
#define AVX512 __attribute__((target("avx512f,avx512dq")))

/* The 16 sums of a 4 x 4 tile (acc[r][c] for C[i + r][j + c]) reduced
 * together: each step adds two halves of pairs of vectors, which is the
 * pairwise tree of dot_reduce_s for every one of them (lanes l and l + 8,
 * then l + 4, l + 2, l + 1); the result comes out as the tile's columns. */
static inline __attribute__((always_inline)) AVX512 void dot_reduce16_s(__m512 acc[4][4], float *C, size_t ldc)
{
    __m512 v1[8], v2[4], v3[2];
    for (int p = 0; p < 8; p++) { /* lanes 0-7: s8 of sum 2p, lanes 8-15: of 2p + 1 */
        __m512 a = acc[(2 * p) / 4][(2 * p) % 4], b = acc[(2 * p + 1) / 4][(2 * p + 1) % 4];
        v1[p] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xee));
    }
    for (int p = 0; p < 4; p++) /* quarter r: s4 of sum 4p + r */
        v2[p] = _mm512_add_ps(_mm512_shuffle_f32x4(v1[2 * p], v1[2 * p + 1], 0x88),
                              _mm512_shuffle_f32x4(v1[2 * p], v1[2 * p + 1], 0xdd));
    for (int p = 0; p < 2; p++) /* quarter r: s2 of sums 8p + r, 8p + 4 + r */
        v3[p] = _mm512_add_ps(_mm512_shuffle_ps(v2[2 * p], v2[2 * p + 1], 0x44),
                              _mm512_shuffle_ps(v2[2 * p], v2[2 * p + 1], 0xee));
    /* quarter r: sums r, 4 + r, 8 + r, 12 + r, i.e. column r of the tile */
    __m512 res = _mm512_add_ps(_mm512_shuffle_ps(v3[0], v3[1], 0x88), _mm512_shuffle_ps(v3[0], v3[1], 0xdd));
    _mm_storeu_ps(C, _mm512_extractf32x4_ps(res, 0));
    _mm_storeu_ps(C + ldc, _mm512_extractf32x4_ps(res, 1));
    _mm_storeu_ps(C + 2 * ldc, _mm512_extractf32x4_ps(res, 2));
    _mm_storeu_ps(C + 3 * ldc, _mm512_extractf32x4_ps(res, 3));
}

static inline __attribute__((always_inline)) AVX512 void dot_reduce16_d(__m512d acc[4][4], double *C, size_t ldc)
{
    __m512d v1[8], v2[4], v3[2];
    for (int p = 0; p < 8; p++) { /* lanes 0-3: s4 of sum 2p, lanes 4-7: of 2p + 1 */
        __m512d a = acc[(2 * p) / 4][(2 * p) % 4], b = acc[(2 * p + 1) / 4][(2 * p + 1) % 4];
        v1[p] = _mm512_add_pd(_mm512_shuffle_f64x2(a, b, 0x44), _mm512_shuffle_f64x2(a, b, 0xee));
    }
    for (int p = 0; p < 4; p++) /* quarter r: s2 of sum 4p + r */
        v2[p] = _mm512_add_pd(_mm512_shuffle_f64x2(v1[2 * p], v1[2 * p + 1], 0x88),
                              _mm512_shuffle_f64x2(v1[2 * p], v1[2 * p + 1], 0xdd));
    for (int p = 0; p < 2; p++) /* quarter r: sums 8p + r and 8p + 4 + r */
        v3[p] = _mm512_add_pd(_mm512_unpacklo_pd(v2[2 * p], v2[2 * p + 1]),
                              _mm512_unpackhi_pd(v2[2 * p], v2[2 * p + 1]));
    /* sum 4r + c is C[i + r][j + c]: quarter c of v3[0] holds rows 0-1, of v3[1] rows 2-3 */
    _mm_storeu_pd(C, _mm512_extractf64x2_pd(v3[0], 0));
    _mm_storeu_pd(C + 2, _mm512_extractf64x2_pd(v3[1], 0));
    _mm_storeu_pd(C + ldc, _mm512_extractf64x2_pd(v3[0], 1));
    _mm_storeu_pd(C + ldc + 2, _mm512_extractf64x2_pd(v3[1], 1));
    _mm_storeu_pd(C + 2 * ldc, _mm512_extractf64x2_pd(v3[0], 2));
    _mm_storeu_pd(C + 2 * ldc + 2, _mm512_extractf64x2_pd(v3[1], 2));
    _mm_storeu_pd(C + 3 * ldc, _mm512_extractf64x2_pd(v3[0], 3));
    _mm_storeu_pd(C + 3 * ldc + 2, _mm512_extractf64x2_pd(v3[1], 3));
}

/* An ri x rj tile of C (ri, rj <= 4) from rows i of A^T and columns j of B. */
static inline __attribute__((always_inline)) AVX512 void
dot_tile_s(const dot_t *q, size_t i, size_t j, int ri, int rj)
{
    const float *A = (const float *)q->A, *B = (const float *)q->B;
    __m512 acc[DOT_RI][DOT_RJ];
    for (int r = 0; r < ri; r++)
        for (int c = 0; c < rj; c++)
            acc[r][c] = _mm512_setzero_ps();
    size_t K = q->K, k = 0;
    for (; k + 16 <= K; k += 16) {
        __m512 a[DOT_RI];
        for (int r = 0; r < ri; r++)
            a[r] = _mm512_loadu_ps(A + (i + (size_t)r) * q->lda + k);
        for (int c = 0; c < rj; c++) {
            __m512 b = _mm512_loadu_ps(B + (j + (size_t)c) * q->ldb + k);
            for (int r = 0; r < ri; r++)
                acc[r][c] = _mm512_fmadd_ps(a[r], b, acc[r][c]);
        }
    }
    if (k < K) { /* lanes past K multiply zeros, as the portable kernel does */
        __mmask16 m = (__mmask16)((1u << (K - k)) - 1);
        __m512 a[DOT_RI];
        for (int r = 0; r < ri; r++)
            a[r] = _mm512_maskz_loadu_ps(m, A + (i + (size_t)r) * q->lda + k);
        for (int c = 0; c < rj; c++) {
            __m512 b = _mm512_maskz_loadu_ps(m, B + (j + (size_t)c) * q->ldb + k);
            for (int r = 0; r < ri; r++)
                acc[r][c] = _mm512_fmadd_ps(a[r], b, acc[r][c]);
        }
    }
    if (ri == 4 && rj == 4) { /* all 16 at once, each by the same pairwise tree */
        dot_reduce16_s(acc, (float *)q->C + j * q->ldc + i, q->ldc);
        return;
    }
    for (int r = 0; r < ri; r++)
        for (int c = 0; c < rj; c++) {
            __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(acc[r][c]), _mm512_extractf32x8_ps(acc[r][c], 1));
            __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
            __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
            __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
            ((float *)q->C)[(j + (size_t)c) * q->ldc + i + (size_t)r] = _mm_cvtss_f32(s1);
        }
}

static inline __attribute__((always_inline)) AVX512 void
dot_tile_d(const dot_t *q, size_t i, size_t j, int ri, int rj)
{
    const double *A = (const double *)q->A, *B = (const double *)q->B;
    __m512d acc[DOT_RI][DOT_RJ];
    for (int r = 0; r < ri; r++)
        for (int c = 0; c < rj; c++)
            acc[r][c] = _mm512_setzero_pd();
    size_t K = q->K, k = 0;
    for (; k + 8 <= K; k += 8) {
        __m512d a[DOT_RI];
        for (int r = 0; r < ri; r++)
            a[r] = _mm512_loadu_pd(A + (i + (size_t)r) * q->lda + k);
        for (int c = 0; c < rj; c++) {
            __m512d b = _mm512_loadu_pd(B + (j + (size_t)c) * q->ldb + k);
            for (int r = 0; r < ri; r++)
                acc[r][c] = _mm512_fmadd_pd(a[r], b, acc[r][c]);
        }
    }
    if (k < K) {
        __mmask8 m = (__mmask8)((1u << (K - k)) - 1);
        __m512d a[DOT_RI];
        for (int r = 0; r < ri; r++)
            a[r] = _mm512_maskz_loadu_pd(m, A + (i + (size_t)r) * q->lda + k);
        for (int c = 0; c < rj; c++) {
            __m512d b = _mm512_maskz_loadu_pd(m, B + (j + (size_t)c) * q->ldb + k);
            for (int r = 0; r < ri; r++)
                acc[r][c] = _mm512_fmadd_pd(a[r], b, acc[r][c]);
        }
    }
    if (ri == 4 && rj == 4) {
        dot_reduce16_d(acc, (double *)q->C + j * q->ldc + i, q->ldc);
        return;
    }
    for (int r = 0; r < ri; r++)
        for (int c = 0; c < rj; c++) {
            __m256d s4 = _mm256_add_pd(_mm512_castpd512_pd256(acc[r][c]), _mm512_extractf64x4_pd(acc[r][c], 1));
            __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
            __m128d s1 = _mm_add_sd(s2, _mm_unpackhi_pd(s2, s2));
            ((double *)q->C)[(j + (size_t)c) * q->ldc + i + (size_t)r] = _mm_cvtsd_f64(s1);
        }
}

/* Columns [j0, j1) of C in 4 x 4 tiles, the edges in smaller ones; the
 * columns go in panels of DOT_NB, so that a panel of B stays in cache
 * while every row of A^T passes over it. */
#define DOT_NB 64
#define DOT_COLUMNS(NAME, TILE)                                                                                        \
    static AVX512 void NAME(const dot_t *q, size_t j0, size_t j1)                                                      \
    {                                                                                                                  \
        for (size_t p0 = j0; p0 < j1; p0 += DOT_NB) {                                                                  \
            size_t p1 = j1 - p0 < DOT_NB ? j1 : p0 + DOT_NB, i = 0;                                                    \
            for (; i + DOT_RI <= q->M; i += DOT_RI) {                                                                  \
                size_t j = p0;                                                                                         \
                for (; j + DOT_RJ <= p1; j += DOT_RJ)                                                                  \
                    TILE(q, i, j, DOT_RI, DOT_RJ);                                                                     \
                for (; j < p1; j++)                                                                                    \
                    TILE(q, i, j, DOT_RI, 1);                                                                          \
            }                                                                                                          \
            for (; i < q->M; i++) {                                                                                    \
                size_t j = p0;                                                                                         \
                for (; j + DOT_RJ <= p1; j += DOT_RJ)                                                                  \
                    TILE(q, i, j, 1, DOT_RJ);                                                                          \
                for (; j < p1; j++)                                                                                    \
                    TILE(q, i, j, 1, 1);                                                                               \
            }                                                                                                          \
        }                                                                                                              \
    }
DOT_COLUMNS(dot_avx512_s, dot_tile_s)
DOT_COLUMNS(dot_avx512_d, dot_tile_d)
#endif

/* 1: the AVX-512 kernel; 0: the portable one (DNN_DOT_PORTABLE=1 forces it, for tests). */
static int dot_fast(void)
{
    static atomic_int state; /* 0 unknown, 1 portable, 2 AVX-512 */
    int s = atomic_load_explicit(&state, memory_order_relaxed);
    if (!s) {
        const char *e = getenv("DNN_DOT_PORTABLE");
        s = 1;
#ifdef DOT_AVX512
        if (!(e && *e && strcmp(e, "0")) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
            s = 2;
#else
        (void)e;
#endif
        atomic_store_explicit(&state, s, memory_order_relaxed);
    }
    return s == 2;
}

void dnn_matrix_dot_part(void *ctx, size_t j0, size_t j1)
{
    const dot_t *q = ctx;
#ifdef DOT_AVX512
    if (dot_fast()) {
        if (q->dbl)
            dot_avx512_d(q, j0, j1);
        else
            dot_avx512_s(q, j0, j1);
        return;
    }
#endif
    dot_portable(q, j0, j1);
}
