/*
 * exact.h - order-independent sums of float64 values as 64-bit fixed point
 * (README, Data-parallel training and determinism): used by --deterministic and by the --standardize statistics.
 *
 * A value x with |x| < 2^38 is split into two int64 parts,
 *   hi = trunc(x 2^24),  lo = trunc((x 2^24 - hi) 2^40),
 * i.e. x truncated toward zero to a multiple of 2^-64.  Parts add as exact
 * integers (associative: the result does not depend on the order or on how
 * the values are spread over ranks), and the sum's value is
 *   hi 2^-24 + lo 2^-64,
 * rounded once to float64 (dnn_exact_value).
 * The parts must not overflow: a sum of n terms stays exact while every term
 * is below dnn_exact_limit(n) = min(2^38, 2^39 / n) (then |hi| < 2^63) and
 * n < 2^23 (then |lo| < 2^63).  Callers that add many terms (one per global
 * chunk) pass that limit to dnn_exact_accumulate_max and treat a term beyond
 * it like a non-finite one.
 */
#ifndef DNN_EXACT_H
#define DNN_EXACT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define DNN_EXACT_MAX 0x1p38 /* |x| bound of one term */

/* Add x to (hi, lo); returns 0, or -1 when |x| >= 2^38 or x is not finite. */
static inline int dnn_exact_add(int64_t *hi, int64_t *lo, double x)
{
    if (!(fabs(x) < DNN_EXACT_MAX))
        return -1;
    double t = x * 0x1p24;
    int64_t h = (int64_t)t;
    *hi += h;
    *lo += (int64_t)((t - (double)h) * 0x1p40);
    return 0;
}

/* The value of a sum, rounded once: while |hi| < 2^53 both conversions are
 * exact and only the addition rounds; beyond, the 128-bit integer
 * hi 2^40 + lo (in units of 2^-64) is converted, which rounds once. */
static inline double dnn_exact_value(int64_t hi, int64_t lo)
{
    if (hi > -((int64_t)1 << 53) && hi < ((int64_t)1 << 53) && lo > -((int64_t)1 << 53) && lo < ((int64_t)1 << 53))
        return (double)hi * 0x1p-24 + (double)lo * 0x1p-64;
    return (double)((__int128)hi * ((__int128)1 << 40) + lo) * 0x1p-64;
}

/* The largest term magnitude for which a sum of n terms cannot overflow. */
static inline double dnn_exact_limit(uint64_t n)
{
    double m = n > 1 ? 0x1p39 / (double)n : DNN_EXACT_MAX;
    return m < DNN_EXACT_MAX ? m : DNN_EXACT_MAX;
}

/*
 * Add n values of x (float when es = 4, double when es = 8) element-wise into
 * hi[0..n) and lo[0..n).  Returns 0, or -1 when some value was out of range.
 */
int dnn_exact_accumulate(int64_t *hi, int64_t *lo, const void *x, size_t n, size_t es);

/* The same with terms bounded by max (<= 2^38, e.g. dnn_exact_limit(terms)):
 * returns -1 when some |x| >= max (that term is not added). */
int dnn_exact_accumulate_max(int64_t *hi, int64_t *lo, const void *x, size_t n, size_t es, double max);

#endif
