/*
 * optim.h - the update rules of course 2 (README, Course 2: optimizers, regularization, schedules, dev sets): gradient descent,
 * momentum, RMSprop, Adam, AdamW, with L2 regularization, clipping by the
 * global gradient norm and learning-rate decay.
 *
 * Like llm.c's update, the state is one flat buffer per moment laid out
 * exactly like the parameter buffer (W1 b1 W2 b2 ... WL bL), so an update is
 * one fused loop over the P parameters and the checkpoint writes the views
 * v/dW1 ... s/dbL.  The course's names: v (first moment, momentum/adam),
 * s (second moment, rmsprop/adam), t (adam's update count, from 1).
 *
 * For each parameter w with summed gradient G over the step's global m
 * examples (scale = 1/m):
 *   g  = G scale + (lambda/m) w        (L2 on weights only, never on b)
 *   g *= clip                         (clip = min(1, C / ||g||_2 over all of dW, db))
 *   gd        w -= lr g
 *   momentum  v = b1 v + (1-b1) g;  w -= lr v
 *   rmsprop   s = b2 s + (1-b2) g^2; w -= lr g / (sqrt(s) + eps)
 *   adam      v, s as above; w -= lr (v / (1-b1^t)) / (sqrt(s / (1-b2^t)) + eps)
 *   adamw     adam, then w -= lr wd w (weights only)
 * Nothing here allocates after dnn_optim_init.
 */
#ifndef DNN_OPTIM_H
#define DNN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/common.h"
#include "dnn/model.h"

typedef enum { DNN_OPT_GD = 0, DNN_OPT_MOMENTUM, DNN_OPT_RMSPROP, DNN_OPT_ADAM, DNN_OPT_ADAMW } dnn_opt_kind_t;
typedef enum { DNN_DECAY_NONE = 0, DNN_DECAY_INVERSE, DNN_DECAY_EXPONENTIAL, DNN_DECAY_STEP, DNN_DECAY_COSINE } dnn_decay_t;

typedef struct {
    dnn_opt_kind_t kind;
    double beta1, beta2, epsilon, weight_decay;
    dnn_precision_t prec;
    size_t n;  /* P, the parameter count */
    void *v;   /* (P) first moment, momentum/adam/adamw; else NULL */
    void *s;   /* (P) second moment, rmsprop/adam/adamw; else NULL */
    int64_t t; /* updates so far (adam's t after the update is t) */
} dnn_optim_t;

/* What one update needs, computed once per step by dnn_optim_prepare. */
typedef struct {
    double lr;       /* learning rate of this step (after decay) */
    double scale;    /* 1 / the step's global example count */
    double l2m;      /* lambda / m */
    double clip;     /* 1, or C / ||g|| */
    double bc1, bc2; /* 1 - b1^t, 1 - b2^t (adam) */
} dnn_optim_step_t;

/* Names as the CLI and the checkpoint spell them ("gd", "adam", ...; "none", "cosine", ...). */
const char *dnn_optim_name(dnn_opt_kind_t kind);
const char *dnn_optim_decay_name(dnn_decay_t d);
/* Inverse of dnn_optim_name; returns -1 for an unknown name. */
int dnn_optim_kind(const char *name);

/*
 * Size the state for a model of P parameters in precision prec (zeroed).
 * Returns 0 or DNN_ENOMEM with msg set.
 */
int dnn_optim_init(dnn_optim_t *o, dnn_opt_kind_t kind, dnn_precision_t prec, size_t P, double beta1,
                   double beta2, double epsilon, double weight_decay, char *msg);

/* Free the moments; accepts NULL and a zeroed struct. */
void dnn_optim_free(dnn_optim_t *o);

/*
 * The learning rate of step k (0-based) of total steps, steps_per_epoch per
 * epoch, epoch = k / steps_per_epoch (README, Course 2: optimizers, regularization, schedules, dev sets).  rate is R, every is E.
 */
double dnn_optim_lr(dnn_decay_t d, double lr0, double rate, long every, long k, long steps_per_epoch, long total);

/*
 * Start an update: t += 1, bias corrections, and (clip_norm > 0) the global
 * gradient norm of g = G scale + (l2/m) W over the model's grads.
 */
void dnn_optim_prepare(dnn_optim_t *o, const dnn_model_t *m, double lr, double scale, double l2, double clip_norm,
                       dnn_optim_step_t *st);

/* Apply the update to parameters [lo, hi) (any split gives the same result, so
 * parts may run on different threads). */
void dnn_optim_apply(const dnn_optim_t *o, dnn_model_t *m, const dnn_optim_step_t *st, size_t lo, size_t hi);

/* prepare + apply over all P parameters. */
void dnn_optim_update(dnn_optim_t *o, dnn_model_t *m, double lr, double scale, double l2, double clip_norm);

/* sum over l of ||W[l]||_F^2, in double (the L2 cost term is lambda/(2m) times it). */
double dnn_optim_weights_sq(const dnn_model_t *m);

/* The L2 term of the cost of the current parameters, lambda/(2m) sum ||W[l]||^2
 * over the m examples of a step (0 when lambda is 0). */
double dnn_optim_l2_cost(const dnn_model_t *m, double lambda, double examples);

#endif
