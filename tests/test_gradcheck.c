/*
 * test_gradcheck.c - CUnit suite for the gradcheck module (dnn-train
 * --gradient-check, README, Course 2: optimizers, regularization, schedules, dev sets).
 *
 * References: the course's difference formula on hand-computed vectors;
 * the backprop side against an own reading of the model's gradient buffer
 * (grads / m + (lambda / m) W); the check passing on correct gradients for
 * sigmoid/softmax/linear outputs x relu/tanh hidden, with dropout and L2;
 * and failing (difference >= 1e-7) on deliberately wrong gradients: an L2
 * term left out, dropout masks left out of backprop, one layer scaled by
 * 1.001, one entry off by 1e-4, and signs of one bias flipped.
 */
#include "dnn/bn.h"
#include "dnn/gradcheck.h"

#include "dnn_test.h"
#include <CUnit/Basic.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLS 9

static uint64_t lcg_state;

static double lcg_uniform(void) /* [-1, 1) */
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* A double model 3 -> 5 -> 4 -> n_out with xavier weights, biases in [-0.25, 0.25), X in [-1, 1)^(3 x COLS). */
static void make(dnn_model_t *m, dnn_act_t hidden, dnn_act_t out, uint64_t seed, double *X, double *Y)
{
    size_t n[4] = {3, 5, 4, out == DNN_ACT_SIGMOID ? 1 : 3};
    char msg[DNN_MSG_LEN];
    CU_ASSERT_FATAL(dnn_model_init(m, DNN_DOUBLE, 3, n, hidden, out, 0.01, COLS, msg) == 0);
    CU_ASSERT_FATAL(dnn_model_init_params(m, DNN_INIT_XAVIER, 0, DNN_RNG_DEFAULT, seed, msg) == 0);
    lcg_state = seed * 7919 + 1;
    for (int l = 1; l <= 3; l++) {
        double *b = dnn_model_b(m, l);
        for (size_t i = 0; i < n[l]; i++)
            b[i] = 0.25 * lcg_uniform();
    }
    for (size_t i = 0; i < 3 * COLS; i++)
        X[i] = lcg_uniform();
    for (size_t j = 0; j < COLS; j++)
        for (size_t i = 0; i < n[3]; i++)
            if (out == DNN_ACT_SOFTMAX)
                Y[j] = (double)(j % 3);
            else
                Y[j * n[3] + i] = out == DNN_ACT_SIGMOID ? (double)(lcg_uniform() > 0) : lcg_uniform();
}

/* The course's formula on vectors worked by hand; NaN for two zero vectors; the worst entry. */
static void test_gradcheck_difference_formula(void)
{
    const double g[2] = {3, 4}, a0[2] = {0, 0}, e1[2] = {1, 0}, e2[2] = {0, 1};
    const double a[3] = {1, 2, 3}, b[3] = {1, 2.5, 3};
    size_t worst = 99;
    CU_ASSERT_EQUAL(dnn_gradcheck_difference(g, g, 2, NULL), 0.0);
    CU_ASSERT_DOUBLE_EQUAL(dnn_gradcheck_difference(g, a0, 2, NULL), 1.0, 1e-15); /* 5 / (5 + 0) */
    CU_ASSERT_DOUBLE_EQUAL(dnn_gradcheck_difference(e1, e2, 2, NULL), sqrt(2.0) / 2.0, 1e-15);
    /* ||(0, -0.5, 0)|| / (sqrt(14) + sqrt(16.25)) */
    CU_ASSERT_DOUBLE_EQUAL(dnn_gradcheck_difference(a, b, 3, &worst), 0.5 / (sqrt(14.0) + sqrt(16.25)), 1e-15);
    CU_ASSERT_EQUAL(worst, 1);
    CU_ASSERT(isnan(dnn_gradcheck_difference(a0, a0, 2, NULL)));
    CU_ASSERT(dnn_gradcheck_passed(9.99e-8));
    CU_ASSERT(!dnn_gradcheck_passed(1e-7));
    CU_ASSERT(!dnn_gradcheck_passed(NAN));
    CU_ASSERT(!dnn_gradcheck_passed(0.5));
}

/* Parameter names follow the layout W1 b1 W2 b2 ...; W[l] is (n[l], n[l-1]) row-major. */
static void test_gradcheck_param_names(void)
{
    dnn_model_t m;
    double X[3 * COLS], Y[3 * COLS];
    char name[64];
    make(&m, DNN_ACT_TANH, DNN_ACT_SOFTMAX, 1, X, Y);
    dnn_gradcheck_param_name(&m, 0, name, sizeof name);
    CU_ASSERT_STRING_EQUAL(name, "dW1[0][0]");
    dnn_gradcheck_param_name(&m, 7, name, sizeof name); /* row 2, column 1 of the (5, 3) W1 */
    CU_ASSERT_STRING_EQUAL(name, "dW1[2][1]");
    dnn_gradcheck_param_name(&m, 15, name, sizeof name);
    CU_ASSERT_STRING_EQUAL(name, "db1[0]");
    dnn_gradcheck_param_name(&m, 20, name, sizeof name);
    CU_ASSERT_STRING_EQUAL(name, "dW2[0][0]");
    dnn_gradcheck_param_name(&m, m.nparams - 1, name, sizeof name);
    CU_ASSERT_STRING_EQUAL(name, "db3[2]");
    dnn_model_free(&m);
}

/* With --batch-norm the hidden layers' b slots are the betas and the gammas
 * follow bL, layer by layer (README, Batch normalization). */
static void test_gradcheck_param_names_bn(void)
{
    dnn_model_t m;
    double X[3 * COLS], Y[3 * COLS];
    char name[64], msg[DNN_MSG_LEN];
    make(&m, DNN_ACT_RELU, DNN_ACT_SOFTMAX, 2, X, Y);
    CU_ASSERT_FATAL(dnn_bn_init(&m, 0.9, 1e-5, msg) == 0);
    static const struct {
        size_t i;
        const char *name;
    } cases[] = {
        {15, "dbeta1[0]"}, {19, "dbeta1[4]"}, {40, "dbeta2[0]"}, {56, "db3[0]"}, {59, "dgamma1[0]"},
        {63, "dgamma1[4]"}, {64, "dgamma2[0]"}, {67, "dgamma2[3]"},
    };
    CU_ASSERT_EQUAL(m.nparams, 68); /* 15 + 5 + 20 + 4 + 12 + 3, then 5 + 4 gammas */
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        dnn_gradcheck_param_name(&m, cases[k].i, name, sizeof name);
        if (strcmp(name, cases[k].name))
            fprintf(stderr, "\n  parameter %zu of a batch-norm model is named %s, want %s\n", cases[k].i, name,
                    cases[k].name);
        CU_ASSERT_STRING_EQUAL(name, cases[k].name);
    }
    dnn_model_free(&m);
}

/*
 * The backprop side is grads / m + (lambda / m) W for weights, grads / m for
 * biases (exactly as written here from the gradient buffer), with dropout
 * masks of the keys set on the model.
 */
static void test_gradcheck_backprop_side(void)
{
    dnn_model_t m;
    double X[3 * COLS], Y[3 * COLS];
    make(&m, DNN_ACT_RELU, DNN_ACT_SIGMOID, 2, X, Y);
    dnn_model_set_dropout(&m, 0.8, 4);
    dnn_model_set_columns(&m, 0, NULL, 0);
    size_t P = m.nparams, *idx = malloc(P * sizeof *idx);
    double *grad = malloc(P * sizeof *grad), l2 = 0.3;
    CU_ASSERT_FATAL(idx && grad);
    for (size_t i = 0; i < P; i++)
        idx[i] = i;
    dnn_gradcheck_backprop(&m, X, Y, COLS, l2, idx, P, grad);
    const double *G = m.grads, *W = m.params;
    int ok = 1;
    for (size_t i = 0; i < P; i++) {
        int weight = (i < m.off_b[1]) || (i >= m.off_W[2] && i < m.off_b[2]) || (i >= m.off_W[3] && i < m.off_b[3]);
        ok &= grad[i] == G[i] / COLS + (weight ? l2 / COLS * W[i] : 0.0);
    }
    CU_ASSERT(ok);
    free(idx);
    free(grad);
    dnn_model_free(&m);
}

/*
 * Correct backprop passes: every output x {relu, tanh} x {no dropout and no
 * L2, keep_prob 0.7 with l2 0.5}: difference < 1e-7, ||grad|| > 1e-3 (not
 * the all-zero case), the parameters restored bitwise, nothing sampled (all
 * P checked), and the result's fields consistent.
 */
static void test_gradcheck_model_passes(void)
{
    static const dnn_act_t outs[3] = {DNN_ACT_SIGMOID, DNN_ACT_SOFTMAX, DNN_ACT_LINEAR};
    static const dnn_act_t hids[2] = {DNN_ACT_RELU, DNN_ACT_TANH};
    for (int o = 0; o < 3; o++)
        for (int h = 0; h < 2; h++)
            for (int reg = 0; reg < 2; reg++) {
                dnn_model_t m;
                double X[3 * COLS], Y[3 * COLS], before[128];
                char msg[DNN_MSG_LEN];
                make(&m, hids[h], outs[o], 10 + (uint64_t)(6 * o + 2 * h + reg), X, Y);
                CU_ASSERT_FATAL(m.nparams <= 128);
                memcpy(before, m.params, m.nparams * sizeof(double));
                if (reg) {
                    dnn_model_set_dropout(&m, 0.7, 3);
                    dnn_model_set_columns(&m, 5, NULL, 100);
                }
                dnn_gradcheck_result_t r;
                CU_ASSERT_FATAL(dnn_gradcheck_model(&m, X, Y, COLS, reg ? 0.5 : 0, 2000, 1, &r, msg) == 0);
                if (!dnn_gradcheck_passed(r.difference) || getenv("DNN_TEST_VERBOSE"))
                    fprintf(stderr, "\n  %s/%s keep_prob %g l2 %g: difference %.3e, ||grad|| %.3g\n",
                            dnn_act_name(hids[h]), dnn_act_name(outs[o]), reg ? 0.7 : 1.0, reg ? 0.5 : 0.0,
                            r.difference, r.grad_norm);
                CU_ASSERT(dnn_gradcheck_passed(r.difference));
                CU_ASSERT(r.grad_norm > 1e-3);
                CU_ASSERT(isnan(r.difference_wide)); /* computed only for a failed check */
                CU_ASSERT_EQUAL(r.checked, m.nparams);
                CU_ASSERT_EQUAL(r.nparams, m.nparams);
                CU_ASSERT_EQUAL(r.examples, COLS);
                CU_ASSERT(memcmp(before, m.params, m.nparams * sizeof(double)) == 0);
                dnn_model_free(&m);
            }
}

/*
 * Deliberately wrong gradients fail the comparison against the (correct)
 * central differences of the same cost: keep_prob 0.7 and l2 0.5, softmax,
 * tanh.  Each wrong backprop is one a real bug would produce.
 */
static void test_gradcheck_detects_wrong_backprop(void)
{
    dnn_model_t m;
    double X[3 * COLS], Y[3 * COLS];
    make(&m, DNN_ACT_TANH, DNN_ACT_SOFTMAX, 40, X, Y);
    size_t P = m.nparams, *idx = malloc(P * sizeof *idx);
    double *grad = malloc(P * sizeof *grad), *bad = malloc(P * sizeof *bad), *approx = malloc(P * sizeof *approx);
    CU_ASSERT_FATAL(idx && grad && bad && approx);
    for (size_t i = 0; i < P; i++)
        idx[i] = i;
    const double l2 = 0.5;
    dnn_model_set_dropout(&m, 0.7, 9);
    dnn_model_set_columns(&m, 2, NULL, 0);
    dnn_gradcheck_backprop(&m, X, Y, COLS, l2, idx, P, grad);
    dnn_gradcheck_numeric(&m, X, Y, COLS, l2, idx, P, DNN_GRADCHECK_EPSILON, approx);
    double good = dnn_gradcheck_difference(grad, approx, P, NULL);
    CU_ASSERT(dnn_gradcheck_passed(good));
    double d[5];
    size_t worst[5] = {0};
    /* 1: the L2 term left out of dW */
    dnn_gradcheck_backprop(&m, X, Y, COLS, 0, idx, P, bad);
    d[0] = dnn_gradcheck_difference(bad, approx, P, &worst[0]);
    /* 2: the dropout masks left out of backprop (forward still dropped) */
    dnn_model_set_dropout(&m, 1.0, 9);
    dnn_gradcheck_backprop(&m, X, Y, COLS, l2, idx, P, bad);
    dnn_model_set_dropout(&m, 0.7, 9);
    d[1] = dnn_gradcheck_difference(bad, approx, P, &worst[1]);
    /* 3: dW2 scaled by 1.001 */
    memcpy(bad, grad, P * sizeof *bad);
    for (size_t i = m.off_W[2]; i < m.off_b[2]; i++)
        bad[i] *= 1.001;
    d[2] = dnn_gradcheck_difference(bad, approx, P, &worst[2]);
    /* 4: one entry off by 1e-4 */
    memcpy(bad, grad, P * sizeof *bad);
    bad[m.off_W[1] + 4] += 1e-4;
    d[3] = dnn_gradcheck_difference(bad, approx, P, &worst[3]);
    /* 5: db3 with the wrong sign */
    memcpy(bad, grad, P * sizeof *bad);
    for (size_t i = m.off_b[3]; i < m.nparams; i++)
        bad[i] = -bad[i];
    d[4] = dnn_gradcheck_difference(bad, approx, P, &worst[4]);
    for (int t = 0; t < 5; t++) {
        if (getenv("DNN_TEST_VERBOSE") || dnn_gradcheck_passed(d[t]))
            fprintf(stderr, "\n  wrong backprop %d: difference %.3e (correct: %.3e)\n", t + 1, d[t], good);
        CU_ASSERT(!dnn_gradcheck_passed(d[t]));
    }
    CU_ASSERT_EQUAL(worst[3], m.off_W[1] + 4);
    CU_ASSERT(worst[0] < m.off_b[1] || (worst[0] >= m.off_W[2] && worst[0] < m.off_b[2]) ||
              (worst[0] >= m.off_W[3] && worst[0] < m.off_b[3])); /* L2 moves weights only */
    free(idx), free(grad), free(bad), free(approx);
    dnn_model_free(&m);
}

/*
 * More parameters than max_params: a seeded sample of that many is checked
 * (result.checked), it passes, the same seed gives the same difference
 * bitwise and another seed another sample (another difference).
 */
static void test_gradcheck_sample(void)
{
    dnn_model_t m;
    double X[3 * COLS], Y[3 * COLS];
    char msg[DNN_MSG_LEN];
    make(&m, DNN_ACT_TANH, DNN_ACT_LINEAR, 50, X, Y);
    dnn_gradcheck_result_t a, b, c;
    CU_ASSERT_FATAL(dnn_gradcheck_model(&m, X, Y, COLS, 0, 20, 7, &a, msg) == 0);
    CU_ASSERT_FATAL(dnn_gradcheck_model(&m, X, Y, COLS, 0, 20, 7, &b, msg) == 0);
    CU_ASSERT_FATAL(dnn_gradcheck_model(&m, X, Y, COLS, 0, 20, 8, &c, msg) == 0);
    CU_ASSERT_EQUAL(a.checked, 20);
    CU_ASSERT_EQUAL(a.nparams, m.nparams);
    CU_ASSERT(dnn_gradcheck_passed(a.difference) && dnn_gradcheck_passed(c.difference));
    CU_ASSERT(a.difference == b.difference && a.grad_norm == b.grad_norm);
    CU_ASSERT(a.grad_norm != c.grad_norm);
    /* refused: a single-precision model, more columns than bmax */
    dnn_model_t s;
    CU_ASSERT_FATAL(dnn_model_init(&s, DNN_SINGLE, m.L, m.n, m.hidden, m.output, 0.01, COLS, msg) == 0);
    CU_ASSERT_EQUAL(dnn_gradcheck_model(&s, X, Y, COLS, 0, 20, 7, &a, msg), DNN_EINVAL);
    CU_ASSERT_EQUAL(dnn_gradcheck_model(&m, X, Y, COLS + 1, 0, 20, 7, &a, msg), DNN_EINVAL);
    dnn_model_free(&s);
    dnn_model_free(&m);
}

int main(void)
{
    static const dnn_test_t tests[] = {
        DNN_TEST(test_gradcheck_difference_formula),
        DNN_TEST(test_gradcheck_param_names),
        DNN_TEST(test_gradcheck_param_names_bn),
        DNN_TEST(test_gradcheck_backprop_side),
        DNN_TEST(test_gradcheck_model_passes),
        DNN_TEST(test_gradcheck_detects_wrong_backprop),
        DNN_TEST(test_gradcheck_sample),
    };
    return dnn_test_run("test_gradcheck", NULL, NULL, tests, sizeof tests / sizeof tests[0]);
}
