/*
 * train_step.c - one step of dnn-train (README, Data-parallel training and determinism; Course 2):
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
#include <stdlib.h>
#include <string.h>

#include "dnn/exact.h"
#include "dnn/matrix.h"
#include "dnn/rng.h"
#include "det.h"
#include "train_run.h"

static double real_at(const run_t *r, const void *p, size_t i)
{
    return r->data.es == 8 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

static void real_set(const run_t *r, void *p, size_t i, double v)
{
    if (r->data.es == 8)
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
            char *g = (char *)f->bufs[b] + a * r->data.es;
            if (dnn_exact_accumulate_max(r->step.acc + a, r->step.acc + stride + a, g, n, r->data.es, r->step.exact_max))
                atomic_store_explicit(&f->bad, 1, memory_order_relaxed);
            memset(g, 0, n * r->data.es);
        }
    }
}

/* Add the pending chunk sums (gradients, loss, correct count) to the
 * fixed-point sums, on the matrix pool; every gradient buffer is zero
 * afterwards and model.grads is the model's own again. */
static void fix_flush(run_t *r)
{
    if (r->step.nfix == 0)
        return;
    fix_t f = {.r = r, .bufs = r->step.gbuf, .nbuf = r->step.nfix};
    atomic_init(&f.bad, 0);
    dnn_matrix_parallel(fix_part, &f, r->model.nparams + 2, 16384);
    if (atomic_load(&f.bad))
        r->step.diverged_fixed = 1;
    r->step.nfix = 0;
    r->model.grads = r->step.gbuf[0];
    r->step.grads_zero = 1;
}

/* Before a chunk's backward: it sums into the next free (zeroed) buffer.
 * The overlapped last block of a step takes the model's own buffer, with
 * nothing pending (its slices go to acc during its backward). */
static void fix_begin(run_t *r, int last)
{
    if (last && r->step.overlap)
        fix_flush(r);
    r->model.grads = r->step.gbuf[r->step.nfix];
    if (r->step.nfix > 0)
        r->step.grads_zero = 1;
}

/* After a chunk's backward: its sums are pending; DNN_FIX_BATCH of them are
 * converted in one pass (each acc tile is then read once for all of them). */
static void fix_accumulate(run_t *r)
{
    if (++r->step.nfix == DNN_FIX_BATCH)
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
        r->step.diverged_fixed = 1;
}

/* ---- the reduction overlapped with backward (README, Data-parallel training and determinism; --comm-overlap) ----
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
    if (r->step.exact)
        rc = dnn_dist_isum(&r->step.comm, r->step.acc + lo, hi - lo, DNN_SUM_I64) ||
             dnn_dist_isum(&r->step.comm, r->step.acc + stride + lo, hi - lo, DNN_SUM_I64);
    else if (r->step.g16 && hi <= r->model.nparams) { /* bf16 on the wire; the loss and counts stay float32 */
        dnn_dist_to_bf16(r->step.g16 + lo, (const float *)r->model.grads + lo, hi - lo);
        rc = dnn_dist_isum(&r->step.comm, r->step.g16 + lo, hi - lo, DNN_SUM_BF16);
    } else
        rc = dnn_dist_isum(&r->step.comm, (char *)r->model.grads + lo * r->data.es, hi - lo,
                           r->data.es == 8 ? DNN_SUM_DOUBLE : DNN_SUM_FLOAT);
    if (rc)
        train_step_fail(r, "MPI_Iallreduce of the gradients failed");
}

/* Start the sum of the slices announced since the last start. */
static void flush(run_t *r)
{
    if (r->step.pend_hi > r->step.pend_lo)
        start_sum(r, r->step.pend_lo, r->step.pend_hi);
    r->step.pend_lo = r->step.pend_hi = 0;
}

/* A slice [lo, hi) is final: it joins the bucket being gathered (slices come
 * from the top down, each ending where the last began), which starts once it
 * holds r->step.bucket slots.  Float sums: the first bucket also carries the loss,
 * correct count and stop flag (final since the forward pass). */
static void grads_ready(void *ctx, size_t lo, size_t hi)
{
    ready_t *q = ctx;
    run_t *r = q->r;
    if (hi > lo) {
        size_t P = r->model.nparams;
        if (r->step.exact && q->fresh)
            fix_slots(r, lo, hi);
        if (r->step.pend_hi == r->step.pend_lo) {
            r->step.pend_hi = hi;
            if (hi == P && !r->step.exact) {
                real_set(r, r->model.grads, P + 2, r->step.step_stop ? 1 : 0);
                if (r->step.g16)
                    start_sum(r, P, P + DNN_GRAD_EXTRA); /* alone, in float32 */
                else
                    r->step.pend_hi = P + DNN_GRAD_EXTRA;
            }
        }
        r->step.pend_lo = lo;
        if (r->step.pend_hi - r->step.pend_lo >= r->step.bucket)
            flush(r);
    }
    dnn_dist_poke(&r->step.comm);
}

/* One block's gradients into model.grads: stored (the first block of a sum)
 * or added.  A zeroed buffer is added to, so the float products need no
 * zeroing pass; bf16 stores (oneDNN's beta = 0 costs nothing, beta = 1 reads C).
 * With overlap the step's last block starts the sums during its backward. */
static void block_grads(run_t *r, const void *X, const void *Y, size_t cols, int first, int last)
{
    int store = first && (!r->step.grads_zero || r->o.precision == DNN_BF16);
    ready_t q = {r, 1};
    if (last && r->step.overlap)
        dnn_model_backward_ready(&r->model, X, Y, cols, store, grads_ready, &q);
    else
        dnn_model_backward(&r->model, X, Y, cols, store);
    r->step.grads_zero = 0;
}

/* After an exact-sum block: its sums into acc (the last block with overlap
 * did its slices already; the loss and correct count remain). */
static void block_exact(run_t *r, int last)
{
    if (!(last && r->step.overlap)) {
        fix_accumulate(r);
        return;
    }
    fix_slots(r, r->model.nparams, r->model.nparams + 2);
    r->step.grads_zero = 1;
}

/* A rank without examples in the step starts the same sums of its zeros. */
static void no_block(run_t *r)
{
    ready_t q = {r, 0};
    if (!r->step.exact && !r->step.grads_zero)
        dnn_model_zero_grads(&r->model);
    if (r->step.overlap)
        dnn_model_grad_ranges(&r->model, grads_ready, &q);
}

static void full_batch_grads(run_t *r, long k)
{
    size_t nx = r->data.shape.n_x, mloc = r->data.train.hi - r->data.train.lo;
    size_t bs = r->model.bmax;
    if (mloc == 0)
        no_block(r);
    for (size_t off = 0; off < mloc; off += bs) { /* bs = DNN_CHUNK: each block is a global chunk */
        size_t cols = mloc - off < bs ? mloc - off : bs;
        int last = off + cols == mloc;
        if (r->step.Xb)
            dnn_model_set_input_bf16(&r->model, r->step.Xb + off * nx);
        dnn_model_set_columns(&r->model, (uint64_t)k, NULL, r->data.train.lo + off); /* dropout keys */
        fix_begin(r, last);
        block_grads(r, (char *)r->data.train.X + off * nx * r->data.es, (char *)r->data.train.Y + off * r->data.ny * r->data.es, cols, 1,
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
    size_t nx = r->data.shape.n_x, ny = r->data.ny, es = r->data.es;
    for (size_t j = lo; j < hi; j++) {
        uint64_t g = r->step.perm[q->base + q->keys[j] % q->B], c = g - r->data.train.lo;
        q->keys[j] = g;
        if (r->step.Xb)
            memcpy(r->step.Xsb + j * nx, r->step.Xb + c * nx, nx * sizeof(uint16_t));
        else
            memcpy((char *)r->step.Xs + j * nx * es, (char *)r->data.train.X + c * nx * es, nx * es);
        memcpy((char *)r->step.Ys + j * ny * es, (char *)r->data.train.Y + c * ny * es, ny * es);
    }
}

/* Copy the columns of the batch members keys[0..n) into the staging buffers,
 * in parts on the matrix pool (scattered reads: latency-bound on one thread). */
static void gather(run_t *r, uint64_t *keys, size_t n, uint64_t base, uint64_t B)
{
    gather_t q = {r, keys, base, B};
    dnn_matrix_parallel(gather_part, &q, n, 32);
    if (r->step.Xsb)
        dnn_model_set_input_bf16(&r->model, r->step.Xsb);
}

/* --deterministic (det.h): every group of batch positions this rank owns is
 * one block, summed into its own buffer and added exactly.  The overlapped
 * block is the rank's last in the final round (the column exchanges, being
 * collectives, must all come before any sum starts); a rank without a group
 * there sends its finished fixed-point sums like a rank without examples. */
static void det_grads(run_t *r, long k, uint64_t base, uint64_t nb)
{
    if (!r->step.exact) { /* det_step: every group of the batch is here, or there is one: added in one pass */
        size_t ng = det_exchange(r, base, nb, 0);
        for (size_t i = 0; i < ng; i++) {
            const void *X, *Y;
            size_t cols = det_group(r, k, i, &X, &Y);
            fix_begin(r, 0);
            block_grads(r, X, Y, cols, 1, 0);
            r->step.nfix++;
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
    uint64_t B = (uint64_t)r->o.batch_size, base = (uint64_t)(k % r->step.spe) * B;
    uint64_t end = base + B < r->data.m ? base + B : r->data.m;
    if (r->o.deterministic) {
        det_grads(r, k, base, end - base);
        return;
    }
    size_t n = 0; /* keys = position in the batch */
    for (uint64_t p = base; p < end; p++) {
        uint64_t g = r->step.perm[p];
        if (g >= r->data.train.lo && g < r->data.train.hi)
            r->step.keys[n++] = p - base;
    }
    if (n == 0)
        no_block(r); /* none of this batch is here */
    for (size_t off = 0; off < n; off += r->model.bmax) {
        size_t cols = n - off < r->model.bmax ? n - off : r->model.bmax;
        gather(r, r->step.keys + off, cols, base, B);
        dnn_model_set_columns(&r->model, (uint64_t)k, r->step.keys + off, 0);
        block_grads(r, r->step.Xs, r->step.Ys, cols, off == 0, off + cols == n);
    }
}

/* Slots [lo, hi) of the fixed-point totals, rounded once, into model.grads. */
static void exact_part(void *ctx, size_t lo, size_t hi)
{
    run_t *r = ctx;
    const int64_t *H = r->step.acc, *L = r->step.acc + r->model.nparams + DNN_GRAD_EXTRA;
    if (r->data.es == 8)
        for (size_t i = lo; i < hi; i++)
            ((double *)r->model.grads)[i] = dnn_exact_value(H[i], L[i]);
    else
        for (size_t i = lo; i < hi; i++)
            ((float *)r->model.grads)[i] = (float)dnn_exact_value(H[i], L[i]);
}

/* Sum the step's gradients over ranks into model.grads (exact sums: from
 * acc).  With overlap the last bucket starts here (exact: then the loss,
 * correct count and flags, once every slice has been checked for the
 * fixed-point range), and every sum in flight is waited for.  Returns 0 or
 * DNN_EMPI with msg. */
static int reduce(run_t *r, int stop, char *msg)
{
    size_t P = r->model.nparams, n = P + DNN_GRAD_EXTRA;
    r->step.grads_zero = 0;
    if (r->step.exact) {
        int64_t *hi = r->step.acc, *lo = r->step.acc + n;
        hi[P + 2] = (stop ? 1 : 0) + (r->step.diverged_fixed ? (int64_t)1 << 40 : 0);
        lo[P + 2] = 0;
        if (r->step.overlap) {
            flush(r);
            start_sum(r, P, n); /* last: the divergence flag covers every slice */
            if (dnn_dist_wait(&r->step.comm))
                return dnn_fail(msg, DNN_EMPI, "MPI_Iallreduce of the gradients failed");
        } else if (r->d.size > 1 && dnn_dist_sum_i64(r->step.acc, 2 * n))
            return dnn_fail(msg, DNN_EMPI, "MPI_Allreduce of the gradients failed");
        dnn_matrix_parallel(exact_part, r, P + 2, 16384);
        real_set(r, r->model.grads, P + 2, (double)(hi[P + 2] & (((int64_t)1 << 40) - 1)));
        if (hi[P + 2] >> 40)
            real_set(r, r->model.grads, P, NAN);
        return 0;
    }
    if (r->step.g16 && !r->step.overlap) { /* bf16 in one reduction after backward */
        real_set(r, r->model.grads, P + 2, stop ? 1 : 0);
        start_sum(r, P, n);
        start_sum(r, 0, P);
    } else if (r->step.overlap)
        flush(r); /* the extras went with the first bucket, or alone in float32 */
    if (r->step.g16 || r->step.overlap) {
        if (dnn_dist_wait(&r->step.comm))
            return dnn_fail(msg, DNN_EMPI, "MPI_Iallreduce of the gradients failed");
        if (r->step.g16)
            dnn_dist_from_bf16(r->model.grads, r->step.g16, P);
        return 0;
    }
    real_set(r, r->model.grads, P + 2, stop ? 1 : 0);
    if (r->d.size > 1 && dnn_dist_sum_real(r->model.grads, n, r->data.es))
        return dnn_fail(msg, DNN_EMPI, "MPI_Allreduce of the gradients failed");
    return 0;
}

/* Examples in step k: B, or what is left for the last batch of an epoch; m in full batch. */
double train_step_examples(const run_t *r, long k)
{
    uint64_t B = (uint64_t)r->o.batch_size, s = (uint64_t)(k % r->step.spe);
    if (!B)
        return (double)r->data.m;
    return (double)((s + 1) * B < r->data.m ? B : r->data.m - s * B);
}

void train_step_fail(run_t *r, const char *what)
{
    if (!r->step.err)
        r->step.err_what = what;
    r->step.err = DNN_EMPI;
}

double train_lr(const run_t *r, long k)
{
    return dnn_optim_lr((dnn_decay_t)r->o.lr_decay, r->o.lr, r->o.decay_rate, r->o.decay_every, k, r->step.spe, r->step.total);
}

/*
 * The gradients of step k, summed over every rank: afterwards model.grads
 * holds the sums and res the step's data cost (before L2), accuracy and stop
 * flag.  Returns 0, or DNN_EMPI (this rank's sums failed) with msg.
 */
int train_step(run_t *r, long k, int stop_requested, step_result_t *res, char *msg)
{
    size_t P = r->model.nparams;
    long epoch = k / r->step.spe;
    r->step.step_stop = stop_requested;
    r->step.err = 0;
    if (r->step.det)
        det_step(r, (uint64_t)train_step_examples(r, k));
    if (r->step.exact)
        memset(r->step.acc, 0, 2 * (P + DNN_GRAD_EXTRA) * sizeof(int64_t));
    train_transfer_enter(r); /* --freeze: the trainable layers alone (README, Transfer learning) */
    P = r->model.nparams;
    if (!r->step.grads_zero) /* only after something other than the update used them (e.g. a gradient check) */
        dnn_model_zero_grads(&r->model);
    if (r->o.batch_size) {
        if (epoch != r->step.perm_epoch) {
            /* README, The course's mini-batch order */
            long S = r->o.shuffle_seed >= 0 ? r->o.shuffle_seed : r->o.seed;
            dnn_rng_epoch_order(r->step.perm, r->data.m, (dnn_rng_kind_t)r->o.rng, (uint64_t)S, (uint64_t)epoch);
            r->step.perm_epoch = epoch;
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
    int rc = reduce(r, stop_requested, msg);
    if (!rc && r->step.err)
        rc = dnn_fail(msg, r->step.err, "%s", r->step.err_what);
    double mb = train_step_examples(r, k);
    res->cost = real_at(r, r->model.grads, P) / mb;
    res->acc = r->o.output == DNN_ACT_LINEAR ? NAN : real_at(r, r->model.grads, P + 1) / mb;
    res->stop = real_at(r, r->model.grads, P + 2) > 0;
    train_transfer_leave(r);
    return rc;
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
        memset((char *)u->r->model.grads + a * u->r->data.es, 0, (b - a) * u->r->data.es); /* for the next step's products */
    }
}

/* The update of step k from the reduced sums: every rank applies the same,
 * in parts run by the matrix pool (element-wise, so any split gives the same bits). */
void train_update(run_t *r, long k)
{
    update_t u = {.r = r, .first = train_transfer_first(r)};
    dnn_optim_prepare(&r->opt, &r->model, train_lr(r, k), 1.0 / train_step_examples(r, k), r->o.l2, r->o.clip_norm, &u.st);
    dnn_matrix_parallel(update_part, &u, r->model.nparams - u.first, 16384);
    memset((char *)r->model.grads + r->model.nparams * r->data.es, 0, DNN_GRAD_EXTRA * r->data.es);
    r->step.grads_zero = 1;
    dnn_bn_update_running(&r->model); /* --batch-norm: with this step's batch statistics */
}

/* ---- the step's buffers, sized once at set-up ---- */

static void to_bf16_part(void *ctx, size_t lo, size_t hi)
{
    run_t *r = ctx;
    dnn_matrix_to_bf16(r->step.Xb + lo, (const float *)r->data.train.X + lo, hi - lo);
}

/* --precision bf16: the training X in bfloat16, converted once (after any
 * preprocessing), which layer 1 reads in place or gathered; 0 or DNN_ENOMEM. */
static int bf16_inputs(run_t *r, char *msg)
{
    if (!dnn_model_bf16_input(&r->model))
        return 0;
    size_t nx = r->data.shape.n_x, mloc = r->data.train.hi - r->data.train.lo;
    r->step.Xb = dnn_alloc(mloc ? nx * mloc : 1, sizeof(uint16_t));
    if (r->o.batch_size)
        r->step.Xsb = dnn_alloc(nx * r->model.bmax, sizeof(uint16_t));
    if (!r->step.Xb || (r->o.batch_size && !r->step.Xsb))
        return dnn_fail(msg, DNN_ENOMEM, "out of memory for the bf16 copy of X '%s' in '%s' (%zu MiB)", r->o.x,
                        r->o.data, nx * mloc * sizeof(uint16_t) >> 20);
    dnn_matrix_parallel(to_bf16_part, r, nx * mloc, 16384);
    return 0;
}

/* The sums over ranks: overlapped with backward, or in bf16 (--comm-overlap, --comm-precision). */
static int comm_buffers(run_t *r, char *msg)
{
    train_step_t *s = &r->step;
    int bf16 = r->o.comm_precision == 1;
    if (bf16 && (r->o.precision == DNN_DOUBLE || s->exact))
        return dnn_fail(msg, DNN_EINVAL, "--comm-precision bf16 applies to float32 sums: it needs --precision single or "
                        "bf16, --batch-size > 0 and no --deterministic (exact sums)");
    s->overlap = r->d.size > 1 && r->o.comm_overlap != 2 && !r->o.batch_norm; /* batch norm reduces layer by layer */
    s->bucket = DNN_BUCKET;
    if (r->d.size > 1 && (s->overlap || bf16)) {
        if (dnn_dist_async_init(&s->comm, &r->d, (dnn_progress_t)(s->overlap ? r->o.comm_overlap : 1), DNN_POLL_US))
            return dnn_fail(msg, DNN_ENOMEM, "--comm-overlap: cannot set up the non-blocking sums (MPI_Op_create, mutex)");
        s->comm_on = 1;
    }
    if (r->d.size > 1 && bf16 && !(s->g16 = dnn_alloc(r->model.nparams, sizeof(uint16_t))))
        return dnn_fail(msg, DNN_ENOMEM, "out of memory for the --comm-precision bf16 buffer");
    return 0;
}

/* Mini-batch order and staging, the reductions, the fixed-point sums.  Returns 0 or DNN_E* (this rank's). */
int train_step_init(run_t *r, const dnn_ckpt_t *ck, char *msg)
{
    train_step_t *s = &r->step;
    size_t P = r->model.nparams, bmax = r->model.bmax, es = r->data.es;
    uint64_t B = (uint64_t)r->o.batch_size;
    int rc = 0;
    if (B) {
        s->perm = dnn_alloc(r->data.m, sizeof(uint64_t));
        s->keys = dnn_alloc(B, sizeof(uint64_t));
        s->Xs = dnn_alloc(r->data.shape.n_x * bmax, es);
        s->Ys = dnn_alloc(r->data.ny * bmax, es);
        if (!s->perm || !s->keys || !s->Xs || !s->Ys)
            rc = dnn_fail(msg, DNN_ENOMEM, "out of memory for the mini-batch buffers (m = %llu)",
                          (unsigned long long)r->data.m);
        s->perm_epoch = -1;
    }
    if (!rc)
        rc = bf16_inputs(r, msg);
    s->exact = r->o.deterministic || !B; /* full batch: N-independent by default (README, Data-parallel training and determinism) */
    if (!rc)
        rc = comm_buffers(r, msg);
    s->grads_zero = 1; /* dnn_model_init zeroes them */
    s->gbuf[0] = r->model.grads;
    for (int b = 1; b < DNN_FIX_BATCH && s->exact && !rc; b++) {
        s->gbuf[b] = dnn_alloc(P + DNN_GRAD_EXTRA, es);
        if (!s->gbuf[b])
            rc = dnn_fail(msg, DNN_ENOMEM, "out of memory for the chunk gradient buffers");
        else
            memset(s->gbuf[b], 0, (P + DNN_GRAD_EXTRA) * es);
    }
    if (s->exact && !rc && !(s->acc = dnn_alloc(2 * (P + DNN_GRAD_EXTRA), sizeof(int64_t))))
        rc = dnn_fail(msg, DNN_ENOMEM, "out of memory for the --deterministic accumulators");
    if (r->o.deterministic && B && !rc)
        rc = det_init(r, ck, msg);
    if (r->o.batch_norm && !rc)
        rc = train_bn_setup(r, msg);
    return rc;
}

void train_step_free(train_step_t *s)
{
    if (s->comm_on)
        dnn_dist_async_free(&s->comm);
    free(s->perm);
    free(s->keys);
    free(s->Xs);
    free(s->Ys);
    free(s->Xb);
    free(s->Xsb);
    for (int b = 1; b < DNN_FIX_BATCH; b++)
        free(s->gbuf[b]);
    free(s->acc);
    free(s->g16);
    memset(s, 0, sizeof *s);
}
