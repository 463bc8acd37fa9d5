/*
 * sweep.h - dnn-sweep's grid and summary (README, Hyperparameter sweeps: dnn-sweep): GRID.conf, a dnn-train
 * config whose values may list alternatives `a | b | c` or, for random
 * search, ranges; the trials it expands to (Cartesian product, or K seeded
 * samples); each trial's dnn-train options, checked as dnn-train checks its
 * own; the final line of a trial's log; the ranked summary.
 *
 * Value syntax (one `key = value` line per option, # comments as in --config):
 *   lr = 0.1                         fixed
 *   lr = 0.01 | 0.1 | 1              alternatives (product, or one drawn per sample)
 *   layers = "" | 8 | 16,8           "" is an empty alternative (no hidden layer)
 *   lr = loguniform(1e-4, 1e-1)      with --random only: exp(U(ln a, ln b))
 *   keep-prob = uniform(0.5, 1)      with --random only: U(a, b)
 *   batch-size = randint(16, 256)    with --random only: an integer in [a, b]
 * The process side (running trials, Slurm, the plot) lives in src/dnn_sweep.c.
 */
#ifndef DNN_SWEEP_H
#define DNN_SWEEP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dnn/cli.h"

#define DNN_SWEEP_DRAWN_MAX 32
#define DNN_SWEEP_KEY_MAX 64
#define DNN_SWEEP_MAX_TRIALS 100000 /* a grid larger than this is a mistake */

typedef enum { DNN_SWEEP_LIST = 0, DNN_SWEEP_UNIFORM, DNN_SWEEP_LOGUNIFORM, DNN_SWEEP_RANDINT } dnn_sweep_kind_t;

typedef struct {
    char key[DNN_SWEEP_KEY_MAX];
    int line;                          /* 1-based line in the grid file */
    dnn_sweep_kind_t kind;
    size_t n_alts;                     /* DNN_SWEEP_LIST: >= 1 alternatives */
    char **alts;                       /* as written, trimmed ("" for `""`) */
    double lo, hi;                     /* ranges: the bounds a <= b */
} dnn_sweep_param_t;

typedef struct {
    char name[DNN_PATH_MAX]; /* the grid file, as messages name it */
    int n_lines;
    size_t n_params;
    dnn_sweep_param_t *params; /* in file order */
} dnn_sweep_grid_t;

/* Trials: for trial i and parameter p (row i, n_params cells), the index of
 * the alternative taken, or for a range the value drawn, as text. */
typedef struct {
    size_t n_trials, n_params;
    const dnn_sweep_grid_t *grid;      /* the alternatives alt[] points into */
    size_t *alt;                       /* n_trials * n_params */
    char (*drawn)[DNN_SWEEP_DRAWN_MAX]; /* n_trials * n_params */
} dnn_sweep_trials_t;

/*
 * Parse grid text (name is used in messages as name:line).  Refuses lines
 * without '=', an empty alternative, a malformed range, a range among
 * alternatives, a key given twice and the keys dnn-sweep sets per trial
 * (checkpoint, metrics, resume).  Unknown keys and bad values are found by
 * dnn_sweep_trial_options.  Returns 0 or DNN_EINVAL/DNN_ENOMEM with msg.
 */
int dnn_sweep_grid_parse(dnn_sweep_grid_t *g, const char *text, const char *name, char *msg);

/* Read and parse a grid file (at most 1 MiB of text).  On any failure *g is
 * left empty (dnn_sweep_grid_free may be called on it). */
int dnn_sweep_grid_read(dnn_sweep_grid_t *g, const char *path, char *msg);

void dnn_sweep_grid_free(dnn_sweep_grid_t *g);

/* 1 when a parameter takes more than one value (it gets a summary column). */
int dnn_sweep_param_swept(const dnn_sweep_param_t *p);

/*
 * Expand the grid.  random_k = 0: the Cartesian product, the first key
 * varying slowest (nested loops in file order); a range is refused, naming
 * its line.  random_k = K > 0: K samples from a generator seeded with seed;
 * each parameter in file order draws one alternative (uniformly) or one value
 * of its range, printed with 6 significant digits; the same (grid, K, seed)
 * gives the same trials, and the first K of K+1 samples are the K samples.
 */
int dnn_sweep_expand(const dnn_sweep_grid_t *g, long random_k, uint64_t seed, dnn_sweep_trials_t *t, char *msg);

void dnn_sweep_trials_free(dnn_sweep_trials_t *t);

/* Value of parameter p in trial i (text, as dnn-train reads it). */
const char *dnn_sweep_value(const dnn_sweep_trials_t *t, size_t i, size_t p);

/* "lr = 0.1, layers = 8" for the swept parameters of trial i. */
void dnn_sweep_describe(const dnn_sweep_grid_t *g, const dnn_sweep_trials_t *t, size_t i, char *buf, size_t len);

/*
 * Trial i's dnn-train options: defaults, then the grid lines with this
 * trial's values (messages name grid:line), then checkpoint, metrics (and
 * best-checkpoint when the grid sets it) inside trial_dir, then relative
 * data/test/validation paths made absolute against base_dir (NULL: left as they are),
 * then dnn_cli_validate; a refusal names the grid line of the option it
 * mentions and the trial.  Returns 0 or DNN_EINVAL with msg.
 */
int dnn_sweep_trial_options(const dnn_sweep_grid_t *g, const dnn_sweep_trials_t *t, size_t i, const char *trial_dir,
                            const char *base_dir, dnn_options_t *o, char *msg);

/* Figures of one trial, as its log printed them ("" when absent). */
typedef struct {
    size_t trial;
    int done; /* its log holds a `final` line */
    char val_cost[40], val_accuracy[40], train_accuracy[40], best_iteration[40], seconds[40], cost[40];
} dnn_sweep_result_t;

/*
 * Fill r from a trial's log text (the last line starting with "final ") and,
 * for val_cost when the final line lacks it, from its metrics CSV text (the
 * row of best_iteration, else the last row; NULL: none).  r->trial is kept.
 */
void dnn_sweep_result_parse(dnn_sweep_result_t *r, const char *log_text, const char *metrics_text);

/*
 * Rank results in place: finished trials first, by val_cost when any
 * finished trial has one, else by cost (smaller first; a missing or
 * non-numeric figure last), ties by trial number.  Returns 1 when the
 * ranking used val_cost, 0 when it used cost.
 */
int dnn_sweep_rank(dnn_sweep_result_t *r, size_t n);

/*
 * summary.csv: trial, every swept key, val_cost, val_accuracy,
 * train_accuracy, best_iteration, seconds, cost; one row per finished trial
 * in the order of r (rank it first).  Values holding a comma or quote are
 * quoted as CSV does.  md = 1 writes the Markdown table instead (with a rank
 * column).  Returns 0 or DNN_EIO (fprintf failure) with msg.
 */
int dnn_sweep_summary_write(FILE *f, int md, const dnn_sweep_grid_t *g, const dnn_sweep_trials_t *t,
                            const dnn_sweep_result_t *r, size_t n, char *msg);

/* 1-based column of name in a CSV header line, 0 when absent. */
int dnn_sweep_csv_column(const char *header, const char *name);

#endif
