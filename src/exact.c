/*
 * exact.c - element-wise fixed-point accumulation (see exact.h for the format).
 */
#include "dnn/exact.h"

int dnn_exact_accumulate(int64_t *hi, int64_t *lo, const void *x, size_t n, size_t es)
{
    return dnn_exact_accumulate_max(hi, lo, x, n, es, DNN_EXACT_MAX);
}

int dnn_exact_accumulate_max(int64_t *hi, int64_t *lo, const void *x, size_t n, size_t es, double max)
{
    int bad = 0;
    if (es == 8) {
        const double *X = x;
        for (size_t i = 0; i < n; i++)
            bad |= !(fabs(X[i]) < max) || dnn_exact_add(&hi[i], &lo[i], X[i]);
    } else {
        const float *restrict X = x;
        int64_t *restrict H = hi, *restrict Lo = lo;
        int out = 0;
        for (size_t i = 0; i < n; i++) /* a vectorized range check first ... */
            out |= !(fabs((double)X[i]) < max);
        if (out) { /* ... and the checked form (a term out of range is not added) only when it fails */
            for (size_t i = 0; i < n; i++)
                bad |= !(fabs((double)X[i]) < max) || dnn_exact_add(&hi[i], &lo[i], X[i]);
        } else { /* dnn_exact_add without its check: this loop vectorizes */
            for (size_t i = 0; i < n; i++) {
                double t = (double)X[i] * 0x1p24;
                int64_t h = (int64_t)t;
                H[i] += h;
                Lo[i] += (int64_t)((t - (double)h) * 0x1p40);
            }
        }
    }
    return bad ? -1 : 0;
}
