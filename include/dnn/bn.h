/*
 * bn.h - batch normalization of the hidden layers (README, "Batch
 * normalization"; course 2, week 3).
 *
 * On hidden layer l (never the output layer), in a training pass over the
 * step's batch of m examples (all ranks):
 *   mu = (1/m) sum z,  var = (1/m) sum (z - mu)^2   (two passes),
 *   z_norm = (z - mu) / sqrt(var + eps),  z~ = gamma z_norm + beta,  A = g(z~);
 * backward, per unit: dbeta = sum dz~, dgamma = sum dz~ z_norm,
 *   dz = gamma / (m sqrt(var + eps)) (m dz~ - dbeta - z_norm dgamma).
 * b[l] is dropped on these layers: its slot holds beta[l].  gamma[l] follows
 * bL in the parameter buffer (slots [nparams_core, nparams)), so the
 * optimizers, clipping and the gradient reduction cover gamma and beta like
 * b (no L2, no weight decay).  gamma starts at 1, beta at 0.
 * Running mean and var (biased) start at 0 and 1 and, after each training
 * step, running = momentum running + (1 - momentum) batch.  Evaluation and
 * prediction (dnn_model_forward/evaluate, dnn_net_predict) normalize with
 * them.
 *
 * A training pass (dnn_model_backward / dnn_model_step_loss on a model with
 * bn set) holds the activations of all its columns (the model's bmax is the
 * step's local batch) and goes layer by layer.  The statistics and dbeta,
 * dgamma are sums over the step's GROUPS (runs of columns, e.g. one global
 * chunk each) and over the ranks, taken through a plan: each group's partial
 * sums (in double) go to plan->add, and plan->total returns the sums over all
 * groups of all ranks (a caller adding them as exact fixed point gets results
 * independent of how the groups are spread over ranks).  Every product is
 * taken per group too, so a column's values do not depend on its neighbours.
 * With plan->absorb set, each group's gradient sums are handed over slice by
 * slice (grads[lo, hi) hold that group's sums; absorb takes them and must
 * leave zeros); without it they accumulate in grads.  Without a plan the
 * pass is one group and local (e.g. the gradient check).
 * Nothing here allocates after dnn_bn_init.
 */
#ifndef DNN_BN_H
#define DNN_BN_H

#include <stddef.h>

#include "dnn/model.h"

#define DNN_BN_MOMENTUM 0.9
#define DNN_BN_EPSILON 1e-5

typedef struct dnn_bn_plan {
    const size_t *ends; /* (ngroups) column where each group ends; the last is the pass's cols */
    size_t ngroups;
    double m;           /* examples in the step over all ranks */
    void (*add)(void *ctx, const double *part, size_t n);
    void (*total)(void *ctx, double *out, size_t n);
    void (*absorb)(void *ctx, size_t lo, size_t hi); /* may be NULL */
    void *ctx;
} dnn_bn_plan_t;

/*
 * Check the options: momentum in [0, 1), epsilon > 0 and finite, at least
 * one hidden layer.  Returns 0 or DNN_EINVAL with a message naming the option.
 */
int dnn_bn_check(double momentum, double epsilon, int hidden_layers, char *msg);

/*
 * Turn batch normalization on for a model fresh from dnn_model_init (before
 * its parameters are initialized or read): gamma slots, running statistics,
 * buffers for bmax columns.  On --precision bf16 every product runs in
 * float32 (the bf16 copies are turned off).  Returns 0, DNN_EINVAL or
 * DNN_ENOMEM (the model is then freed).
 */
int dnn_bn_init(dnn_model_t *m, double momentum, double epsilon, char *msg);

/* gamma = 1, beta = 0, running mean 0, running var 1 (no-op without bn). */
void dnn_bn_reset(dnn_model_t *m);

/* Element pointers (float* or double* by m->prec): gamma[l], beta[l] (in
 * params), running mean[l] and var[l]; l = 1..L-1. */
void *dnn_bn_gamma(const dnn_model_t *m, int l);
void *dnn_bn_beta(const dnn_model_t *m, int l);
void *dnn_bn_mean(const dnn_model_t *m, int l);
void *dnn_bn_var(const dnn_model_t *m, int l);

/* The plan of the next training passes (NULL: one local group). */
void dnn_bn_set_plan(dnn_model_t *m, const dnn_bn_plan_t *plan);

/* running = momentum running + (1 - momentum) batch, with the statistics of
 * the last training pass (after each training step; no-op without bn). */
void dnn_bn_update_running(dnn_model_t *m);

/* Inference on hidden layer l: Z (n[l], cols) becomes gamma (Z - mean) /
 * sqrt(var + eps) with the running statistics; the caller adds beta (b[l]'s
 * slot) in its activation pass. */
void dnn_bn_infer_s(const dnn_model_t *m, int l, float *Z, size_t cols);
void dnn_bn_infer_d(const dnn_model_t *m, int l, double *Z, size_t cols);

/* The training passes behind dnn_model_backward and dnn_model_step_loss when bn is on. */
void dnn_bn_backward(dnn_model_t *m, const void *X, const void *Y, size_t cols, int overwrite);
void dnn_bn_step_loss(dnn_model_t *m, const void *X, const void *Y, size_t cols, double *loss, double *correct);

#endif
