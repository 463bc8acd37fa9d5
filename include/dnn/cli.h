/*
 * cli.h - dnn-train's options: one table drives the command line (getopt_long),
 * the --config file (same keys, `key = value` lines, # comments), the
 * defaults, --help and the printout of the configuration actually used.
 * Precedence: defaults < config file < command line.
 */
#ifndef DNN_CLI_H
#define DNN_CLI_H

#include <stdio.h>

#include "dnn/activation.h"
#include "dnn/checkpoint.h"
#include "dnn/common.h"
#include "dnn/model.h"
#include "dnn/rng.h"

#define DNN_PATH_MAX 4096

typedef enum { DNN_LAYOUT_EXAMPLES_FIRST = 0, DNN_LAYOUT_FEATURES_FIRST = 1 } dnn_layout_t;

typedef struct {
    char data[DNN_PATH_MAX], x[256], y[256];
    int layout;
    double scale;
    int standardize;
    double binary_threshold; /* NaN: labels used as they are */
    size_t layers[DNN_MAX_LAYERS]; /* hidden sizes */
    int n_layers;
    int hidden;  /* dnn_act_t */
    double leaky_slope;
    int output;  /* dnn_act_t */
    long classes;
    int init;    /* dnn_init_t */
    double init_scale;
    int rng;     /* dnn_rng_kind_t */
    long seed;
    long shuffle_seed; /* mini-batch order; -1 = seed */
    char init_from[DNN_PATH_MAX]; /* transfer learning (README, Transfer learning) */
    long transfer_layers, freeze;
    char report[DNN_PATH_MAX]; /* --report: the dev set's error analysis at the end */
    double lr;
    long iterations, epochs, batch_size;
    int precision;
    long print_every;
    char test[DNN_PATH_MAX], test_x[256], test_y[256];
    char metrics[DNN_PATH_MAX], checkpoint[DNN_PATH_MAX];
    long checkpoint_every;
    int resume, deterministic;
    /* optimizer, regularization, schedule (README, Course 2) */
    int optimizer; /* dnn_opt_kind_t */
    double beta1, beta2, epsilon, weight_decay;
    double l2, keep_prob, clip_norm;
    int batch_norm; /* --batch-norm, --bn-momentum, --bn-epsilon (README, Batch normalization) */
    double bn_momentum, bn_epsilon;
    int lr_decay; /* dnn_decay_t */
    double decay_rate;
    long decay_every;
    /* dev set and early stopping (README, Course 2) */
    double validation_split;
    char validation[DNN_PATH_MAX], validation_x[256], validation_y[256];
    long early_stopping;
    char best_checkpoint[DNN_PATH_MAX];
    long threads;
    int comm_overlap;   /* 0 thread, 1 test (dnn_progress_t), 2 off */
    int comm_precision; /* 0 float32, 1 bf16 */
    int quiet, verbose, help;
    char config[DNN_PATH_MAX];
    int gradient_check; /* dnn-train --gradient-check: check backprop and exit */
    int iterations_set, epochs_set; /* which of the two the user gave */
} dnn_options_t;

/* Fill *o with the defaults. */
void dnn_cli_defaults(dnn_options_t *o);

/*
 * Parse argv (after a --config FILE found anywhere in argv is applied first).
 * Returns 0, or DNN_EINVAL with msg naming the option/key (and file:line for
 * config files) and the bad value.  Does not check cross-option consistency.
 */
int dnn_cli_parse(dnn_options_t *o, int argc, char **argv, char *msg);

/* Apply one key = value pair (keys are the long option names). */
int dnn_cli_set(dnn_options_t *o, const char *key, const char *value, char *msg);

/* Read a config file: `key = value` lines, # comments, blank lines. */
int dnn_cli_read_config(dnn_options_t *o, const char *path, char *msg);

/* Parse a config held in memory (name is used in messages). */
int dnn_cli_parse_config_text(dnn_options_t *o, const char *text, const char *name, char *msg);

/* Cross-option checks (ranges, required options, conflicts). */
int dnn_cli_validate(const dnn_options_t *o, char *msg);

/* Write the effective configuration as `key = value` lines (a valid config file). */
void dnn_cli_dump(const dnn_options_t *o, FILE *f);

/* Same into a buffer; returns bytes needed (like snprintf). */
size_t dnn_cli_dump_string(const dnn_options_t *o, char *buf, size_t len);

/* --help text for dnn-train. */
void dnn_cli_usage(FILE *f);

/*
 * The hyperparameters the checkpoint stores are the table's rows with an
 * attribute name (README, Adding a hyperparameter).  dnn_cli_ckpt_attrs fills
 * a[0..) with their values (at most cap; returns how many) for
 * dnn_checkpoint_write; dnn_cli_from_ckpt sets o from a list read back
 * (absent ones untouched); dnn_cli_resume_check refuses (DNN_EDATA, naming
 * the option and both values) a checkpoint stored with another value of a
 * must-match row than o asks for.
 */
size_t dnn_cli_ckpt_attrs(const dnn_options_t *o, dnn_ckpt_attr_t *a, size_t cap);
int dnn_cli_from_ckpt(dnn_options_t *o, const dnn_ckpt_attr_t *a, size_t n, char *msg);
int dnn_cli_resume_check(const dnn_options_t *o, const char *path, char *msg);

/* Row i of the table (NULL past the end): its option name, checkpoint
 * attribute (NULL when not stored), must-match flag and, for a choice, the
 * comma-separated choices (else NULL). */
const char *dnn_cli_option(size_t i, const char **ckpt, int *match, const char **choices);

#endif
