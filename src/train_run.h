/*
 * train_run.h - the state of one dnn-train run, in rooms that own their parts:
 *   train.c         the program: set-up order, the loop, the one way a run ends
 *   train_setup.c   options, resume, architecture, model, optimizer; train_data_*
 *   train_step.c    one step: gradients, reduction over ranks, update; train_step_*
 *   train_record.c  evaluation, history, metrics, checkpoints; train_records_*
 * Functions below train.c return 0 or a DNN_E* code with the message in msg
 * (DNN_MSG_LEN bytes); only train.c ends a run.  Set-up functions return codes
 * already agreed on by every rank (dnn_dist_agree); step and record functions
 * return failures that only this rank saw.  Private to those files.
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

/* The data sets of the run (train_setup.c). */
typedef struct {
    dnn_data_t train, test, val;
    dnn_data_shape_t shape;
    int have_test, have_val, classify;
    uint64_t m, m_test, m_val; /* global example counts (m: the training set, after any split) */
    uint64_t split_lo, split_hi; /* --validation-split: this rank's training examples, numbered without the dev set */
    size_t es, ny;             /* element size; label rows per example */
    double *mean, *std;        /* (n_x) standardization, or NULL */
} train_data_t;

/* The schedule and the step's buffers, all sized at set-up (train_step.c). */
typedef struct {
    long spe, total, start;    /* steps per epoch, total steps, first step */
    uint64_t *perm;            /* (m) this epoch's order, mini-batch only */
    long perm_epoch;
    uint64_t *keys;         /* (B) owned batch members, mini-batch only */
    void *Xs, *Ys;          /* (n_x, bmax), (ny, bmax) staging for gathered columns */
    uint16_t *Xb, *Xsb;     /* --precision bf16 with a bf16 layer 1: X's bf16 copy (n_x, local m), staging (n_x, bmax) */
    int64_t *acc;           /* (2, P + DNN_GRAD_EXTRA) fixed-point hi, lo sums, --deterministic */
    struct det *det;        /* --deterministic mini-batch: the column exchange (det.h) */
    int diverged_fixed; /* a chunk sum overflowed the fixed-point range */
    double exact_max;   /* bound of one chunk (or group) sum for exact fixed-point totals (exact.h) */
    int overlap;              /* reduce each finished slice of the gradients during backward */
    int comm_on;              /* comm is set up (its thread runs) */
    dnn_dist_async_t comm;    /* those reductions in flight */
    size_t bucket;            /* slots per reduction, at least (the last of a step may be smaller) */
    size_t pend_lo, pend_hi;  /* slices gathered for the next reduction */
    int step_stop;            /* this step carries a stop request */
    int exact;          /* sums per chunk added as fixed point: --deterministic, and full batch by default */
    int grads_zero;     /* model.grads holds zeros: a block may add to it (BLAS needs no zeroing pass) */
    uint16_t *g16;      /* (P) --comm-precision bf16: the gradient sums as sent */
    void *gbuf[DNN_FIX_BATCH]; /* exact sums: gradient buffers of consecutive chunks ([0] = the model's own) */
    int nfix;                  /* of them holding chunk sums not yet added to acc */
    int err;                   /* a collective failed inside the step (reported after it, train_step_fail) */
    const char *err_what;      /* which one */
    /* --batch-norm (train_bn.c) */
    dnn_bn_plan_t bn_plan;
    size_t *bn_ends;  /* (columns) the step's groups */
    int64_t *bn_acc;  /* (4 max n[l] + 1) fixed-point partial sums and an overflow flag (exact sums) */
    double *bn_dsum;  /* (2 max n[l]) partial sums in double (otherwise) */
} train_step_t;

/* What the run keeps and shows (train_record.c). */
typedef struct {
    int64_t *hist_iter;
    double *hist_cost;
    size_t nhist, hist_cap;
    FILE *metrics;
    double last_cost;
    /* dev set and early stopping */
    double last_val_cost, last_val_acc, best_val_cost;
    long best_iteration, records_since_best;
    int stopped_early;
} train_records_t;

typedef struct {
    dnn_options_t o;
    dnn_dist_t d;
    int own_mpi; /* this run initialized MPI and finalizes it */
    dnn_log_t log;
    dnn_model_t model;
    dnn_optim_t opt;
    train_data_t data;
    train_step_t step;
    train_records_t rec;
    struct train_xfer *xfer; /* --init-from / --freeze (train_transfer.c), or NULL */
    int threads; /* BLAS threads per rank */
} run_t;

/* A step's cost and accuracy, from the reduced sums. */
typedef struct {
    double cost, acc;
    int stop; /* some rank saw a stop signal */
} step_result_t;

/* train_setup.c: everything before the first step.  Returns 0, TRAIN_DONE
 * (--help, --gradient-check: *status is the exit status) or an agreed error. */
#define TRAIN_DONE 1
int train_setup(run_t *r, int argc, char **argv, int *status, char *msg);
void train_free(run_t *r);
void train_announce(run_t *r);
int train_data_init(run_t *r, char *msg);
void train_data_free(train_data_t *d);

/* train_step.c */
int train_step_init(run_t *r, const dnn_ckpt_t *ck, char *msg);
void train_step_free(train_step_t *s);
int train_step(run_t *r, long k, int stop_requested, step_result_t *res, char *msg);
void train_update(run_t *r, long k);
double train_step_examples(const run_t *r, long k);
double train_lr(const run_t *r, long k);
void train_step_fail(run_t *r, const char *what); /* a collective failed: train_step returns DNN_EMPI */

/* train_transfer.c (README, Transfer learning); the int functions return agreed codes */
int train_transfer_source(run_t *r, char *msg);   /* before the data: load --init-from, take its preprocessing */
const dnn_ckpt_t *train_transfer_ckpt(const run_t *r);
int train_transfer_params(run_t *r, char *msg);   /* after the initialization: the transferred layers */
int train_transfer_freeze(run_t *r, char *msg);   /* after the step buffers: cache A[K] for --freeze K */
size_t train_transfer_first(const run_t *r);      /* first parameter the update may change */
void train_transfer_enter(run_t *r);              /* around a step's gradients: run layers K+1..L on A[K] */
void train_transfer_leave(run_t *r);
void train_transfer_free(run_t *r);

/* train_report.c: --report, the dev set's error analysis at the end (collective; an agreed code) */
int train_report(run_t *r, char *msg);

/* train_bn.c */
size_t train_bn_columns(const run_t *r); /* the model's columns: the step's local examples, at most */
int train_bn_setup(run_t *r, char *msg);
void train_bn_free(run_t *r);
void train_bn_grads(run_t *r, long k);

/* train_record.c */
int train_records_init(run_t *r, const dnn_ckpt_t *ck, char *msg);
void train_records_free(train_records_t *c);
int train_evaluate(run_t *r, const dnn_data_t *data, double out[3], char *msg);
int train_write_checkpoint(run_t *r, const char *path, long steps_done, char *msg);
int train_metrics_open(run_t *r, char *msg);
int train_record(run_t *r, long k, const step_result_t *res, double elapsed, int *recorded, char *msg);
int train_final_line(run_t *r, long k, double seconds, double ms_epoch, char *msg);

#endif
