/*
 * model_bf16.h - the --precision bf16 hooks of model.c's float code
 * (README, Data-parallel training and determinism: --precision bf16).
 * Private to src/: model.c and model_bf16.c.
 *
 * Each hook does nothing unless the model runs in bf16 and the layer it
 * concerns was chosen at set-up (all its sides >= DNN_BF16_MIN).  A hook that
 * returns int returns 1 when it did the work in bf16 (the float code then
 * skips its own), 0 otherwise.
 */
#ifndef DNN_MODEL_BF16_H
#define DNN_MODEL_BF16_H

#include <stddef.h>

#include "dnn/model.h"

/* Buffers, the choice of layers and the primitives, at set-up; frees the model on failure. */
int dnn_bf16_init(dnn_model_t *m, char *msg);
/* Start of a pass: W's copy up to date, and the bf16 X that layer 1 reads. */
void dnn_bf16_begin(dnn_model_t *m, const void *X, size_t cols);
/* Z[l] = W[l] A[l-1] from the bf16 copies. */
int dnn_bf16_forward(dnn_model_t *m, int l, void *A, size_t cols);
/* Hidden layer l's activation, writing layer l+1's bf16 input (not with dropout). */
int dnn_bf16_act_forward(dnn_model_t *m, int l, void *A, size_t cols, int drop);
/* Layer l+1's bf16 input from the dropped copy of A[l]. */
void dnn_bf16_after_dropout(dnn_model_t *m, int l, size_t cols);
/* dZ[L]'s bf16 copy, from the loss. */
void dnn_bf16_dz(dnn_model_t *m, int l, const void *dZ, size_t cols);
/* dW[l] (= beta dW[l] + the product) from the bf16 copies. */
int dnn_bf16_dw(dnn_model_t *m, int l, float beta, size_t cols);
/* dA[l-1] = W[l]^T dZ[l] from the bf16 copies. */
int dnn_bf16_da(dnn_model_t *m, int l, void *dA, size_t cols);
/* dZ[l] = dA[l] g'(Z[l]) and db[l], writing dZ[l]'s bf16 copy. */
int dnn_bf16_act_backward(dnn_model_t *m, int l, void *dZ, size_t cols, int overwrite);

#endif
