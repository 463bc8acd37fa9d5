/*
 * activation.c - hidden-layer activations, written once for float and double.
 *
 * The file includes itself twice (real = float, then double) so that every
 * kernel has one source for both precisions (README, Data-parallel training and determinism).
 */
#ifndef DNN_TMPL
#include "dnn/activation.h"

#include <math.h>
#include <string.h>

#include "dnn/common.h"

static const char *const names[] = {"sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax"};

const char *dnn_act_name(dnn_act_t a)
{
    return (unsigned)a < sizeof names / sizeof names[0] ? names[a] : "?";
}

int dnn_act_parse(const char *s, dnn_act_t *a)
{
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0) {
            *a = (dnn_act_t)i;
            return 0;
        }
    return DNN_EINVAL;
}

#define DNN_TMPL
#define real float
#define SUF(f) f##_s
#define EXP expf
#define TANH tanhf
#include __FILE__
#undef real
#undef SUF
#undef EXP
#undef TANH
#define real double
#define SUF(f) f##_d
#define EXP exp
#define TANH tanh
#include __FILE__

#else /* DNN_TMPL: generic kernels */

void SUF(dnn_act_forward)(real *A, const real *b, size_t n, size_t cols, dnn_act_t act, real slope)
{
    for (size_t j = 0; j < cols; j++) {
        real *a = A + j * n;
        switch (act) {
        case DNN_ACT_SIGMOID:
            for (size_t i = 0; i < n; i++)
                a[i] = (real)1 / ((real)1 + EXP(-(a[i] + b[i])));
            break;
        case DNN_ACT_TANH:
            for (size_t i = 0; i < n; i++)
                a[i] = TANH(a[i] + b[i]);
            break;
        case DNN_ACT_RELU:
            for (size_t i = 0; i < n; i++) {
                real z = a[i] + b[i];
                a[i] = z > 0 ? z : 0;
            }
            break;
        case DNN_ACT_LEAKY_RELU:
            for (size_t i = 0; i < n; i++) {
                real z = a[i] + b[i];
                a[i] = z > 0 ? z : slope * z;
            }
            break;
        default: /* linear (softmax is an output and handled by loss.c) */
            for (size_t i = 0; i < n; i++)
                a[i] += b[i];
            break;
        }
    }
}

void SUF(dnn_act_backward)(real *dZ, const real *A, real *db, size_t n, size_t cols, dnn_act_t act,
                           real slope, int overwrite)
{
    if (overwrite)
        for (size_t i = 0; i < n; i++)
            db[i] = 0;
    for (size_t j = 0; j < cols; j++) {
        real *dz = dZ + j * n;
        const real *a = A + j * n;
        switch (act) {
        case DNN_ACT_SIGMOID:
            for (size_t i = 0; i < n; i++)
                dz[i] *= a[i] * ((real)1 - a[i]);
            break;
        case DNN_ACT_TANH:
            for (size_t i = 0; i < n; i++)
                dz[i] *= (real)1 - a[i] * a[i];
            break;
        case DNN_ACT_RELU:
            for (size_t i = 0; i < n; i++)
                dz[i] = a[i] > 0 ? dz[i] : 0;
            break;
        case DNN_ACT_LEAKY_RELU:
            for (size_t i = 0; i < n; i++)
                dz[i] = a[i] > 0 ? dz[i] : slope * dz[i];
            break;
        default:
            break;
        }
        for (size_t i = 0; i < n; i++)
            db[i] += dz[i];
    }
}

#endif
