/*
 * data.h - training data from HDF5: each rank reads only its hyperslab.
 *
 * X is examples-first (m, d1, d2, ...) by default, flattened to n_x = d1*d2*...
 * per example; that row-major (m, n_x) block is the column-major (n_x, m)
 * matrix of the course, read without a transpose.  features-first (n_x, m)
 * files are read and transposed once at load.  Any integer or float type is
 * converted by HDF5 to the training precision on read.
 * Y may be (m,), (m, 1), (1, m) or (m, n_y) (regression targets).
 */
#ifndef DNN_DATA_H
#define DNN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/common.h"

typedef struct {
    uint64_t m;      /* examples in the file */
    size_t n_x;      /* features per example */
    size_t n_y;      /* label columns per example (1 for class ids / binary) */
    int y_transposed; /* Y stored (n_y, m) */
    int x_features_first;
} dnn_data_shape_t;

typedef struct {
    dnn_precision_t prec;
    dnn_data_shape_t shape;
    uint64_t lo, hi; /* global example range held here */
    void *X;         /* (n_x, hi - lo) column-major */
    void *Y;         /* (n_y, hi - lo) column-major, or NULL without labels */
} dnn_data_t;

/*
 * Open FILE and check X (and Y unless yname is NULL): both exist, are numeric,
 * have the expected rank, and agree on m.  Fills *s.  Errors name the file,
 * the dataset and the value.  features_first selects the (n_x, m) layout.
 */
int dnn_data_probe(const char *file, const char *xname, const char *yname, int features_first,
                   dnn_data_shape_t *s, char *msg);

/*
 * Read examples [lo, hi) of X (times scale) and Y into a new dnn_data_t.
 * Returns 0, DNN_EIO, DNN_EDATA or DNN_ENOMEM.
 */
int dnn_data_read(dnn_data_t *d, const char *file, const char *xname, const char *yname,
                  const dnn_data_shape_t *s, dnn_precision_t prec, uint64_t lo, uint64_t hi,
                  double scale, char *msg);

/* Free buffers; accepts NULL. */
void dnn_data_free(dnn_data_t *d);

/* First non-finite X value: returns its global example index, or UINT64_MAX. */
uint64_t dnn_data_find_nonfinite(const dnn_data_t *d, size_t *feature);

/* Labels: y = (y >= t) for every label; an unlabelled entry (NaN or negative) becomes NaN. */
void dnn_data_threshold(dnn_data_t *d, double t);

/*
 * Check labels: kind 0 binary {0,1} or unlabelled (NaN or negative), 1 class ids 0..K-1 (K = classes), 2 finite.
 * Returns the global index of the first bad example (value in *bad) or UINT64_MAX.
 */
uint64_t dnn_data_check_labels(const dnn_data_t *d, int kind, long classes, double *bad);

/* Largest label value held here (-inf when empty). */
double dnn_data_max_label(const dnn_data_t *d);

/* Per-feature sums over the local examples: out[i] += x_i, or out[i] += (x_i - mean[i])^2 when mean. */
void dnn_data_feature_sums(const dnn_data_t *d, const double *mean, double *out);

/* The same over local example columns [j0, j1). */
void dnn_data_feature_sums_range(const dnn_data_t *d, size_t j0, size_t j1, const double *mean, double *out);

/* x = (x - mean) / std per feature. */
void dnn_data_standardize(dnn_data_t *d, const double *mean, const double *std);

/*
 * --validation-split (README, Extensions): example g of the file is held out
 * for the dev set when u(seed, g) < fraction, u a SplitMix64-style hash of
 * (seed, g) scaled to [0, 1): a function of the index only, never of m or of
 * the number of ranks.
 */
int dnn_data_held_out(uint64_t seed, uint64_t g, double fraction);

/* Training examples (not held out) among the m of the file. */
uint64_t dnn_data_split_count(uint64_t m, uint64_t seed, double fraction);

/*
 * The training examples are numbered t = 0..count-1 in file order; a rank
 * that trains on [tlo, thi) of them reads the file range [lo, hi) that holds
 * them and the held-out examples in between (the first rank, first != 0, from
 * example 0; the last to m), so the ranks' ranges tile the file and no data moves.
 */
void dnn_data_split_range(uint64_t m, uint64_t seed, double fraction, uint64_t tlo, uint64_t thi, int first,
                          uint64_t *lo, uint64_t *hi);

/*
 * Move the held-out columns of *t (read with dnn_data_split_range) into a new
 * *v (its examples numbered 0..) and close up the rest, which then holds
 * training examples [tlo, thi).  Returns 0 or DNN_ENOMEM.
 */
int dnn_data_split_dev(dnn_data_t *t, dnn_data_t *v, uint64_t seed, double fraction, uint64_t tlo, uint64_t thi,
                       char *msg);

/*
 * --standardize statistics: two passes over the global training set (mean,
 * then squared deviations), each summed per chunk of `chunk` local columns
 * (a global chunk when shards are chunk-aligned) and added exactly as fixed
 * point (exact.h), so the statistics do not depend on the number of ranks.
 * reduce(ctx, rc, msg, acc, n) agrees on rc over the ranks and, when none
 * failed, sums acc[0..n) over them (n may be 0); it returns the agreed code.
 */
typedef int (*dnn_data_reduce_fn)(void *ctx, int rc, char *msg, int64_t *acc, size_t n);
typedef struct {
    uint64_t m;         /* global examples */
    size_t chunk;       /* columns per exact term */
    double exact_max;   /* bound of one chunk sum (dnn_exact_limit of the global chunk count) */
    const char *what;   /* the data named in messages, e.g. "X 'train_x' in 'f.h5'" */
    dnn_data_reduce_fn reduce;
    void *ctx;
} dnn_data_stats_t;

/* mean and std (n_x each, std 1 for a constant feature).  Returns 0, DNN_ENOMEM or DNN_EDATA. */
int dnn_data_moments(const dnn_data_t *d, const dnn_data_stats_t *s, double *mean, double *std, char *msg);

#endif
