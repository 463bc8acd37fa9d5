/*
 * train_step.c - one step of dnn-train (DESIGN §5, §11):
 *   gradient sums of the step's examples held here (blocks of bmax columns)
 *   -> one allreduce of the sums (plus loss, correct count, stop flag)
 *   -> the optimizer update with the step's learning rate, L2 and clipping.
 * In full batch (always) the sums are taken per fixed global chunk of
 * DNN_CHUNK examples, with --deterministic per group of DNN_DET_GROUP batch
 * positions (det.h), and added exactly as fixed point (exact.h), so the
 * result does not depend on the number of ranks or the order of the chunks
 * or groups, bit for bit.  The gradient buffer is left zeroed by
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
#include "det.h"
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
    void *const *bufs; /* the gradient buffers to add, each holding one chunk's sums */
    int nbuf;
} fix_t;

/* Part [lo, hi) of the accumulation, tile by tile: each tile of acc takes the
 * buffers' sums while it is in cache, and their tiles are zeroed once read. */
static void fix_part(void *ctx, size_t lo, size_t hi)
{
    fix_t *f = ctx;
    run_t *r = f->r;
    size_t stride = r->model.nparams + DNN_GRAD_EXTRA;
    for (size_t a = lo; a < hi; a += TILE) {
        size_t n = hi - a < TILE ? hi - a : TILE;
        for (int b = 0; b < f->nbuf; b++) {
            char *g = (char *)f->bufs[b] + a * r->es;
            if (dnn_exact_accumulate_max(r->acc + a, r->acc + stride + a, g, n, r->es, r->exact_max))
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
    fix_t f = {.r = r, .bufs = r->gbuf, .nbuf = r->nfix};
    atomic_init(&f.bad, 0);
    dnn_matrix_parallel(fix_part, &f, r->model.nparams + 2, 16384);
    if (atomic_load(&f.bad))
        r->diverged_fixed = 1;
    r->nfix = 0;
    r->model.grads = r->gbuf[0];
    r->grads_zero = 1;
}

/* Before a chunk's backward: it sums into the next free (zeroed) buffer.
 * The overlapped last block of a step takes the model's own buffer, with
 * nothing pending (its slices go to acc during its backward). */
static void fix_begin(run_t *r, int last)
{
    if (last && r->overlap)
        fix_flush(r);
    r->model.grads = r->gbuf[r->nfix];
    if (r->nfix > 0)
        r->grads_zero = 1;
}

/* After a chunk's backward: its sums are pending; DNN_FIX_BATCH of them are
 * converted in one pass (each acc tile is then read once for all of them). */
static void fix_accumulate(run_t *r)
{
    if (++r->nfix == DNN_FIX_BATCH)
        fix_flush(r);
}

/* Slots [lo, hi) of one block into the fixed-point sums, zeroed once read
 * (on this thread: called for one slice at a time during backward). */
static void fix_slots(run_t *r, size_t lo, size_t hi)
{
    fix_t f = {.r = r, .bufs = &r->model.grads, .nbuf = 1};
    atomic_init(&f.bad, 0);
    fix_part(&f, lo, hi);
    if (atomic_load(&f.bad))
        r->diverged_fixed = 1;
}

/* ---- the reduction overlapped with backward (DESIGN §5, --comm-overlap) ----
 * The step's last block announces each slice of the gradients as soon as it
 * is final (from the top: layer L first); slices are gathered into buckets of
 * at least DNN_BUCKET slots, and a bucket's sum over the ranks starts at once
 * and runs while the remaining products are computed, moved on by the
 * progress thread or by MPI_Testall between the products (dist.h).  With
 * exact sums (full batch, --deterministic) a slice is first added to the
 * fixed-point sums and the integers are reduced, so the result is bitwise
 * that of one allreduce.  Every rank starts the same buckets in the same
 * order: the slices depend only on the shape (a rank without examples
 * announces them too). */
typedef struct {
    run_t *r;
    int fresh; /* the slices hold this rank's block: add them to acc first (exact sums) */
} ready_t;

static void start_sum(run_t *r, size_t lo, size_t hi)
{
    size_t stride = r->model.nparams + DNN_GRAD_EXTRA;
    int rc;
    if (r->exact)
        rc = dnn_dist_isum(&r->comm, r->acc + lo, hi - lo, DNN_SUM_I64) ||
             dnn_dist_isum(&r->comm, r->acc + stride + lo, hi - lo, DNN_SUM_I64);
    else if (r->g16 && hi <= r->model.nparams) { /* bf16 on the wire; the loss and counts stay float32 */
        dnn_dist_to_bf16(r->g16 + lo, (const float *)r->model.grads + lo, hi - lo);
        rc = dnn_dist_isum(&r->comm, r->g16 + lo, hi - lo, DNN_SUM_BF16);
    } else
        rc = dnn_dist_isum(&r->comm, (char *)r->model.grads + lo * r->es, hi - lo,
                           r->es == 8 ? DNN_SUM_DOUBLE : DNN_SUM_FLOAT);
    if (rc)
        train_die(r, "MPI_Iallreduce of the gradients failed");
}

/* Start the sum of the slices announced since the last start. */
static void flush(run_t *r)
{
    if (r->pend_hi > r->pend_lo)
        start_sum(r, r->pend_lo, r->pend_hi);
    r->pend_lo = r->pend_hi = 0;
}

/* A slice [lo, hi) is final: it joins the bucket being gathered (slices come
 * from the top down, each ending where the last began), which starts once it
 * holds r->bucket slots.  Float sums: the first bucket also carries the loss,
 * correct count and stop flag (final since the forward pass). */
static void grads_ready(void *ctx, size_t lo, size_t hi)
{
    ready_t *q = ctx;
    run_t *r = q->r;
    if (hi > lo) {
        size_t P = r->model.nparams;
        if (r->exact && q->fresh)
            fix_slots(r, lo, hi);
        if (r->pend_hi == r->pend_lo) {
            r->pend_hi = hi;
            if (hi == P && !r->exact) {
                real_set(r, r->model.grads, P + 2, r->step_stop ? 1 : 0);
                if (r->g16)
                    start_sum(r, P, P + DNN_GRAD_EXTRA); /* alone, in float32 */
                else
                    r->pend_hi = P + DNN_GRAD_EXTRA;
            }
        }
        r->pend_lo = lo;
        if (r->pend_hi - r->pend_lo >= r->bucket)
            flush(r);
    }
    dnn_dist_poke(&r->comm);
}

/* One block's gradients into model.grads: stored (the first block of a sum)
 * or added.  A zeroed buffer is added to, so the float products need no
 * zeroing pass; bf16 stores (oneDNN's beta = 0 costs nothing, beta = 1 reads C).
 * With overlap the step's last block starts the sums during its backward. */
static void block_grads(run_t *r, const void *X, const void *Y, size_t cols, int first, int last)
{
    int store = first && (!r->grads_zero || r->o.precision == DNN_BF16);
    ready_t q = {r, 1};
    if (last && r->overlap)
        dnn_model_backward_ready(&r->model, X, Y, cols, store, grads_ready, &q);
    else
        dnn_model_backward(&r->model, X, Y, cols, store);
    r->grads_zero = 0;
}

/* After an exact-sum block: its sums into acc (the last block with overlap
 * did its slices already; the loss and correct count remain). */
static void block_exact(run_t *r, int last)
{
    if (!(last && r->overlap)) {
        fix_accumulate(r);
        return;
    }
    fix_slots(r, r->model.nparams, r->model.nparams + 2);
    r->grads_zero = 1;
}

/* A rank without examples in the step starts the same sums of its zeros. */
static void no_block(run_t *r)
{
    ready_t q = {r, 0};
    if (!r->exact && !r->grads_zero)
        dnn_model_zero_grads(&r->model);
    if (r->overlap)
        dnn_model_grad_ranges(&r->model, grads_ready, &q);
}

static void full_batch_grads(run_t *r, long k)
{
    size_t nx = r->shape.n_x, mloc = r->train.hi - r->train.lo;
    size_t bs = r->model.bmax;
    if (mloc == 0)
        no_block(r);
    for (size_t off = 0; off < mloc; off += bs) { /* bs = DNN_CHUNK: each block is a global chunk */
        size_t cols = mloc - off < bs ? mloc - off : bs;
        int last = off + cols == mloc;
        if (r->Xb)
            dnn_model_set_input_bf16(&r->model, r->Xb + off * nx);
        dnn_model_set_columns(&r->model, (uint64_t)k, NULL, r->train.lo + off); /* dropout keys */
        fix_begin(r, last);
        block_grads(r, (char *)r->train.X + off * nx * r->es, (char *)r->train.Y + off * r->ny * r->es, cols, 1,
                    last);
        block_exact(r, last);
    }
    fix_flush(r);
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

/* --deterministic (det.h): every group of batch positions this rank owns is
 * one block, summed into its own buffer and added exactly.  The overlapped
 * block is the rank's last in the final round (the column exchanges, being
 * collectives, must all come before any sum starts); a rank without a group
 * there sends its finished fixed-point sums like a rank without examples. */
static void det_grads(run_t *r, long k, uint64_t base, uint64_t nb)
{
    if (!r->exact) { /* det_step: every group of the batch is here, or there is one: added in one pass */
        size_t ng = det_exchange(r, base, nb, 0);
        for (size_t i = 0; i < ng; i++) {
            const void *X, *Y;
            size_t cols = det_group(r, k, i, &X, &Y);
            fix_begin(r, 0);
            block_grads(r, X, Y, cols, 1, 0);
            r->nfix++;
        }
        if (ng)
            det_fuse(r); /* one group on several ranks: then the float sum adds the others' zeros */
        else
            no_block(r);
        return;
    }
    size_t rounds = det_rounds(r, nb);
    int tail = 0;
    for (size_t t = 0; t < rounds; t++) {
        size_t ng = det_exchange(r, base, nb, t);
        for (size_t i = 0; i < ng; i++) {
            const void *X, *Y;
            size_t cols = det_group(r, k, i, &X, &Y);
            int last = t + 1 == rounds && i + 1 == ng;
            fix_begin(r, last);
            block_grads(r, X, Y, cols, 1, last);
            block_exact(r, last);
            tail |= last;
        }
    }
    if (!tail) {
        fix_flush(r);
        no_block(r);
    }
    fix_flush(r);
}

static void mini_batch_grads(run_t *r, long k)
{
    uint64_t B = (uint64_t)r->o.batch_size, base = (uint64_t)(k % r->spe) * B;
    uint64_t end = base + B < r->m ? base + B : r->m;
    if (r->o.deterministic) {
        det_grads(r, k, base, end - base);
        return;
    }
    size_t n = 0; /* keys = position in the batch */
    for (uint64_t p = base; p < end; p++) {
        uint64_t g = r->perm[p];
        if (g >= r->train.lo && g < r->train.hi)
            r->keys[n++] = p - base;
    }
    if (n == 0)
        no_block(r); /* none of this batch is here */
    for (size_t off = 0; off < n; off += r->model.bmax) {
        size_t cols = n - off < r->model.bmax ? n - off : r->model.bmax;
        gather(r, r->keys + off, cols, base, B);
        dnn_model_set_columns(&r->model, (uint64_t)k, r->keys + off, 0);
        block_grads(r, r->Xs, r->Ys, cols, off == 0, off + cols == n);
    }
}

/* Slots [lo, hi) of the fixed-point totals, rounded once, into model.grads. */
static void exact_part(void *ctx, size_t lo, size_t hi)
{
    run_t *r = ctx;
    const int64_t *H = r->acc, *L = r->acc + r->model.nparams + DNN_GRAD_EXTRA;
    if (r->es == 8)
        for (size_t i = lo; i < hi; i++)
            ((double *)r->model.grads)[i] = dnn_exact_value(H[i], L[i]);
    else
        for (size_t i = lo; i < hi; i++)
            ((float *)r->model.grads)[i] = (float)dnn_exact_value(H[i], L[i]);
}

/* Sum the step's gradients over ranks into model.grads (exact sums: from
 * acc).  With overlap the last bucket starts here (exact: then the loss,
 * correct count and flags, once every slice has been checked for the
 * fixed-point range), and every sum in flight is waited for. */
static void reduce(run_t *r, int stop)
{
    size_t P = r->model.nparams, n = P + DNN_GRAD_EXTRA;
    r->grads_zero = 0;
    if (r->exact) {
        int64_t *hi = r->acc, *lo = r->acc + n;
        hi[P + 2] = (stop ? 1 : 0) + (r->diverged_fixed ? (int64_t)1 << 40 : 0);
        lo[P + 2] = 0;
        if (r->overlap) {
            flush(r);
            start_sum(r, P, n); /* last: the divergence flag covers every slice */
            if (dnn_dist_wait(&r->comm))
                train_die(r, "MPI_Iallreduce of the gradients failed");
        } else if (r->d.size > 1 && dnn_dist_sum_i64(r->acc, 2 * n))
            train_die(r, "MPI_Allreduce of the gradients failed");
        dnn_matrix_parallel(exact_part, r, P + 2, 16384);
        real_set(r, r->model.grads, P + 2, (double)(hi[P + 2] & (((int64_t)1 << 40) - 1)));
        if (hi[P + 2] >> 40)
            real_set(r, r->model.grads, P, NAN);
        return;
    }
    if (r->g16 && !r->overlap) { /* bf16 in one reduction after backward */
        real_set(r, r->model.grads, P + 2, stop ? 1 : 0);
        start_sum(r, P, n);
        start_sum(r, 0, P);
    } else if (r->overlap)
        flush(r); /* the extras went with the first bucket, or alone in float32 */
    if (r->g16 || r->overlap) {
        if (dnn_dist_wait(&r->comm))
            train_die(r, "MPI_Iallreduce of the gradients failed");
        if (r->g16)
            dnn_dist_from_bf16(r->model.grads, r->g16, P);
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
    r->step_stop = stop_requested;
    if (r->det)
        det_step(r, (uint64_t)step_examples(r, k));
    if (r->exact)
        memset(r->acc, 0, 2 * (P + DNN_GRAD_EXTRA) * sizeof(int64_t));
    train_transfer_enter(r); /* --freeze: the trainable layers alone (README, Transfer learning) */
    P = r->model.nparams;
    if (!r->grads_zero) /* only after something other than the update used them (e.g. a gradient check) */
        dnn_model_zero_grads(&r->model);
    if (r->o.batch_size) {
        if (epoch != r->perm_epoch) {
            /* README, The course's mini-batch order */
            long S = r->o.shuffle_seed >= 0 ? r->o.shuffle_seed : r->o.seed;
            dnn_rng_epoch_order(r->perm, r->m, (dnn_rng_kind_t)r->o.rng, (uint64_t)S, (uint64_t)epoch);
            r->perm_epoch = epoch;
        }
        if (r->o.batch_norm)
            train_bn_grads(r, k);
        else
            mini_batch_grads(r, k);
    } else if (r->o.batch_norm) {
        train_bn_grads(r, k);
    } else {
        full_batch_grads(r, k);
    }
    reduce(r, stop_requested);
    double mb = step_examples(r, k);
    res->cost = train_real_at(r, r->model.grads, P) / mb;
    res->acc = r->o.output == DNN_ACT_LINEAR ? NAN : train_real_at(r, r->model.grads, P + 1) / mb;
    res->stop = train_real_at(r, r->model.grads, P + 2) > 0;
    train_transfer_leave(r);
}

typedef struct {
    run_t *r;
    dnn_optim_step_t st;
    size_t first; /* parameters before it are frozen (--freeze) */
} update_t;

/* Parameters [lo, hi) of the update, tile by tile, each tile's bf16 copy of W
 * refreshed right after it is written (--precision bf16) and its gradients
 * zeroed once read. */
static void update_part(void *ctx, size_t lo, size_t hi)
{
    update_t *u = ctx;
    lo += u->first;
    hi += u->first;
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
    update_t u = {.r = r, .first = train_transfer_first(r)};
    dnn_optim_prepare(&r->opt, &r->model, train_lr(r, k), 1.0 / step_examples(r, k), r->o.l2, r->o.clip_norm, &u.st);
    dnn_matrix_parallel(update_part, &u, r->model.nparams - u.first, 16384);
    memset((char *)r->model.grads + r->model.nparams * r->es, 0, DNN_GRAD_EXTRA * r->es);
    r->grads_zero = 1;
    dnn_bn_update_running(&r->model); /* --batch-norm: with this step's batch statistics */
}

/* The L2 term of the cost of the current parameters for step k (0 without --l2). */
double train_l2_cost(const run_t *r, long k)
{
    return r->o.l2 > 0 ? r->o.l2 / (2 * step_examples(r, k)) * dnn_optim_weights_sq(&r->model) : 0;
}
