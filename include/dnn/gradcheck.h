/*
 * gradcheck.h - gradient checking (README, Course 2: optimizers, regularization, schedules, dev sets, course 2 week 1): backprop
 * against central differences, in double precision.
 *
 * For parameters theta (W1 b1 ... WL bL, the model's layout) and the cost
 *   J(theta) = (1/m) sum_j loss_j + (lambda / 2m) sum_l ||W[l]||_F^2
 * over m examples, gradapprox_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)
 * with eps = 1e-7, and the course's
 *   difference = ||grad - gradapprox||_2 / (||grad||_2 + ||gradapprox||_2)
 * over the checked parameters (all of them, or a seeded sample of 2000).
 * The check passes when difference < 1e-7.  With dropout, every J uses the
 * same masks (the keys are held fixed), so J is a smooth function of theta.
 */
#ifndef DNN_GRADCHECK_H
#define DNN_GRADCHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dnn/cli.h"
#include "dnn/model.h"

#define DNN_GRADCHECK_EXAMPLES 64   /* at most this many examples: the first ones */
#define DNN_GRADCHECK_SAMPLE 2000   /* parameters checked when there are more */
#define DNN_GRADCHECK_EPSILON 1e-7
#define DNN_GRADCHECK_THRESHOLD 1e-7
#define DNN_GRADCHECK_WIDE_EPSILON 1e-5 /* the diagnostic of a failed check */

typedef struct {
    size_t nparams;     /* P */
    size_t checked;     /* parameters compared */
    size_t examples;    /* m */
    double difference;  /* NaN when both gradients are exactly zero: nothing was checked */
    double grad_norm, approx_norm;
    size_t worst;       /* parameter index (into the P) with the largest |grad - gradapprox| */
    double worst_grad, worst_approx;
    /* When the check failed: the difference again with epsilon 1e-5 (else NaN).  Rounding
     * in J contributes ~u|J|/eps to each gradapprox, so in a large network it alone can
     * reach 1e-7 at eps = 1e-7; it is 100x smaller at 1e-5, a backprop mistake is not. */
    double difference_wide;
} dnn_gradcheck_result_t;

/*
 * The course's difference of two gradient vectors of n entries; NaN when
 * both are zero (an all-zero gradient proves nothing).  *worst (may be NULL)
 * = the entry with the largest |grad - approx|.
 */
double dnn_gradcheck_difference(const double *grad, const double *approx, size_t n, size_t *worst);

/* 1 when difference < DNN_GRADCHECK_THRESHOLD (NaN fails), else 0. */
int dnn_gradcheck_passed(double difference);

/*
 * Check a double-precision model on X (n[0], m) and Y with L2 strength l2
 * (0 = none) at its current parameters: at most max_params parameters,
 * chosen by a seeded sample when P is larger (seed).  Dropout, if set on the
 * model, uses the keys last given to dnn_model_set_columns for every pass.
 * The parameters are restored exactly.  Returns 0 (the outcome is in *res),
 * DNN_EINVAL (not double, m > bmax) or DNN_ENOMEM.
 */
int dnn_gradcheck_model(dnn_model_t *m, const double *X, const double *Y, size_t cols, double l2, size_t max_params,
                        uint64_t seed, dnn_gradcheck_result_t *res, char *msg);

/*
 * The two sides for parameters idx[0..k) of a double model on X, Y (cols
 * examples), L2 strength l2: grad[t] = dJ/dtheta from one dnn_model_backward,
 * approx[t] = (J(theta + eps e) - J(theta - eps e)) / (2 eps) from
 * dnn_model_step_loss (parameters restored exactly).  Dropout keys: as set.
 */
void dnn_gradcheck_backprop(dnn_model_t *m, const double *X, const double *Y, size_t cols, double l2,
                            const size_t *idx, size_t k, double *grad);
void dnn_gradcheck_numeric(dnn_model_t *m, const double *X, const double *Y, size_t cols, double l2,
                           const size_t *idx, size_t k, double eps, double *approx);

/* "dW2[3][0]" or "db1[4]" for parameter index i of the model's layout. */
void dnn_gradcheck_param_name(const dnn_model_t *m, size_t i, char *buf, size_t len);

/*
 * dnn-train --gradient-check: the network of *o (layers, activations,
 * output, init, seed, keep-prob, l2) on the first <= 64 examples of --data
 * (scaled, thresholded and standardized as configured; the statistics of
 * --standardize are those of the checked examples), in double whatever
 * --precision says, dropout masks of step 0.  Prints what was checked and
 * `difference = ...` to out (NULL: silent).  Returns 0 when the check
 * passed, 1 when it failed, or a negative DNN_E* code with msg set.
 */
int dnn_gradcheck_run(const dnn_options_t *o, FILE *out, char *msg);

#endif
