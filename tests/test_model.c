/*
 * test_model.c - CUnit suite for the model module (layout, init, forward,
 * backward, update).
 *
 * References, all independent of dnn's kernels:
 *  - a naive forward pass written here with plain loops over the row-major W;
 *  - central differences of J = loss_sum / m in double precision, for every
 *    hidden activation x every output/loss pair x L = 1, 2, 4;
 *  - numpy 1.24: np.random.seed(S); np.random.randn(...) printed with repr.
 * Inputs come from a small LCG in this file.  Tolerances are stated at each use.
 */
#include "dnn/model.h"

#include "dnn_test.h"
#include <CUnit/Basic.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define M_EX 7 /* examples per gradient check */

static uint64_t lcg_state;

static void lcg_seed(uint64_t s) { lcg_state = s * 2862933555777941757ULL + 3037000493ULL; }

/* Uniform in [-1, 1). */
static double lcg_uniform(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static const dnn_act_t hidden_acts[] = {DNN_ACT_SIGMOID, DNN_ACT_TANH, DNN_ACT_RELU, DNN_ACT_LEAKY_RELU,
                                        DNN_ACT_LINEAR};
static const dnn_act_t output_acts[] = {DNN_ACT_SIGMOID, DNN_ACT_SOFTMAX, DNN_ACT_LINEAR};

/* Output units per output kind: 1 for sigmoid+BCE, 3 classes, 2 regression targets. */
static size_t out_units(dnn_act_t out) { return out == DNN_ACT_SIGMOID ? 1 : out == DNN_ACT_SOFTMAX ? 3 : 2; }

/* Layer sizes for L = 1, 2, 4 (and 3): inputs 3, hidden 4,3,4. */
static void arch(int L, dnn_act_t out, size_t *n)
{
    static const size_t hidden[] = {4, 3, 4};
    n[0] = 3;
    for (int l = 1; l < L; l++)
        n[l] = hidden[(l - 1) % 3];
    n[L] = out_units(out);
}

static double g_hidden(dnn_act_t act, double z, double slope)
{
    switch (act) {
    case DNN_ACT_SIGMOID: return 1.0 / (1.0 + exp(-z));
    case DNN_ACT_TANH: return tanh(z);
    case DNN_ACT_RELU: return z > 0 ? z : 0.0;
    case DNN_ACT_LEAKY_RELU: return z > 0 ? z : slope * z;
    default: return z;
    }
}

/* Dropout keys of a naive pass: keep_prob, seed, step, global index of column 0. */
typedef struct {
    double kp;
    uint64_t seed, step, g0;
} drop_key_t;

/*
 * Naive forward in double over the model's parameters (double model):
 * out (n[L] x cols) = A[L]; *min_hidden_z = min |Z| over the hidden layers
 * (the distance to the relu/leaky kink).  With d, hidden A[l] = A[l] * D / kp
 * where D = U(seed, step, l, g0 + j, i) < kp, U taken one value at a time
 * from dnn_rng_counter_uniform (the definition, not the model's mask loop).
 */
static void naive_forward(const dnn_model_t *m, const double *X, size_t cols, double *out, double *min_hidden_z,
                          const drop_key_t *d)
{
    double a[16], z[16], prev[16];
    double minz = INFINITY;
    for (size_t j = 0; j < cols; j++) {
        for (size_t i = 0; i < m->n[0]; i++)
            prev[i] = X[j * m->n[0] + i];
        for (int l = 1; l <= m->L; l++) {
            const double *W = dnn_model_W(m, l), *b = dnn_model_b(m, l);
            size_t nl = m->n[l], np = m->n[l - 1];
            for (size_t i = 0; i < nl; i++) {
                double s = 0;
                for (size_t k = 0; k < np; k++)
                    s += W[i * np + k] * prev[k];
                z[i] = s + b[i];
            }
            if (l < m->L) {
                for (size_t i = 0; i < nl; i++) {
                    a[i] = g_hidden(m->hidden, z[i], m->slope);
                    if (fabs(z[i]) < minz)
                        minz = fabs(z[i]);
                    if (d && !(dnn_rng_counter_uniform(d->seed, d->step, (uint64_t)l, d->g0 + j, i) < d->kp))
                        a[i] = 0;
                    else if (d)
                        a[i] = a[i] / d->kp;
                }
            } else if (m->output == DNN_ACT_SIGMOID) {
                for (size_t i = 0; i < nl; i++)
                    a[i] = 1.0 / (1.0 + exp(-z[i]));
            } else if (m->output == DNN_ACT_SOFTMAX) {
                double mx = z[0], s = 0;
                for (size_t i = 1; i < nl; i++)
                    mx = z[i] > mx ? z[i] : mx;
                for (size_t i = 0; i < nl; i++)
                    s += exp(z[i] - mx);
                for (size_t i = 0; i < nl; i++)
                    a[i] = exp(z[i] - mx) / s;
            } else {
                for (size_t i = 0; i < nl; i++)
                    a[i] = z[i];
            }
            memcpy(prev, a, nl * sizeof *a);
        }
        memcpy(out + j * m->n[m->L], prev, m->n[m->L] * sizeof *prev);
    }
    if (min_hidden_z)
        *min_hidden_z = minz;
}

/* Targets for an output kind: 0/1 (n[L] x cols), class ids (1 x cols) or reals. */
static void make_targets(dnn_act_t out, size_t ny, size_t cols, double *Y)
{
    if (out == DNN_ACT_SOFTMAX) {
        for (size_t j = 0; j < cols; j++)
            Y[j] = (double)(j % ny); /* every class appears */
        return;
    }
    for (size_t i = 0; i < ny * cols; i++)
        Y[i] = out == DNN_ACT_SIGMOID ? (double)(lcg_uniform() > 0) : lcg_uniform();
}

/*
 * A double model with random weights (dnn init, numpy rng, xavier), random
 * biases in [-0.5, 0.5) and X in [-1, 1)^(n0 x M_EX), resampled until every
 * hidden Z is at least 1e-4 away from 0 (checked with the naive forward), so
 * a +-1e-6 perturbation of one parameter (which moves any Z by far less than
 * 1e-4 in these small nets) never crosses the relu/leaky kink.
 * Returns the number of draws used, or -1.
 */
static int setup_drop(dnn_model_t *m, int L, dnn_act_t hidden, dnn_act_t out, double *X, double *Y, uint64_t seed,
                      const drop_key_t *d)
{
    size_t n[DNN_MAX_LAYERS + 1];
    char msg[DNN_MSG_LEN];
    arch(L, out, n);
    if (dnn_model_init(m, DNN_DOUBLE, L, n, hidden, out, 0.05, M_EX, msg) != 0) {
        fprintf(stderr, "\n  dnn_model_init: %s\n", msg);
        return -1;
    }
    for (int draw = 1; draw <= 200; draw++) {
        uint64_t s = seed * 1000 + (uint64_t)draw;
        if (dnn_model_init_params(m, DNN_INIT_XAVIER, 0, DNN_RNG_NUMPY, s, msg) != 0) {
            fprintf(stderr, "\n  dnn_model_init_params: %s\n", msg);
            return -1;
        }
        lcg_seed(s);
        for (int l = 1; l <= L; l++) {
            double *b = dnn_model_b(m, l);
            for (size_t i = 0; i < n[l]; i++)
                b[i] = 0.5 * lcg_uniform();
        }
        for (size_t i = 0; i < n[0] * M_EX; i++)
            X[i] = lcg_uniform();
        make_targets(out, n[L], M_EX, Y);
        double out_buf[16 * M_EX], minz;
        naive_forward(m, X, M_EX, out_buf, &minz, NULL);
        if (minz >= 1e-4 && d)
            naive_forward(m, X, M_EX, out_buf, &minz, d); /* the kink test holds for the dropped pass too */
        if (minz >= 1e-4)
            return draw;
    }
    return -1;
}

static int setup(dnn_model_t *m, int L, dnn_act_t hidden, dnn_act_t out, double *X, double *Y, uint64_t seed)
{
    return setup_drop(m, L, hidden, out, X, Y, seed, NULL);
}

/* J = loss_sum / m, the loss sum taken from grads[P] after a backward pass. */
static double cost(dnn_model_t *m, const double *X, const double *Y)
{
    dnn_model_backward(m, X, Y, M_EX, 1);
    return ((const double *)m->grads)[m->nparams] / M_EX;
}

/*
 * Central differences on every parameter: J = loss_sum / m, dJ/dtheta =
 * grads / m.  h = 1e-6; relative error ||num - ana|| / (||num|| + ||ana||)
 * < 1e-7; guard ||ana|| > 1e-6.
 */
static double gradcheck_drop(int L, dnn_act_t hidden, dnn_act_t out, uint64_t seed, const drop_key_t *d)
{
    dnn_model_t m;
    double X[16 * M_EX] = {0}, Y[16 * M_EX] = {0};
    int draws = setup_drop(&m, L, hidden, out, X, Y, seed, d);
    CU_ASSERT_FATAL(draws > 0);
    const double h = 1e-6;
    double *P = m.params, *G = m.grads;
    if (d) { /* the same keys for every pass: the masks are held fixed */
        dnn_model_set_dropout(&m, d->kp, d->seed);
        dnn_model_set_columns(&m, d->step, NULL, d->g0);
    }
    dnn_model_zero_grads(&m);
    dnn_model_backward(&m, X, Y, M_EX, 0);
    if (d) { /* backward's A[L] is the naive dropped pass's, 1e-12 (outputs are O(1)) */
        double want[16 * M_EX], worst = 0;
        naive_forward(&m, X, M_EX, want, NULL, d);
        const double *got = dnn_model_output(&m);
        for (size_t i = 0; i < m.n[L] * M_EX; i++)
            worst = fmax(worst, fabs(got[i] - want[i]));
        CU_ASSERT(worst <= 1e-12);
    } else {
        double loss_eval = 0, correct_eval = 0;
        dnn_model_evaluate(&m, X, Y, M_EX, &loss_eval, &correct_eval);
        /* backward's loss and correct slots agree with evaluate */
        CU_ASSERT_DOUBLE_EQUAL(G[m.nparams], loss_eval, 1e-13 * fabs(loss_eval));
        CU_ASSERT_EQUAL(G[m.nparams + 1], correct_eval);
    }
    double *ana_all = malloc(m.nparams * sizeof *ana_all); /* cost() overwrites grads */
    CU_ASSERT_FATAL(ana_all != NULL);
    for (size_t i = 0; i < m.nparams; i++)
        ana_all[i] = G[i] / M_EX;
    double num2 = 0, ana2 = 0, diff2 = 0;
    for (size_t i = 0; i < m.nparams; i++) {
        double ana = ana_all[i], p = P[i];
        P[i] = p + h;
        double jp = cost(&m, X, Y);
        P[i] = p - h;
        double jm = cost(&m, X, Y);
        P[i] = p;
        double num = (jp - jm) / (2 * h);
        num2 += num * num;
        ana2 += ana * ana;
        diff2 += (num - ana) * (num - ana);
    }
    double rel = sqrt(diff2) / (sqrt(num2) + sqrt(ana2));
    if (!(rel < 1e-7) || !(sqrt(ana2) > 1e-6) || getenv("DNN_TEST_VERBOSE"))
        fprintf(stderr, "\n  gradcheck L=%d hidden=%s output=%s keep_prob=%g: relative error %.3g, ||ana|| %.3g (draws %d)\n",
                L, dnn_act_name(hidden), dnn_act_name(out), d ? d->kp : 1.0, rel, sqrt(ana2), draws);
    CU_ASSERT(sqrt(ana2) > 1e-6);
    CU_ASSERT(rel < 1e-7);
    free(ana_all);
    dnn_model_free(&m);
    return rel;
}

static void gradcheck(int L, dnn_act_t hidden, dnn_act_t out, uint64_t seed)
{
    gradcheck_drop(L, hidden, out, seed, NULL);
}

#define GRADCHECK_TEST(H, O, HA, OA)                                                                                   \
    static void test_model_gradcheck_##H##_##O(void)                                                                 \
    {                                                                                                                \
        static const int Ls[3] = {1, 2, 4};                                                                          \
        for (int k = 0; k < 3; k++)                                                                                  \
            gradcheck(Ls[k], HA, OA, (uint64_t)(100 * (HA) + 10 * (OA) + Ls[k]));                                    \
    }
GRADCHECK_TEST(sigmoid, sigmoid_bce, DNN_ACT_SIGMOID, DNN_ACT_SIGMOID)
GRADCHECK_TEST(sigmoid, softmax_ce, DNN_ACT_SIGMOID, DNN_ACT_SOFTMAX)
GRADCHECK_TEST(sigmoid, linear_mse, DNN_ACT_SIGMOID, DNN_ACT_LINEAR)
GRADCHECK_TEST(tanh, sigmoid_bce, DNN_ACT_TANH, DNN_ACT_SIGMOID)
GRADCHECK_TEST(tanh, softmax_ce, DNN_ACT_TANH, DNN_ACT_SOFTMAX)
GRADCHECK_TEST(tanh, linear_mse, DNN_ACT_TANH, DNN_ACT_LINEAR)
GRADCHECK_TEST(relu, sigmoid_bce, DNN_ACT_RELU, DNN_ACT_SIGMOID)
GRADCHECK_TEST(relu, softmax_ce, DNN_ACT_RELU, DNN_ACT_SOFTMAX)
GRADCHECK_TEST(relu, linear_mse, DNN_ACT_RELU, DNN_ACT_LINEAR)
GRADCHECK_TEST(leaky_relu, sigmoid_bce, DNN_ACT_LEAKY_RELU, DNN_ACT_SIGMOID)
GRADCHECK_TEST(leaky_relu, softmax_ce, DNN_ACT_LEAKY_RELU, DNN_ACT_SOFTMAX)
GRADCHECK_TEST(leaky_relu, linear_mse, DNN_ACT_LEAKY_RELU, DNN_ACT_LINEAR)
GRADCHECK_TEST(linear, sigmoid_bce, DNN_ACT_LINEAR, DNN_ACT_SIGMOID)
GRADCHECK_TEST(linear, softmax_ce, DNN_ACT_LINEAR, DNN_ACT_SOFTMAX)
GRADCHECK_TEST(linear, linear_mse, DNN_ACT_LINEAR, DNN_ACT_LINEAR)

/*
 * dnn_model_forward agrees with the naive loops to 1e-12 (absolute; outputs
 * are O(1)) for every activation pair and L = 1..4; evaluate's correct count
 * agrees with the naive predictions.
 */
static void test_model_forward_matches_naive(void)
{
    for (size_t h = 0; h < 5; h++)
        for (size_t o = 0; o < 3; o++)
            for (int L = 1; L <= 4; L++) {
                dnn_model_t m;
                double X[16 * M_EX] = {0}, Y[16 * M_EX] = {0}, want[16 * M_EX];
                CU_ASSERT_FATAL(setup(&m, L, hidden_acts[h], output_acts[o], X, Y, 7 + (uint64_t)L) > 0);
                naive_forward(&m, X, M_EX, want, NULL, NULL);
                dnn_model_forward(&m, X, M_EX);
                const double *got = dnn_model_output(&m);
                size_t ny = m.n[L];
                double worst = 0, good = 0;
                for (size_t i = 0; i < ny * M_EX; i++)
                    worst = fmax(worst, fabs(got[i] - want[i]));
                for (size_t j = 0; j < M_EX; j++) {
                    const double *a = want + j * ny;
                    if (output_acts[o] == DNN_ACT_SIGMOID)
                        good += (a[0] > 0.5) == (Y[j] > 0.5);
                    else if (output_acts[o] == DNN_ACT_SOFTMAX) {
                        size_t arg = 0;
                        for (size_t i = 1; i < ny; i++)
                            arg = a[i] > a[arg] ? i : arg;
                        good += arg == (size_t)Y[j];
                    }
                }
                if (worst > 1e-12)
                    fprintf(stderr, "\n  forward L=%d %s/%s: max |dnn - naive| = %.3g\n", L,
                            dnn_act_name(hidden_acts[h]), dnn_act_name(output_acts[o]), worst);
                CU_ASSERT(worst <= 1e-12);
                double loss = 0, correct = 0;
                dnn_model_evaluate(&m, X, Y, M_EX, &loss, &correct);
                CU_ASSERT_EQUAL(correct, good);
                dnn_model_free(&m);
            }
}

/*
 * Gradient sums accumulate: backward over columns [0,3) then [3,7) equals
 * one backward over [0,7), and calling it twice doubles the sums
 * (relative 1e-13).  With overwrite set, the first block replaces whatever
 * the buffer held (except the stop slot grads[P+2]).
 */
static void test_model_backward_blocks_add_up(void)
{
    dnn_model_t m;
    double X[16 * M_EX] = {0}, Y[16 * M_EX] = {0};
    CU_ASSERT_FATAL(setup(&m, 3, DNN_ACT_TANH, DNN_ACT_SOFTMAX, X, Y, 55) > 0);
    size_t P = m.nparams, ny_rows = 1; /* softmax targets are one row of class ids */
    double *full = malloc((P + DNN_GRAD_EXTRA) * sizeof *full);
    CU_ASSERT_FATAL(full != NULL);
    dnn_model_zero_grads(&m);
    dnn_model_backward(&m, X, Y, M_EX, 0);
    memcpy(full, m.grads, (P + DNN_GRAD_EXTRA) * sizeof *full);
    dnn_model_zero_grads(&m);
    dnn_model_backward(&m, X, Y, 3, 0);
    dnn_model_backward(&m, X + 3 * m.n[0], Y + 3 * ny_rows, M_EX - 3, 0);
    const double *G = m.grads;
    double d2 = 0, f2 = 0;
    for (size_t i = 0; i < P; i++) {
        d2 += (G[i] - full[i]) * (G[i] - full[i]);
        f2 += full[i] * full[i];
    }
    CU_ASSERT(f2 > 0);
    CU_ASSERT(sqrt(d2) <= 1e-13 * sqrt(f2));
    CU_ASSERT_DOUBLE_EQUAL(G[P], full[P], 1e-13 * full[P]);
    CU_ASSERT_EQUAL(G[P + 1], full[P + 1]);
    dnn_model_zero_grads(&m);
    dnn_model_backward(&m, X, Y, M_EX, 0);
    dnn_model_backward(&m, X, Y, M_EX, 0);
    d2 = 0;
    for (size_t i = 0; i < P; i++)
        d2 += (G[i] - 2 * full[i]) * (G[i] - 2 * full[i]);
    CU_ASSERT(sqrt(d2) <= 1e-13 * sqrt(f2));
    double *Gw = m.grads;
    for (size_t i = 0; i < P + DNN_GRAD_EXTRA; i++)
        Gw[i] = 1e30 * (double)(i % 3 + 1);
    dnn_model_backward(&m, X, Y, 3, 1);
    dnn_model_backward(&m, X + 3 * m.n[0], Y + 3 * ny_rows, M_EX - 3, 0);
    d2 = 0;
    for (size_t i = 0; i < P; i++)
        d2 += (G[i] - full[i]) * (G[i] - full[i]);
    CU_ASSERT(sqrt(d2) <= 1e-13 * sqrt(f2));
    CU_ASSERT_DOUBLE_EQUAL(G[P], full[P], 1e-13 * full[P]);
    CU_ASSERT_EQUAL(G[P + 1], full[P + 1]);
    CU_ASSERT_EQUAL(G[P + 2], 1e30 * (double)((P + 2) % 3 + 1));
    dnn_model_zero_grads(&m);
    for (size_t i = 0; i < P + DNN_GRAD_EXTRA; i++)
        CU_ASSERT_EQUAL_FATAL(G[i], 0.0);
    free(full);
    dnn_model_free(&m);
}

/* ---- gradient-ready calls (overlapped reduction) ---- */
typedef struct {
    int calls, empty, bad_order;
    size_t next_hi, covered, lo[64], hi[64];
    int n;
    const double *G;
    double *snap; /* each range's values at the moment it was announced */
} ready_log_t;

static void ready_rec(void *ctx, size_t lo, size_t hi)
{
    ready_log_t *q = ctx;
    q->calls++;
    if (hi == lo) {
        q->empty++;
        return;
    }
    if (hi != q->next_hi)
        q->bad_order++;
    q->next_hi = lo;
    q->covered += hi - lo;
    if (q->n < 64) {
        q->lo[q->n] = lo;
        q->hi[q->n++] = hi;
    }
    if (q->snap)
        memcpy(q->snap + lo, q->G + lo, (hi - lo) * sizeof(double));
}

/*
 * A tanh/sigmoid net 300-512-40-3 (W1 large enough to be computed in bands):
 * backward_ready announces [0, P) exactly once, from the top down, each range
 * ending where the last began, with empty calls between products; what a range
 * holds when announced is final (equal to the end result); the gradients are
 * bitwise those of dnn_model_backward; dnn_model_grad_ranges gives the same
 * ranges; and the banded dW[1] passes central differences in every band
 * (rel 1e-6), so a wrong band offset cannot hide.
 */
static void test_model_grad_ready_bands(void)
{
    enum { COLS = 6 };
    size_t n[4] = {300, 512, 40, 3};
    dnn_model_t m;
    char msg[DNN_MSG_LEN];
    CU_ASSERT_FATAL(dnn_model_init(&m, DNN_DOUBLE, 3, n, DNN_ACT_TANH, DNN_ACT_SIGMOID, 0.01, COLS, msg) == 0);
    CU_ASSERT_FATAL(dnn_model_init_params(&m, DNN_INIT_XAVIER, 0, DNN_RNG_NUMPY, 7, msg) == 0);
    size_t P = m.nparams;
    int K1 = dnn_model_bands(&m, 1);
    CU_ASSERT(K1 >= 2 && K1 <= DNN_MAX_BANDS);
    CU_ASSERT_EQUAL(dnn_model_bands(&m, 3), 1);
    static double X[300 * COLS], Y[3 * COLS];
    lcg_seed(99);
    for (size_t i = 0; i < 300 * COLS; i++)
        X[i] = lcg_uniform();
    for (size_t i = 0; i < 3 * COLS; i++)
        Y[i] = (double)(lcg_uniform() > 0);
    double *plain = malloc(P * sizeof *plain), *snap = malloc(P * sizeof *snap);
    CU_ASSERT_FATAL(plain && snap);
    dnn_model_backward(&m, X, Y, COLS, 1);
    memcpy(plain, m.grads, P * sizeof *plain);
    ready_log_t q = {0};
    q.next_hi = P;
    q.G = m.grads;
    q.snap = snap;
    dnn_model_backward_ready(&m, X, Y, COLS, 1, ready_rec, &q);
    CU_ASSERT_EQUAL(q.bad_order, 0);
    CU_ASSERT_EQUAL(q.covered, P);
    CU_ASSERT_EQUAL(q.next_hi, 0);
    CU_ASSERT_EQUAL(q.n, K1 + 2);
    CU_ASSERT(q.empty >= 2); /* after each dA product */
    CU_ASSERT(memcmp(m.grads, plain, P * sizeof *plain) == 0);
    CU_ASSERT(memcmp(snap, plain, P * sizeof *plain) == 0);
    ready_log_t e = {0};
    e.next_hi = P;
    dnn_model_grad_ranges(&m, ready_rec, &e);
    CU_ASSERT_EQUAL(e.n, q.n);
    CU_ASSERT_EQUAL(e.empty, 0);
    for (int i = 0; i < q.n && i < e.n; i++)
        CU_ASSERT(e.lo[i] == q.lo[i] && e.hi[i] == q.hi[i]);
    /* central differences on rows at both edges of every band of W1 */
    double *W1 = dnn_model_W(&m, 1), worst = 0;
    for (int t = 0; t < K1; t++) {
        size_t u0 = n[1] * (size_t)t / (size_t)K1, u1 = n[1] * (size_t)(t + 1) / (size_t)K1;
        size_t idx[2] = {u0 * n[0] + 17, (u1 - 1) * n[0] + 250};
        for (int k = 0; k < 2; k++) {
            double w = W1[idx[k]], h = 1e-5, jp = 0, jm = 0, c = 0;
            W1[idx[k]] = w + h;
            dnn_model_evaluate(&m, X, Y, COLS, &jp, &c);
            W1[idx[k]] = w - h;
            dnn_model_evaluate(&m, X, Y, COLS, &jm, &c);
            W1[idx[k]] = w;
            double num = (jp - jm) / (2 * h), an = plain[m.off_W[1] + idx[k]];
            double rel = fabs(num - an) / fmax(fabs(num), 1e-8);
            worst = rel > worst ? rel : worst;
        }
    }
    CU_ASSERT(worst < 1e-6);
    if (worst >= 1e-6)
        fprintf(stderr, "\n  banded dW1 vs central differences: rel %.3g\n", worst);
    free(plain);
    free(snap);
    dnn_model_free(&m);
}

/*
 * Single precision gradients agree with double ones on the same (float-
 * representable) parameters and inputs: ||g_s - g_d|| / ||g_d|| < 5e-6, and
 * the loss sums to relative 2e-7, for every activation pair, L = 3.  Measured
 * (float32 rounding): gradients 5e-8..1.2e-7, 1.1e-6 for sigmoid/sigmoid;
 * loss sums at most 3.2e-8.
 */
static void test_model_single_close_to_double(void)
{
    for (size_t h = 0; h < 5; h++)
        for (size_t o = 0; o < 3; o++) {
            dnn_model_t md, ms;
            double X[16 * M_EX] = {0}, Y[16 * M_EX] = {0};
            float Xs[16 * M_EX], Ys[16 * M_EX];
            char msg[DNN_MSG_LEN];
            CU_ASSERT_FATAL(setup(&md, 3, hidden_acts[h], output_acts[o], X, Y, 77) > 0);
            CU_ASSERT_FATAL(dnn_model_init(&ms, DNN_SINGLE, 3, md.n, md.hidden, md.output, md.slope, M_EX, msg) == 0);
            CU_ASSERT_EQUAL_FATAL(ms.nparams, md.nparams);
            double *Pd = md.params;
            float *Ps = ms.params;
            for (size_t i = 0; i < md.nparams; i++)
                Pd[i] = Ps[i] = (float)Pd[i];
            for (size_t i = 0; i < 16 * M_EX; i++) {
                X[i] = Xs[i] = (float)X[i];
                Y[i] = Ys[i] = (float)Y[i];
            }
            dnn_model_zero_grads(&md);
            dnn_model_zero_grads(&ms);
            dnn_model_backward(&md, X, Y, M_EX, 0);
            dnn_model_backward(&ms, Xs, Ys, M_EX, 0);
            const double *Gd = md.grads;
            const float *Gs = ms.grads;
            double d2 = 0, g2 = 0;
            for (size_t i = 0; i < md.nparams; i++) {
                d2 += ((double)Gs[i] - Gd[i]) * ((double)Gs[i] - Gd[i]);
                g2 += Gd[i] * Gd[i];
            }
            double rel = sqrt(d2) / sqrt(g2);
            if (!(rel < 5e-6))
                fprintf(stderr, "\n  single vs double %s/%s: relative %.3g\n", dnn_act_name(hidden_acts[h]),
                        dnn_act_name(output_acts[o]), rel);
            CU_ASSERT(g2 > 0);
            CU_ASSERT(rel < 5e-6);
            CU_ASSERT_DOUBLE_EQUAL((double)Gs[ms.nparams], Gd[md.nparams], 2e-7 * Gd[md.nparams]);
            dnn_model_free(&md);
            dnn_model_free(&ms);
        }
}

/* params -= lr * scale * grads, both precisions; the extra slots are not parameters. */
static void test_model_update(void)
{
    size_t n[3] = {2, 3, 1};
    char msg[DNN_MSG_LEN];
    for (int prec = 0; prec < 2; prec++) {
        dnn_model_t m;
        CU_ASSERT_FATAL(dnn_model_init(&m, (dnn_precision_t)prec, 2, n, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 4, msg) ==
                        0);
        size_t P = m.nparams;
        CU_ASSERT_EQUAL(P, 3 * 2 + 3 + 1 * 3 + 1);
        double before[16];
        for (size_t i = 0; i < P; i++) {
            before[i] = 0.25 * (double)i - 1.0;
            double g = (double)(i % 5) - 2.0;
            if (prec == DNN_DOUBLE) {
                ((double *)m.params)[i] = before[i];
                ((double *)m.grads)[i] = g;
            } else {
                ((float *)m.params)[i] = (float)before[i];
                ((float *)m.grads)[i] = (float)g;
            }
        }
        dnn_model_update(&m, 0.5, 0.25); /* step = 0.125 * g: exact in binary */
        for (size_t i = 0; i < P; i++) {
            double want = before[i] - 0.125 * ((double)(i % 5) - 2.0);
            double got = prec == DNN_DOUBLE ? ((double *)m.params)[i] : (double)((float *)m.params)[i];
            CU_ASSERT_EQUAL(got, want);
        }
        dnn_model_free(&m);
    }
    /* A non-exact step in double: lr * (g * scale), relative 1e-15. */
    dnn_model_t m;
    CU_ASSERT_FATAL(dnn_model_init(&m, DNN_DOUBLE, 2, n, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 4, msg) == 0);
    double *P = m.params, *G = m.grads;
    for (size_t i = 0; i < m.nparams; i++) {
        P[i] = 1.0 / (double)(i + 3);
        G[i] = 0.3 * (double)(i + 1);
    }
    dnn_model_update(&m, 0.0075, 1.0 / 7.0);
    for (size_t i = 0; i < m.nparams; i++) {
        double want = 1.0 / (double)(i + 3) - 0.0075 * (0.3 * (double)(i + 1)) / 7.0;
        CU_ASSERT_DOUBLE_EQUAL(P[i], want, 1e-15 * fabs(want) + 1e-17);
    }
    dnn_model_free(&m);
}

/* One buffer laid out W1 b1 W2 b2 ...; W/b accessors point into it. */
static void test_model_layout(void)
{
    size_t n[5] = {5, 4, 3, 2, 6};
    char msg[DNN_MSG_LEN];
    dnn_model_t m;
    CU_ASSERT_FATAL(dnn_model_init(&m, DNN_DOUBLE, 4, n, DNN_ACT_TANH, DNN_ACT_SOFTMAX, 0.01, 9, msg) == 0);
    size_t off = 0;
    for (int l = 1; l <= 4; l++) {
        CU_ASSERT_EQUAL(m.off_W[l], off);
        CU_ASSERT_PTR_EQUAL(dnn_model_W(&m, l), (double *)m.params + off);
        off += n[l] * n[l - 1];
        CU_ASSERT_EQUAL(m.off_b[l], off);
        CU_ASSERT_PTR_EQUAL(dnn_model_b(&m, l), (double *)m.params + off);
        off += n[l];
    }
    CU_ASSERT_EQUAL(m.nparams, off);
    CU_ASSERT_EQUAL(m.nparams, 5 * 4 + 4 + 4 * 3 + 3 + 3 * 2 + 2 + 2 * 6 + 6);
    CU_ASSERT_EQUAL(m.loss, DNN_LOSS_CE);
    CU_ASSERT_EQUAL(m.L, 4);
    dnn_model_free(&m);
    dnn_model_free(&m); /* second free of the same model is harmless */
    dnn_model_free(NULL);
}

/*
 * numpy rng, seed 1, --init normal --init-scale 1: W1 (2x2) row-major is
 * np.random.randn(2, 2) = 1.62434536, -0.61175641, -0.52817175, -1.07296862
 * and W2 continues the stream (0.8654076293246785, -2.3015386968802827);
 * biases 0.  Exact in double, float-rounded in single.
 */
static void test_model_init_numpy_seed1(void)
{
    static const double dec8[4] = {1.62434536, -0.61175641, -0.52817175, -1.07296862};
    static const double w1[4] = {1.6243453636632417, -0.6117564136500754, -0.5281717522634557,
                                 -1.0729686221561705};
    static const double w2[2] = {0.8654076293246785, -2.3015386968802827};
    size_t n[3] = {2, 2, 1};
    char msg[DNN_MSG_LEN];
    for (int prec = 0; prec < 2; prec++) {
        dnn_model_t m;
        CU_ASSERT_FATAL(dnn_model_init(&m, (dnn_precision_t)prec, 2, n, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 1, msg) ==
                        0);
        /* dirty the biases: init must zero them */
        for (int l = 1; l <= 2; l++) {
            if (prec == DNN_DOUBLE)
                ((double *)dnn_model_b(&m, l))[0] = 9;
            else
                ((float *)dnn_model_b(&m, l))[0] = 9;
        }
        CU_ASSERT_EQUAL_FATAL(dnn_model_init_params(&m, DNN_INIT_NORMAL, 1.0, DNN_RNG_NUMPY, 1, msg), 0);
        for (int i = 0; i < 4; i++) {
            double v = prec == DNN_DOUBLE ? ((double *)dnn_model_W(&m, 1))[i] : ((float *)dnn_model_W(&m, 1))[i];
            CU_ASSERT_DOUBLE_EQUAL(v, dec8[i], prec == DNN_DOUBLE ? 5e-9 : 1e-7);
            CU_ASSERT(prec == DNN_DOUBLE ? v == w1[i] : v == (double)(float)w1[i]);
        }
        for (int i = 0; i < 2; i++) {
            double v = prec == DNN_DOUBLE ? ((double *)dnn_model_W(&m, 2))[i] : ((float *)dnn_model_W(&m, 2))[i];
            CU_ASSERT(prec == DNN_DOUBLE ? v == w2[i] : v == (double)(float)w2[i]);
        }
        for (int l = 1; l <= 2; l++)
            for (size_t i = 0; i < n[l]; i++) {
                double v = prec == DNN_DOUBLE ? ((double *)dnn_model_b(&m, l))[i] : ((float *)dnn_model_b(&m, l))[i];
                CU_ASSERT_EQUAL(v, 0.0);
            }
        dnn_model_free(&m);
    }
}

/*
 * Factors: he = sqrt(2 / n[l-1]) per layer, drawn layer by layer.  numpy:
 * np.random.seed(3); randn(3,4)*np.sqrt(2/4); randn(2,3)*np.sqrt(2/3).
 * normal: randn * scale.  Exact in double.
 */
static void test_model_init_factors(void)
{
    static const double he1[12] = {1.2647513225859208, 0.3086590753517539, 0.06823401404104966,
                                   -1.317688327240683, -0.1961430790190789, -0.25085247992791837,
                                   -0.05850706264166846, -0.44335643039069744, -0.030984124422056857,
                                   -0.33744410537169206, -0.9290426766647434, 0.6255224840406426};
    static const double he2[6] = {0.7195931681723655, 1.3958605613187702, 0.04085229776876763,
                                  -0.33041772540029923, -0.4452845326062704, -1.2626934406557815};
    size_t n[3] = {4, 3, 2};
    char msg[DNN_MSG_LEN];
    dnn_model_t m;
    CU_ASSERT_FATAL(dnn_model_init(&m, DNN_DOUBLE, 2, n, DNN_ACT_RELU, DNN_ACT_LINEAR, 0.01, 1, msg) == 0);
    CU_ASSERT_EQUAL_FATAL(dnn_model_init_params(&m, DNN_INIT_HE, 0, DNN_RNG_NUMPY, 3, msg), 0);
    const double *W1 = dnn_model_W(&m, 1), *W2 = dnn_model_W(&m, 2);
    for (int i = 0; i < 12; i++)
        CU_ASSERT_DOUBLE_EQUAL(W1[i], he1[i], 2e-16 * fabs(he1[i]));
    for (int i = 0; i < 6; i++)
        CU_ASSERT_DOUBLE_EQUAL(W2[i], he2[i], 2e-16 * fabs(he2[i]));
    /* normal with scale 0.01 is randn * 0.01 */
    CU_ASSERT_EQUAL_FATAL(dnn_model_init_params(&m, DNN_INIT_NORMAL, 0.01, DNN_RNG_NUMPY, 1, msg), 0);
    CU_ASSERT_EQUAL(W1[0], 1.6243453636632417 * 0.01);
    CU_ASSERT_EQUAL(W1[1], -0.6117564136500754 * 0.01);
    /* bad scale for normal */
    CU_ASSERT_EQUAL(dnn_model_init_params(&m, DNN_INIT_NORMAL, 0.0, DNN_RNG_NUMPY, 1, msg), DNN_EINVAL);
    CU_ASSERT_EQUAL(dnn_model_init_params(&m, DNN_INIT_NORMAL, NAN, DNN_RNG_NUMPY, 1, msg), DNN_EINVAL);
    /* the default rng is deterministic in its seed and differs between seeds */
    CU_ASSERT_EQUAL_FATAL(dnn_model_init_params(&m, DNN_INIT_XAVIER, 0, DNN_RNG_DEFAULT, 5, msg), 0);
    double first = W1[0];
    CU_ASSERT_EQUAL_FATAL(dnn_model_init_params(&m, DNN_INIT_XAVIER, 0, DNN_RNG_DEFAULT, 5, msg), 0);
    CU_ASSERT_EQUAL(W1[0], first);
    CU_ASSERT_EQUAL_FATAL(dnn_model_init_params(&m, DNN_INIT_XAVIER, 0, DNN_RNG_DEFAULT, 6, msg), 0);
    CU_ASSERT_NOT_EQUAL(W1[0], first);
    dnn_model_free(&m);
}

/* zeros: refused with a hidden layer (the message explains symmetry), fine for L = 1. */
static void test_model_init_zeros(void)
{
    char msg[DNN_MSG_LEN] = "";
    dnn_model_t m;
    size_t n2[3] = {3, 4, 1}, n1[2] = {3, 1};
    CU_ASSERT_FATAL(dnn_model_init(&m, DNN_SINGLE, 2, n2, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 4, msg) == 0);
    CU_ASSERT_EQUAL(dnn_model_init_params(&m, DNN_INIT_ZEROS, 0, DNN_RNG_DEFAULT, 1, msg), DNN_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "symmetry"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "zeros"));
    dnn_model_free(&m);
    CU_ASSERT_FATAL(dnn_model_init(&m, DNN_DOUBLE, 1, n1, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 4, msg) == 0);
    double *P = m.params;
    for (size_t i = 0; i < m.nparams; i++)
        P[i] = 3.0;
    CU_ASSERT_EQUAL(dnn_model_init_params(&m, DNN_INIT_ZEROS, 0, DNN_RNG_DEFAULT, 1, msg), 0);
    for (size_t i = 0; i < m.nparams; i++)
        CU_ASSERT_EQUAL(P[i], 0.0);
    dnn_model_free(&m);
}

/* Refused set-ups: no crash, the documented code, a message, and a model safe to free. */
static void expect_refused(int L, const size_t *n, dnn_act_t hidden, dnn_act_t out, double slope, size_t bmax,
                           int code, const char *needle)
{
    dnn_model_t m;
    char msg[DNN_MSG_LEN] = "";
    int rc = dnn_model_init(&m, DNN_SINGLE, L, n, hidden, out, slope, bmax, msg);
    if (rc != code)
        fprintf(stderr, "\n  dnn_model_init(L=%d) returned %d, expected %d (%s)\n", L, rc, code, msg);
    CU_ASSERT_EQUAL(rc, code);
    CU_ASSERT(msg[0] != 0);
    if (needle)
        CU_ASSERT_PTR_NOT_NULL(strstr(msg, needle));
    CU_ASSERT_PTR_NULL(m.params);
    dnn_model_free(&m);
}

static void test_model_bad_sizes_refused(void)
{
    size_t zero_hidden[3] = {3, 0, 1}, zero_in[2] = {0, 1}, zero_out[3] = {3, 4, 0};
    expect_refused(2, zero_hidden, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 8, DNN_EINVAL, "n[1]");
    expect_refused(1, zero_in, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 8, DNN_EINVAL, "n[0]");
    expect_refused(2, zero_out, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 8, DNN_EINVAL, "n[2]");
    size_t huge_in[3] = {SIZE_MAX / 2, 4, 1}, huge_hidden[3] = {3, SIZE_MAX / 2, 1};
    expect_refused(2, huge_in, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 8, DNN_ENOMEM, NULL);
    expect_refused(2, huge_hidden, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 8, DNN_ENOMEM, NULL);
    /* each size fits an int but W (1e5 x 1e5) does not */
    size_t big_w[3] = {100000, 100000, 1};
    expect_refused(2, big_w, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 8, DNN_ENOMEM, NULL);
    /* activations n[1] x bmax overflow BLAS's int */
    size_t wide[3] = {2, 1u << 20, 1};
    expect_refused(2, wide, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 4096, DNN_ENOMEM, NULL);
    size_t ok[3] = {3, 4, 1};
    expect_refused(0, ok, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 8, DNN_EINVAL, NULL);
    expect_refused(DNN_MAX_LAYERS + 1, ok, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 8, DNN_EINVAL, NULL);
    expect_refused(2, ok, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 0, DNN_EINVAL, NULL);
    expect_refused(2, ok, DNN_ACT_SOFTMAX, DNN_ACT_SIGMOID, 0.01, 8, DNN_EINVAL, "softmax");
    expect_refused(2, ok, DNN_ACT_RELU, DNN_ACT_TANH, 0.01, 8, DNN_EINVAL, "tanh");
    expect_refused(2, ok, DNN_ACT_LEAKY_RELU, DNN_ACT_SIGMOID, -0.5, 8, DNN_EINVAL, NULL);
    expect_refused(2, ok, DNN_ACT_LEAKY_RELU, DNN_ACT_SIGMOID, NAN, 8, DNN_EINVAL, NULL);
}

/* ---- dropout ---- */

/*
 * Gradient check with dropout masks held fixed (the same keys for every
 * pass): keep_prob 0.7 and 0.5, every hidden activation x every output, L = 2
 * and 4, central differences as above (< 1e-7, ||ana|| > 1e-6).  The kink
 * guard of setup is applied to the dropped pass.
 */
static void test_model_dropout_gradcheck(void)
{
    for (size_t h = 0; h < 5; h++)
        for (size_t o = 0; o < 3; o++)
            for (int L = 2; L <= 4; L += 2) {
                drop_key_t d = {L == 2 ? 0.7 : 0.5, 11 + h, 40 + o, 1000 * (uint64_t)L};
                gradcheck_drop(L, hidden_acts[h], output_acts[o], 300 + 10 * h + o + (uint64_t)L, &d);
            }
}

/* Full gradient buffer (P + extra) of one backward over M_EX columns. */
static void grads_of(dnn_model_t *m, const void *X, const void *Y, void *out)
{
    dnn_model_backward(m, X, Y, M_EX, 1);
    memcpy(out, m->grads, (m->nparams + 2) * dnn_real_size(m->prec));
}

/*
 * keep_prob 1 is bitwise no dropout (both precisions; the loss and correct
 * slots too), whatever the keys; 0.7 changes the gradients (so the
 * comparison can fail), and so does another step or seed; evaluate and
 * forward never apply dropout (bitwise equal with and without).
 */
static void test_model_dropout_keep_prob_one_bitwise(void)
{
    for (int prec = 0; prec < 2; prec++) {
        dnn_model_t md, m;
        double X[16 * M_EX] = {0}, Y[16 * M_EX] = {0};
        char msg[DNN_MSG_LEN];
        CU_ASSERT_FATAL(setup(&md, 3, DNN_ACT_TANH, DNN_ACT_SOFTMAX, X, Y, 21) > 0);
        CU_ASSERT_FATAL(dnn_model_init(&m, (dnn_precision_t)prec, 3, md.n, md.hidden, md.output, 0.01, M_EX, msg) == 0);
        size_t es = dnn_real_size(m.prec), bytes = (m.nparams + 2) * es;
        float Xs[16 * M_EX], Ys[16 * M_EX];
        for (size_t i = 0; i < 16 * M_EX; i++)
            Xs[i] = (float)X[i], Ys[i] = (float)Y[i];
        const void *Xp = prec == DNN_DOUBLE ? (const void *)X : Xs, *Yp = prec == DNN_DOUBLE ? (const void *)Y : Ys;
        for (size_t i = 0; i < m.nparams; i++)
            if (prec == DNN_DOUBLE)
                ((double *)m.params)[i] = ((double *)md.params)[i];
            else
                ((float *)m.params)[i] = (float)((double *)md.params)[i];
        char *plain = malloc(bytes), *one = malloc(bytes), *kp7 = malloc(bytes), *step2 = malloc(bytes),
             *seed2 = malloc(bytes);
        CU_ASSERT_FATAL(plain && one && kp7 && step2 && seed2);
        double ev_plain[2] = {0, 0}, ev_drop[2] = {0, 0};
        grads_of(&m, Xp, Yp, plain);
        dnn_model_evaluate(&m, Xp, Yp, M_EX, &ev_plain[0], &ev_plain[1]);
        dnn_model_set_dropout(&m, 1.0, 5);
        dnn_model_set_columns(&m, 3, NULL, 100);
        grads_of(&m, Xp, Yp, one);
        CU_ASSERT(memcmp(plain, one, bytes) == 0);
        dnn_model_set_dropout(&m, 0.7, 5);
        grads_of(&m, Xp, Yp, kp7);
        CU_ASSERT(memcmp(plain, kp7, bytes) != 0);
        dnn_model_evaluate(&m, Xp, Yp, M_EX, &ev_drop[0], &ev_drop[1]);
        CU_ASSERT(ev_drop[0] == ev_plain[0] && ev_drop[1] == ev_plain[1]);
        dnn_model_forward(&m, Xp, M_EX);
        char out_drop[16 * M_EX * 8], out_plain[16 * M_EX * 8];
        memcpy(out_drop, dnn_model_output(&m), m.n[3] * M_EX * es);
        dnn_model_set_dropout(&m, 1.0, 5);
        dnn_model_forward(&m, Xp, M_EX);
        memcpy(out_plain, dnn_model_output(&m), m.n[3] * M_EX * es);
        CU_ASSERT(memcmp(out_drop, out_plain, m.n[3] * M_EX * es) == 0);
        dnn_model_set_dropout(&m, 0.7, 5);
        dnn_model_set_columns(&m, 4, NULL, 100);
        grads_of(&m, Xp, Yp, step2);
        CU_ASSERT(memcmp(kp7, step2, bytes) != 0);
        dnn_model_set_dropout(&m, 0.7, 6);
        dnn_model_set_columns(&m, 3, NULL, 100);
        grads_of(&m, Xp, Yp, seed2);
        CU_ASSERT(memcmp(kp7, seed2, bytes) != 0);
        dnn_model_set_dropout(&m, 0.7, 5); /* the same keys again: the same gradients, bitwise */
        grads_of(&m, Xp, Yp, step2);
        CU_ASSERT(memcmp(kp7, step2, bytes) == 0);
        free(plain), free(one), free(kp7), free(step2), free(seed2);
        dnn_model_free(&m);
        dnn_model_free(&md);
    }
}

/* Copy the masks of hidden layers 1..L-1 for columns [0, cols) into out at column offset j0 (nmask per column). */
static void save_masks(const dnn_model_t *m, size_t cols, size_t j0, uint8_t *out, size_t per_col)
{
    for (size_t j = 0; j < cols; j++) {
        size_t at = 0;
        for (int l = 1; l < m->L; l++) {
            memcpy(out + (j0 + j) * per_col + at, m->mask + m->off_A[l] + j * m->n[l], m->n[l]);
            at += m->n[l];
        }
    }
}

/*
 * The masks of a column depend only on its key: the 7 columns of global
 * indices 50..56 processed as one block (g0 = 50), as blocks of 3 + 4 with
 * g0 = 50 and 53, in a model with bmax 3, and in reversed order through an
 * explicit g[] give the same masks per global index, and the same gradient
 * sums (relative 1e-13; the block sums are added in another order).  Both
 * precisions draw the same masks.
 */
static void test_model_dropout_blocks_independent(void)
{
    dnn_model_t m, m3, ms;
    double X[16 * M_EX] = {0}, Y[16 * M_EX] = {0}, Xr[16 * M_EX], Yr[16 * M_EX];
    char msg[DNN_MSG_LEN];
    CU_ASSERT_FATAL(setup(&m, 4, DNN_ACT_RELU, DNN_ACT_SIGMOID, X, Y, 31) > 0);
    CU_ASSERT_FATAL(dnn_model_init(&m3, DNN_DOUBLE, 4, m.n, m.hidden, m.output, 0.01, 3, msg) == 0);
    CU_ASSERT_FATAL(dnn_model_init(&ms, DNN_SINGLE, 4, m.n, m.hidden, m.output, 0.01, M_EX, msg) == 0);
    memcpy(m3.params, m.params, m.nparams * sizeof(double));
    size_t per_col = m.n[1] + m.n[2] + m.n[3], P = m.nparams, n0 = m.n[0];
    uint8_t one[M_EX * 16], split[M_EX * 16], small[M_EX * 16], rev[M_EX * 16], single[M_EX * 16];
    double *full = malloc(P * sizeof *full);
    CU_ASSERT_FATAL(full != NULL);
    dnn_model_set_dropout(&m, 0.6, 77);
    dnn_model_set_dropout(&m3, 0.6, 77);
    dnn_model_set_dropout(&ms, 0.6, 77);
    dnn_model_set_columns(&m, 9, NULL, 50);
    dnn_model_backward(&m, X, Y, M_EX, 1);
    save_masks(&m, M_EX, 0, one, per_col);
    memcpy(full, m.grads, P * sizeof *full);
    int dropped = 0;
    for (size_t i = 0; i < M_EX * per_col; i++)
        dropped += one[i] == 0;
    CU_ASSERT(dropped > 0 && dropped < (int)(M_EX * per_col));
    /* blocks 3 + 4 in the same model, then in a model of bmax 3 (3 + 3 + 1) */
    dnn_model_set_columns(&m, 9, NULL, 50);
    dnn_model_backward(&m, X, Y, 3, 1);
    save_masks(&m, 3, 0, split, per_col);
    dnn_model_set_columns(&m, 9, NULL, 53);
    dnn_model_backward(&m, X + 3 * n0, Y + 3, 4, 0);
    save_masks(&m, 4, 3, split, per_col);
    CU_ASSERT(memcmp(one, split, M_EX * per_col) == 0);
    const double *G = m.grads;
    double d2 = 0, f2 = 0;
    for (size_t i = 0; i < P; i++) {
        d2 += (G[i] - full[i]) * (G[i] - full[i]);
        f2 += full[i] * full[i];
    }
    CU_ASSERT(f2 > 0 && sqrt(d2) <= 1e-13 * sqrt(f2));
    for (size_t j0 = 0; j0 < M_EX; j0 += 3) {
        size_t c = M_EX - j0 < 3 ? M_EX - j0 : 3;
        dnn_model_set_columns(&m3, 9, NULL, 50 + j0);
        dnn_model_backward(&m3, X + j0 * n0, Y + j0, c, j0 == 0);
        save_masks(&m3, c, j0, small, per_col);
    }
    CU_ASSERT(memcmp(one, small, M_EX * per_col) == 0);
    G = m3.grads;
    d2 = 0;
    for (size_t i = 0; i < P; i++)
        d2 += (G[i] - full[i]) * (G[i] - full[i]);
    CU_ASSERT(sqrt(d2) <= 1e-13 * sqrt(f2));
    /* reversed columns, keyed through g[] */
    uint64_t g[M_EX];
    for (size_t j = 0; j < M_EX; j++) {
        g[j] = 50 + (M_EX - 1 - j);
        memcpy(Xr + j * n0, X + (M_EX - 1 - j) * n0, n0 * sizeof *X);
        Yr[j] = Y[M_EX - 1 - j];
    }
    dnn_model_set_columns(&m, 9, g, 12345); /* g0 is ignored when g is given */
    dnn_model_backward(&m, Xr, Yr, M_EX, 1);
    for (size_t j = 0; j < M_EX; j++) { /* column j holds global example 50 + 6 - j */
        size_t at = 0;
        for (int l = 1; l < m.L; l++) {
            memcpy(rev + (M_EX - 1 - j) * per_col + at, m.mask + m.off_A[l] + j * m.n[l], m.n[l]);
            at += m.n[l];
        }
    }
    CU_ASSERT(memcmp(one, rev, M_EX * per_col) == 0);
    G = m.grads;
    d2 = 0;
    for (size_t i = 0; i < P; i++)
        d2 += (G[i] - full[i]) * (G[i] - full[i]);
    CU_ASSERT(sqrt(d2) <= 1e-13 * sqrt(f2));
    /* single precision: same masks */
    float Xs[16 * M_EX], Ys[16 * M_EX];
    for (size_t i = 0; i < 16 * M_EX; i++)
        Xs[i] = (float)X[i], Ys[i] = (float)Y[i];
    for (size_t i = 0; i < P; i++)
        ((float *)ms.params)[i] = (float)((double *)m.params)[i];
    dnn_model_set_columns(&ms, 9, NULL, 50);
    dnn_model_backward(&ms, Xs, Ys, M_EX, 1);
    save_masks(&ms, M_EX, 0, single, per_col);
    CU_ASSERT(memcmp(one, single, M_EX * per_col) == 0);
    free(full);
    dnn_model_free(&m);
    dnn_model_free(&m3);
    dnn_model_free(&ms);
}

/*
 * A wide layer (400 hidden units x 64 columns x 2 layers = 51200 draws): the
 * kept fraction is keep_prob within 5 sigma for 0.8, 0.5 and 0.2, each mask
 * value equals U(seed, k, l, g, i) < keep_prob from the definition, and the
 * dropped activations are A / keep_prob where kept and 0 elsewhere (exact).
 */
static void test_model_dropout_fraction(void)
{
    static const double kps[3] = {0.8, 0.5, 0.2};
    size_t n[4] = {5, 400, 400, 1};
    const size_t cols = 64;
    char msg[DNN_MSG_LEN];
    dnn_model_t m;
    CU_ASSERT_FATAL(dnn_model_init(&m, DNN_DOUBLE, 3, n, DNN_ACT_SIGMOID, DNN_ACT_SIGMOID, 0.01, cols, msg) == 0);
    CU_ASSERT_FATAL(dnn_model_init_params(&m, DNN_INIT_XAVIER, 0, DNN_RNG_DEFAULT, 3, msg) == 0);
    double X[5 * 64], Y[64];
    lcg_seed(8);
    for (size_t i = 0; i < 5 * cols; i++)
        X[i] = lcg_uniform();
    for (size_t j = 0; j < cols; j++)
        Y[j] = (double)(j % 2);
    for (int t = 0; t < 3; t++) {
        dnn_model_set_dropout(&m, kps[t], 1000 + (uint64_t)t);
        dnn_model_set_columns(&m, 17, NULL, 5000);
        dnn_model_backward(&m, X, Y, cols, 1);
        double kept = 0, draws = 0;
        int defined = 1, scaled = 1;
        for (int l = 1; l <= 2; l++) {
            const uint8_t *D = m.mask + m.off_A[l];
            const double *A = (const double *)m.acts + m.off_A[l], *Ad = (const double *)m.dropped + m.off_A[l];
            for (size_t j = 0; j < cols; j++)
                for (size_t i = 0; i < n[l]; i++) {
                    size_t at = j * n[l] + i;
                    double u = dnn_rng_counter_uniform(1000 + (uint64_t)t, 17, (uint64_t)l, 5000 + j, i);
                    defined &= D[at] == (u < kps[t]);
                    scaled &= Ad[at] == (D[at] ? A[at] / kps[t] : 0.0);
                    kept += D[at];
                    draws++;
                }
        }
        double frac = kept / draws, tol = 5 * sqrt(kps[t] * (1 - kps[t]) / draws);
        if (getenv("DNN_TEST_VERBOSE") || !(fabs(frac - kps[t]) < tol))
            fprintf(stderr, "\n  keep_prob %g: kept %.5f of %.0f (tolerance %.5f)\n", kps[t], frac, draws, tol);
        CU_ASSERT(fabs(frac - kps[t]) < tol);
        CU_ASSERT(defined);
        CU_ASSERT(scaled);
    }
    dnn_model_free(&m);
}

int main(void)
{
#define T(name) {#name, name}
    static const dnn_test_t tests[] = {
        T(test_model_layout),
        T(test_model_init_numpy_seed1),
        T(test_model_init_factors),
        T(test_model_init_zeros),
        T(test_model_bad_sizes_refused),
        T(test_model_forward_matches_naive),
        T(test_model_gradcheck_sigmoid_sigmoid_bce),
        T(test_model_gradcheck_sigmoid_softmax_ce),
        T(test_model_gradcheck_sigmoid_linear_mse),
        T(test_model_gradcheck_tanh_sigmoid_bce),
        T(test_model_gradcheck_tanh_softmax_ce),
        T(test_model_gradcheck_tanh_linear_mse),
        T(test_model_gradcheck_relu_sigmoid_bce),
        T(test_model_gradcheck_relu_softmax_ce),
        T(test_model_gradcheck_relu_linear_mse),
        T(test_model_gradcheck_leaky_relu_sigmoid_bce),
        T(test_model_gradcheck_leaky_relu_softmax_ce),
        T(test_model_gradcheck_leaky_relu_linear_mse),
        T(test_model_gradcheck_linear_sigmoid_bce),
        T(test_model_gradcheck_linear_softmax_ce),
        T(test_model_gradcheck_linear_linear_mse),
        T(test_model_backward_blocks_add_up),
        T(test_model_grad_ready_bands),
        T(test_model_single_close_to_double),
        T(test_model_update),
        T(test_model_dropout_gradcheck),
        T(test_model_dropout_keep_prob_one_bitwise),
        T(test_model_dropout_blocks_independent),
        T(test_model_dropout_fraction),
    };
#undef T
    return dnn_test_run("test_model", NULL, NULL, tests, sizeof tests / sizeof tests[0]);
}
