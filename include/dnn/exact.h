/*
 * exact.h - order-independent sums of float64 values as 64-bit fixed point
 * (DESIGN §5): used by --deterministic and by the --standardize statistics.
 *
 * A value x with |x| < 2^38 is split into two int64 parts,
 *   hi = trunc(x 2^24),  lo = trunc((x 2^24 - hi) 2^40),
 * i.e. x truncated toward zero to a multiple of 2^-64.  Parts add as exact
 * integers (associative: the result does not depend on the order or on how
 * the values are spread over ranks), and the sum's value is
 *   hi 2^-24 + lo 2^-64,
 * rounded once to float64 (both conversions are exact while |hi|, |lo| < 2^53,
 * i.e. for fewer than 2^13 terms of magnitude below 2^38).
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

/* The value of a sum. */
static inline double dnn_exact_value(int64_t hi, int64_t lo)
{
    return (double)hi * 0x1p-24 + (double)lo * 0x1p-64;
}

/*
 * Add n values of x (float when es = 4, double when es = 8) element-wise into
 * hi[0..n) and lo[0..n).  Returns 0, or -1 when some value was out of range.
 */
int dnn_exact_accumulate(int64_t *hi, int64_t *lo, const void *x, size_t n, size_t es);

#endif
