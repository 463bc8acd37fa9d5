/*
 * exact.c - element-wise fixed-point accumulation (see exact.h for the format).
 */
#include "dnn/exact.h"

int dnn_exact_accumulate(int64_t *hi, int64_t *lo, const void *x, size_t n, size_t es)
{
    int bad = 0;
    if (es == 8) {
        const double *X = x;
        for (size_t i = 0; i < n; i++)
            bad |= dnn_exact_add(&hi[i], &lo[i], X[i]);
    } else {
        const float *X = x;
        for (size_t i = 0; i < n; i++)
            bad |= dnn_exact_add(&hi[i], &lo[i], X[i]);
    }
    return bad ? -1 : 0;
}
