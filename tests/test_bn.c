/*
 * test_bn.c - batch normalization (bn.h; README, Batch normalization) on
 * networks small enough to compute by hand.
 *
 * One input feature x = 1, 2, 3, 4 and W1 = (1, 2)^T give Z1 rows
 * (1 2 3 4) and (2 4 6 8): batch means 2.5 and 5, biased variances 1.25 and
 * 5, so z_norm = (z - mu) / sqrt(var + eps) is known in closed form; with a
 * linear hidden layer, W2 = (1 1), b2 = 0.5, a linear output and targets y,
 * the output is zn_a + zn_b + 0.5 and, with dZ2 = a - y, dbeta = sum dz~ and
 * dgamma = sum dz~ z_norm per unit (dz~ = W2^T dZ2).
 */
#include <math.h>
#include <string.h>

#include "dnn/bn.h"
#include "dnn/gradcheck.h"
#include "dnn/model.h"
#include "dnn_test.h"

#define EPS 1e-5

static const double X4[4] = {1, 2, 3, 4}, Y4[4] = {0.3, -1, 2, 0.5};

/* [1, 2, 1] linear/linear with batch norm, W1 = (1, 2)^T, W2 = (1 1), b2 = 0.5. */
static void tiny(dnn_model_t *m, dnn_precision_t prec, size_t bmax)
{
    size_t n[3] = {1, 2, 1};
    char msg[DNN_MSG_LEN];
    CU_ASSERT_FATAL(dnn_model_init(m, prec, 2, n, DNN_ACT_LINEAR, DNN_ACT_LINEAR, 0, bmax, msg) == 0);
    CU_ASSERT_FATAL(dnn_bn_init(m, 0.9, EPS, msg) == 0);
    CU_ASSERT_FATAL(dnn_model_init_params(m, DNN_INIT_HE, 0, DNN_RNG_DEFAULT, 1, msg) == 0);
    size_t at[5] = {m->off_W[1], m->off_W[1] + 1, m->off_W[2], m->off_W[2] + 1, m->off_b[2]};
    double v[5] = {1, 2, 1, 1, 0.5};
    for (int i = 0; i < 5; i++) {
        if (prec == DNN_DOUBLE)
            ((double *)m->params)[at[i]] = v[i];
        else
            ((float *)m->params)[at[i]] = (float)v[i];
    }
}

static void test_bn_check_options(void)
{
    char msg[DNN_MSG_LEN];
    CU_ASSERT(dnn_bn_check(0, 1e-5, 1, msg) == 0);
    CU_ASSERT(dnn_bn_check(0.999, 1e-12, 3, msg) == 0);
    CU_ASSERT(dnn_bn_check(1, 1e-5, 1, msg) == DNN_EINVAL && strstr(msg, "--bn-momentum") && strstr(msg, "got 1"));
    CU_ASSERT(dnn_bn_check(-0.5, 1e-5, 1, msg) == DNN_EINVAL && strstr(msg, "--bn-momentum"));
    CU_ASSERT(dnn_bn_check(NAN, 1e-5, 1, msg) == DNN_EINVAL);
    CU_ASSERT(dnn_bn_check(0.9, 0, 1, msg) == DNN_EINVAL && strstr(msg, "--bn-epsilon") && strstr(msg, "got 0"));
    CU_ASSERT(dnn_bn_check(0.9, INFINITY, 1, msg) == DNN_EINVAL);
    CU_ASSERT(dnn_bn_check(0.9, 1e-5, 0, msg) == DNN_EINVAL && strstr(msg, "--batch-norm"));
}

/* Layout: gamma after bL, beta in b's slot, gamma 1 / beta 0 / mean 0 / var 1 at the start. */
static void test_bn_layout_and_start(void)
{
    dnn_model_t m;
    tiny(&m, DNN_DOUBLE, 4);
    CU_ASSERT_EQUAL(m.nparams_core, 2 + 2 + 2 + 1);
    CU_ASSERT_EQUAL(m.nparams, m.nparams_core + 2);
    CU_ASSERT_EQUAL(m.off_g[1], m.nparams_core);
    const double *g = dnn_bn_gamma(&m, 1), *b = dnn_bn_beta(&m, 1), *mu = dnn_bn_mean(&m, 1), *v = dnn_bn_var(&m, 1);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(g[i], 1);
        CU_ASSERT_EQUAL(b[i], 0);
        CU_ASSERT_EQUAL(mu[i], 0);
        CU_ASSERT_EQUAL(v[i], 1);
    }
    dnn_model_free(&m);
}

/* The training pass: batch statistics, output, dbeta and dgamma by hand; the running update. */
static void test_bn_training_pass_by_hand(void)
{
    dnn_model_t m;
    tiny(&m, DNN_DOUBLE, 4);
    dnn_model_backward(&m, X4, Y4, 4, 1);
    CU_ASSERT_DOUBLE_EQUAL(m.bn_mu[0], 2.5, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(m.bn_mu[1], 5.0, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(m.bn_var[0], 1.25, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(m.bn_var[1], 5.0, 1e-15);
    const double *G = m.grads;
    double dbeta[2] = {0, 0}, dgamma[2] = {0, 0}, loss = 0, db2 = 0;
    for (int j = 0; j < 4; j++) {
        double za = (X4[j] - 2.5) / sqrt(1.25 + EPS), zb = (2 * X4[j] - 5) / sqrt(5 + EPS);
        double a = za + zb + 0.5, dz = a - Y4[j]; /* dZ2 (sum form), dz~ = W2^T dZ2 = (dz, dz) */
        loss += 0.5 * dz * dz;
        db2 += dz;
        dbeta[0] += dz;
        dbeta[1] += dz;
        dgamma[0] += dz * za;
        dgamma[1] += dz * zb;
    }
    CU_ASSERT_DOUBLE_EQUAL(G[m.nparams], loss, 1e-13);
    CU_ASSERT_DOUBLE_EQUAL(G[m.off_b[2]], db2, 1e-13);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_DOUBLE_EQUAL(G[m.off_b[1] + i], dbeta[i], 1e-13);
        CU_ASSERT_DOUBLE_EQUAL(G[m.off_g[1] + i], dgamma[i], 1e-13);
    }
    /* dz = gamma/(m sd) (m dz~ - dbeta - zn dgamma) sums to 0 over the batch, so dW1 = sum dz x is
     * sum dz (x - 2.5) = gamma/(m sd) (m sum dz~ (x - 2.5) - dgamma sum zn (x - 2.5)); unit a: */
    double sd = sqrt(1.25 + EPS), s1 = 0, s2 = 0;
    for (int j = 0; j < 4; j++) {
        double za = (X4[j] - 2.5) / sd, a = za + (2 * X4[j] - 5) / sqrt(5 + EPS) + 0.5;
        s1 += (a - Y4[j]) * (X4[j] - 2.5);
        s2 += za * (X4[j] - 2.5);
    }
    CU_ASSERT_DOUBLE_EQUAL(G[m.off_W[1]], (4 * s1 - dgamma[0] * s2) / (4 * sd), 1e-12);
    dnn_bn_update_running(&m);
    const double *mu = dnn_bn_mean(&m, 1), *v = dnn_bn_var(&m, 1);
    CU_ASSERT_DOUBLE_EQUAL(mu[0], 0.1 * 2.5, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(mu[1], 0.1 * 5.0, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(v[0], 0.9 + 0.1 * 1.25, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(v[1], 0.9 + 0.1 * 5.0, 1e-15);
    dnn_model_free(&m);
}

/* Inference uses the running statistics, never the batch's: one example alone gives
 * gamma (z - mean) / sqrt(var + eps) + beta. */
static void test_bn_inference_running(void)
{
    dnn_model_t m;
    tiny(&m, DNN_DOUBLE, 4);
    double *g = dnn_bn_gamma(&m, 1), *b = dnn_bn_beta(&m, 1), *mu = dnn_bn_mean(&m, 1), *v = dnn_bn_var(&m, 1);
    g[0] = 2, g[1] = -1, b[0] = 0.25, b[1] = 1, mu[0] = 1, mu[1] = 3, v[0] = 4, v[1] = 0.5;
    double x = 3;
    dnn_model_forward(&m, &x, 1);
    double za = 2 * (3 - 1) / sqrt(4 + EPS) + 0.25, zb = -1 * (6 - 3) / sqrt(0.5 + EPS) + 1;
    CU_ASSERT_DOUBLE_EQUAL(((const double *)dnn_model_output(&m))[0], za + zb + 0.5, 1e-14);
    /* in float32 too */
    dnn_model_t f;
    tiny(&f, DNN_SINGLE, 4);
    float *fg = dnn_bn_gamma(&f, 1), *fb = dnn_bn_beta(&f, 1), *fm = dnn_bn_mean(&f, 1),
          *fv = dnn_bn_var(&f, 1);
    fg[0] = 2, fg[1] = -1, fb[0] = 0.25f, fb[1] = 1, fm[0] = 1, fm[1] = 3, fv[0] = 4, fv[1] = 0.5f;
    float xf = 3;
    dnn_model_forward(&f, &xf, 1);
    CU_ASSERT_DOUBLE_EQUAL(((const float *)dnn_model_output(&f))[0], za + zb + 0.5, 1e-5);
    dnn_model_free(&f);
    dnn_model_free(&m);
}

/* A plan of two groups (summed here, like the trainer's ranks would) gives the statistics
 * and gradient sums of one group. */
typedef struct {
    double acc[8];
} sums_t;

static void plan_add(void *ctx, const double *part, size_t n)
{
    sums_t *s = ctx;
    for (size_t i = 0; i < n; i++)
        s->acc[i] += part[i];
}

static void plan_total(void *ctx, double *out, size_t n)
{
    sums_t *s = ctx;
    memcpy(out, s->acc, n * sizeof *out);
    memset(s->acc, 0, sizeof s->acc);
}

static void test_bn_groups_plan(void)
{
    dnn_model_t a, b;
    tiny(&a, DNN_DOUBLE, 4);
    tiny(&b, DNN_DOUBLE, 4);
    dnn_model_backward(&a, X4, Y4, 4, 1);
    sums_t s;
    memset(&s, 0, sizeof s);
    size_t ends[2] = {1, 4};
    dnn_bn_plan_t p = {ends, 2, 4, plan_add, plan_total, NULL, &s};
    dnn_bn_set_plan(&b, &p);
    dnn_model_backward(&b, X4, Y4, 4, 1);
    const double *ga = a.grads, *gb = b.grads;
    for (size_t i = 0; i < a.nparams + 2; i++)
        CU_ASSERT_DOUBLE_EQUAL(ga[i], gb[i], 1e-13);
    CU_ASSERT_DOUBLE_EQUAL(a.bn_var[1], b.bn_var[1], 1e-15);
    dnn_model_free(&a);
    dnn_model_free(&b);
}

/* Backprop of a relu and a tanh network with batch norm against central differences. */
static void test_bn_gradcheck(void)
{
    dnn_act_t hidden[2] = {DNN_ACT_RELU, DNN_ACT_TANH};
    double X[3 * 20], Y[20];
    for (int j = 0; j < 20; j++) {
        for (int i = 0; i < 3; i++)
            X[j * 3 + i] = sin(1.7 * j + 2.3 * i) * (1 + i);
        Y[j] = X[j * 3] * X[j * 3 + 1] > 0;
    }
    for (int h = 0; h < 2; h++) {
        dnn_model_t m;
        char msg[DNN_MSG_LEN];
        size_t n[4] = {3, 6, 4, 1};
        dnn_gradcheck_result_t r;
        CU_ASSERT_FATAL(dnn_model_init(&m, DNN_DOUBLE, 3, n, hidden[h], DNN_ACT_SIGMOID, 0.01, 20, msg) == 0);
        CU_ASSERT_FATAL(dnn_bn_init(&m, 0.9, EPS, msg) == 0);
        CU_ASSERT_FATAL(dnn_model_init_params(&m, DNN_INIT_HE, 0, DNN_RNG_DEFAULT, 5 + h, msg) == 0);
        double *g = dnn_bn_gamma(&m, 2), *b = dnn_bn_beta(&m, 1);
        g[1] = 0.7, b[2] = -0.3; /* away from the start values */
        CU_ASSERT(dnn_gradcheck_model(&m, X, Y, 20, 0.2, 1000, 1, &r, msg) == 0);
        CU_ASSERT_EQUAL(r.checked, m.nparams);
        CU_ASSERT(r.difference < 1e-7);
        if (getenv("DNN_TEST_VERBOSE"))
            printf("\n  %s: difference %g\n", dnn_act_name(hidden[h]), r.difference);
        char name[64];
        dnn_gradcheck_param_name(&m, m.off_g[2] + 1, name, sizeof name);
        CU_ASSERT_STRING_EQUAL(name, "dgamma2[1]");
        dnn_gradcheck_param_name(&m, m.off_b[1] + 3, name, sizeof name);
        CU_ASSERT_STRING_EQUAL(name, "dbeta1[3]");
        dnn_model_free(&m);
    }
}

int main(void)
{
    static const dnn_test_t tests[] = {
        DNN_TEST(test_bn_check_options),
        DNN_TEST(test_bn_layout_and_start),
        DNN_TEST(test_bn_training_pass_by_hand),
        DNN_TEST(test_bn_inference_running),
        DNN_TEST(test_bn_groups_plan),
        DNN_TEST(test_bn_gradcheck),
    };
    return dnn_test_run("bn", NULL, NULL, tests, sizeof tests / sizeof tests[0]);
}
