/*
 * model.h - the L-layer network: one parameter buffer, forward and backward.
 *
 * Layer l = 1..L has n[l] units; n[0] = n_x.  Parameters live in ONE buffer,
 * laid out W1 b1 W2 b2 ... WL bL; W[l] is (n[l], n[l-1]) row-major (numpy's
 * C order, the checkpoint's layout), b[l] is (n[l], 1).  Gradients use the same
 * layout in a second buffer, followed by DNN_GRAD_EXTRA slots (loss sum,
 * correct count, stop flag), so one allreduce carries everything a step needs.
 *
 * Activations are held for one block of at most bmax examples (columns).
 * A step runs dnn_model_backward on each block of its examples; the gradient
 * SUMS accumulate, and the caller divides by the global m (README, Data-parallel training and determinism).
 * Nothing here allocates after dnn_model_init.
 *
 * Dropout (README, Course 2: optimizers, regularization, schedules, dev sets, inverted, the course's keep_prob) acts in
 * dnn_model_backward only, on the hidden layers l = 1..L-1: D[l] = (U <
 * keep_prob) with U from the counter-based generator (rng.h) keyed by (seed,
 * step k, layer l, global example g, unit i), A[l] * D[l] / keep_prob feeds
 * layer l+1 and dA[l] = dA[l] * D[l] / keep_prob.  A column's mask depends
 * only on its key, never on the block it is processed in.  acts keeps A[l]
 * before dropout (g'(Z) is computed from it); dropped holds the dropped copy.
 *
 * With batch normalization (bn.h, set up by dnn_bn_init after dnn_model_init)
 * the buffer grows by gamma[l] of the hidden layers after bL, b[l]'s slot
 * holds beta[l], dnn_model_backward and dnn_model_step_loss run bn.c's
 * training passes over all their columns at once (batch statistics), and
 * dnn_model_forward / dnn_model_evaluate normalize with the running
 * statistics.
 */
#ifndef DNN_MODEL_H
#define DNN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/activation.h"
#include "dnn/common.h"
#include "dnn/loss.h"
#include "dnn/rng.h"

#define DNN_MAX_LAYERS 64
#define DNN_GRAD_EXTRA 3 /* grads[P] loss sum, grads[P+1] correct count, grads[P+2] stop flag */

typedef enum { DNN_INIT_ZEROS = 0, DNN_INIT_NORMAL, DNN_INIT_SQRT, DNN_INIT_HE, DNN_INIT_XAVIER } dnn_init_t;

typedef struct {
    dnn_precision_t prec;
    int L;
    size_t n[DNN_MAX_LAYERS + 1]; /* n[0] = n_x ... n[L] = n_y */
    dnn_act_t hidden, output;
    dnn_loss_t loss;
    double slope;                    /* leaky relu slope */
    size_t nparams;                  /* P = sum n[l] (n[l-1] + 1) */
    size_t off_W[DNN_MAX_LAYERS + 1]; /* element offsets into params/grads */
    size_t off_b[DNN_MAX_LAYERS + 1];
    void *params; /* (P) */
    void *grads;  /* (P + DNN_GRAD_EXTRA) */
    size_t bmax;  /* columns per block */
    void *acts;   /* A[1..L], each (n[l], bmax), back to back */
    size_t off_A[DNN_MAX_LAYERS + 1];
    void *dz[2];  /* ping-pong dZ / dA buffers, (max n[l], bmax) each */
    /* dropout: keep_prob 1 = off; keys of the next backward */
    double keep_prob;
    uint64_t drop_seed, drop_step, drop_g0;
    const uint64_t *drop_g; /* (cols) global example of each column, or NULL: g0 + j */
    void *dropped;          /* A[l] * D[l] / keep_prob for l < L, at off_A[l] like acts */
    uint8_t *mask;          /* D[l] for l < L, at off_A[l] */
    /* --precision bf16 (the bf16_* functions of model.c): bfloat16 operand
     * copies for the products of layers with bf16 set; NULL/0 otherwise */
    uint64_t bf16;         /* bit l: layer l's three products run on bf16 (n[l], n[l-1] >= DNN_BF16_MIN) */
    uint16_t *wb;          /* (P) bfloat16 copy of params (the W[l] views are read) */
    uint16_t *ab;          /* bfloat16 copies of what layers 1..L read, A[0..L-1], at off_ab[l] */
    size_t off_ab[DNN_MAX_LAYERS + 1];
    uint16_t *dzb;         /* (max n[l], bmax) bfloat16 copy of the current dZ */
    float *dbp;            /* (max n[l], 8) db of each column range of a parallel pass */
    const uint16_t *xb;    /* bf16 X given for the next pass (dnn_model_set_input_bf16), or NULL */
    const uint16_t *x0b;   /* the bf16 X of the current pass */
    int wb_stale;          /* params changed since wb was written: refresh before the next pass */
    size_t bf16_q;         /* bf16 products run on columns rounded up to a multiple of this; buffers hold that many */
    /* --batch-norm (bn.h, README "Batch normalization"): set up by dnn_bn_init; bn = 0 otherwise */
    int bn;
    double bn_momentum, bn_eps;
    size_t nparams_core;                  /* P without the gamma slots (W1 b1 ... WL bL) */
    size_t off_g[DNN_MAX_LAYERS + 1];     /* gamma[l], after bL; beta[l] is b[l]'s slot */
    size_t off_u[DNN_MAX_LAYERS + 1];     /* offsets of hidden layer l's units in the per-unit arrays */
    void *bn_run;                         /* running mean (units) then running var (units), model precision */
    double *bn_mu, *bn_var;               /* (units) the last training pass's batch statistics */
    void *bn_zn;                          /* z_norm of the hidden layers, at off_A[l] like acts */
    double *bn_part, *bn_tot;             /* (2 max n[l]) one group's sums; their totals */
    void *bn_scratch;                     /* (max n[l]) real */
    const struct dnn_bn_plan *bn_plan;    /* the step's groups and reductions, or NULL: one group, local */
} dnn_model_t;

#define DNN_BF16_MIN 16 /* a product with a smaller side (an output layer of 1) stays on sgemm */

/*
 * Set up a model with L layers of sizes n[0..L], hidden activation for layers
 * 1..L-1 and output activation (sigmoid, softmax or linear) for layer L.
 * Checks sizes (no zero, no overflow, each below INT_MAX for BLAS) and
 * allocates every buffer.  Returns 0, DNN_EINVAL or DNN_ENOMEM with msg set.
 */
int dnn_model_init(dnn_model_t *m, dnn_precision_t prec, int L, const size_t *n, dnn_act_t hidden,
                   dnn_act_t output, double slope, size_t bmax, char *msg);

/* Free all buffers; accepts NULL and a zeroed model. */
void dnn_model_free(dnn_model_t *m);

/*
 * Initialize weights layer by layer: W[l] = randn(n[l], n[l-1]) * factor in C
 * order (so DNN_RNG_NUMPY equals np.random.randn), biases 0.  zeros with a
 * hidden layer is refused (symmetry: every unit of a layer would compute the
 * same function and receive the same gradient forever).
 */
int dnn_model_init_params(dnn_model_t *m, dnn_init_t kind, double scale, dnn_rng_kind_t rk,
                          uint64_t seed, char *msg);

/* Element pointers (float* or double* by m->prec) into params. */
void *dnn_model_W(const dnn_model_t *m, int l);
void *dnn_model_b(const dnn_model_t *m, int l);

/*
 * Forward pass for cols <= bmax examples.  X: (n[0], cols) column-major in the
 * model precision.  On return dnn_model_output() holds A[L] (n[L], cols).
 * This and dnn_model_evaluate are evaluation passes: their products are
 * dnn_matrix_dot's (float32 for --precision bf16), so an example's outputs
 * are the same bits whichever examples share the call (README, Batch
 * invariance).  Training steps use the faster ?gemm / bf16 products.
 */
void dnn_model_forward(dnn_model_t *m, const void *X, size_t cols);
/* Inverted dropout of hidden layer l over cols columns, masks from the keys of
 * dnn_model_set_dropout/set_columns: D[l] written, the dropped A[l] = A[l] *
 * D[l] / keep_prob (the course's two operations; A * 1 is exact, so this is
 * one division).  Training steps only (model.c and bn.c). */
void dnn_model_dropout_forward_s(dnn_model_t *m, int l, size_t cols);
void dnn_model_dropout_forward_d(dnn_model_t *m, int l, size_t cols);

/*
 * The evaluation pass itself, on the caller's scratch (for dnn_net_predict,
 * which shares one model between threads): layer l's activations go to A[l]
 * (n[l] x cols, l = 1..L; one buffer may serve layers l and l + 2); returns
 * A[L], with the output activation applied when `output` is set.
 */
float *dnn_model_infer_s(const dnn_model_t *m, const float *X, size_t cols, float *const *A, int output);
double *dnn_model_infer_d(const dnn_model_t *m, const double *X, size_t cols, double *const *A, int output);
const void *dnn_model_output(const dnn_model_t *m);

/*
 * Forward + loss without gradients: *loss += summed loss, *correct += correct
 * predictions over cols <= bmax examples (for accuracy on train and test sets).
 */
void dnn_model_evaluate(dnn_model_t *m, const void *X, const void *Y, size_t cols, double *loss,
                        double *correct);

/*
 * The loss of a training step without its gradients: the products of
 * dnn_model_backward and its dropout (the same keys give the same masks), so
 * the cost that backward differentiates can be evaluated on its own.
 */
void dnn_model_step_loss(dnn_model_t *m, const void *X, const void *Y, size_t cols, double *loss, double *correct);

/*
 * Forward + loss + backward for cols <= bmax examples; ADDS the gradient sums
 * (dZ A^T, row sums of dZ) into m->grads, the loss sum into grads[P] and the
 * correct count into grads[P+1] -- or, with overwrite set, stores them there
 * (grads[P+2] is left alone), which saves zeroing the buffer for the first
 * block of a step.  Y: (n[L], cols) targets, or (1, cols) class ids for softmax.
 * With dropout on, the masks are those of the keys last given to
 * dnn_model_set_columns (g, when not NULL, must hold cols entries).
 */
void dnn_model_backward(dnn_model_t *m, const void *X, const void *Y, size_t cols, int overwrite);

/*
 * Gradient-ready calls, so that the reduction of finished layers overlaps the
 * rest of backward (README, Data-parallel training and determinism).  dW[l] is computed in bands of whole rows of
 * W[l] (dnn_model_bands; the cut depends only on the shape, so the result is
 * the same with or without a hook, on any rank count); fn(ctx, lo, hi) is
 * called when grads[lo..hi) are final for this block: every slot of [0, P)
 * exactly once, from the top down (bL with the last rows of WL first, W1's
 * first rows last), each range ending where the one before began, so that
 * consecutive ranges can be merged into one contiguous bucket.  fn(ctx, lo, lo) (an empty range) marks a point between two
 * products where nothing new is ready, a chance to let communication move.
 */
typedef void (*dnn_grad_ready_fn)(void *ctx, size_t lo, size_t hi);
void dnn_model_backward_ready(dnn_model_t *m, const void *X, const void *Y, size_t cols, int overwrite,
                              dnn_grad_ready_fn fn, void *ctx);

/* The same non-empty ranges, in the same order, without computing (a rank
 * that holds no example of the step must start the same reductions). */
void dnn_model_grad_ranges(const dnn_model_t *m, dnn_grad_ready_fn fn, void *ctx);

/* Bands of rows dW[l] is computed in (1 for small layers, at most DNN_MAX_BANDS). */
#define DNN_MAX_BANDS 8
int dnn_model_bands(const dnn_model_t *m, int l);

/* Inverted dropout on the hidden layers of training steps: keep_prob in (0, 1], 1 = off
 * (then dnn_model_backward is bitwise what it is without dropout). */
void dnn_model_set_dropout(dnn_model_t *m, double keep_prob, uint64_t seed);
/* Mask keys for the next dnn_model_backward: step k and the global example index of
 * each column j, g[j], or g0 + j when g is NULL. */
void dnn_model_set_columns(dnn_model_t *m, uint64_t step, const uint64_t *g, uint64_t g0);

/* params -= lr * scale * grads (scale = 1 / global m). */
void dnn_model_update(dnn_model_t *m, double lr, double scale);

/*
 * --precision bf16.  The model keeps a bfloat16 copy of W, written by
 * dnn_model_update or by dnn_model_bf16_refresh over the ranges an update
 * wrote; any other change of params (initialization, a checkpoint read, an
 * optimizer that does not refresh) must call dnn_model_params_changed, and the
 * next pass then converts all of W.  dnn_model_set_input_bf16 gives the
 * bfloat16 copy of the X of the next forward/evaluate/backward call (e.g. made
 * where X is gathered), which spares the model converting it; NULL = convert.
 * All three are no-ops for other precisions.
 */
void dnn_model_params_changed(dnn_model_t *m);
void dnn_model_bf16_refresh(dnn_model_t *m, size_t lo, size_t hi);
void dnn_model_set_input_bf16(dnn_model_t *m, const uint16_t *xb);
/* 1 when layer 1 reads X in bf16 (then the float X of a pass is not read). */
int dnn_model_bf16_input(const dnn_model_t *m);

/* Zero the P + DNN_GRAD_EXTRA gradient slots. */
void dnn_model_zero_grads(dnn_model_t *m);

/* FNV-1a hash of the parameter bytes: ranks compare it to prove they hold the same model. */
uint64_t dnn_model_params_hash(const dnn_model_t *m);

#endif
