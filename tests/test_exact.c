/*
 * test_exact.c - CUnit suite for the fixed-point sums of exact.h / exact.c.
 *
 * References are worked out by hand from the format in exact.h: x is cut to
 * hi = trunc(x 2^24) and lo = trunc((x 2^24 - hi) 2^40), so x = 1.5 gives
 * (25165824, 0), x = 1 + 2^-50 gives (2^24, 2^14) and x = -3 2^-64 gives
 * (0, -3).  Sums are exact: 1024 terms of 2^-30 are 2^-20 exactly (a sum
 * that keeps only hi gives 0), 1e11 + 2^-40 - 1e11 is 2^-40 (float64
 * addition gives 0), and any order of the same terms gives the same parts.
 */
#include "dnn/exact.h"

#include "dnn_test.h"
#include <CUnit/Basic.h>
#include <math.h>
#include <stdint.h>

static void test_exact_parts_by_hand(void)
{
    int64_t hi = 0, lo = 0;
    CU_ASSERT_EQUAL(dnn_exact_add(&hi, &lo, 1.5), 0);
    CU_ASSERT_EQUAL(hi, 25165824);
    CU_ASSERT_EQUAL(lo, 0);
    hi = lo = 0;
    CU_ASSERT_EQUAL(dnn_exact_add(&hi, &lo, 1 + 0x1p-50), 0);
    CU_ASSERT_EQUAL(hi, (int64_t)1 << 24);
    CU_ASSERT_EQUAL(lo, (int64_t)1 << 14);
    CU_ASSERT_EQUAL(dnn_exact_value(hi, lo), 1 + 0x1p-50);
    hi = lo = 0;
    CU_ASSERT_EQUAL(dnn_exact_add(&hi, &lo, -3 * 0x1p-64), 0);
    CU_ASSERT_EQUAL(hi, 0);
    CU_ASSERT_EQUAL(lo, -3);
    CU_ASSERT_EQUAL(dnn_exact_value(hi, lo), -3 * 0x1p-64);
    hi = lo = 0; /* truncation toward zero below 2^-64 */
    CU_ASSERT_EQUAL(dnn_exact_add(&hi, &lo, -0x1p-70), 0);
    CU_ASSERT_EQUAL(hi, 0);
    CU_ASSERT_EQUAL(lo, 0);
    hi = lo = 0;
    CU_ASSERT_EQUAL(dnn_exact_add(&hi, &lo, -1.25), 0);
    CU_ASSERT_EQUAL(hi, -20971520);
    CU_ASSERT_EQUAL(lo, 0);
}

/* |x| >= 2^38, NaN and infinities are refused, of either sign, and leave the sum alone. */
static void test_exact_range(void)
{
    const double bad[] = {0x1p38, -0x1p38, 1e300, -1e300, INFINITY, -INFINITY, NAN};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int64_t hi = 7, lo = -5;
        CU_ASSERT_EQUAL(dnn_exact_add(&hi, &lo, bad[k]), -1);
        CU_ASSERT_EQUAL(hi, 7);
        CU_ASSERT_EQUAL(lo, -5);
    }
    int64_t hi = 0, lo = 0;
    double big = nextafter(0x1p38, 0);
    CU_ASSERT_EQUAL(dnn_exact_add(&hi, &lo, big), 0);
    CU_ASSERT_EQUAL(dnn_exact_add(&hi, &lo, -big), 0);
    CU_ASSERT_EQUAL(hi, 0);
    CU_ASSERT_EQUAL(lo, 0);
}

/* What float64 addition loses, the fixed-point sum keeps. */
static void test_exact_sums_exact(void)
{
    int64_t hi = 0, lo = 0;
    for (int i = 0; i < 1024; i++)
        CU_ASSERT_EQUAL_FATAL(dnn_exact_add(&hi, &lo, 0x1p-30), 0);
    CU_ASSERT_EQUAL(dnn_exact_value(hi, lo), 0x1p-20);
    hi = lo = 0;
    CU_ASSERT_EQUAL(dnn_exact_add(&hi, &lo, 1e11), 0);
    CU_ASSERT_EQUAL(dnn_exact_add(&hi, &lo, 0x1p-40), 0);
    CU_ASSERT_EQUAL(dnn_exact_add(&hi, &lo, -1e11), 0);
    CU_ASSERT_EQUAL(dnn_exact_value(hi, lo), 0x1p-40);
    CU_ASSERT_EQUAL(1e11 + 0x1p-40 - 1e11, 0.0); /* what plain addition gives */
}

/* The same terms in another order, or split in two partial sums added later, give the same parts. */
static void test_exact_order_independent(void)
{
    enum { N = 200 };
    double x[N];
    uint64_t s = 12345;
    for (int i = 0; i < N; i++) { /* magnitudes from 2^-50 to 2^30, both signs */
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = ldexp((double)(int64_t)(s >> 11) * 0x1p-52, (int)(s % 81) - 50);
    }
    int64_t h1 = 0, l1 = 0, h2 = 0, l2 = 0, h3a = 0, l3a = 0, h3b = 0, l3b = 0;
    for (int i = 0; i < N; i++)
        CU_ASSERT_EQUAL_FATAL(dnn_exact_add(&h1, &l1, x[i]), 0);
    for (int i = N - 1; i >= 0; i--)
        CU_ASSERT_EQUAL_FATAL(dnn_exact_add(&h2, &l2, x[i]), 0);
    for (int i = 0; i < N; i++) /* "two ranks": odd and even terms */
        CU_ASSERT_EQUAL_FATAL(dnn_exact_add(i % 2 ? &h3a : &h3b, i % 2 ? &l3a : &l3b, x[i]), 0);
    CU_ASSERT_EQUAL(h1, h2);
    CU_ASSERT_EQUAL(l1, l2);
    CU_ASSERT_EQUAL(h1, h3a + h3b);
    CU_ASSERT_EQUAL(l1, l3a + l3b);
    /* truncation toward zero is odd (-x gives -hi, -lo), so subtracting every term returns to 0 */
    CU_ASSERT(h1 != 0 || l1 != 0);
    for (int i = 0; i < N; i++)
        CU_ASSERT_EQUAL_FATAL(dnn_exact_add(&h1, &l1, -x[i]), 0);
    CU_ASSERT_EQUAL(h1, 0);
    CU_ASSERT_EQUAL(l1, 0);
}

/* dnn_exact_accumulate: element-wise, float and double inputs alike, -1 when a value is out of range. */
static void test_exact_accumulate(void)
{
    const float xf[4] = {0.1f, -0.2f, 3e-8f, 1000.5f};
    double xd[4];
    for (int i = 0; i < 4; i++)
        xd[i] = xf[i];
    int64_t hf[4] = {0}, lf[4] = {0}, hd[4] = {0}, ld[4] = {0};
    CU_ASSERT_EQUAL(dnn_exact_accumulate(hf, lf, xf, 4, sizeof(float)), 0);
    CU_ASSERT_EQUAL(dnn_exact_accumulate(hf, lf, xf, 4, sizeof(float)), 0);
    CU_ASSERT_EQUAL(dnn_exact_accumulate(hd, ld, xd, 4, sizeof(double)), 0);
    CU_ASSERT_EQUAL(dnn_exact_accumulate(hd, ld, xd, 4, sizeof(double)), 0);
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(hf[i], hd[i]);
        CU_ASSERT_EQUAL(lf[i], ld[i]);
        CU_ASSERT_EQUAL(dnn_exact_value(hf[i], lf[i]), 2.0 * (double)xf[i]); /* float terms are exact in 2^-64 */
    }
    const float badf[3] = {1.0f, INFINITY, 2.0f};
    int64_t hb[3] = {0}, lb[3] = {0};
    CU_ASSERT_EQUAL(dnn_exact_accumulate(hb, lb, badf, 3, sizeof(float)), -1);
    CU_ASSERT_EQUAL(dnn_exact_value(hb[0], lb[0]), 1.0); /* the good ones are still added */
    CU_ASSERT_EQUAL(dnn_exact_value(hb[2], lb[2]), 2.0);
    const double badd[2] = {NAN, -0x1p40};
    int64_t hc[2] = {0}, lc[2] = {0};
    CU_ASSERT_EQUAL(dnn_exact_accumulate(hc, lc, badd, 2, sizeof(double)), -1);
}

/* dnn_exact_limit: totals of n terms below it cannot overflow the int64 parts. */
static void test_exact_limit(void)
{
    CU_ASSERT_EQUAL(dnn_exact_limit(0), 0x1p38);
    CU_ASSERT_EQUAL(dnn_exact_limit(1), 0x1p38);
    CU_ASSERT_EQUAL(dnn_exact_limit(2), 0x1p38);
    CU_ASSERT_EQUAL(dnn_exact_limit(4), 0x1p37);
    CU_ASSERT_EQUAL(dnn_exact_limit(1000), 0x1p39 / 1000);
    /* three terms just below 2^38 would overflow hi (3 (2^38 - 1) 2^24 > 2^63): refused for n = 3 */
    double big = 0x1p38 - 1, lim = dnn_exact_limit(3);
    int64_t hi = 0, lo = 0;
    CU_ASSERT_EQUAL(dnn_exact_accumulate_max(&hi, &lo, &big, 1, sizeof(double), lim), -1);
    CU_ASSERT_EQUAL(hi, 0);
    float bigf = 0x1p37f;
    CU_ASSERT_EQUAL(dnn_exact_accumulate_max(&hi, &lo, &bigf, 1, sizeof(float), lim), 0);
    CU_ASSERT_EQUAL(dnn_exact_accumulate_max(&hi, &lo, &bigf, 1, sizeof(float), 0x1p36), -1);
    /* the largest allowed terms, n of them, sum exactly (no wrap-around) */
    double x = nextafter(lim, 0);
    hi = lo = 0;
    for (int k = 0; k < 3; k++)
        CU_ASSERT_EQUAL_FATAL(dnn_exact_accumulate_max(&hi, &lo, &x, 1, sizeof(double), lim), 0);
    CU_ASSERT(hi > 0);
    CU_ASSERT_EQUAL(dnn_exact_value(hi, lo), 3 * x);
    /* a term exactly at the bound is refused and not added, in float and double,
     * alone and among terms in range (the float path checks a whole range first) */
    float at[5] = {1.0f, -2.0f, 0x1p36f, 3.0f, -0x1p36f};
    double atd[2] = {0.5, -0x1p36};
    int64_t h5[5] = {0}, l5[5] = {0}, h2[2] = {0}, l2[2] = {0};
    CU_ASSERT_EQUAL(dnn_exact_accumulate_max(h5, l5, at, 5, sizeof(float), 0x1p36), -1);
    CU_ASSERT(h5[2] == 0 && l5[2] == 0 && h5[4] == 0 && l5[4] == 0);
    CU_ASSERT_EQUAL(dnn_exact_value(h5[1], l5[1]), -2.0);
    CU_ASSERT_EQUAL(dnn_exact_accumulate_max(h2, l2, atd, 2, sizeof(double), 0x1p36), -1);
    CU_ASSERT(h2[1] == 0 && l2[1] == 0);
    CU_ASSERT_EQUAL(dnn_exact_value(h2[0], l2[0]), 0.5);
}

/* Sums beyond 2^29 (|hi| >= 2^53) are still rounded once: against the 128-bit
 * total of the terms truncated to multiples of 2^-64, converted once. */
static void test_exact_value_rounds_once(void)
{
    uint64_t s = 12345;
    int wrong = 0;
    for (int t = 0; t < 20000; t++) {
        double x[2];
        __int128 want = 0;
        int64_t hi = 0, lo = 0;
        for (int k = 0; k < 2; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            double u = (double)(s >> 11) * 0x1p-53;
            x[k] = k == 0 ? (u - 0.5) * ldexp(1.0, 28 + (int)(s % 9)) : (u - 0.5) * 1e-6;
            want += (__int128)(x[k] * 0x1p64); /* truncates toward zero, as the format does */
            CU_ASSERT_EQUAL_FATAL(dnn_exact_add(&hi, &lo, x[k]), 0);
        }
        wrong += dnn_exact_value(hi, lo) != (double)want * 0x1p-64;
    }
    CU_ASSERT_EQUAL(wrong, 0);
    /* the case that double rounding got wrong */
    int64_t hi = 0, lo = 0;
    dnn_exact_add(&hi, &lo, -669857095.5958618);
    dnn_exact_add(&hi, &lo, -2.1126e-7);
    __int128 w = (__int128)(-669857095.5958618 * 0x1p64) + (__int128)(-2.1126e-7 * 0x1p64);
    CU_ASSERT_EQUAL(dnn_exact_value(hi, lo), (double)w * 0x1p-64);
}

int main(void)
{
    static const dnn_test_t tests[] = {
        DNN_TEST(test_exact_parts_by_hand),
        DNN_TEST(test_exact_range),
        DNN_TEST(test_exact_sums_exact),
        DNN_TEST(test_exact_order_independent),
        DNN_TEST(test_exact_accumulate),
        DNN_TEST(test_exact_limit),
        DNN_TEST(test_exact_value_rounds_once),
    };
    return dnn_test_run("test_exact", NULL, NULL, tests, sizeof tests / sizeof tests[0]);
}
