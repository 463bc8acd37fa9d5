/*
 * loss.h - output layer and loss, fused: bias add, output activation, the loss
 * sum, dZ[L] = A[L] - Y and the count of correct predictions in one pass.
 *
 * Pairs (README, The course's models, as dnn-train command lines): sigmoid + binary cross-entropy, softmax + categorical
 * cross-entropy (Y holds class ids, one row), linear + squared error / 2.
 * The loss is computed from Z, never from log(A), so saturated outputs give a
 * finite cost: BCE = max(z,0) - y z + log1p(exp(-|z|)), CE = logsumexp(z) - z_y.
 * Sums, not means: the caller divides by the global m.
 */
#ifndef DNN_LOSS_H
#define DNN_LOSS_H

#include <stddef.h>

#include "dnn/activation.h"

typedef enum { DNN_LOSS_BCE = 0, DNN_LOSS_CE, DNN_LOSS_MSE } dnn_loss_t;

/* The loss paired with an output activation (sigmoid, softmax, linear). */
dnn_loss_t dnn_loss_for(dnn_act_t output);
const char *dnn_loss_name(dnn_loss_t l);

/*
 * A (n x cols) holds W[L] A[L-1] on entry and A[L] on return.  b: (n).
 * Y: (n x cols) targets, or (1 x cols) class ids for softmax; NULL for
 * prediction only (then dZ, loss and correct are not touched).
 * Sigmoid: an entry of Y that is NaN or negative is unlabelled (multi-task
 * outputs with missing labels): it adds nothing to the loss and its dZ is 0;
 * a column counts as right when every labelled entry is.
 * dZ (n x cols) = A - Y.  *loss += the summed loss; *correct += the number of
 * columns predicted right (threshold 0.5 / argmax; 0 for linear).
 */
void dnn_loss_output_s(float *A, float *dZ, const float *Y, const float *b, size_t n, size_t cols,
                       dnn_act_t output, double *loss, double *correct);
void dnn_loss_output_d(double *A, double *dZ, const double *Y, const double *b, size_t n,
                       size_t cols, dnn_act_t output, double *loss, double *correct);

#endif
