/*
 * test_bf16.c - CUnit suite for the bf16 part of the matrix module
 * (--precision bf16, README, Data-parallel training and determinism).
 *
 *  - rounding float32 -> bfloat16 against an independent reference written
 *    here with double arithmetic (the two neighbours, the nearer one, ties to
 *    the even one), on hand-picked values (ties, carries into the exponent,
 *    overflow to infinity, subnormals, NaN) and on 2^20 random bit patterns;
 *  - dnn_matrix_gemm_bf16 against a float64 product of the same bf16 operands
 *    (exact products, so the only difference is the float32 accumulation,
 *    bounded by gamma_K = K 2^-24 times sum |a||b|), every transpose
 *    combination, leading dimensions with padding (left untouched), beta 0
 *    and 1, alpha != 1, shapes small and large enough to be cut into parts;
 *  - bitwise equality of a cut product for 1, 2 and 3 threads;
 *  - dnn_matrix_parallel visits every index once, for any thread count;
 *  - a bf16 model's gradient sums (48-64-64-1, 1024 columns: the element-wise
 *    passes run in 8 column ranges) against a float64 model with the same
 *    parameters: every dW[l] and db[l] within 3% (relative 2-norm), not equal
 *    (bf16 ran), and bitwise the same for 1 and 3 threads.
 * Without AVX512_BF16 (dnn_matrix_bf16_init refuses) the suite reports a skip (77).
 */
#include "dnn/matrix.h"
#include "dnn/model.h"

#include "dnn_test.h"
#include <CUnit/Basic.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t lcg_state = 88172645463325252ULL;

static uint32_t lcg32(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(lcg_state >> 32);
}

static double lcg_uniform(void) { return (double)lcg32() / 4294967296.0 * 2.0 - 1.0; }

static float from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Reference rounding by value: the bf16 numbers just below and above |x| (as
 * doubles), the nearer one, on a tie the one with an even last bit. */
static uint16_t ref_round(float x)
{
    if (isnan(x))
        return 0x7fc0;
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint16_t sign = (uint16_t)(u >> 31 << 15), lo = (uint16_t)((u & 0x7fffffffu) >> 16);
    if (isinf(x))
        return sign | 0x7f80;
    double ax = fabs((double)x), vlo = (double)dnn_bf16_value(lo), vhi;
    uint16_t hi = (uint16_t)(lo + 1); /* 0x7f80 after the largest finite: infinity */
    vhi = hi == 0x7f80 ? ldexp(1.0, 128) : (double)dnn_bf16_value(hi); /* the overflow threshold rule */
    double dlo = ax - vlo, dhi = vhi - ax;
    uint16_t r = dlo < dhi ? lo : dhi < dlo ? hi : (lo & 1) ? hi : lo;
    return sign | r;
}

static void test_bf16_round_hand_values(void)
{
    struct {
        uint32_t in;
        uint16_t out;
    } c[] = {
        {0x3f800000u, 0x3f80}, /* 1 */
        {0x3f808000u, 0x3f80}, /* 1 + 2^-8: tie, 0x3f80 is even */
        {0x3f818000u, 0x3f82}, /* tie, 0x3f81 odd: up */
        {0x3f808001u, 0x3f81}, /* just above the tie */
        {0x3f807fffu, 0x3f80}, /* just below */
        {0x3fff8000u, 0x4000}, /* tie, odd: carries into the exponent (2.0) */
        {0xbfc00000u, 0xbfc0}, /* -1.5 */
        {0xbf818000u, 0xbf82}, /* negative tie, odd: away from zero */
        {0x7f7fffffu, 0x7f80}, /* FLT_MAX rounds to infinity */
        {0x7f7f7fffu, 0x7f7f}, /* the largest that stays finite */
        {0x7f800000u, 0x7f80}, /* inf */
        {0xff800000u, 0xff80}, /* -inf */
        {0x00008000u, 0x0000}, /* subnormal tie to even zero */
        {0x00018000u, 0x0002}, /* subnormal tie up */
        {0x80000000u, 0x8000}, /* -0 */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        uint16_t got = dnn_bf16_round(from_bits(c[i].in));
        if (got != c[i].out)
            printf("\n  0x%08x -> 0x%04x, expected 0x%04x", c[i].in, got, c[i].out);
        CU_ASSERT_EQUAL(got, c[i].out);
        CU_ASSERT_EQUAL(ref_round(from_bits(c[i].in)), c[i].out); /* the reference agrees by hand too */
    }
    /* NaNs (quiet and signalling, either sign) stay NaN, never infinity */
    uint32_t nans[] = {0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu, 0x7f810000u};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++)
        CU_ASSERT(isnan(dnn_bf16_value(dnn_bf16_round(from_bits(nans[i])))));
}

static void test_bf16_round_random_patterns(void)
{
    enum { N = 1 << 20 };
    float *x = malloc(N * sizeof *x);
    uint16_t *h = malloc(N * sizeof *h);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    for (size_t i = 0; i < N; i++) {
        uint32_t u = lcg32();
        if (i % 4 == 1)
            u = (u & 0xffff0000u) | 0x8000u; /* many exact ties */
        x[i] = from_bits(u);
    }
    dnn_matrix_to_bf16(h, x, N);
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) {
        uint16_t ref = ref_round(x[i]);
        int ok = isnan(x[i]) ? isnan(dnn_bf16_value(h[i])) : h[i] == ref;
        ok = ok && h[i] == dnn_bf16_round(x[i]); /* the array form equals the scalar one */
        if (!ok && bad++ < 5)
            printf("\n  %a -> 0x%04x, expected 0x%04x", (double)x[i], h[i], ref);
    }
    CU_ASSERT_EQUAL(bad, 0);
    free(x);
    free(h);
}

#define PAD 7.0f /* marks C storage outside the logical matrix */

/* op(X)(i, j) of a column-major X with leading dimension ld. */
static double bop(const uint16_t *X, size_t ld, int t, size_t i, size_t j)
{
    return (double)dnn_bf16_value(t ? X[j + i * ld] : X[i + j * ld]);
}

static uint16_t *random_bf16(size_t n, double scale)
{
    uint16_t *X = malloc(n * sizeof *X);
    for (size_t i = 0; X && i < n; i++)
        X[i] = dnn_bf16_round((float)(lcg_uniform() * scale));
    return X;
}

/* One product against the float64 reference; returns the worst error / bound. */
static double check_gemm(int ta, int tb, size_t M, size_t N, size_t K, float alpha, float beta)
{
    size_t lda = (ta ? K : M) + 3, ldb = (tb ? N : K) + 5, ldc = M + 2;
    size_t acols = ta ? M : K, bcols = tb ? K : N;
    uint16_t *A = random_bf16(lda * acols, 1.0), *B = random_bf16(ldb * bcols, 2.0);
    float *C = malloc(ldc * N * sizeof *C), *C0 = malloc(ldc * N * sizeof *C0);
    CU_ASSERT_FATAL(A && B && C && C0);
    for (size_t i = 0; i < ldc * N; i++)
        C[i] = i % ldc < M ? (float)lcg_uniform() : PAD;
    memcpy(C0, C, ldc * N * sizeof *C);
    dnn_matrix_gemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    double worst = 0;
    int pad_ok = 1;
    for (size_t j = 0; j < N; j++)
        for (size_t i = 0; i < ldc; i++) {
            if (i >= M) {
                pad_ok &= C[i + j * ldc] == PAD;
                continue;
            }
            double s = 0, sa = 0;
            for (size_t k = 0; k < K; k++) {
                double p = bop(A, lda, ta, i, k) * bop(B, ldb, tb, k, j); /* exact in double */
                s += p;
                sa += fabs(p);
            }
            double ref = alpha * s + beta * C0[i + j * ldc];
            double bound = (double)(K + 2) * 0x1p-24 * (fabs(alpha) * sa + fabs(beta * C0[i + j * ldc])) + 1e-30;
            double e = fabs(C[i + j * ldc] - ref) / bound;
            worst = e > worst ? e : worst;
        }
    CU_ASSERT(pad_ok);
    free(A);
    free(B);
    free(C);
    free(C0);
    return worst;
}

static void test_bf16_gemm_transposes(void)
{
    size_t shapes[][3] = {{5, 7, 3}, {33, 17, 40}, {64, 48, 129}, {300, 200, 150}, {100, 400, 96}, {784, 64, 256}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            for (int beta = 0; beta < 2; beta++) {
                double w = check_gemm(t >> 1, t & 1, shapes[s][0], shapes[s][1], shapes[s][2], 1.0f, (float)beta);
                if (!(w <= 1))
                    printf("\n  %zux%zux%zu ta=%d tb=%d beta=%d: error %.3g of the bound", shapes[s][0],
                           shapes[s][1], shapes[s][2], t >> 1, t & 1, beta, w);
                CU_ASSERT(w <= 1);
            }
}

static void test_bf16_gemm_alpha(void)
{
    CU_ASSERT(check_gemm(0, 1, 96, 80, 200, 0.25f, 1.0f) <= 1);
    CU_ASSERT(check_gemm(1, 0, 256, 300, 128, -3.0f, 0.0f) <= 1);
}

/* A tiny product worked by hand: [1 2; 3 4] [0.5; -1] = [-1.5; -2.5], plus C. */
static void test_bf16_gemm_hand_values(void)
{
    uint16_t A[4], B[2];
    float a[4] = {1, 3, 2, 4}, b[2] = {0.5f, -1}, C[2] = {10, 20};
    dnn_matrix_to_bf16(A, a, 4);
    dnn_matrix_to_bf16(B, b, 2);
    dnn_matrix_gemm_bf16(0, 0, 2, 1, 2, 1, A, 2, B, 2, 1, C, 2);
    CU_ASSERT_EQUAL(C[0], 8.5f);
    CU_ASSERT_EQUAL(C[1], 17.5f);
    /* an operand that bf16 cannot hold is rounded: 1 + 2^-10 becomes 1 */
    float c = 0, one_plus = 1.0f + 0x1p-10f;
    uint16_t x = dnn_bf16_round(one_plus), y = dnn_bf16_round(1.0f);
    dnn_matrix_gemm_bf16(0, 0, 1, 1, 1, 1, &x, 1, &y, 1, 0, &c, 1);
    CU_ASSERT_EQUAL(c, 1.0f);
}

/* The same cut product with 1, 2 and 3 threads: identical bits. */
static void test_bf16_gemm_threads_bitwise(void)
{
    size_t M = 784, N = 256, K = 1000;
    uint16_t *A = random_bf16(M * K, 1.0), *B = random_bf16(N * K, 1.0);
    float *C[3];
    CU_ASSERT_FATAL(A && B);
    for (int t = 0; t < 3; t++) {
        C[t] = malloc(M * N * sizeof(float));
        CU_ASSERT_FATAL(C[t] != NULL);
        CU_ASSERT_EQUAL(dnn_matrix_set_threads(t + 1), t + 1);
        dnn_matrix_gemm_bf16(0, 1, M, N, K, 1, A, M, B, N, 0, C[t], M); /* dW[1]'s shape */
    }
    CU_ASSERT(memcmp(C[0], C[1], M * N * sizeof(float)) == 0);
    CU_ASSERT(memcmp(C[0], C[2], M * N * sizeof(float)) == 0);
    dnn_matrix_set_threads(1);
    for (int t = 0; t < 3; t++)
        free(C[t]);
    free(A);
    free(B);
}

static void count_part(void *ctx, size_t lo, size_t hi)
{
    unsigned char *seen = ctx;
    for (size_t i = lo; i < hi; i++)
        seen[i]++;
}

static void test_parallel_covers_once(void)
{
    size_t sizes[] = {0, 1, 15, 16, 100, 1000, 16384 * 2 + 5, 1000003}, grains[] = {1, 7, 16384};
    for (int t = 1; t <= 3; t += 2) {
        dnn_matrix_set_threads(t);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0] * 3; s++) {
            size_t n = sizes[s / 3];
            unsigned char *seen = calloc(n + 1, 1);
            CU_ASSERT_FATAL(seen != NULL);
            dnn_matrix_parallel(count_part, seen, n, grains[s % 3]);
            size_t bad = 0;
            for (size_t i = 0; i < n; i++)
                bad += seen[i] != 1;
            CU_ASSERT_EQUAL(bad, 0);
            CU_ASSERT_EQUAL(seen[n], 0);
            free(seen);
        }
    }
    dnn_matrix_set_threads(1);
}

static double rel_err(const float *a, const double *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        s += b[i] * b[i];
    }
    return sqrt(d / s);
}

static void test_bf16_model_gradients(void)
{
    size_t n[4] = {48, 64, 64, 1}, cols = 1024;
    char msg[DNN_MSG_LEN];
    dnn_model_t mb, md;
    CU_ASSERT_EQUAL_FATAL(dnn_model_init(&mb, DNN_BF16, 3, n, DNN_ACT_TANH, DNN_ACT_SIGMOID, 0.01, cols, msg), 0);
    CU_ASSERT_EQUAL_FATAL(dnn_model_init(&md, DNN_DOUBLE, 3, n, DNN_ACT_TANH, DNN_ACT_SIGMOID, 0.01, cols, msg), 0);
    CU_ASSERT_EQUAL(mb.bf16, (uint64_t)0x6); /* layers 1 and 2 on bf16, the output layer of 1 on sgemm */
    CU_ASSERT_EQUAL_FATAL(dnn_model_init_params(&mb, DNN_INIT_XAVIER, 0, DNN_RNG_DEFAULT, 5, msg), 0);
    float *Pb = mb.params;
    double *Pd = md.params;
    for (size_t i = 0; i < mb.nparams; i++)
        Pd[i] = Pb[i] + (i % 7 == 0 ? 0.01 : 0); /* nonzero biases too */
    for (size_t i = 0; i < mb.nparams; i++)
        Pb[i] = (float)Pd[i];
    dnn_model_params_changed(&mb);
    float *Xf = malloc(n[0] * cols * sizeof *Xf), *Yf = malloc(cols * sizeof *Yf);
    double *Xd = malloc(n[0] * cols * sizeof *Xd), *Yd = malloc(cols * sizeof *Yd);
    CU_ASSERT_FATAL(Xf && Yf && Xd && Yd);
    for (size_t i = 0; i < n[0] * cols; i++)
        Xd[i] = Xf[i] = (float)lcg_uniform();
    for (size_t j = 0; j < cols; j++)
        Yd[j] = Yf[j] = (float)(Xf[j * n[0]] + Xf[j * n[0] + 1] > 0);
    dnn_model_backward(&md, Xd, Yd, cols, 1);
    float *G1 = malloc((mb.nparams + DNN_GRAD_EXTRA) * sizeof *G1);
    CU_ASSERT_FATAL(G1 != NULL);
    for (int t = 1; t <= 3; t += 2) {
        dnn_matrix_set_threads(t);
        dnn_model_backward(&mb, Xf, Yf, cols, 1);
        if (t == 1)
            memcpy(G1, mb.grads, (mb.nparams + DNN_GRAD_EXTRA) * sizeof *G1);
        else
            CU_ASSERT(memcmp(G1, mb.grads, (mb.nparams + DNN_GRAD_EXTRA) * sizeof *G1) == 0);
    }
    dnn_matrix_set_threads(1);
    const float *Gb = mb.grads;
    const double *Gd = md.grads;
    for (int l = 1; l <= 3; l++) {
        double ew = rel_err(Gb + mb.off_W[l], Gd + md.off_W[l], n[l] * n[l - 1]);
        double eb = rel_err(Gb + mb.off_b[l], Gd + md.off_b[l], n[l]);
        if (!(ew < 0.03 && eb < 0.03))
            printf("\n  layer %d: dW error %.3g, db error %.3g", l, ew, eb);
        CU_ASSERT(ew < 0.03);
        CU_ASSERT(eb < 0.03);
        if (l < 3)
            CU_ASSERT(ew > 0); /* bf16 operands really used */
    }
    free(G1);
    free(Xf);
    free(Yf);
    free(Xd);
    free(Yd);
    dnn_model_free(&mb);
    dnn_model_free(&md);
}

/* dnn_model_free leaves a zeroed model behind (model.h: it accepts one), so
 * an error path may free a bf16 model twice. */
static void test_bf16_model_free_twice(void)
{
    dnn_model_t m;
    char msg[DNN_MSG_LEN];
    size_t n[3] = {4, 3, 1};
    CU_ASSERT_EQUAL_FATAL(dnn_model_init(&m, DNN_BF16, 2, n, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 8, msg), 0);
    dnn_model_free(&m);
    CU_ASSERT(!m.params && !m.grads && !m.acts && !m.wb && !m.ab && !m.dzb && !m.dbp && !m.mask && !m.dropped);
    dnn_model_free(&m); /* glibc aborts on a double free */
}

int main(void)
{
    char msg[DNN_MSG_LEN];
    if (dnn_matrix_bf16_init(msg)) {
        printf("SKIP: %s\n", msg);
        return 77;
    }
    static const dnn_test_t tests[] = {
        DNN_TEST(test_bf16_round_hand_values),   DNN_TEST(test_bf16_round_random_patterns),
        DNN_TEST(test_bf16_gemm_transposes),     DNN_TEST(test_bf16_gemm_alpha),
        DNN_TEST(test_bf16_gemm_hand_values),    DNN_TEST(test_bf16_gemm_threads_bitwise),
        DNN_TEST(test_parallel_covers_once),     DNN_TEST(test_bf16_model_gradients),
        DNN_TEST(test_bf16_model_free_twice),
    };
    return dnn_test_run("bf16", NULL, NULL, tests, sizeof tests / sizeof tests[0]);
}
