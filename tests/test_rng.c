/*
 * test_rng.c - CUnit suite for the rng module.
 *
 * References are independent of dnn: MT19937's published outputs for
 * init_genrand(5489) (the C++11 std::mt19937 requirement: the 10000th value
 * is 4123659995), numpy 1.24's np.random.seed(S) + randn/rand values printed
 * with repr (17 significant digits, which round-trip doubles exactly), and
 * statistics with explicit tolerances.  The full 100000-draw comparison with
 * numpy lives in tests/rng_numpy.
 */
#include "dnn/rng.h"

#include "dnn_test.h"
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MT19937 (numpy kind) seeded 5489: first output and the 10000th. */
static void test_rng_mt19937_reference(void)
{
    dnn_rng_t r;
    dnn_rng_init(&r, DNN_RNG_NUMPY, 5489);
    CU_ASSERT_EQUAL(dnn_rng_next32(&r), 3499211612u);
    uint32_t v = 0;
    for (int i = 2; i <= 10000; i++)
        v = dnn_rng_next32(&r);
    CU_ASSERT_EQUAL(v, 4123659995u);
}

/* np.random.seed(1); np.random.randn(4), to 8 decimals (DESIGN §2) and exactly. */
static void test_rng_numpy_seed1_normals(void)
{
    static const double dec8[4] = {1.62434536, -0.61175641, -0.52817175, -1.07296862};
    static const double exact[4] = {1.6243453636632417, -0.6117564136500754,
                                    -0.5281717522634557, -1.0729686221561705};
    dnn_rng_t r;
    dnn_rng_init(&r, DNN_RNG_NUMPY, 1);
    for (int i = 0; i < 4; i++) {
        double z = dnn_rng_normal(&r);
        CU_ASSERT_DOUBLE_EQUAL(z, dec8[i], 5e-9);
        CU_ASSERT(z == exact[i]);
    }
}

/* np.random.seed(0): randn(4) and rand(3), exactly. */
static void test_rng_numpy_seed0_exact(void)
{
    static const double normal[4] = {1.764052345967664, 0.4001572083672233, 0.9787379841057392,
                                     2.240893199201458};
    static const double uniform[3] = {0.5488135039273248, 0.7151893663724195,
                                      0.6027633760716439};
    dnn_rng_t r;
    dnn_rng_init(&r, DNN_RNG_NUMPY, 0);
    for (int i = 0; i < 4; i++)
        CU_ASSERT(dnn_rng_normal(&r) == normal[i]);
    dnn_rng_init(&r, DNN_RNG_NUMPY, 0);
    for (int i = 0; i < 3; i++)
        CU_ASSERT(dnn_rng_uniform(&r) == uniform[i]);
}

/*
 * numpy keeps the polar method's second normal across uniform draws:
 * seed(1); randn() -> 1.62..., rand() -> 3rd uniform, randn() -> cached -0.61...
 * Re-seeding drops the cached value.
 */
static void test_rng_numpy_gauss_cache(void)
{
    dnn_rng_t r;
    dnn_rng_init(&r, DNN_RNG_NUMPY, 1);
    CU_ASSERT(dnn_rng_normal(&r) == 1.6243453636632417);
    CU_ASSERT(dnn_rng_uniform(&r) == 0.00011437481734488664);
    CU_ASSERT(dnn_rng_normal(&r) == -0.6117564136500754);
    dnn_rng_normal(&r); /* leaves a cached value */
    dnn_rng_init(&r, DNN_RNG_NUMPY, 1);
    CU_ASSERT(dnn_rng_normal(&r) == 1.6243453636632417);
}

/* Uniforms of both kinds lie on the 2^-53 lattice in [0, 1). */
static void test_rng_uniform_range(void)
{
    for (int kind = 0; kind < 2; kind++) {
        dnn_rng_t r;
        dnn_rng_init(&r, (dnn_rng_kind_t)kind, 42);
        int bad = 0;
        for (int i = 0; i < 100000; i++) {
            double u = dnn_rng_uniform(&r), k = u * 9007199254740992.0;
            bad += !(u >= 0.0 && u < 1.0) || k != floor(k);
        }
        CU_ASSERT_EQUAL(bad, 0);
    }
}

/* Default kind: mean and variance of 1e6 normals, and seeds give different streams. */
static void test_rng_default_normal_moments(void)
{
    const int n = 1000000;
    /* Standard errors: mean 1/sqrt(n) = 1e-3, variance sqrt(2/n) = 1.41e-3;
     * tolerances are 5 standard errors (false alarm probability < 1e-6). */
    const double tol_mean = 5e-3, tol_var = 7.1e-3;
    dnn_rng_t r;
    dnn_rng_init(&r, DNN_RNG_DEFAULT, 1);
    double sum = 0.0, sum2 = 0.0;
    int nonfinite = 0;
    for (int i = 0; i < n; i++) {
        double z = dnn_rng_normal(&r);
        nonfinite += !isfinite(z);
        sum += z;
        sum2 += z * z;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    CU_ASSERT_EQUAL(nonfinite, 0);
    CU_ASSERT_DOUBLE_EQUAL(mean, 0.0, tol_mean);
    CU_ASSERT_DOUBLE_EQUAL(var, 1.0, tol_var);

    dnn_rng_t a, b;
    dnn_rng_init(&a, DNN_RNG_DEFAULT, 1);
    dnn_rng_init(&b, DNN_RNG_DEFAULT, 2);
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += dnn_rng_normal(&a) == dnn_rng_normal(&b);
    CU_ASSERT_EQUAL(same, 0);
}

/* 1 when perm[0..m) holds each of 0..m-1 exactly once. */
static int is_permutation(const uint64_t *perm, uint64_t m)
{
    unsigned char *seen = calloc(m ? m : 1, 1);
    int ok = seen != NULL;
    for (uint64_t i = 0; ok && i < m; i++) {
        ok = perm[i] < m && !seen[perm[i]];
        if (ok)
            seen[perm[i]] = 1;
    }
    free(seen);
    return ok;
}

static void test_rng_permutation_valid(void)
{
    static const uint64_t sizes[] = {0, 1, 2, 3, 17, 1000, 65537};
    uint64_t *perm = malloc(65537 * sizeof *perm);
    CU_ASSERT_FATAL(perm != NULL);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (uint64_t epoch = 0; epoch < 3; epoch++) {
            dnn_rng_permutation(perm, sizes[k], 7, epoch);
            CU_ASSERT(is_permutation(perm, sizes[k]));
        }
    }
    /* A shuffle of 1000 must move elements: an identity would mean no shuffle. */
    dnn_rng_permutation(perm, 1000, 7, 0);
    int fixed = 0;
    for (uint64_t i = 0; i < 1000; i++)
        fixed += perm[i] == i;
    CU_ASSERT(fixed < 10); /* expected 1, Poisson(1): P(>= 10) ~ 1e-7 */
    free(perm);
}

/* Same (seed, epoch) -> same permutation; another epoch or seed -> another one. */
static void test_rng_permutation_keyed(void)
{
    enum { M = 1000 };
    static uint64_t p[M], q[M];
    dnn_rng_permutation(p, M, 1, 5);
    dnn_rng_permutation(q, M, 1, 5);
    CU_ASSERT(memcmp(p, q, sizeof p) == 0);
    dnn_rng_permutation(q, M, 1, 6);
    CU_ASSERT(memcmp(p, q, sizeof p) != 0);
    dnn_rng_permutation(q, M, 2, 5);
    CU_ASSERT(memcmp(p, q, sizeof p) != 0);
    dnn_rng_permutation(q, M, 0, 0);
    CU_ASSERT(memcmp(p, q, sizeof p) != 0);
}

/*
 * All 6 orders of 3 elements are equally likely over 60000 epochs: each count
 * is Binomial(60000, 1/6), mean 10000, sd 91.3; tolerance 600 (6.6 sd).
 */
static void test_rng_permutation_uniform(void)
{
    int count[6] = {0};
    uint64_t p[3];
    for (uint64_t epoch = 0; epoch < 60000; epoch++) {
        dnn_rng_permutation(p, 3, 11, epoch);
        /* Lehmer code of p as an index in 0..5 */
        int code = (int)p[0] * 2 + (p[1] > p[2]);
        count[code]++;
    }
    for (int i = 0; i < 6; i++)
        CU_ASSERT(abs(count[i] - 10000) <= 600);
}

int main(void)
{
    static const dnn_test_t tests[] = {
        {"test_rng_mt19937_reference", test_rng_mt19937_reference},
        {"test_rng_numpy_seed1_normals", test_rng_numpy_seed1_normals},
        {"test_rng_numpy_seed0_exact", test_rng_numpy_seed0_exact},
        {"test_rng_numpy_gauss_cache", test_rng_numpy_gauss_cache},
        {"test_rng_uniform_range", test_rng_uniform_range},
        {"test_rng_default_normal_moments", test_rng_default_normal_moments},
        {"test_rng_permutation_valid", test_rng_permutation_valid},
        {"test_rng_permutation_keyed", test_rng_permutation_keyed},
        {"test_rng_permutation_uniform", test_rng_permutation_uniform},
    };
    return dnn_test_run("test_rng", NULL, NULL, tests, sizeof tests / sizeof tests[0]);
}
