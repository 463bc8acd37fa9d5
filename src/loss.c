/*
 * loss.c - output activation + loss + dZ[L] in one pass (see loss.h for the
 * formulas).  Written once for float and double by self-inclusion.
 */
#ifndef DNN_TMPL
#include "dnn/loss.h"

#include <math.h>

dnn_loss_t dnn_loss_for(dnn_act_t output)
{
    return output == DNN_ACT_SOFTMAX ? DNN_LOSS_CE
           : output == DNN_ACT_LINEAR ? DNN_LOSS_MSE
                                      : DNN_LOSS_BCE;
}

const char *dnn_loss_name(dnn_loss_t l)
{
    return l == DNN_LOSS_CE ? "categorical_cross_entropy"
           : l == DNN_LOSS_MSE ? "mean_squared_error"
                               : "binary_cross_entropy";
}

#define DNN_TMPL_FILE "loss.c"
#include "template.h"

#else /* DNN_TMPL */

void SUF(dnn_loss_output)(real *A, real *dZ, const real *Y, const real *b, size_t n, size_t cols,
                          dnn_act_t output, double *loss, double *correct)
{
    long double lsum = 0; /* one rounding for the block's sum: --gradient-check needs J to ~1e-16 */
    double good = 0;
    for (size_t j = 0; j < cols; j++) {
        real *a = A + j * n;
        real *dz = dZ ? dZ + j * n : NULL;
        if (output == DNN_ACT_SOFTMAX) {
            double zmax = -INFINITY, s = 0;
            size_t arg = 0;
            for (size_t i = 0; i < n; i++) {
                double z = (double)a[i] + (double)b[i];
                if (z > zmax) {
                    zmax = z;
                    arg = i;
                }
            }
            for (size_t i = 0; i < n; i++)
                s += exp((double)a[i] + (double)b[i] - zmax);
            /* shifted by zmax: a_i = exp(z_i - zmax) / s, CE = log s - (z_y - zmax); exact even
             * when |zmax| is so large that zmax + log s would round log s away */
            double ls = log(s);
            if (Y) {
                size_t y = (size_t)Y[j];
                lsum += ls - ((double)a[y] + (double)b[y] - zmax);
                good += arg == y;
            }
            for (size_t i = 0; i < n; i++) {
                a[i] = (real)(exp((double)a[i] + (double)b[i] - zmax) / s);
                if (Y)
                    dz[i] = a[i] - (real)(i == (size_t)Y[j]);
            }
        } else if (output == DNN_ACT_SIGMOID) {
            int all = 1, labelled = 0;
            for (size_t i = 0; i < n; i++) {
                real z = a[i] + b[i];
                a[i] = (real)1 / ((real)1 + exp(-(double)z));
                if (Y) {
                    double y = Y[j * n + i], zd = z;
                    if (!(y >= 0)) { /* unlabelled (NaN or negative): adds nothing (README, Multi-task outputs) */
                        dz[i] = 0;
                        continue;
                    }
                    lsum += (zd > 0 ? zd : 0) - y * zd + log1p(exp(-fabs(zd)));
                    dz[i] = a[i] - Y[j * n + i];
                    all &= (a[i] > (real)0.5) == (Y[j * n + i] > (real)0.5);
                    labelled = 1;
                }
            }
            good += all && labelled; /* an example with no labelled entry is not counted */
        } else { /* linear + squared error */
            for (size_t i = 0; i < n; i++) {
                a[i] += b[i];
                if (Y) {
                    real d = a[i] - Y[j * n + i];
                    lsum += 0.5 * (double)d * (double)d;
                    dz[i] = d;
                }
            }
        }
    }
    if (Y) {
        *loss += (double)lsum;
        *correct += good;
    }
}

#endif
