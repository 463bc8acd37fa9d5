/*
 * test_activation.c - CUnit suite for the activation module.
 *
 * References: values worked out by hand (sigmoid(ln 2) = 2/3, tanh(ln 2) =
 * 3/5, ...), the derivative contract of activation.h (taken from A; relu'(0)
 * = 0, leaky'(0) = slope), and central differences in double precision for
 * dZ and db, guarded against an all-zero gradient.
 */
#include "dnn/activation.h"

#include "dnn_test.h"
#include <CUnit/Basic.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/common.h"

static const dnn_act_t hidden_acts[] = {DNN_ACT_SIGMOID, DNN_ACT_TANH, DNN_ACT_RELU, DNN_ACT_LEAKY_RELU,
                                        DNN_ACT_LINEAR};
#define NACTS (sizeof hidden_acts / sizeof hidden_acts[0])

/* Names as used on the command line, and parse() as their inverse. */
static void test_activation_names_parse(void)
{
    static const char *const want[] = {"sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax"};
    for (int a = DNN_ACT_SIGMOID; a <= DNN_ACT_SOFTMAX; a++) {
        CU_ASSERT_STRING_EQUAL(dnn_act_name((dnn_act_t)a), want[a]);
        dnn_act_t back = (dnn_act_t)-1;
        CU_ASSERT_EQUAL(dnn_act_parse(want[a], &back), 0);
        CU_ASSERT_EQUAL(back, (dnn_act_t)a);
    }
    dnn_act_t x = DNN_ACT_TANH;
    CU_ASSERT_EQUAL(dnn_act_parse("softplus", &x), DNN_EINVAL);
    CU_ASSERT_EQUAL(dnn_act_parse("Relu", &x), DNN_EINVAL);
    CU_ASSERT_EQUAL(dnn_act_parse("", &x), DNN_EINVAL);
    CU_ASSERT_EQUAL(x, DNN_ACT_TANH); /* untouched on failure */
}

/*
 * Forward on a (3 x 2) block: rows get different biases, so a bias added to
 * the wrong row or column shows.  Z = A + b is chosen to hit known values.
 */
#define N 3
#define COLS 2
static const double in_A[N * COLS] = {0.0, 1.0, -2.0, /* column 0 */
                                      0.5, -3.0, 4.0}; /* column 1 */
static const double in_b[N] = {0.0, -1.0 + 0.6931471805599453 /* ln 2 */, 1.0};
/* Z = A + b (per row): column 0: 0, ln 2, -1; column 1: 0.5, -4 + ln 2, 5 */

static void expected_forward(dnn_act_t act, double slope, double *out)
{
    for (int j = 0; j < COLS; j++)
        for (int i = 0; i < N; i++) {
            double z = in_A[j * N + i] + in_b[i];
            double v;
            switch (act) {
            case DNN_ACT_SIGMOID: v = 1.0 / (1.0 + exp(-z)); break;
            case DNN_ACT_TANH: v = (exp(2 * z) - 1) / (exp(2 * z) + 1); break;
            case DNN_ACT_RELU: v = z > 0 ? z : 0; break;
            case DNN_ACT_LEAKY_RELU: v = z > 0 ? z : slope * z; break;
            default: v = z; break;
            }
            out[j * N + i] = v;
        }
}

static void test_activation_forward_hand_values(void)
{
    /* Spot values that need no formula: sigmoid(0) = 1/2, sigmoid(ln 2) = 2/3,
     * tanh(ln 2) = (4 - 1)/(4 + 1) = 3/5, relu(-1) = 0, leaky(-1) = -slope. */
    double A[N * COLS];
    memcpy(A, in_A, sizeof A);
    dnn_act_forward_d(A, in_b, N, COLS, DNN_ACT_SIGMOID, 0);
    CU_ASSERT_DOUBLE_EQUAL(A[0], 0.5, 1e-16);
    CU_ASSERT_DOUBLE_EQUAL(A[1], 2.0 / 3.0, 1e-15);
    memcpy(A, in_A, sizeof A);
    dnn_act_forward_d(A, in_b, N, COLS, DNN_ACT_TANH, 0);
    CU_ASSERT_DOUBLE_EQUAL(A[0], 0.0, 1e-16);
    CU_ASSERT_DOUBLE_EQUAL(A[1], 0.6, 1e-15);
    memcpy(A, in_A, sizeof A);
    dnn_act_forward_d(A, in_b, N, COLS, DNN_ACT_RELU, 0);
    CU_ASSERT_EQUAL(A[0], 0.0);
    CU_ASSERT_EQUAL(A[2], 0.0);
    CU_ASSERT_EQUAL(A[5], 5.0);
    memcpy(A, in_A, sizeof A);
    dnn_act_forward_d(A, in_b, N, COLS, DNN_ACT_LEAKY_RELU, 0.1);
    CU_ASSERT_EQUAL(A[0], 0.0);
    CU_ASSERT_DOUBLE_EQUAL(A[2], -0.1, 1e-16);
    CU_ASSERT_EQUAL(A[5], 5.0);
    memcpy(A, in_A, sizeof A);
    dnn_act_forward_d(A, in_b, N, COLS, DNN_ACT_LINEAR, 0);
    CU_ASSERT_EQUAL(A[2], -1.0);
    CU_ASSERT_EQUAL(A[3], 0.5);
}

/* Every activation, both precisions, every element, with the bias per row.
 * Tolerance: double 1e-15 absolute (values are O(1)); float 1e-6. */
static void test_activation_forward_all_bias_per_row(void)
{
    for (size_t k = 0; k < NACTS; k++) {
        dnn_act_t act = hidden_acts[k];
        double want[N * COLS], A[N * COLS];
        float As[N * COLS], bs[N];
        expected_forward(act, 0.2, want);
        memcpy(A, in_A, sizeof A);
        for (int i = 0; i < N * COLS; i++)
            As[i] = (float)in_A[i];
        for (int i = 0; i < N; i++)
            bs[i] = (float)in_b[i];
        dnn_act_forward_d(A, in_b, N, COLS, act, 0.2);
        dnn_act_forward_s(As, bs, N, COLS, act, 0.2f);
        for (int i = 0; i < N * COLS; i++) {
            CU_ASSERT_DOUBLE_EQUAL(A[i], want[i], 1e-15);
            CU_ASSERT_DOUBLE_EQUAL((double)As[i], want[i], 1e-6);
        }
    }
}

/* Saturation: huge |z| gives the limits, never NaN, in both precisions. */
static void test_activation_forward_saturates(void)
{
    double zd[4] = {1000, -1000, 1e30, -1e30}, b[4] = {0, 0, 0, 0};
    float zs[4] = {1000, -1000, 1e30f, -1e30f}, bs[4] = {0, 0, 0, 0};
    static const double sig[4] = {1, 0, 1, 0}, th[4] = {1, -1, 1, -1};
    double A[4];
    float As[4];
    memcpy(A, zd, sizeof A);
    memcpy(As, zs, sizeof As);
    dnn_act_forward_d(A, b, 4, 1, DNN_ACT_SIGMOID, 0);
    dnn_act_forward_s(As, bs, 4, 1, DNN_ACT_SIGMOID, 0);
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(A[i], sig[i]);
        CU_ASSERT_EQUAL(As[i], (float)sig[i]);
    }
    memcpy(A, zd, sizeof A);
    memcpy(As, zs, sizeof As);
    dnn_act_forward_d(A, b, 4, 1, DNN_ACT_TANH, 0);
    dnn_act_forward_s(As, bs, 4, 1, DNN_ACT_TANH, 0);
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(A[i], th[i]);
        CU_ASSERT_EQUAL(As[i], (float)th[i]);
    }
}

/*
 * Backward from A: dZ = dA * g'(Z) with g' from A; db += row sums of dZ.
 * A values chosen so g' is exact: sigmoid A = 1/2 -> 1/4, A = 3/4 -> 3/16;
 * tanh A = 3/5 -> 16/25; relu/leaky at A = 0 (z = 0) -> 0 / slope.
 */
static void test_activation_backward_hand_values(void)
{
    const double slope = 0.25;
    struct {
        dnn_act_t act;
        double A[4], gprime[4];
    } cases[] = {
        {DNN_ACT_SIGMOID, {0.5, 0.75, 0.25, 1.0}, {0.25, 0.1875, 0.1875, 0.0}},
        {DNN_ACT_TANH, {0.6, -0.6, 0.0, 1.0}, {0.64, 0.64, 1.0, 0.0}},
        {DNN_ACT_RELU, {0.0, 2.0, 1e-30, 0.0}, {0.0, 1.0, 1.0, 0.0}},
        {DNN_ACT_LEAKY_RELU, {0.0, 3.0, -0.5, 1e-30}, {slope, 1.0, slope, 1.0}},
        {DNN_ACT_LINEAR, {-7.0, 0.0, 3.0, 1e9}, {1.0, 1.0, 1.0, 1.0}},
    };
    const double dA[4] = {2.0, -4.0, 8.0, 0.5};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        /* layout (2 x 2): rows 0,1; columns 0,1 */
        double dZ[4], db[2] = {100.0, -100.0};
        float dZs[4], As[4], dbs[2] = {100.0f, -100.0f};
        memcpy(dZ, dA, sizeof dZ);
        for (int i = 0; i < 4; i++) {
            dZs[i] = (float)dA[i];
            As[i] = (float)cases[k].A[i];
        }
        dnn_act_backward_d(dZ, cases[k].A, db, 2, 2, cases[k].act, slope, 0);
        dnn_act_backward_s(dZs, As, dbs, 2, 2, cases[k].act, (float)slope, 0);
        double want[4];
        for (int i = 0; i < 4; i++) {
            want[i] = dA[i] * cases[k].gprime[i];
            CU_ASSERT_DOUBLE_EQUAL(dZ[i], want[i], 1e-15);
            CU_ASSERT_DOUBLE_EQUAL((double)dZs[i], want[i], 1e-6);
        }
        /* db accumulates: row 0 = dZ[0] + dZ[2], row 1 = dZ[1] + dZ[3] */
        CU_ASSERT_DOUBLE_EQUAL(db[0], 100.0 + want[0] + want[2], 1e-13);
        CU_ASSERT_DOUBLE_EQUAL(db[1], -100.0 + want[1] + want[3], 1e-13);
        CU_ASSERT_DOUBLE_EQUAL((double)dbs[0], 100.0 + want[0] + want[2], 1e-4);
        CU_ASSERT_DOUBLE_EQUAL((double)dbs[1], -100.0 + want[1] + want[3], 1e-4);
    }
}

/*
 * The z = 0 convention through forward then backward: relu'(0) = 0 and
 * leaky'(0) = slope (README, The course's models, as dnn-train command lines), as the forward output at z = 0 is exactly 0.
 */
static void test_activation_kink_convention(void)
{
    double A[2] = {0.0, 0.0}, b[2] = {0.0, 0.0}, dZ[2] = {1.0, 1.0}, db[2] = {0, 0};
    dnn_act_forward_d(A, b, 2, 1, DNN_ACT_RELU, 0);
    dnn_act_backward_d(dZ, A, db, 2, 1, DNN_ACT_RELU, 0, 0);
    CU_ASSERT_EQUAL(dZ[0], 0.0);
    CU_ASSERT_EQUAL(db[0], 0.0);
    double A2[2] = {0.0, -0.0}, dZ2[2] = {1.0, 1.0}, db2[2] = {0, 0};
    dnn_act_forward_d(A2, b, 2, 1, DNN_ACT_LEAKY_RELU, 0.01);
    dnn_act_backward_d(dZ2, A2, db2, 2, 1, DNN_ACT_LEAKY_RELU, 0.01, 0);
    CU_ASSERT_EQUAL(dZ2[0], 0.01);
    CU_ASSERT_EQUAL(dZ2[1], 0.01);
    CU_ASSERT_EQUAL(db2[0] + db2[1], 0.02);
    float As[1] = {0.0f}, bs[1] = {0.0f}, dZs[1] = {1.0f}, dbs[1] = {0};
    dnn_act_forward_s(As, bs, 1, 1, DNN_ACT_LEAKY_RELU, 0.01f);
    dnn_act_backward_s(dZs, As, dbs, 1, 1, DNN_ACT_LEAKY_RELU, 0.01f, 0);
    CU_ASSERT_EQUAL(dZs[0], 0.01f);
}

/*
 * Central differences in double: f(Z) = sum_ij c_ij g(Z_ij + b_i).  With
 * dA = c, backward must give dZ_ij = df/dZ_ij and db_i = df/db_i = sum_j dZ_ij.
 * Z values keep |z| >= 0.05 so relu/leaky never cross the kink within h.
 * h = 1e-6; relative error ||num - ana|| / (||num|| + ||ana||) < 1e-8.
 */
static double weighted(dnn_act_t act, const double *Z, const double *b, const double *c, size_t n,
                       size_t cols, double slope)
{
    double A[32];
    memcpy(A, Z, n * cols * sizeof *A);
    dnn_act_forward_d(A, b, n, cols, act, slope);
    double s = 0;
    for (size_t i = 0; i < n * cols; i++)
        s += c[i] * A[i];
    return s;
}

static void test_activation_gradient_check(void)
{
    enum { n = 4, cols = 5 };
    const double h = 1e-6, slope = 0.07;
    double Z[n * cols], b[n], c[n * cols];
    uint64_t s = 12345;
    for (int i = 0; i < n * cols; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(s >> 11) / 9007199254740992.0; /* [0, 1) */
        double mag = 0.05 + 1.5 * u;
        Z[i] = (i % 3 == 0 ? -mag : mag);
        c[i] = 1.0 - 0.3 * (double)(i % 7);
    }
    for (int i = 0; i < n; i++)
        b[i] = 0.0; /* perturbed by +-h below; |Z + b| >= 0.05 - h stays off the kink */
    for (size_t k = 0; k < NACTS; k++) {
        dnn_act_t act = hidden_acts[k];
        double A[n * cols], dZ[n * cols], db[n] = {0};
        memcpy(A, Z, sizeof A);
        dnn_act_forward_d(A, b, n, cols, act, slope);
        memcpy(dZ, c, sizeof dZ);
        dnn_act_backward_d(dZ, A, db, n, cols, act, slope, 0);
        double num2 = 0, ana2 = 0, diff2 = 0;
        for (int i = 0; i < n * cols; i++) {
            double zp[n * cols], zm[n * cols];
            memcpy(zp, Z, sizeof zp);
            memcpy(zm, Z, sizeof zm);
            zp[i] += h;
            zm[i] -= h;
            double num = (weighted(act, zp, b, c, n, cols, slope) - weighted(act, zm, b, c, n, cols, slope)) / (2 * h);
            num2 += num * num;
            ana2 += dZ[i] * dZ[i];
            diff2 += (num - dZ[i]) * (num - dZ[i]);
        }
        for (int i = 0; i < n; i++) {
            double bp[n], bm[n];
            memcpy(bp, b, sizeof bp);
            memcpy(bm, b, sizeof bm);
            bp[i] += h;
            bm[i] -= h;
            double num = (weighted(act, Z, bp, c, n, cols, slope) - weighted(act, Z, bm, c, n, cols, slope)) / (2 * h);
            num2 += num * num;
            ana2 += db[i] * db[i];
            diff2 += (num - db[i]) * (num - db[i]);
        }
        double rel = sqrt(diff2) / (sqrt(num2) + sqrt(ana2));
        if (!(rel < 1e-8))
            fprintf(stderr, "\n  %s: relative gradient error %.3g\n", dnn_act_name(act), rel);
        CU_ASSERT(sqrt(ana2) > 1e-3); /* guard: an all-zero gradient cannot pass */
        CU_ASSERT(rel < 1e-8);
    }
}

/* overwrite = 1: db = row sums of dZ, whatever db held before (both precisions). */
static void test_activation_backward_overwrite(void)
{
    double A[4] = {0.5, 0.6, -0.2, 2.0}, dZ[4] = {4, 1, 8, -2}, db[2] = {1e30, -7};
    dnn_act_backward_d(dZ, A, db, 2, 2, DNN_ACT_LINEAR, 0, 1);
    CU_ASSERT_EQUAL(db[0], 12.0);
    CU_ASSERT_EQUAL(db[1], -1.0);
    float As[4] = {0.5f, 0.6f, -0.2f, 2.0f}, dZs[4] = {4, 1, 8, -2}, dbs[2] = {1e30f, -7};
    dnn_act_backward_s(dZs, As, dbs, 2, 2, DNN_ACT_RELU, 0, 1);
    /* relu: dZ = [4, 1, 0, -2] -> db = [4, -1] */
    CU_ASSERT_EQUAL(dbs[0], 4.0f);
    CU_ASSERT_EQUAL(dbs[1], -1.0f);
    /* no columns: db becomes 0 (an empty block contributes nothing) */
    double e[2] = {5, 6};
    dnn_act_backward_d(dZ, A, e, 2, 0, DNN_ACT_TANH, 0, 1);
    CU_ASSERT_EQUAL(e[0], 0.0);
    CU_ASSERT_EQUAL(e[1], 0.0);
}

/* Zero columns or zero rows: nothing is touched (no out-of-range access). */
static void test_activation_empty_block(void)
{
    double A[1] = {42.0}, b[1] = {1.0}, dZ[1] = {5.0}, db[1] = {3.0};
    dnn_act_forward_d(A, b, 1, 0, DNN_ACT_SIGMOID, 0);
    dnn_act_backward_d(dZ, A, db, 1, 0, DNN_ACT_SIGMOID, 0, 0);
    CU_ASSERT_EQUAL(A[0], 42.0);
    CU_ASSERT_EQUAL(dZ[0], 5.0);
    CU_ASSERT_EQUAL(db[0], 3.0);
}

int main(void)
{
    static const dnn_test_t tests[] = {
        {"test_activation_names_parse", test_activation_names_parse},
        {"test_activation_forward_hand_values", test_activation_forward_hand_values},
        {"test_activation_forward_all_bias_per_row", test_activation_forward_all_bias_per_row},
        {"test_activation_forward_saturates", test_activation_forward_saturates},
        {"test_activation_backward_hand_values", test_activation_backward_hand_values},
        {"test_activation_kink_convention", test_activation_kink_convention},
        {"test_activation_gradient_check", test_activation_gradient_check},
        {"test_activation_backward_overwrite", test_activation_backward_overwrite},
        {"test_activation_empty_block", test_activation_empty_block},
    };
    return dnn_test_run("test_activation", NULL, NULL, tests, sizeof tests / sizeof tests[0]);
}
