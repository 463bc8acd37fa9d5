/*
 * test_loss.c - CUnit suite for the loss module (output activation + loss).
 *
 * References: closed forms worked out by hand (BCE(z, y) = log(1 + e^z) - y z,
 * so BCE(1000, 0) = 1000 and BCE(1000, 1) = 0; softmax of [1000, 1000, -1000]
 * is [1/2, 1/2, 0] and its CE for class 0 is ln 2), long-double evaluations
 * of the textbook formulas for moderate z, and central differences in double
 * precision for dZ = dLoss/dZ.  Every tolerance is stated where it is used.
 */
#include "dnn/loss.h"

#include "dnn_test.h"
#include <CUnit/Basic.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/common.h"

static void test_loss_pairs_and_names(void)
{
    CU_ASSERT_EQUAL(dnn_loss_for(DNN_ACT_SIGMOID), DNN_LOSS_BCE);
    CU_ASSERT_EQUAL(dnn_loss_for(DNN_ACT_SOFTMAX), DNN_LOSS_CE);
    CU_ASSERT_EQUAL(dnn_loss_for(DNN_ACT_LINEAR), DNN_LOSS_MSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(dnn_loss_name(DNN_LOSS_BCE), "binary"));
    CU_ASSERT_PTR_NOT_NULL(strstr(dnn_loss_name(DNN_LOSS_CE), "categorical"));
    CU_ASSERT_PTR_NOT_NULL(strstr(dnn_loss_name(DNN_LOSS_MSE), "squared"));
}

/* -[y ln a + (1-y) ln(1-a)] for a = sigmoid(z), in long double (moderate z only). */
static double bce_ref(double z, double y)
{
    long double a = 1.0L / (1.0L + expl(-(long double)z));
    return (double)(-((long double)y * logl(a) + (1.0L - (long double)y) * logl(1.0L - a)));
}

/*
 * Sigmoid + BCE for moderate z, n = 1, 5 columns, with a bias: A, the loss
 * sum, dZ = A - Y and the correct count (threshold 0.5; a = 0.5 counts as 0).
 * Tolerances: double 1e-14 relative on the loss, 1e-15 on A and dZ; float 1e-6.
 */
static void test_loss_bce_values(void)
{
    const double z0[5] = {0.3, -1.2, 2.5, -0.5, 4.0}, y[5] = {1, 0, 0, 1, 1}, b = -0.3;
    /* z = z0 + b = 0, -1.5, 2.2, -0.8, 3.7; predictions (a > 0.5): 0, 0, 1, 0, 1 -> correct: 0,1,0,0,1 */
    double A[5], dZ[5], loss = 10.0, correct = 2.0, want = 0;
    float As[5], dZs[5], Ys[5], bs = (float)b;
    double losss = 0, corrects = 0;
    for (int j = 0; j < 5; j++) {
        A[j] = z0[j];
        As[j] = (float)z0[j];
        Ys[j] = (float)y[j];
        want += bce_ref(z0[j] + b, y[j]);
    }
    dnn_loss_output_d(A, dZ, y, &b, 1, 5, DNN_ACT_SIGMOID, &loss, &correct);
    dnn_loss_output_s(As, dZs, Ys, &bs, 1, 5, DNN_ACT_SIGMOID, &losss, &corrects);
    CU_ASSERT_DOUBLE_EQUAL(loss - 10.0, want, 1e-14 * want); /* accumulates into *loss */
    CU_ASSERT_EQUAL(correct, 2.0 + 2.0);
    CU_ASSERT_DOUBLE_EQUAL(losss, want, 1e-6 * want);
    CU_ASSERT_EQUAL(corrects, 2.0);
    CU_ASSERT_DOUBLE_EQUAL(A[0], 0.5, 1e-15);
    for (int j = 0; j < 5; j++) {
        double a = 1.0 / (1.0 + exp(-(z0[j] + b)));
        CU_ASSERT_DOUBLE_EQUAL(A[j], a, 1e-15);
        CU_ASSERT_DOUBLE_EQUAL(dZ[j], a - y[j], 1e-15);
        CU_ASSERT_DOUBLE_EQUAL((double)As[j], a, 1e-6);
        CU_ASSERT_DOUBLE_EQUAL((double)dZs[j], a - y[j], 1e-6);
    }
}

/*
 * Saturated sigmoid outputs: the cost is finite and equals its limit
 * max(z, 0) - y z (the log1p term vanishes below double precision), in both
 * precisions; dZ is exactly A - Y with A in {0, 1}.
 */
static void test_loss_bce_huge_z(void)
{
    static const double zs[4] = {1000, -1000, 1e30, -1e30};
    for (int k = 0; k < 4; k++)
        for (int yi = 0; yi <= 1; yi++) {
            double z = zs[k], y = yi, b = 0, A = z, dZ = -1, loss = 0, correct = 0;
            double limit = (z > 0 ? z : 0) - y * z; /* 0 or |z| */
            dnn_loss_output_d(&A, &dZ, &y, &b, 1, 1, DNN_ACT_SIGMOID, &loss, &correct);
            CU_ASSERT(isfinite(loss));
            CU_ASSERT_DOUBLE_EQUAL(loss, limit, 1e-15 * fmax(1.0, limit));
            CU_ASSERT_EQUAL(A, z > 0 ? 1.0 : 0.0);
            CU_ASSERT_EQUAL(dZ, (z > 0 ? 1.0 : 0.0) - y);
            CU_ASSERT_EQUAL(correct, (double)((z > 0) == (yi == 1)));

            float zf = (float)z, As = zf, dZs = -1, Ys = (float)y, bs = 0;
            double lossf = 0, correctf = 0;
            double limitf = (zf > 0 ? (double)zf : 0) - y * (double)zf; /* the float input's own limit */
            dnn_loss_output_s(&As, &dZs, &Ys, &bs, 1, 1, DNN_ACT_SIGMOID, &lossf, &correctf);
            CU_ASSERT(isfinite(lossf));
            CU_ASSERT_DOUBLE_EQUAL(lossf, limitf, 1e-15 * fmax(1.0, limitf));
            CU_ASSERT_EQUAL(As, z > 0 ? 1.0f : 0.0f);
            CU_ASSERT_EQUAL(dZs, (z > 0 ? 1.0f : 0.0f) - Ys);
        }
    /* The named case: BCE(z = 1000, y = 0) = 1000 exactly in double. */
    double A = 1000, dZ, y = 0, b = 0, loss = 0, correct = 0;
    dnn_loss_output_d(&A, &dZ, &y, &b, 1, 1, DNN_ACT_SIGMOID, &loss, &correct);
    CU_ASSERT_EQUAL(loss, 1000.0);
}

/*
 * Sigmoid with two outputs per example (multi-label): correct needs every
 * output on the right side of 0.5.
 */
static void test_loss_bce_multi_output_correct(void)
{
    /* columns: (z0, z1) vs (y0, y1) */
    double A[6] = {2, 3, /**/ 2, -3, /**/ -1, -1}, Y[6] = {1, 1, /**/ 1, 1, /**/ 0, 0}, b[2] = {0, 0};
    double dZ[6], loss = 0, correct = 0;
    dnn_loss_output_d(A, dZ, Y, b, 2, 3, DNN_ACT_SIGMOID, &loss, &correct);
    CU_ASSERT_EQUAL(correct, 2.0); /* columns 0 and 2 right, column 1 half wrong */
    double want = bce_ref(2, 1) + bce_ref(3, 1) + bce_ref(2, 1) + bce_ref(-3, 1) + 2 * bce_ref(-1, 0);
    CU_ASSERT_DOUBLE_EQUAL(loss, want, 1e-14 * want);
}

/* Softmax reference in long double for moderate z. */
static void softmax_ref(const double *z, int n, int y, double *p, double *ce)
{
    long double mx = z[0], s = 0;
    for (int i = 1; i < n; i++)
        if (z[i] > mx)
            mx = z[i];
    for (int i = 0; i < n; i++)
        s += expl((long double)z[i] - mx);
    for (int i = 0; i < n; i++)
        p[i] = (double)(expl((long double)z[i] - mx) / s);
    *ce = (double)(mx + logl(s) - (long double)z[y]);
}

/*
 * Softmax + CE on 3 classes x 4 columns with a per-row bias; Y holds class
 * ids (1 x cols).  Checks A (columns sum to 1), loss, dZ = A - onehot, and the
 * argmax count.  Tolerances: double 1e-14, float 1e-6 (relative on the loss).
 */
static void test_loss_softmax_values(void)
{
    enum { n = 3, cols = 4 };
    const double z0[n * cols] = {0.1, 0.2, 0.3, /**/ 2.0, -1.0, 0.5, /**/ -3.0, 4.0, 1.0, /**/ 0.0, 0.0, 0.0};
    const double b[n] = {0.5, -0.25, 0.0};
    const double y[cols] = {2, 0, 2, 1};
    double A[n * cols], dZ[n * cols], loss = 0, correct = 0, want = 0, wantc = 0;
    float As[n * cols], dZs[n * cols], Ys[cols], bs[n];
    double losss = 0, corrects = 0;
    for (int i = 0; i < n * cols; i++)
        As[i] = (float)(A[i] = z0[i]);
    for (int i = 0; i < n; i++)
        bs[i] = (float)b[i];
    for (int j = 0; j < cols; j++)
        Ys[j] = (float)y[j];
    dnn_loss_output_d(A, dZ, y, b, n, cols, DNN_ACT_SOFTMAX, &loss, &correct);
    dnn_loss_output_s(As, dZs, Ys, bs, n, cols, DNN_ACT_SOFTMAX, &losss, &corrects);
    for (int j = 0; j < cols; j++) {
        double z[n], p[n], ce, sum = 0;
        int arg = 0;
        for (int i = 0; i < n; i++) {
            z[i] = z0[j * n + i] + b[i];
            if (z[i] > z[arg])
                arg = i;
        }
        softmax_ref(z, n, (int)y[j], p, &ce);
        want += ce;
        wantc += arg == (int)y[j];
        for (int i = 0; i < n; i++) {
            double onehot = i == (int)y[j];
            CU_ASSERT_DOUBLE_EQUAL(A[j * n + i], p[i], 1e-15);
            CU_ASSERT_DOUBLE_EQUAL(dZ[j * n + i], p[i] - onehot, 1e-15);
            CU_ASSERT_DOUBLE_EQUAL((double)As[j * n + i], p[i], 1e-6);
            CU_ASSERT_DOUBLE_EQUAL((double)dZs[j * n + i], p[i] - onehot, 1e-6);
            sum += A[j * n + i];
        }
        CU_ASSERT_DOUBLE_EQUAL(sum, 1.0, 1e-15);
    }
    /* columns: z = (0.6,-0.05,0.3)->0 vs 2; (2.5,-1.25,0.5)->0 vs 0; (-2.5,3.75,1)->1 vs 2; (0.5,-0.25,0)->0 vs 1 */
    CU_ASSERT_EQUAL(wantc, 1.0);
    CU_ASSERT_EQUAL(correct, wantc);
    CU_ASSERT_EQUAL(corrects, wantc);
    CU_ASSERT_DOUBLE_EQUAL(loss, want, 1e-14 * want);
    CU_ASSERT_DOUBLE_EQUAL(losss, want, 1e-6 * want);
}

/*
 * Stable softmax: z = [1000, 1000, -1000] gives [1/2, 1/2, 0]; CE for class
 * 0 is ln 2 and for class 2 is 2000 + ln 2.  z = [1e30, 0, -1e30] gives
 * [1, 0, 0], CE 0 for class 0 and 1e30 for class 1.  Tied huge logits keep
 * their exact CE: [1e30, 1e30, -1e30] -> ln 2 for class 0, three equal
 * logits -> ln 3 (CE = log(sum exp(z - zmax)) - (z_y - zmax) is exact there;
 * (zmax + log s) - z_y rounds log s away when |zmax| > 2^53 log s).
 * The probabilities must sum to 1.  Tolerance for A, dZ and CE: 1e-12
 * absolute (computing A = exp(z - (zmax + log s)) rounds zmax + log s by up
 * to 1.1e-13 at |z| = 1000) or 1e-15 relative, whichever is larger; float
 * 1e-7.  Both precisions.
 */
static void test_loss_softmax_huge_z(void)
{
    struct {
        double z[3];
        double y;
        double p[3];
        double ce;
    } cases[] = {
        {{1000, 1000, -1000}, 0, {0.5, 0.5, 0}, 0.6931471805599453},
        {{1000, 1000, -1000}, 2, {0.5, 0.5, 0}, 2000 + 0.6931471805599453},
        {{1e30, 0, -1e30}, 0, {1, 0, 0}, 0},
        {{1e30, 0, -1e30}, 1, {1, 0, 0}, 1e30},
        {{1e30, 1e30, -1e30}, 0, {0.5, 0.5, 0}, 0.6931471805599453},
        {{-1e30, -1e30, -1e30}, 1, {1.0 / 3, 1.0 / 3, 1.0 / 3}, 1.0986122886681098},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double A[3], dZ[3], b[3] = {0, 0, 0}, loss = 0, correct = 0;
        float As[3], dZs[3], bs[3] = {0, 0, 0}, ys = (float)cases[k].y;
        double lossf = 0, correctf = 0;
        for (int i = 0; i < 3; i++)
            As[i] = (float)(A[i] = cases[k].z[i]);
        dnn_loss_output_d(A, dZ, &cases[k].y, b, 3, 1, DNN_ACT_SOFTMAX, &loss, &correct);
        dnn_loss_output_s(As, dZs, &ys, bs, 3, 1, DNN_ACT_SOFTMAX, &lossf, &correctf);
        double tol = fmax(1e-12, 1e-15 * fabs(cases[k].ce));
        CU_ASSERT(isfinite(loss) && isfinite(lossf));
        CU_ASSERT_DOUBLE_EQUAL(loss, cases[k].ce, tol);
        /* float inputs: 1e30f differs from 1e30 by 1.5e22, so the limit is relative 1e-7 */
        CU_ASSERT_DOUBLE_EQUAL(lossf, cases[k].ce, fmax(1e-12, 1e-7 * fabs(cases[k].ce)));
        double sum = 0, sums = 0;
        for (int i = 0; i < 3; i++) {
            double onehot = i == (int)cases[k].y;
            CU_ASSERT(isfinite(A[i]) && isfinite(As[i]));
            CU_ASSERT_DOUBLE_EQUAL(A[i], cases[k].p[i], 1e-12);
            CU_ASSERT_DOUBLE_EQUAL((double)As[i], cases[k].p[i], 1e-7);
            CU_ASSERT_DOUBLE_EQUAL(dZ[i], cases[k].p[i] - onehot, 1e-12);
            CU_ASSERT_DOUBLE_EQUAL((double)dZs[i], cases[k].p[i] - onehot, 1e-7);
            sum += A[i];
            sums += As[i];
        }
        CU_ASSERT_DOUBLE_EQUAL(sum, 1.0, 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(sums, 1.0, 1e-6);
        if (fabs(sum - 1.0) > 1e-12 || fabs(loss - cases[k].ce) > tol)
            fprintf(stderr, "\n  softmax z = [%g, %g, %g], y = %g: A = [%.17g, %.17g, %.17g] (sum %.17g), CE %.17g, "
                    "expected [%.17g, %.17g, %.17g], CE %.17g\n", cases[k].z[0], cases[k].z[1], cases[k].z[2],
                    cases[k].y, A[0], A[1], A[2], sum, loss, cases[k].p[0], cases[k].p[1], cases[k].p[2], cases[k].ce);
    }
}

/*
 * Linear + squared error / 2 on 2 outputs x 3 columns: A = Z + b, loss =
 * sum (a - y)^2 / 2, dZ = A - Y, correct untouched by regression (adds 0).
 */
static void test_loss_mse_values(void)
{
    double A[6] = {1, 2, /**/ -1, 0.5, /**/ 3, -3}, Y[6] = {0, 2, /**/ 1, 1, /**/ 2.5, -2}, b[2] = {0.5, -1};
    /* A + b = (1.5, 1), (-0.5, -0.5), (3.5, -4); diffs = (1.5, -1), (-1.5, -1.5), (1, -2) */
    double loss = 1.0, correct = 7.0;
    double dZ[6];
    const double wantdz[6] = {1.5, -1, -1.5, -1.5, 1, -2};
    const double want = 0.5 * (2.25 + 1 + 2.25 + 2.25 + 1 + 4); /* = 6.375 */
    float As[6], Ys[6], bs[2] = {0.5f, -1.0f}, dZs[6];
    double losss = 0, corrects = 0;
    for (int i = 0; i < 6; i++) {
        As[i] = (float)A[i];
        Ys[i] = (float)Y[i];
    }
    dnn_loss_output_d(A, dZ, Y, b, 2, 3, DNN_ACT_LINEAR, &loss, &correct);
    dnn_loss_output_s(As, dZs, Ys, bs, 2, 3, DNN_ACT_LINEAR, &losss, &corrects);
    CU_ASSERT_EQUAL(loss, 1.0 + want); /* every term is exact in binary */
    CU_ASSERT_EQUAL(correct, 7.0);
    CU_ASSERT_EQUAL(losss, want);
    CU_ASSERT_EQUAL(corrects, 0.0);
    for (int i = 0; i < 6; i++) {
        CU_ASSERT_EQUAL(dZ[i], wantdz[i]);
        CU_ASSERT_EQUAL(dZs[i], (float)wantdz[i]);
        CU_ASSERT_EQUAL(A[i], Y[i] + wantdz[i]);
    }
}

/* Prediction only (Y = NULL, dZ = NULL): A is computed, loss/correct untouched. */
static void test_loss_prediction_only(void)
{
    double A[3] = {1000, 1000, -1000}, b[3] = {0, 0, 0}, loss = 3.5, correct = 4.5;
    dnn_loss_output_d(A, NULL, NULL, b, 3, 1, DNN_ACT_SOFTMAX, &loss, &correct);
    CU_ASSERT_DOUBLE_EQUAL(A[0], 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(A[2], 0.0, 1e-300);
    double As[2] = {0, -2}, bb[2] = {0, 2};
    dnn_loss_output_d(As, NULL, NULL, bb, 1, 2, DNN_ACT_SIGMOID, NULL, NULL);
    CU_ASSERT_EQUAL(As[0], 0.5);
    CU_ASSERT_EQUAL(As[1], 1.0 / (1.0 + exp(2.0))); /* bias of row 0 (= 0) for both columns */
    CU_ASSERT_EQUAL(loss, 3.5);
    CU_ASSERT_EQUAL(correct, 4.5);
}

/*
 * Central differences in double: the loss sum as a function of Z (entering
 * as A with b = 0) must have gradient dZ, for each output/loss pair.
 * h = 1e-6; relative error ||num - ana|| / (||num|| + ||ana||) < 1e-8.
 */
static double loss_of(dnn_act_t out, const double *Z, const double *Y, size_t n, size_t cols)
{
    double A[64], dZ[64], b[8] = {0}, loss = 0, correct = 0;
    memcpy(A, Z, n * cols * sizeof *A);
    dnn_loss_output_d(A, dZ, Y, b, n, cols, out, &loss, &correct);
    return loss;
}

static void test_loss_gradient_check(void)
{
    enum { cols = 5 };
    const double h = 1e-6;
    const dnn_act_t outs[3] = {DNN_ACT_SIGMOID, DNN_ACT_SOFTMAX, DNN_ACT_LINEAR};
    const size_t ns[3] = {2, 4, 3};
    for (int k = 0; k < 3; k++) {
        size_t n = ns[k];
        double Z[64], Y[64], A[64], dZ[64], b[8] = {0}, loss = 0, correct = 0;
        for (size_t i = 0; i < n * cols; i++) {
            Z[i] = sin(1.7 * (double)i + 0.3 * (double)k) * 2.5;
            Y[i] = outs[k] == DNN_ACT_LINEAR ? cos(0.9 * (double)i) : (double)((i * 7 + k) % 3 == 0);
        }
        if (outs[k] == DNN_ACT_SOFTMAX)
            for (size_t j = 0; j < cols; j++)
                Y[j] = (double)((j * 3 + 1) % n); /* class ids, one row */
        memcpy(A, Z, n * cols * sizeof *A);
        dnn_loss_output_d(A, dZ, Y, b, n, cols, outs[k], &loss, &correct);
        double num2 = 0, ana2 = 0, diff2 = 0;
        for (size_t i = 0; i < n * cols; i++) {
            double zp[64], zm[64];
            memcpy(zp, Z, n * cols * sizeof *zp);
            memcpy(zm, Z, n * cols * sizeof *zm);
            zp[i] += h;
            zm[i] -= h;
            double num = (loss_of(outs[k], zp, Y, n, cols) - loss_of(outs[k], zm, Y, n, cols)) / (2 * h);
            num2 += num * num;
            ana2 += dZ[i] * dZ[i];
            diff2 += (num - dZ[i]) * (num - dZ[i]);
        }
        double rel = sqrt(diff2) / (sqrt(num2) + sqrt(ana2));
        if (!(rel < 1e-8))
            fprintf(stderr, "\n  %s: relative gradient error %.3g\n", dnn_act_name(outs[k]), rel);
        CU_ASSERT(sqrt(ana2) > 1e-2); /* guard against an all-zero gradient */
        CU_ASSERT(rel < 1e-8);
    }
}

int main(void)
{
    static const dnn_test_t tests[] = {
        {"test_loss_pairs_and_names", test_loss_pairs_and_names},
        {"test_loss_bce_values", test_loss_bce_values},
        {"test_loss_bce_huge_z", test_loss_bce_huge_z},
        {"test_loss_bce_multi_output_correct", test_loss_bce_multi_output_correct},
        {"test_loss_softmax_values", test_loss_softmax_values},
        {"test_loss_softmax_huge_z", test_loss_softmax_huge_z},
        {"test_loss_mse_values", test_loss_mse_values},
        {"test_loss_prediction_only", test_loss_prediction_only},
        {"test_loss_gradient_check", test_loss_gradient_check},
    };
    return dnn_test_run("test_loss", NULL, NULL, tests, sizeof tests / sizeof tests[0]);
}
