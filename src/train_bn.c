/*
 * train_bn.c - the gradients of a dnn-train step with --batch-norm (README,
 * "Batch normalization"; the passes are bn.c's).
 *
 * The step's local examples go through the model at once, layer by layer:
 * full batch the rank's shard, whose global chunks are the plan's groups;
 * mini-batch with --deterministic the rank's groups of 64 batch positions,
 * brought to it by det.h's exchange (batches of at most 1024), or its
 * members sorted by global chunk, each chunk's members a group (larger
 * batches); otherwise the rank's members of the batch, gathered, one group.  With exact sums every group's partial sums (the batch
 * statistics, dbeta and dgamma) and its gradient sums are added as fixed
 * point (exact.h) and the integers are summed over the ranks, so W, gamma,
 * beta and the running statistics are the same bits for any number of
 * ranks; otherwise the partial sums are added in double and summed over the
 * ranks in one allreduce per use.  Nothing here allocates after
 * train_bn_setup.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/bn.h"
#include "dnn/exact.h"
#include "dnn/matrix.h"
#include "det.h"
#include "train_run.h"

/* plan->add: one group's partial sums into the step's running totals. */
static void bn_add(void *ctx, const double *part, size_t n)
{
    run_t *r = ctx;
    if (!r->step.exact) {
        for (size_t i = 0; i < n; i++)
            r->step.bn_dsum[i] += part[i];
        return;
    }
    if (dnn_exact_accumulate_max(r->step.bn_acc, r->step.bn_acc + n, part, n, sizeof(double), r->step.exact_max))
        r->step.bn_acc[2 * n] = 1; /* out of the fixed-point range: the sums become NaN on every rank */
}

/* plan->total: the sums over the groups of every rank; the totals restart. */
static void bn_total(void *ctx, double *out, size_t n)
{
    run_t *r = ctx;
    if (!r->step.exact) {
        if (r->d.size > 1 && dnn_dist_sum_d(r->step.bn_dsum, n))
            train_step_fail(r, "MPI_Allreduce of the batch-normalization sums failed");
        memcpy(out, r->step.bn_dsum, n * sizeof *out);
        memset(r->step.bn_dsum, 0, n * sizeof *r->step.bn_dsum);
        return;
    }
    int64_t *hi = r->step.bn_acc, *lo = r->step.bn_acc + n;
    hi[2 * n] = hi[2 * n] ? 1 : 0;
    if (r->d.size > 1 && dnn_dist_sum_i64(hi, 2 * n + 1))
        train_step_fail(r, "MPI_Allreduce of the batch-normalization sums failed");
    for (size_t i = 0; i < n; i++)
        out[i] = hi[2 * n] ? NAN : dnn_exact_value(hi[i], lo[i]);
    memset(r->step.bn_acc, 0, (2 * n + 1) * sizeof *r->step.bn_acc);
}

typedef struct {
    run_t *r;
    size_t lo;
    atomic_int bad;
} absorb_t;

/* Slots [lo + a, lo + b) of an absorb, on the matrix pool. */
static void absorb_part(void *ctx, size_t a, size_t b)
{
    absorb_t *q = ctx;
    run_t *r = q->r;
    size_t stride = r->model.nparams + DNN_GRAD_EXTRA, lo = q->lo + a;
    char *g = (char *)r->model.grads + lo * r->data.es;
    if (dnn_exact_accumulate_max(r->step.acc + lo, r->step.acc + stride + lo, g, b - a, r->data.es, r->step.exact_max))
        atomic_store_explicit(&q->bad, 1, memory_order_relaxed);
    memset(g, 0, (b - a) * r->data.es);
}

/* plan->absorb (exact sums): a group's gradient sums grads[lo, hi) into the
 * step's fixed-point sums, then zeroed. */
static void bn_absorb(void *ctx, size_t lo, size_t hi)
{
    absorb_t q = {.r = ctx, .lo = lo};
    atomic_init(&q.bad, 0);
    dnn_matrix_parallel(absorb_part, &q, hi - lo, 16384);
    if (atomic_load(&q.bad))
        q.r->step.diverged_fixed = 1;
}

/* 1 when a --deterministic batch is cut into det.h's groups of batch positions
 * (one exchange holds them all on any rank count), 0 when by global chunk. */
static int by_position(const run_t *r)
{
    return r->o.deterministic && r->o.batch_size > 0 && r->o.batch_size <= (long)DNN_DET_ROUND * DNN_DET_GROUP;
}

size_t train_bn_columns(const run_t *r)
{
    size_t mloc = (size_t)(r->data.train.hi - r->data.train.lo);
    size_t c = r->o.batch_size ? (size_t)r->o.batch_size : mloc;
    return c ? c : 1;
}

int train_bn_setup(run_t *r, char *msg)
{
    size_t nmax = 0, cols = train_bn_columns(r);
    for (int l = 1; l <= r->model.L; l++)
        nmax = r->model.n[l] > nmax ? r->model.n[l] : nmax;
    r->step.bn_ends = dnn_alloc(cols, sizeof *r->step.bn_ends);
    r->step.bn_acc = dnn_alloc(4 * nmax + 1, sizeof *r->step.bn_acc);
    r->step.bn_dsum = dnn_alloc(2 * nmax, sizeof *r->step.bn_dsum);
    if (!r->step.bn_ends || !r->step.bn_acc || !r->step.bn_dsum)
        return dnn_fail(msg, DNN_ENOMEM, "out of memory for the --batch-norm sums");
    memset(r->step.bn_acc, 0, (4 * nmax + 1) * sizeof *r->step.bn_acc);
    memset(r->step.bn_dsum, 0, 2 * nmax * sizeof *r->step.bn_dsum);
    r->step.bn_plan = (dnn_bn_plan_t){r->step.bn_ends, 0, 0, bn_add, bn_total, r->step.exact ? bn_absorb : NULL, r};
    if (r->o.deterministic && r->o.batch_size && !by_position(r)) { /* a term per global chunk of the batch */
        r->step.exact_max = dnn_exact_limit((r->data.m + DNN_CHUNK - 1) / DNN_CHUNK);
        det_free(r); /* det.h's groups are not used (the checkpoint says so) */
    }
    dnn_bn_set_plan(&r->model, &r->step.bn_plan);
    return 0;
}

void train_bn_free(run_t *r)
{
    free(r->step.bn_ends);
    free(r->step.bn_acc);
    free(r->step.bn_dsum);
    r->step.bn_ends = NULL;
    r->step.bn_acc = NULL;
    r->step.bn_dsum = NULL;
}

/* Shell sort in place (Ciura's gaps), without allocating. */
static void sort_keys(uint64_t *a, size_t n)
{
    static const size_t gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
    for (size_t t = 0; t < sizeof gaps / sizeof gaps[0]; t++)
        for (size_t h = gaps[t], i = h; i < n; i++) {
            uint64_t v = a[i];
            size_t j = i;
            for (; j >= h && a[j - h] > v; j -= h)
                a[j] = a[j - h];
            a[j] = v;
        }
}

/* Columns [lo, hi) of the gathered batch: X and Y of the members keys[lo, hi). */
static void gather_part(void *ctx, size_t lo, size_t hi)
{
    run_t *r = ctx;
    size_t nx = r->data.shape.n_x, ny = r->data.ny, es = r->data.es;
    for (size_t j = lo; j < hi; j++) {
        uint64_t c = r->step.keys[j] - r->data.train.lo;
        memcpy((char *)r->step.Xs + j * nx * es, (char *)r->data.train.X + c * nx * es, nx * es);
        memcpy((char *)r->step.Ys + j * ny * es, (char *)r->data.train.Y + c * ny * es, ny * es);
    }
}

/* The rank's members of the batch of step k in the staging buffers (sorted
 * by global chunk with --deterministic), their global indices in keys, the
 * groups in bn_ends; returns their count. */
static size_t gather_batch(run_t *r, long k)
{
    uint64_t B = (uint64_t)r->o.batch_size, base = (uint64_t)(k % r->step.spe) * B;
    uint64_t end = base + B < r->data.m ? base + B : r->data.m;
    size_t n = 0, ng = 0;
    for (uint64_t p = base; p < end; p++) {
        uint64_t g = r->step.perm[p];
        if (g >= r->data.train.lo && g < r->data.train.hi)
            r->step.keys[n++] = g;
    }
    if (r->o.deterministic) /* by global index: each chunk's members together, in a fixed order */
        sort_keys(r->step.keys, n);
    dnn_matrix_parallel(gather_part, r, n, 32); /* scattered reads: latency-bound on one thread */
    for (size_t j = 1; j < n && r->step.exact; j++)
        if (r->step.keys[j] / DNN_CHUNK != r->step.keys[j - 1] / DNN_CHUNK)
            r->step.bn_ends[ng++] = j;
    if (n)
        r->step.bn_ends[ng++] = n;
    r->step.bn_plan.ngroups = ng;
    r->step.bn_plan.m = (double)(end - base);
    return n;
}

/* --deterministic, a batch of at most DNN_DET_ROUND groups: det.h's exchange
 * stages this rank's groups of batch positions, in batch order, in one round;
 * they are the plan's groups. */
static void det_batch(run_t *r, long k)
{
    uint64_t B = (uint64_t)r->o.batch_size, base = (uint64_t)(k % r->step.spe) * B;
    uint64_t nb = (base + B < r->data.m ? base + B : r->data.m) - base;
    if (!r->step.exact) { /* det_step's shortcut for one group is not for batch norm: exact sums always */
        r->step.exact = 1;
        memset(r->step.acc, 0, 2 * (r->model.nparams + DNN_GRAD_EXTRA) * sizeof(int64_t));
    }
    size_t ng = det_exchange(r, base, nb, 0), n = 0;
    const void *X = NULL, *Y = NULL;
    for (size_t i = ng; i-- > 0;) { /* the last call (group 0) leaves the columns' start and keys set */
        size_t cols = det_group(r, k, i, &X, &Y);
        r->step.bn_ends[i] = i * DNN_DET_GROUP + cols;
        n = i + 1 == ng ? r->step.bn_ends[i] : n;
    }
    r->step.bn_plan.ngroups = ng;
    r->step.bn_plan.m = (double)nb;
    dnn_model_backward(&r->model, X, Y, n, 1);
}

void train_bn_grads(run_t *r, long k)
{
    size_t n;
    if (by_position(r)) {
        det_batch(r, k);
        return;
    }
    if (r->o.batch_size) {
        n = gather_batch(r, k);
        dnn_model_set_columns(&r->model, (uint64_t)k, r->step.keys, 0); /* dropout keys */
        dnn_model_backward(&r->model, r->step.Xs, r->step.Ys, n, 1);
        return;
    }
    n = (size_t)(r->data.train.hi - r->data.train.lo);
    size_t ng = 0;
    for (size_t off = 0; off < n; off += DNN_CHUNK) /* the shard's global chunks */
        r->step.bn_ends[ng++] = n - off < DNN_CHUNK ? n : off + DNN_CHUNK;
    r->step.bn_plan.ngroups = ng;
    r->step.bn_plan.m = (double)r->data.m;
    dnn_model_set_columns(&r->model, (uint64_t)k, NULL, r->data.train.lo);
    dnn_model_backward(&r->model, r->data.train.X, r->data.train.Y, n, 1);
}
