/*
 * test_net.c - CUnit suite for the inference API (dnn/dnn.h, src/net.c).
 *
 * Checkpoints are written here with dnn_checkpoint_write from seeded
 * parameters, then loaded with dnn_net_load and applied to raw inputs; the
 * reference is a plain double-precision forward pass written below (loops,
 * not dnn's kernels) with the preprocessing applied by hand.  Every output
 * kind, hidden activation and precision is covered, with --scale and with
 * --standardize.  The thread test runs many dnn_net_predict calls on ONE net
 * at once and requires each result to equal the single-threaded one bitwise,
 * with products large enough to take matrix.c's split path.  MPI is never
 * initialized in this suite: the API must not need it.
 */
#define _GNU_SOURCE
#include "dnn/dnn.h"

#include "dnn/checkpoint.h"
#include "dnn/matrix.h"
#include "dnn/model.h"
#include "dnn_test.h"
#include <CUnit/Basic.h>
#include <cblas.h>
#include <math.h>
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char tmpdir[256];

static int suite_init(void)
{
    snprintf(tmpdir, sizeof tmpdir, "test_net_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void) { return dnn_test_rmtree(tmpdir); }

typedef struct {
    dnn_precision_t prec;
    int L;
    size_t n[8];
    dnn_act_t hidden, output;
    double slope, scale;
    int standardize;
} spec_t;

/* Small deterministic pseudo-random numbers in [-1, 1). */
static double frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffff) / 32768.0 - 1.0;
}

/* Writes a checkpoint of spec with seeded weights and non-zero biases; fills
 * mean/std (n[0]) when standardized. */
static void make_ckpt(const char *path, const spec_t *sp, double *mean, double *std)
{
    char msg[DNN_MSG_LEN];
    dnn_model_t m;
    CU_ASSERT_FATAL(dnn_model_init(&m, sp->prec == DNN_BF16 ? DNN_SINGLE : sp->prec, sp->L, sp->n, sp->hidden, sp->output, sp->slope, 1, msg) == 0);
    CU_ASSERT_FATAL(dnn_model_init_params(&m, DNN_INIT_XAVIER, 0, DNN_RNG_DEFAULT, 7, msg) == 0);
    unsigned s = 11;
    for (int l = 1; l <= sp->L; l++)
        for (size_t i = 0; i < sp->n[l]; i++) {
            double v = 0.3 * frand(&s);
            if (sp->prec == DNN_DOUBLE)
                ((double *)dnn_model_b(&m, l))[i] = v;
            else
                ((float *)dnn_model_b(&m, l))[i] = (float)v;
        }
    dnn_ckpt_t c;
    memset(&c, 0, sizeof c);
    c.L = sp->L;
    memcpy(c.n, sp->n, (size_t)(sp->L + 1) * sizeof c.n[0]);
    c.precision = sp->prec;
    c.hidden = sp->hidden;
    c.output = sp->output;
    c.leaky_slope = sp->slope;
    c.scale = sp->scale;
    c.standardize = sp->standardize;
    c.binary_threshold = NAN;
    for (size_t i = 0; sp->standardize && i < sp->n[0]; i++) {
        mean[i] = 40 + 5 * frand(&s);
        std[i] = 3 + frand(&s);
    }
    c.mean = mean;
    c.std = std;
    int64_t it = 0;
    double cost = 0.5;
    c.nhist = 1;
    c.hist_iter = &it;
    c.hist_cost = &cost;
    CU_ASSERT_FATAL(dnn_checkpoint_write(path, &m, &c, msg) == 0);
    dnn_model_free(&m);
}

static double g(dnn_act_t a, double z, double slope)
{
    switch (a) {
    case DNN_ACT_SIGMOID: return 1 / (1 + exp(-z));
    case DNN_ACT_TANH: return tanh(z);
    case DNN_ACT_RELU: return z > 0 ? z : 0;
    case DNN_ACT_LEAKY_RELU: return z > 0 ? z : slope * z;
    default: return z;
    }
}

/* Reference forward pass of one example x (raw), parameters read back from the file. */
static void reference(const char *path, const spec_t *sp, const double *mean, const double *std, const double *x,
                      double *p)
{
    char msg[DNN_MSG_LEN];
    dnn_model_t m;
    CU_ASSERT_FATAL(dnn_model_init(&m, sp->prec, sp->L, sp->n, sp->hidden, sp->output, sp->slope, 1, msg) == 0);
    CU_ASSERT_FATAL(dnn_checkpoint_read_params(path, &m, msg) == 0);
    double a[64], z[64];
    for (size_t i = 0; i < sp->n[0]; i++) {
        a[i] = x[i] * sp->scale;
        if (sp->standardize)
            a[i] = (a[i] - mean[i]) / std[i];
    }
    for (int l = 1; l <= sp->L; l++) {
        for (size_t i = 0; i < sp->n[l]; i++) {
            double s = sp->prec == DNN_DOUBLE ? ((double *)dnn_model_b(&m, l))[i] : ((float *)dnn_model_b(&m, l))[i];
            for (size_t k = 0; k < sp->n[l - 1]; k++) {
                size_t e = i * sp->n[l - 1] + k;
                double w = sp->prec == DNN_DOUBLE ? ((double *)dnn_model_W(&m, l))[e] : ((float *)dnn_model_W(&m, l))[e];
                s += w * a[k];
            }
            z[i] = s;
        }
        dnn_act_t act = l < sp->L ? sp->hidden : sp->output;
        double zmax = -INFINITY, tot = 0;
        for (size_t i = 0; i < sp->n[l]; i++)
            zmax = z[i] > zmax ? z[i] : zmax;
        for (size_t i = 0; act == DNN_ACT_SOFTMAX && i < sp->n[l]; i++)
            tot += exp(z[i] - zmax);
        for (size_t i = 0; i < sp->n[l]; i++)
            a[i] = act == DNN_ACT_SOFTMAX ? exp(z[i] - zmax) / tot : g(act, z[i], sp->slope);
    }
    memcpy(p, a, sp->n[sp->L] * sizeof(double));
    dnn_model_free(&m);
}

/* Raw inputs: pixels 0..255 for a scale, values around the stored mean when standardized. */
static double *inputs(const spec_t *sp, size_t m, unsigned seed)
{
    double *X = malloc(m * sp->n[0] * sizeof(double));
    for (size_t k = 0; k < m * sp->n[0]; k++)
        X[k] = sp->standardize ? 40 + 8 * frand(&seed) : sp->scale != 1 ? floor(128 + 127 * frand(&seed)) : 2 * frand(&seed);
    return X;
}

static double check_spec(const spec_t *sp, size_t m)
{
    char path[512], msg[DNN_MSG_LEN];
    double mean[64], std[64], worst = 0;
    snprintf(path, sizeof path, "%s/net.h5", tmpdir);
    make_ckpt(path, sp, mean, std);
    dnn_net_t *net = NULL;
    int rc = dnn_net_load(&net, path, msg);
    if (rc)
        fprintf(stderr, "dnn_net_load: %s\n", msg);
    CU_ASSERT_FATAL(rc == 0);
    CU_ASSERT_EQUAL(dnn_net_inputs(net), sp->n[0]);
    CU_ASSERT_EQUAL(dnn_net_outputs(net), sp->n[sp->L]);
    size_t k = sp->n[sp->L];
    double *X = inputs(sp, m, 5), *P = malloc(m * k * sizeof(double)), ref[64];
    CU_ASSERT_FATAL(dnn_net_predict(net, X, m, P, msg) == 0);
    double tol = sp->prec == DNN_DOUBLE ? 1e-12 : 2e-5;
    for (size_t j = 0; j < m; j++) {
        reference(path, sp, mean, std, X + j * sp->n[0], ref);
        for (size_t i = 0; i < k; i++) {
            double d = fabs(P[j * k + i] - ref[i]) / (1 + fabs(ref[i]));
            worst = d > worst ? d : worst;
        }
    }
    CU_ASSERT(worst <= tol);
    if (worst > tol)
        fprintf(stderr, "prec %d hidden %d output %d scale %g std %d: max rel diff %.3g > %.0e\n", sp->prec, sp->hidden,
                sp->output, sp->scale, sp->standardize, worst, tol);
    free(X);
    free(P);
    dnn_net_free(net);
    return worst;
}

static void test_net_every_kind(void)
{
    dnn_act_t outs[] = {DNN_ACT_SIGMOID, DNN_ACT_SOFTMAX, DNN_ACT_LINEAR};
    dnn_act_t hids[] = {DNN_ACT_SIGMOID, DNN_ACT_TANH, DNN_ACT_RELU, DNN_ACT_LEAKY_RELU, DNN_ACT_LINEAR};
    int cases = 0;
    for (int p = 0; p < 2; p++)
        for (int o = 0; o < 3; o++)
            for (int h = 0; h < 5; h++) {
                spec_t sp = {(dnn_precision_t)p, 3, {6, 9, 5, outs[o] == DNN_ACT_SIGMOID ? 1 : 4}, hids[h], outs[o],
                             0.07, 1, 0};
                sp.scale = (h % 3 == 1) ? 1 / 255.0 : 1;
                sp.standardize = h % 3 == 2;
                check_spec(&sp, 23);
                cases++;
            }
    CU_ASSERT_EQUAL(cases, 30);
}

static void test_net_logistic_and_blocks(void)
{
    spec_t lr = {DNN_SINGLE, 1, {12, 1}, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 1 / 255.0, 0};
    check_spec(&lr, 5);
    /* more examples than one block (1024): the blocks must line up */
    spec_t big = {DNN_DOUBLE, 2, {5, 7, 3}, DNN_ACT_TANH, DNN_ACT_SOFTMAX, 0.01, 1, 1};
    check_spec(&big, 2600);
}

static void test_net_errors(void)
{
    char path[512], msg[DNN_MSG_LEN];
    dnn_net_t *net = (dnn_net_t *)&net;
    snprintf(path, sizeof path, "%s/does-not-exist.h5", tmpdir);
    CU_ASSERT_EQUAL(dnn_net_load(&net, path, msg), DNN_EIO);
    CU_ASSERT_PTR_NULL(net);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "does-not-exist.h5"));
    CU_ASSERT_EQUAL(dnn_net_load(&net, path, NULL), DNN_EIO); /* msg may be NULL */
    CU_ASSERT_EQUAL(dnn_net_load(NULL, path, msg), DNN_EINVAL);
    dnn_net_free(NULL);

    spec_t sp = {DNN_SINGLE, 2, {3, 4, 2}, DNN_ACT_RELU, DNN_ACT_SOFTMAX, 0.01, 1, 0};
    double mean[8], std[8];
    snprintf(path, sizeof path, "%s/err.h5", tmpdir);
    make_ckpt(path, &sp, mean, std);
    CU_ASSERT_FATAL(dnn_net_load(&net, path, msg) == 0);
    double X[6] = {1, 2, 3, 4, NAN, 6}, P[4] = {-1, -1, -1, -1};
    CU_ASSERT_EQUAL(dnn_net_predict(net, X, 2, P, msg), DNN_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "example 1, feature 1"));
    CU_ASSERT_EQUAL(dnn_net_predict(net, X, 0, NULL, msg), 0); /* m = 0: nothing to do */
    CU_ASSERT_EQUAL(dnn_net_predict(net, NULL, 2, P, msg), DNN_EINVAL);
    CU_ASSERT_EQUAL(dnn_net_predict(NULL, X, 1, P, msg), DNN_EINVAL);
    X[4] = 5;
    CU_ASSERT_EQUAL(dnn_net_predict(net, X, 2, P, NULL), 0);
    CU_ASSERT_DOUBLE_EQUAL(P[0] + P[1], 1, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(P[2] + P[3], 1, 1e-6);
    dnn_net_free(net);
    int init = 1;
    MPI_Initialized(&init); /* allowed before MPI_Init: the API never started MPI */
    CU_ASSERT_EQUAL(init, 0);
}

/* ---- concurrent predictions on one net ---- */

enum { TM = 2100, TREPS = 4, TTHREADS = 4 };

typedef struct {
    const dnn_net_t *net;
    const double *X, *want;
    size_t k, nx;
    int id, mismatches, failures;
} job_t;

static void *worker(void *arg)
{
    job_t *j = arg;
    char msg[DNN_MSG_LEN];
    /* each thread predicts its own slice length, so blocks of different sizes run at once */
    size_t m = TM - (size_t)j->id * 97;
    double *P = malloc(m * j->k * sizeof(double));
    for (int r = 0; r < TREPS && P; r++) {
        if (dnn_net_predict(j->net, j->X, m, P, msg)) {
            j->failures++;
            continue;
        }
        j->mismatches += memcmp(P, j->want, m * j->k * sizeof(double)) != 0;
    }
    j->failures += P == NULL;
    free(P);
    return NULL;
}

static void run_threads(const dnn_net_t *net, const double *X, const double *want, size_t nx, size_t k)
{
    pthread_t th[TTHREADS];
    job_t jobs[TTHREADS];
    for (int t = 0; t < TTHREADS; t++) {
        jobs[t] = (job_t){net, X, want, k, nx, t, 0, 0};
        CU_ASSERT_FATAL(pthread_create(&th[t], NULL, worker, &jobs[t]) == 0);
    }
    int bad = 0;
    for (int t = 0; t < TTHREADS; t++) {
        pthread_join(th[t], NULL);
        bad += jobs[t].mismatches + jobs[t].failures;
    }
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_net_threads(void)
{
    /* 128x96 by 1024 columns is about 25 MFLOP: matrix.c cuts it into parts */
    spec_t sp = {DNN_SINGLE, 3, {96, 128, 96, 10}, DNN_ACT_RELU, DNN_ACT_SOFTMAX, 0.01, 1, 1};
    char path[512], msg[DNN_MSG_LEN];
    double mean[128], std[128];
    snprintf(path, sizeof path, "%s/threads.h5", tmpdir);
    make_ckpt(path, &sp, mean, std);
    dnn_net_t *net = NULL;
    CU_ASSERT_FATAL(dnn_net_load(&net, path, msg) == 0);
    size_t k = 10;
    double *X = inputs(&sp, TM, 3), *want = malloc(TM * k * sizeof(double));
    /* the single-threaded result of each prefix is the prefix of the full result (block-aligned
     * from example 0), so one reference serves every thread's length */
    CU_ASSERT_FATAL(dnn_net_predict(net, X, TM, want, msg) == 0);
    run_threads(net, X, want, sp.n[0], k);
    /* with OpenBLAS's own threads serving several callers at once (a consumer's default) */
    openblas_set_num_threads(2);
    run_threads(net, X, want, sp.n[0], k);
    /* and with matrix.c's own thread pool busy serving one caller at a time */
    dnn_matrix_set_threads(2); /* (left on: the helpers read the count without a lock) */
    run_threads(net, X, want, sp.n[0], k);
    free(X);
    free(want);
    dnn_net_free(net);
}

/* ---- batch invariance (README, Batch invariance) ---- */

enum { SM = 2100 };

/* rows[0..n) of X (m x nx, row-major) */
static double *gather(const double *X, size_t nx, const size_t *rows, size_t n)
{
    double *G = malloc((n ? n : 1) * nx * sizeof *G);
    for (size_t r = 0; r < n; r++)
        memcpy(G + r * nx, X + rows[r] * nx, nx * sizeof *G);
    return G;
}

/* The subsets of SM examples the guarantee is checked on: prefixes of 1, 7,
 * 255, 256, 257 and 2003 rows, and 777 rows drawn without replacement in a
 * shuffled order; sel[s] holds n[s] row numbers. */
static int subsets(size_t *sel[8], size_t n[8])
{
    static const size_t pre[] = {1, 7, 255, 256, 257, 2003};
    int S = 0;
    for (size_t p = 0; p < sizeof pre / sizeof pre[0]; p++, S++) {
        n[S] = pre[p];
        sel[S] = malloc(n[S] * sizeof(size_t));
        for (size_t r = 0; r < n[S]; r++)
            sel[S][r] = r;
    }
    size_t *perm = malloc(SM * sizeof *perm);
    unsigned s = 99;
    for (size_t r = 0; r < SM; r++)
        perm[r] = r;
    for (size_t r = SM - 1; r > 0; r--) {
        size_t k = (size_t)((frand(&s) + 1) * 0.5 * (double)(r + 1)) % (r + 1), t = perm[r];
        perm[r] = perm[k], perm[k] = t;
    }
    n[S] = 777;
    sel[S++] = perm;
    return S;
}

/* dnn_net_predict (dnn-predict's path) on each subset gives each example's
 * outputs of the full evaluation, bitwise; float, double and a bf16
 * checkpoint, 1 and 2 pool threads. */
static void test_net_subsets_bitwise(void)
{
    dnn_precision_t precs[] = {DNN_SINGLE, DNN_DOUBLE, DNN_BF16};
    size_t *sel[8], nsel[8];
    int S = subsets(sel, nsel);
    for (int p = 0; p < 3; p++) {
        spec_t sp = {precs[p], 3, {100, 130, 60, 10}, DNN_ACT_RELU, DNN_ACT_SOFTMAX, 0.01, 1, 1};
        char path[512], msg[DNN_MSG_LEN];
        double mean[128], std[128];
        snprintf(path, sizeof path, "%s/subsets%d.h5", tmpdir, p);
        make_ckpt(path, &sp, mean, std);
        dnn_net_t *net = NULL;
        CU_ASSERT_FATAL(dnn_net_load(&net, path, msg) == 0);
        size_t k = 10, nx = sp.n[0];
        double *X = inputs(&sp, SM, 17), *full = malloc(SM * k * sizeof *full), *P = malloc(SM * k * sizeof *P);
        CU_ASSERT_FATAL(dnn_net_predict(net, X, SM, full, msg) == 0);
        for (int threads = 1; threads <= 2; threads++) {
            int before = dnn_matrix_threads();
            dnn_matrix_set_threads(threads);
            for (int s = 0; s < S; s++) {
                double *G = gather(X, nx, sel[s], nsel[s]);
                CU_ASSERT_FATAL(dnn_net_predict(net, G, nsel[s], P, msg) == 0);
                size_t bad = 0;
                for (size_t r = 0; r < nsel[s]; r++)
                    bad += memcmp(P + r * k, full + sel[s][r] * k, k * sizeof *P) != 0;
                if (bad)
                    fprintf(stderr, "precision %d, %d threads, subset %d of %zu rows: %zu examples' outputs differ "
                            "from the full evaluation\n", (int)precs[p], threads, s, nsel[s], bad);
                CU_ASSERT_EQUAL(bad, 0);
                free(G);
            }
            dnn_matrix_set_threads(before);
        }
        free(X), free(full), free(P);
        dnn_net_free(net);
    }
    for (int s = 0; s < S; s++)
        free(sel[s]);
}

/* dnn_model_forward, dnn-train's dev and test evaluation (through
 * dnn_model_evaluate, which runs the same pass): the same guarantee on the
 * model's own buffers, float and double. */
static void test_model_subsets_bitwise(void)
{
    size_t *sel[8], nsel[8];
    int S = subsets(sel, nsel);
    for (int p = 0; p < 2; p++) {
        dnn_precision_t prec = p ? DNN_DOUBLE : DNN_SINGLE;
        size_t n[] = {100, 130, 60, 10}, es = p ? sizeof(double) : sizeof(float), k = 10, nx = n[0];
        char msg[DNN_MSG_LEN];
        dnn_model_t m;
        CU_ASSERT_FATAL(dnn_model_init(&m, prec, 3, n, DNN_ACT_TANH, DNN_ACT_SOFTMAX, 0.01, SM, msg) == 0);
        CU_ASSERT_FATAL(dnn_model_init_params(&m, DNN_INIT_XAVIER, 0, DNN_RNG_DEFAULT, 5, msg) == 0);
        unsigned s = 3;
        char *X = malloc(SM * nx * es), *G = malloc(SM * nx * es), *full = malloc(SM * k * es);
        for (size_t i = 0; i < SM * nx; i++) {
            double v = frand(&s);
            if (p)
                ((double *)X)[i] = v;
            else
                ((float *)X)[i] = (float)v;
        }
        dnn_model_forward(&m, X, SM);
        memcpy(full, dnn_model_output(&m), SM * k * es);
        for (int t = 0; t < S; t++) {
            for (size_t r = 0; r < nsel[t]; r++)
                memcpy(G + r * nx * es, X + sel[t][r] * nx * es, nx * es);
            dnn_model_forward(&m, G, nsel[t]);
            const char *out = dnn_model_output(&m);
            size_t bad = 0;
            for (size_t r = 0; r < nsel[t]; r++)
                bad += memcmp(out + r * k * es, full + sel[t][r] * k * es, k * es) != 0;
            if (bad)
                fprintf(stderr, "model forward, precision %d, subset %d of %zu rows: %zu examples differ\n", p, t,
                        nsel[t], bad);
            CU_ASSERT_EQUAL(bad, 0);
        }
        free(X), free(G), free(full);
        dnn_model_free(&m);
    }
    for (int t = 0; t < S; t++)
        free(sel[t]);
}

int main(void)
{
    static const dnn_test_t tests[] = {DNN_TEST(test_net_every_kind), DNN_TEST(test_net_logistic_and_blocks),
                                       DNN_TEST(test_net_errors), DNN_TEST(test_net_threads),
                                       DNN_TEST(test_net_subsets_bitwise), DNN_TEST(test_model_subsets_bitwise)};
    return dnn_test_run("net", suite_init, suite_clean, tests, sizeof tests / sizeof tests[0]);
}
