/*
 * exact_sum.c - driver for tests/exact/check_exact.py: sums float64 (or
 * float32) values with dnn_exact_accumulate and prints the result's bits.
 *
 * stdin, one sum per line:   d|f N X1 ... XN   (Xi: 16 hex digits, the bits of
 *                                               a float64; f: each rounded to
 *                                               float32 first, summed as float)
 * stdout, one line per sum:  BITS HI LO        (BITS: 16 hex digits of
 *                                               dnn_exact_value(HI, LO))
 *                       or:  range             (dnn_exact_accumulate said -1)
 * The values are added one at a time into one accumulator, and also as one
 * n-element vector (element-wise parts, then added as integers in reverse
 * order); the two must agree (else "order").
 */
#include "dnn/exact.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sum_line(char kind, size_t n, double *x, float *xf, int64_t *hv, int64_t *lv)
{
    int64_t hi = 0, lo = 0, hi2 = 0, lo2 = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        xf[i] = (float)x[i];
        hv[i] = lv[i] = 0;
        bad |= kind == 'f' ? dnn_exact_accumulate(&hi, &lo, &xf[i], 1, 4) : dnn_exact_accumulate(&hi, &lo, &x[i], 1, 8);
    }
    /* the vector form: element-wise parts, then added as integers in reverse order */
    int bad2 = kind == 'f' ? dnn_exact_accumulate(hv, lv, xf, n, 4) : dnn_exact_accumulate(hv, lv, x, n, 8);
    for (size_t i = n; i-- > 0;) {
        hi2 += hv[i];
        lo2 += lv[i];
    }
    if (bad || bad2) {
        printf(bad && bad2 ? "range\n" : "order\n");
        return 0;
    }
    if (hi != hi2 || lo != lo2) {
        printf("order\n");
        return 0;
    }
    double v = dnn_exact_value(hi, lo);
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    printf("%016" PRIx64 " %" PRId64 " %" PRId64 "\n", bits, hi, lo);
    return 0;
}

int main(void)
{
    char kind[2];
    size_t n;
    while (scanf("%1s %zu", kind, &n) == 2) {
        double *x = malloc((n ? n : 1) * sizeof *x);
        float *xf = malloc((n ? n : 1) * sizeof *xf);
        int64_t *hv = malloc((n ? n : 1) * sizeof *hv), *lv = malloc((n ? n : 1) * sizeof *lv);
        if (!x || !xf || !hv || !lv)
            return 2;
        for (size_t i = 0; i < n; i++) {
            uint64_t b;
            if (scanf("%" SCNx64, &b) != 1)
                return 2;
            memcpy(&x[i], &b, sizeof b);
        }
        sum_line(kind[0], n, x, xf, hv, lv);
        free(x);
        free(xf);
        free(hv);
        free(lv);
    }
    return 0;
}
