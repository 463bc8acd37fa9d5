/*
 * train_run.h - the state of one dnn-train run, shared by its four rooms:
 *   train.c         the program: set-up order, the loop, the end
 *   train_setup.c   options, data, architecture, resume, buffers
 *   train_step.c    one step: gradients, reduction over ranks, update
 *   train_record.c  evaluation, history, metrics, progress, checkpoints
 * Private to those files (not a public header).
 */
#ifndef DNN_TRAIN_RUN_H
#define DNN_TRAIN_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "dnn/bn.h"
#include "dnn/checkpoint.h"
#include "dnn/cli.h"
#include "dnn/data.h"
#include "dnn/dist.h"
#include "dnn/log.h"
#include "dnn/model.h"
#include "dnn/optim.h"

#define PROG "dnn-train"
#define DNN_BLOCK 1024 /* columns per block outside --deterministic */
#define DNN_FIX_BATCH 4 /* chunk sums converted to fixed point together (one pass over acc for 4 chunks) */
#define DNN_BUCKET 65536 /* gradient slots per overlapped reduction, at least (256 KiB in float) */
#define DNN_POLL_US 50   /* --comm-overlap thread: MPI_Testall interval while sums are in flight */

struct det; /* det.c */

typedef struct {
    dnn_options_t o;
    dnn_dist_t d;
    dnn_log_t log;
    dnn_model_t model;
    dnn_optim_t opt;
    dnn_data_t train, test, val;
    dnn_data_shape_t shape, test_shape;
    int have_test, have_val, classify;
    uint64_t m, m_test, m_val; /* global example counts (m: the training set, after any split) */
    uint64_t split_lo, split_hi; /* --validation-split: this rank's training examples, numbered without the dev set */
    size_t es, ny;             /* element size; label rows per example */
    long spe, total, start;    /* steps per epoch, total steps, first step */
    uint64_t *perm;            /* (m) this epoch's order, mini-batch only */
    long perm_epoch;
    uint64_t *keys;         /* (B) owned batch members, mini-batch only */
    void *Xs, *Ys;          /* (n_x, bmax), (ny, bmax) staging for gathered columns */
    uint16_t *Xb, *Xsb;     /* --precision bf16 with a bf16 layer 1: X's bf16 copy (n_x, local m), staging (n_x, bmax) */
    int64_t *acc;           /* (2, P + DNN_GRAD_EXTRA) fixed-point hi, lo sums, --deterministic */
    struct det *det;        /* --deterministic mini-batch: the column exchange (det.h) */
    double *mean, *std;     /* (n_x) standardization, or NULL */
    int64_t *hist_iter;
    double *hist_cost;
    size_t nhist, hist_cap;
    FILE *metrics;
    double last_cost;
    int diverged_fixed; /* a chunk sum overflowed the fixed-point range */
    double exact_max;   /* bound of one chunk (or group) sum for exact fixed-point totals (exact.h) */
    int overlap;              /* reduce each finished slice of the gradients during backward */
    dnn_dist_async_t comm;    /* those reductions in flight */
    size_t bucket;            /* slots per reduction, at least (the last of a step may be smaller) */
    size_t pend_lo, pend_hi;  /* slices gathered for the next reduction */
    int step_stop;            /* this step carries a stop request */
    int exact;          /* sums per chunk added as fixed point: --deterministic, and full batch by default */
    int grads_zero;     /* model.grads holds zeros: a block may add to it (BLAS needs no zeroing pass) */
    uint16_t *g16;      /* (P) --comm-precision bf16: the gradient sums as sent */
    void *gbuf[DNN_FIX_BATCH]; /* exact sums: gradient buffers of consecutive chunks ([0] = the model's own) */
    int nfix;                  /* of them holding chunk sums not yet added to acc */
    /* dev set and early stopping */
    double last_val_cost, last_val_acc, best_val_cost;
    long best_iteration, records_since_best;
    int stopped_early;
    int status; /* exit status when train_setup ends the run (--help 0, --gradient-check 0 or 1) */
    struct train_xfer *xfer; /* --init-from / --freeze (train_transfer.c), or NULL */
    /* --batch-norm (train_bn.c) */
    dnn_bn_plan_t bn_plan;
    size_t *bn_ends;  /* (columns) the step's groups */
    int64_t *bn_acc;  /* (4 max n[l] + 1) fixed-point partial sums and an overflow flag (exact sums) */
    double *bn_dsum;  /* (2 max n[l]) partial sums in double (otherwise) */
} run_t;

/* A step's cost and accuracy, from the reduced sums. */
typedef struct {
    double cost, acc;
    int stop; /* some rank saw a stop signal */
} step_result_t;

/* train.c */
void train_check(run_t *r, int rc, char *msg);    /* collective: any failure ends every rank */
_Noreturn void train_die(run_t *r, const char *msg); /* a failure others cannot see coming */
double train_now(void);
double train_real_at(const run_t *r, const void *p, size_t i);

/* train_setup.c */
int train_setup(run_t *r, int argc, char **argv); /* 1: the run is over (--help, --gradient-check), exit r->status */
void train_free(run_t *r);

/* train_step.c */
void train_step(run_t *r, long k, int stop_requested, step_result_t *res);
void train_update(run_t *r, long k);
double train_l2_cost(const run_t *r, long k);
double train_lr(const run_t *r, long k);

/* train_transfer.c (README, Transfer learning) */
void train_transfer_source(run_t *r);             /* before the data: load --init-from, take its preprocessing */
const dnn_ckpt_t *train_transfer_ckpt(const run_t *r);
void train_transfer_params(run_t *r);             /* after the initialization: the transferred layers */
void train_transfer_freeze(run_t *r);             /* after the step buffers: cache A[K] for --freeze K */
size_t train_transfer_first(const run_t *r);      /* first parameter the update may change */
void train_transfer_enter(run_t *r);              /* around a step's gradients: run layers K+1..L on A[K] */
void train_transfer_leave(run_t *r);
void train_transfer_free(run_t *r);

/* train_report.c: --report, the dev set's error analysis at the end (collective) */
void train_report(run_t *r);
/* train_bn.c */
size_t train_bn_columns(const run_t *r); /* the model's columns: the step's local examples, at most */
int train_bn_setup(run_t *r, char *msg);
void train_bn_free(run_t *r);
void train_bn_grads(run_t *r, long k);

/* train_record.c */
void train_evaluate(run_t *r, const dnn_data_t *data, double out[2]);
uint64_t train_params_hash(const run_t *r);
void train_write_checkpoint(run_t *r, const char *path, long steps_done);
void train_metrics_open(run_t *r);
int train_record(run_t *r, long k, const step_result_t *res, double elapsed);
void train_final_line(run_t *r, long k, double seconds, double ms_epoch);

#endif
