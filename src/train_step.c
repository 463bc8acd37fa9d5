/*
 * train_step.c - one step of dnn-train (DESIGN §5, §11):
 *   gradient sums of the step's examples held here (blocks of bmax columns)
 *   -> one allreduce of the sums (plus loss, correct count, stop flag)
 *   -> the optimizer update with the step's learning rate, L2 and clipping.
 * In full batch (always) and with --deterministic the sums are taken per fixed
 * global chunk of DNN_CHUNK examples and added exactly as fixed point
 * (exact.h), so the result does not depend on the number of ranks or the
 * order of the chunks, bit for bit.  The gradient buffer is left zeroed by
 * the passes that read it last (the fixed-point accumulation, the update), so
 * the next block's float products add to it (beta = 1) and OpenBLAS needs no
 * zeroing pass of its own.
 * Dropout masks are keyed by (seed, step k, layer, global example index, unit):
 * each block names its columns' global indices before its backward pass.
 * Nothing here allocates: every buffer is sized at set-up.
 */
#include <stdatomic.h>
#include <string.h>

#include "dnn/exact.h"
#include "dnn/matrix.h"
#include "dnn/rng.h"
#include "train_run.h"

static void real_set(const run_t *r, void *p, size_t i, double v)
{
    if (r->es == 8)
        ((double *)p)[i] = v;
    else
        ((float *)p)[i] = (float)v;
}

#define TILE 4096 /* elements per piece of a part: what one pass leaves in L1 for the next */

typedef struct {
    run_t *r;
    atomic_int bad;
} fix_t;

/* Part [lo, hi) of the accumulation, tile by tile: each tile of acc takes the
 * pending chunks' sums while it is in cache, and their tiles are zeroed once read. */
static void fix_part(void *ctx, size_t lo, size_t hi)
{
    fix_t *f = ctx;
    run_t *r = f->r;
    size_t stride = r->model.nparams + DNN_GRAD_EXTRA;
    for (size_t a = lo; a < hi; a += TILE) {
        size_t n = hi - a < TILE ? hi - a : TILE;
        for (int b = 0; b < r->nfix; b++) {
            char *g = (char *)r->gbuf[b] + a * r->es;
            if (dnn_exact_accumulate(r->acc + a, r->acc + stride + a, g, n, r->es))
                atomic_store_explicit(&f->bad, 1, memory_order_relaxed);
            memset(g, 0, n * r->es);
        }
    }
}

/* Add the pending chunk sums (gradients, loss, correct count) to the
 * fixed-point sums, on the matrix pool; every gradient buffer is zero
 * afterwards and model.grads is the model's own again. */
static void fix_flush(run_t *r)
{
    if (r->nfix == 0)
        return;
    fix_t f = {.r = r};
    atomic_init(&f.bad, 0);
    dnn_matrix_parallel(fix_part, &f, r->model.nparams + 2, 16384);
    if (atomic_load(&f.bad))
        r->diverged_fixed = 1;
    r->nfix = 0;
    r->model.grads = r->gbuf[0];
    r->grads_zero = 1;
}

/* Before a chunk's backward: it sums into the next free (zeroed) buffer. */
static void fix_begin(run_t *r)
{
    r->model.grads = r->gbuf[r->nfix];
    if (r->nfix > 0)
        r->grads_zero = 1;
}

/* After a chunk's backward: its sum is pending; every DNN_FIX_BATCH, flush. */
static void fix_accumulate(run_t *r)
{
    if (++r->nfix == DNN_FIX_BATCH)
        fix_flush(r);
}

/* One block's gradients into model.grads: stored (the first block of a sum)
 * or added.  A zeroed buffer is added to, so the float products need no
 * zeroing pass; bf16 stores (oneDNN's beta = 0 costs nothing, beta = 1 reads C). */
static void block_grads(run_t *r, const void *X, const void *Y, size_t cols, int first)
{
    int store = first && (!r->grads_zero || r->o.precision == DNN_BF16);
    dnn_model_backward(&r->model, X, Y, cols, store);
    r->grads_zero = 0;
}

static void full_batch_grads(run_t *r, long k)
{
    size_t nx = r->shape.n_x, mloc = r->train.hi - r->train.lo;
    size_t bs = r->model.bmax;
    for (size_t off = 0; off < mloc; off += bs) { /* bs = DNN_CHUNK: each block is a global chunk */
        size_t cols = mloc - off < bs ? mloc - off : bs;
        if (r->Xb)
            dnn_model_set_input_bf16(&r->model, r->Xb + off * nx);
        dnn_model_set_columns(&r->model, (uint64_t)k, NULL, r->train.lo + off); /* dropout keys */
        fix_begin(r);
        block_grads(r, (char *)r->train.X + off * nx * r->es, (char *)r->train.Y + off * r->ny * r->es, cols, 1);
        fix_accumulate(r);
    }
    fix_flush(r);
}

/* Sort in place without allocating (glibc's qsort mallocs a merge buffer):
 * heapsort of n keys. */
static void sort_u64(uint64_t *a, size_t n)
{
    for (size_t end = n, start = n / 2; end > 1;) {
        if (start > 0)
            start--; /* build the heap */
        else {
            uint64_t t = a[0]; /* move the largest to the end */
            a[0] = a[--end];
            a[end] = t;
        }
        for (size_t i = start, c; (c = 2 * i + 1) < end; i = c) { /* sift down */
            if (c + 1 < end && a[c + 1] > a[c])
                c++;
            if (a[i] >= a[c])
                break;
            uint64_t t = a[i];
            a[i] = a[c];
            a[c] = t;
        }
    }
}

typedef struct {
    run_t *r;
    uint64_t *keys;
    uint64_t base, B;
} gather_t;

/* Columns [lo, hi) of a gather: X's bf16 copy when layer 1 reads that, else X;
 * each key becomes the member's global example index (its dropout key). */
static void gather_part(void *ctx, size_t lo, size_t hi)
{
    const gather_t *q = ctx;
    run_t *r = q->r;
    size_t nx = r->shape.n_x, ny = r->ny, es = r->es;
    for (size_t j = lo; j < hi; j++) {
        uint64_t g = r->perm[q->base + q->keys[j] % q->B], c = g - r->train.lo;
        q->keys[j] = g;
        if (r->Xb)
            memcpy(r->Xsb + j * nx, r->Xb + c * nx, nx * sizeof(uint16_t));
        else
            memcpy((char *)r->Xs + j * nx * es, (char *)r->train.X + c * nx * es, nx * es);
        memcpy((char *)r->Ys + j * ny * es, (char *)r->train.Y + c * ny * es, ny * es);
    }
}

/* Copy the columns of the batch members keys[0..n) into the staging buffers,
 * in parts on the matrix pool (scattered reads: latency-bound on one thread). */
static void gather(run_t *r, uint64_t *keys, size_t n, uint64_t base, uint64_t B)
{
    gather_t q = {r, keys, base, B};
    dnn_matrix_parallel(gather_part, &q, n, 32);
    if (r->Xsb)
        dnn_model_set_input_bf16(&r->model, r->Xsb);
}

static void mini_batch_grads(run_t *r, long k)
{
    uint64_t B = (uint64_t)r->o.batch_size, base = (uint64_t)(k % r->spe) * B;
    uint64_t end = base + B < r->m ? base + B : r->m;
    size_t n = 0;
    /* keys = position in the batch, or (chunk, position) when deterministic */
    for (uint64_t p = base; p < end; p++) {
        uint64_t g = r->perm[p];
        if (g >= r->train.lo && g < r->train.hi)
            r->keys[n++] = (r->o.deterministic ? (g / DNN_CHUNK) * B : 0) + (p - base);
    }
    if (!r->o.deterministic) {
        if (n == 0 && !r->grads_zero)
            dnn_model_zero_grads(&r->model); /* none of this batch is here */
        for (size_t off = 0; off < n; off += r->model.bmax) {
            size_t cols = n - off < r->model.bmax ? n - off : r->model.bmax;
            gather(r, r->keys + off, cols, base, B);
            dnn_model_set_columns(&r->model, (uint64_t)k, r->keys + off, 0);
            block_grads(r, r->Xs, r->Ys, cols, off == 0);
        }
        return;
    }
    /* one group per global chunk, each summed alone, then added exactly */
    sort_u64(r->keys, n);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && r->keys[j] / B == r->keys[i] / B && j - i < r->model.bmax)
            j++;
        gather(r, r->keys + i, j - i, base, B);
        dnn_model_set_columns(&r->model, (uint64_t)k, r->keys + i, 0);
        fix_begin(r);
        block_grads(r, r->Xs, r->Ys, j - i, 1);
        fix_accumulate(r);
        i = j;
    }
    fix_flush(r);
}

/* Sum the step's gradients over ranks into model.grads (deterministic: from acc). */
static void reduce(run_t *r, int stop)
{
    size_t P = r->model.nparams, n = P + DNN_GRAD_EXTRA;
    r->grads_zero = 0;
    if (r->exact) {
        int64_t *hi = r->acc, *lo = r->acc + n;
        hi[P + 2] = (stop ? 1 : 0) + (r->diverged_fixed ? (int64_t)1 << 40 : 0);
        lo[P + 2] = 0;
        if (r->d.size > 1 && dnn_dist_sum_i64(r->acc, 2 * n))
            train_die(r, "MPI_Allreduce of the gradients failed");
        for (size_t i = 0; i < P + 2; i++)
            real_set(r, r->model.grads, i, dnn_exact_value(hi[i], lo[i]));
        real_set(r, r->model.grads, P + 2, (double)(hi[P + 2] & (((int64_t)1 << 40) - 1)));
        if (hi[P + 2] >> 40)
            real_set(r, r->model.grads, P, NAN);
        return;
    }
    real_set(r, r->model.grads, P + 2, stop ? 1 : 0);
    if (r->d.size > 1 && dnn_dist_sum_real(r->model.grads, n, r->es))
        train_die(r, "MPI_Allreduce of the gradients failed");
}

/* Examples in step k: B, or what is left for the last batch of an epoch; m in full batch. */
static double step_examples(const run_t *r, long k)
{
    uint64_t B = (uint64_t)r->o.batch_size, s = (uint64_t)(k % r->spe);
    if (!B)
        return (double)r->m;
    return (double)((s + 1) * B < r->m ? B : r->m - s * B);
}

double train_lr(const run_t *r, long k)
{
    return dnn_optim_lr((dnn_decay_t)r->o.lr_decay, r->o.lr, r->o.decay_rate, r->o.decay_every, k, r->spe, r->total);
}

/*
 * The gradients of step k, summed over every rank: afterwards model.grads
 * holds the sums and res the step's data cost (before L2), accuracy and stop flag.
 */
void train_step(run_t *r, long k, int stop_requested, step_result_t *res)
{
    size_t P = r->model.nparams;
    long epoch = k / r->spe;
    if (r->exact)
        memset(r->acc, 0, 2 * (P + DNN_GRAD_EXTRA) * sizeof(int64_t));
    if (!r->grads_zero) /* only after something other than the update used them (e.g. a gradient check) */
        dnn_model_zero_grads(&r->model);
    if (r->o.batch_size) {
        if (epoch != r->perm_epoch) {
            dnn_rng_permutation(r->perm, r->m, (uint64_t)r->o.seed, (uint64_t)epoch);
            r->perm_epoch = epoch;
        }
        mini_batch_grads(r, k);
    } else {
        full_batch_grads(r, k);
    }
    reduce(r, stop_requested);
    double mb = step_examples(r, k);
    res->cost = train_real_at(r, r->model.grads, P) / mb;
    res->acc = r->o.output == DNN_ACT_LINEAR ? NAN : train_real_at(r, r->model.grads, P + 1) / mb;
    res->stop = train_real_at(r, r->model.grads, P + 2) > 0;
}

typedef struct {
    run_t *r;
    dnn_optim_step_t st;
} update_t;

/* Parameters [lo, hi) of the update, tile by tile, each tile's bf16 copy of W
 * refreshed right after it is written (--precision bf16) and its gradients
 * zeroed once read. */
static void update_part(void *ctx, size_t lo, size_t hi)
{
    update_t *u = ctx;
    for (size_t a = lo; a < hi; a += TILE) {
        size_t b = hi - a < TILE ? hi : a + TILE;
        dnn_optim_apply(&u->r->opt, &u->r->model, &u->st, a, b);
        dnn_model_bf16_refresh(&u->r->model, a, b);
        memset((char *)u->r->model.grads + a * u->r->es, 0, (b - a) * u->r->es); /* for the next step's products */
    }
}

/* The update of step k from the reduced sums: every rank applies the same,
 * in parts run by the matrix pool (element-wise, so any split gives the same bits). */
void train_update(run_t *r, long k)
{
    update_t u = {.r = r};
    dnn_optim_prepare(&r->opt, &r->model, train_lr(r, k), 1.0 / step_examples(r, k), r->o.l2, r->o.clip_norm, &u.st);
    dnn_matrix_parallel(update_part, &u, r->model.nparams, 16384);
    memset((char *)r->model.grads + r->model.nparams * r->es, 0, DNN_GRAD_EXTRA * r->es);
    r->grads_zero = 1;
}

/* The L2 term of the cost of the current parameters for step k (0 without --l2). */
double train_l2_cost(const run_t *r, long k)
{
    return r->o.l2 > 0 ? r->o.l2 / (2 * step_examples(r, k)) * dnn_optim_weights_sq(&r->model) : 0;
}
