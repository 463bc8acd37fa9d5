/*
 * checkpoint.h - HDF5 checkpoints (README, Checkpoints and dnn-predict), readable with h5py.
 *
 *   /W1../WL (n[l], n[l-1]) and /b1../bL (n[l], 1) in the training precision,
 *   root attributes: format = "dnn-checkpoint", format_version = 1,
 *   layer_dims int64[L+1], activations "relu,relu,sigmoid", loss, precision,
 *   iteration, epoch, learning_rate, seed, rng, batch_size, deterministic,
 *   leaky_slope, scale, standardize, binary_threshold, config,
 *   /preprocess/mean, /preprocess/std (n_x,) float64 when standardized,
 *   /history/iteration (int64), /history/cost (float64),
 *   course 2 (README, Course 2: optimizers, regularization, schedules, dev sets): root attributes l2, keep_prob, clip_norm,
 *   lr_decay, decay_rate, decay_every, validation_split, best_val_cost,
 *   best_iteration, records_since_best; /optimizer with attributes name,
 *   beta1, beta2, epsilon, weight_decay, t and the moments as views shaped
 *   like the parameters: /optimizer/v/dW1 ... /optimizer/v/dbL, /optimizer/s/...
 *   (files without them are older: they load as gd with no regularization).
 *   --batch-norm (README, Batch normalization): root attributes batch_norm,
 *   bn_momentum, bn_epsilon; hidden layer l has /gammaL and /betaL (n[l], 1)
 *   instead of /bL, and /bn/meanL, /bn/varL the running statistics; the
 *   moments add /optimizer/v/dgammaL and name dbetaL.
 * Writes are atomic (atomic.h): NAME.tmp is written, fsynced, closed and
 * renamed over NAME, then the folder is fsynced; on any failure the temp file
 * is removed and NAME is untouched.
 * Integrity (README, What happens when things go wrong): every dataset is
 * written by dnn_h5_write (h5.h), chunked with a Fletcher32 checksum, in
 * HDF5's 1.10 format, where every piece of metadata (superblock, object
 * headers with the attributes, chunk indexes) carries a checksum too.  The readers verify them and
 * refuse a mismatch or a non-finite parameter, naming the file and the
 * dataset; a file without checksums is read, with c->note saying so.
 * New datasets (e.g. /optimizer/v/dW1) are written with dnn_h5_write and
 * read with dnn_h5_read(..., DNN_H5_FINITE, ...).
 */
#ifndef DNN_CHECKPOINT_H
#define DNN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/h5.h"
#include "dnn/model.h"
#include "dnn/optim.h"

#define DNN_CKPT_VERSION 1

/* One stored hyperparameter, named by the option table (cli.c): a root
 * attribute, or "group/name" for one of a group (e.g. "optimizer/beta1"). */
typedef enum { DNN_ATTR_I64, DNN_ATTR_F64, DNN_ATTR_STR } dnn_attr_type_t;
typedef struct {
    const char *name;
    dnn_attr_type_t type;
    int64_t i;
    double d;
    char s[64];
    int present; /* dnn_checkpoint_read_attrs: the file has it */
} dnn_ckpt_attr_t;

typedef struct {
    int L;
    size_t n[DNN_MAX_LAYERS + 1];
    int hidden, output; /* dnn_act_t */
    double leaky_slope;
    int precision;
    int64_t iteration; /* gradient steps completed */
    int64_t epoch;
    double learning_rate;
    int64_t seed;
    int rng;
    int64_t batch_size;
    int deterministic;
    int64_t deterministic_groups; /* --deterministic mini-batch: batch positions per exactly added group (0: none, or an older file) */
    double scale;
    int standardize;
    double binary_threshold; /* NaN when unused */
    double *mean, *std;      /* (n[0]) when standardize, owned by the caller */
    size_t nhist;
    int64_t *hist_iter;
    double *hist_cost;
    char config[16384];
    char note[DNN_MSG_LEN]; /* set by the reader: one line when some datasets carry no checksum, else "" */
    /* course 2; on write, optim may be NULL (no /optimizer group) */
    const dnn_optim_t *optim;
    int has_optim;       /* read: the file has /optimizer */
    char optim_name[16]; /* read: its name attribute ("gd" when absent) */
    double beta1, beta2, epsilon, weight_decay;
    int64_t t;
    double l2, keep_prob, clip_norm;
    int lr_decay; /* dnn_decay_t */
    double decay_rate;
    int64_t decay_every;
    double validation_split;
    double best_val_cost; /* dev set bookkeeping, for resuming early stopping */
    int64_t best_iteration, records_since_best;
    /* on write, the stored hyperparameters (or NULL): written first, each in place
     * of the field of the same name above (README, Adding a hyperparameter) */
    const dnn_ckpt_attr_t *attrs;
    size_t nattrs;
    int batch_norm; /* --batch-norm (bn.h): /gammaL, /betaL instead of /bL, /bn/meanL, /bn/varL */
    double bn_momentum, bn_epsilon;
} dnn_ckpt_t;

/* Write model parameters and *c to path atomically.  Returns 0 or DNN_EIO. */
int dnn_checkpoint_write(const char *path, const dnn_model_t *m, const dnn_ckpt_t *c, char *msg);

/*
 * Read the metadata of a checkpoint into *c, validating format, version and
 * the presence and shapes of every W/b.  Allocates c->mean/std and the history
 * (free with dnn_checkpoint_free), verifying their checksums (and finiteness of
 * mean/std); c->note is set when datasets lack checksums (print it once).
 * Returns 0, DNN_EIO or DNN_EDATA.
 */
int dnn_checkpoint_read(const char *path, dnn_ckpt_t *c, char *msg);

/*
 * Read W/b into an initialized model whose layer sizes and precision match.
 * A checksum mismatch or a NaN/Inf is refused (DNN_EDATA) naming the dataset
 * ("W2") and, for a non-finite value, its index.
 */
int dnn_checkpoint_read_params(const char *path, dnn_model_t *m, char *msg);

/*
 * Read the optimizer moments /optimizer/v/..., /optimizer/s/... and t into o,
 * initialized for the model's layout (only the moments o has).  Returns 0,
 * DNN_EIO or DNN_EDATA (a moment missing, of the wrong shape, failing its
 * checksum or holding a NaN/Inf: named, with the index for a value).
 */
int dnn_checkpoint_read_optim(const char *path, const dnn_model_t *m, dnn_optim_t *o, char *msg);

/* The same three on a file already open (e.g. an in-memory image); path names it in messages. */
int dnn_checkpoint_read_h5(hid_t f, const char *path, dnn_ckpt_t *c, char *msg);
int dnn_checkpoint_read_params_h5(hid_t f, const char *path, dnn_model_t *m, char *msg);
int dnn_checkpoint_read_optim_h5(hid_t f, const char *path, const dnn_model_t *m, dnn_optim_t *o, char *msg);

/* Read the attributes a[0..n) by name and type (setting present; an absent
 * one is left as it is).  Returns 0 or DNN_EIO. */
int dnn_checkpoint_read_attrs(const char *path, dnn_ckpt_attr_t *a, size_t n, char *msg);

/* Free what dnn_checkpoint_read allocated; accepts NULL. */
void dnn_checkpoint_free(dnn_ckpt_t *c);

#endif
