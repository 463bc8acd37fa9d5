/*
 * activation.h - activation functions g and their derivatives, fused with the
 * bias add (forward) and the db reduction (backward), so each is one pass.
 *
 * Derivatives are taken from A = g(Z), which the forward keeps: sigmoid'
 * = A(1-A), tanh' = 1-A^2, relu' = [A > 0], leaky' = 1 if A > 0 else slope
 * (slope >= 0, so A > 0 exactly when Z > 0; relu'(0) = 0, leaky'(0) = slope).
 */
#ifndef DNN_ACTIVATION_H
#define DNN_ACTIVATION_H

#include <stddef.h>

typedef enum {
    DNN_ACT_SIGMOID = 0,
    DNN_ACT_TANH,
    DNN_ACT_RELU,
    DNN_ACT_LEAKY_RELU,
    DNN_ACT_LINEAR,
    DNN_ACT_SOFTMAX /* output layer only */
} dnn_act_t;

/* Name as used on the command line ("relu", "leaky_relu", ...). */
const char *dnn_act_name(dnn_act_t a);

/* Parse a name; returns 0 and sets *a, or DNN_EINVAL. */
int dnn_act_parse(const char *s, dnn_act_t *a);

/* A (n x cols) holds W A[l-1] on entry; on return A = g(A + b) (b: n). */
void dnn_act_forward_s(float *A, const float *b, size_t n, size_t cols, dnn_act_t act, float slope);
void dnn_act_forward_d(double *A, const double *b, size_t n, size_t cols, dnn_act_t act, double slope);

/* dZ (n x cols) holds dA on entry; on return dZ = dA * g'(Z), computed from A;
 * db (n) += row sums of dZ, or db = row sums when overwrite is set. */
void dnn_act_backward_s(float *dZ, const float *A, float *db, size_t n, size_t cols, dnn_act_t act,
                        float slope, int overwrite);
void dnn_act_backward_d(double *dZ, const double *A, double *db, size_t n, size_t cols,
                        dnn_act_t act, double slope, int overwrite);

#endif
