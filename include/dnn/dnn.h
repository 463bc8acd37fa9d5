/*
 * dnn.h - the inference API (README, Installing): load a dnn-train checkpoint and
 * apply it to raw features from any C program, with or without MPI.
 *
 *   dnn_net_t *net;  char msg[DNN_MSG_LEN];
 *   if (dnn_net_load(&net, "model.h5", msg)) { fprintf(stderr, "%s\n", msg); ... }
 *   dnn_net_predict(net, X, m, P, msg);    X: (m, n_x), P: (m, n[L]), both row-major
 *   dnn_net_free(net);
 *
 * A loaded net is read-only: any number of threads may call dnn_net_predict
 * on the same net at once (each call works in its own scratch memory).  No
 * function here calls MPI, so a program that never calls MPI_Init may use
 * them.  Functions return 0 or a negative DNN_E* code (dnn/common.h) and then
 * leave a one-line message in msg (DNN_MSG_LEN bytes; msg may be NULL).
 * Link with the dnn CMake package (dnn::dnn) or `pkg-config --libs dnn`.
 */
#ifndef DNN_DNN_H
#define DNN_DNN_H

#include <stddef.h>

#include "dnn/common.h" /* DNN_MSG_LEN, DNN_E* codes */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dnn_net dnn_net_t; /* opaque */

/* Load the checkpoint at path (parameters, activations and the stored input
 * preprocessing: scale, or mean and std).  On success *net is a new net (free
 * with dnn_net_free); on failure *net is NULL.  Returns 0, DNN_EIO, DNN_EDATA,
 * DNN_ENOMEM or DNN_EINVAL. */
int dnn_net_load(dnn_net_t **net, const char *checkpoint, char *msg); /* msg: DNN_MSG_LEN bytes */

size_t dnn_net_inputs(const dnn_net_t *net);  /* n_x */
size_t dnn_net_outputs(const dnn_net_t *net); /* n[L] */

/* X: (m, n_x) row-major raw features (the stored preprocessing is applied);
 * P: (m, n[L]) probabilities (sigmoid/softmax) or outputs (linear). No MPI needed.
 * The forward pass runs in the checkpoint's precision (single or double); a
 * --batch-norm checkpoint normalizes with its running mean and var.
 * Returns 0, DNN_EINVAL (NULL argument, non-finite X value), or DNN_ENOMEM. */
int dnn_net_predict(const dnn_net_t *net, const double *X, size_t m, double *P, char *msg);

void dnn_net_free(dnn_net_t *net); /* accepts NULL */

#ifdef __cplusplus
}
#endif

#endif
