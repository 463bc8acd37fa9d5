/*
 * det.c - --deterministic mini-batch: groups of batch positions, each owned
 * by one rank, their columns exchanged once per round (see det.h).
 * Nothing here allocates after det_init.
 */
#include "det.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/exact.h"
#include "dnn/matrix.h"

struct det {
    uint64_t *lo, *hi;   /* (N) every rank's training examples [lo, hi) */
    size_t xb, yb, rec;  /* bytes of a column's X (or bf16 X), of its Y, of both */
    const char *xsrc, *ysrc; /* this rank's X (or its bf16 copy) and Y */
    char *stx, *sty;     /* (cap) this rank's columns of the round, in batch order */
    char *send, *recv;   /* (scap), (cap) records X|Y */
    size_t cap, scap;
    uint64_t *keys;      /* (cap) the staged columns' global indices (dropout keys) */
    size_t *from, *to;   /* (max(cap, scap)) copy plan: source and destination column */
    int *scount, *sdispl, *rcount, *rdispl, *cursor; /* (N) */
    int *owner;          /* (DNN_DET_ROUND N) owner of each group of a round */
    dnn_dist_exchange_t x;
    size_t ncols;        /* columns staged in the current round */
    int overlap;         /* the run's --comm-overlap (steps of one group go without) */
};

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

static uint64_t groups(uint64_t nb) { return (nb + DNN_DET_GROUP - 1) / DNN_DET_GROUP; }

double det_exact_max(uint64_t B) { return dnn_exact_limit(groups(B)); }

void det_step(run_t *r, uint64_t nb)
{
    uint64_t G = groups(nb);
    r->step.exact = !(G == 1 || (r->d.size == 1 && G <= DNN_FIX_BATCH));
    r->step.overlap = r->step.exact && r->step.det->overlap;
}

#define FUSE_TILE 1024 /* elements whose fixed-point sums stay on the stack (16 KiB) */

typedef struct {
    run_t *r;
    int n;
    atomic_int bad;
} fuse_t;

/* Part [lo, hi) of det_fuse, tile by tile: the terms' fixed-point parts are
 * added as exact.h adds them, on the stack, and the sum rounded once as the
 * reduction would round it; the buffers after the first are zeroed once read. */
static void fuse_part(void *ctx, size_t lo, size_t hi)
{
    fuse_t *f = ctx;
    run_t *r = f->r;
    size_t es = r->data.es;
    int64_t H[FUSE_TILE], L[FUSE_TILE];
    for (size_t a = lo; a < hi; a += FUSE_TILE) {
        size_t n = min_sz(FUSE_TILE, hi - a);
        memset(H, 0, n * sizeof *H);
        memset(L, 0, n * sizeof *L);
        for (int b = 0; b < f->n; b++) {
            char *g = (char *)r->step.gbuf[b] + a * es;
            if (dnn_exact_accumulate_max(H, L, g, n, es, r->step.exact_max))
                atomic_store_explicit(&f->bad, 1, memory_order_relaxed);
            if (b > 0)
                memset(g, 0, n * es);
        }
        if (es == 8) {
            double *out = (double *)r->step.gbuf[0] + a;
            for (size_t j = 0; j < n; j++)
                out[j] = dnn_exact_value(H[j], L[j]);
        } else {
            float *out = (float *)r->step.gbuf[0] + a;
            for (size_t j = 0; j < n; j++)
                out[j] = (float)dnn_exact_value(H[j], L[j]);
        }
    }
}

void det_fuse(run_t *r)
{
    fuse_t f = {.r = r, .n = r->step.nfix};
    atomic_init(&f.bad, 0);
    dnn_matrix_parallel(fuse_part, &f, r->model.nparams + 2, 16384);
    r->step.nfix = 0;
    r->model.grads = r->step.gbuf[0];
    r->step.grads_zero = 0;
    if (!atomic_load(&f.bad))
        return;
    if (r->data.es == 8) /* a term out of the fixed-point range: the loss sum becomes NaN, as with the totals */
        ((double *)r->model.grads)[r->model.nparams] = NAN;
    else
        ((float *)r->model.grads)[r->model.nparams] = NAN;
}

size_t det_rounds(const run_t *r, uint64_t nb)
{
    uint64_t per = (uint64_t)DNN_DET_ROUND * (uint64_t)r->d.size;
    return (size_t)((groups(nb) + per - 1) / per);
}

static int alloc_all(run_t *r, struct det *d)
{
    size_t N = (size_t)r->d.size, cap = d->cap, scap = d->scap, plan = cap > scap ? cap : scap;
    d->lo = dnn_alloc(N, sizeof(uint64_t));
    d->hi = dnn_alloc(N, sizeof(uint64_t));
    d->stx = dnn_alloc(cap, d->xb);
    d->sty = dnn_alloc(cap, d->yb);
    d->keys = dnn_alloc(cap, sizeof(uint64_t));
    d->from = dnn_alloc(plan, sizeof(size_t));
    d->to = dnn_alloc(plan, sizeof(size_t));
    d->scount = dnn_alloc(5 * N, sizeof(int));
    d->owner = dnn_alloc(DNN_DET_ROUND * N, sizeof(int));
    int ok = d->lo && d->hi && d->stx && d->sty && d->keys && d->from && d->to && d->scount && d->owner;
    if (N > 1) {
        d->send = dnn_alloc(scap, d->rec);
        d->recv = dnn_alloc(cap, d->rec);
        ok = ok && d->send && d->recv;
    }
    if (!ok)
        return DNN_ENOMEM;
    d->sdispl = d->scount + N;
    d->rcount = d->scount + 2 * N;
    d->rdispl = d->scount + 3 * N;
    d->cursor = d->scount + 4 * N;
    return 0;
}

int det_init(run_t *r, const dnn_ckpt_t *ck, char *msg)
{
    uint64_t B = (uint64_t)r->o.batch_size, mloc = r->data.train.hi - r->data.train.lo, N = (uint64_t)r->d.size;
    struct det *d = calloc(1, sizeof *d);
    if (!(r->step.det = d))
        return dnn_fail(msg, DNN_ENOMEM, "out of memory for the --deterministic exchange");
    d->xsrc = r->step.Xb ? (const char *)r->step.Xb : (const char *)r->data.train.X;
    d->ysrc = (const char *)r->data.train.Y;
    int big = dnn_size_mul(&d->xb, r->data.shape.n_x, r->step.Xb ? sizeof(uint16_t) : r->data.es) ||
              dnn_size_mul(&d->yb, r->data.ny, r->data.es) || dnn_size_add(&d->rec, d->xb, d->yb);
    d->cap = min_sz(B, (size_t)DNN_DET_ROUND * DNN_DET_GROUP);
    d->scap = N > 1 ? min_sz(min_sz(B, mloc), (size_t)(DNN_DET_ROUND * DNN_DET_GROUP * N)) : 0;
    d->scap = d->scap ? d->scap : 1;
    if (big || alloc_all(r, d))
        return dnn_fail(msg, DNN_ENOMEM, "out of memory for the --deterministic exchange (%zu columns of %zu bytes)",
                        d->cap + d->scap, d->rec);
    for (int s = 0; s < r->d.size; s++) /* the shard plan (no collective here: a failure is agreed on later) */
        dnn_dist_shard(r->data.m, r->d.size, s, &d->lo[s], &d->hi[s]);
    if (d->lo[r->d.rank] != r->data.train.lo || d->hi[r->d.rank] != r->data.train.hi)
        return dnn_fail(msg, DNN_EINVAL, "--deterministic: this rank holds training examples [%llu, %llu), the shard "
                        "plan says [%llu, %llu)", (unsigned long long)r->data.train.lo, (unsigned long long)r->data.train.hi,
                        (unsigned long long)d->lo[r->d.rank], (unsigned long long)d->hi[r->d.rank]);
    if (N > 1 && dnn_dist_exchange_init(&d->x, d->rec))
        return dnn_fail(msg, DNN_EMPI, "--deterministic: cannot make the MPI record type of the column exchange "
                        "(%zu bytes per column)", d->rec);
    r->step.exact_max = det_exact_max(B); /* one term per group of a batch */
    d->overlap = r->step.overlap;
    if (r->o.resume && ck->deterministic && ck->batch_size > 0 && ck->deterministic_groups != DNN_DET_GROUP &&
        r->d.rank == 0) {
        char note[DNN_MSG_LEN];
        snprintf(note, sizeof note, "note: checkpoint '%s' comes from an older --deterministic that summed each batch "
                 "per 256-example chunk of the file; this release sums per group of %d batch positions, so the "
                 "resumed run is bitwise reproducible from here on (any N, any threads) but does not continue bitwise "
                 "what the older release would have computed", r->o.checkpoint, DNN_DET_GROUP);
        dnn_log_error(&r->log, note);
    }
    return 0;
}

void det_free(run_t *r)
{
    struct det *d = r->step.det;
    if (!d)
        return;
    if (r->d.size > 1)
        dnn_dist_exchange_free(&d->x);
    free(d->lo);
    free(d->hi);
    free(d->stx);
    free(d->sty);
    free(d->send);
    free(d->recv);
    free(d->keys);
    free(d->from);
    free(d->to);
    free(d->scount);
    free(d->owner);
    free(d);
    r->step.det = NULL;
}

/* The rank whose training examples hold global index g (shards are
 * contiguous and in rank order; an empty one is never the answer). */
static int holder(const struct det *d, int N, uint64_t g)
{
    int a = 0, b = N - 1;
    while (a < b) { /* the last rank with lo <= g */
        int c = (a + b + 1) / 2;
        if (d->lo[c] <= g)
            a = c;
        else
            b = c - 1;
    }
    return a;
}

/* Columns [lo, hi) of the copy plan (memcpy per column, on the matrix pool):
 * local data -> stage (one rank), local data -> send records, or receive
 * records -> stage. */
typedef enum { GATHER, PACK, UNPACK } copy_mode_t;
typedef struct {
    const struct det *d;
    copy_mode_t mode;
} copy_t;

static void copy_part(void *ctx, size_t lo, size_t hi)
{
    const copy_t *c = ctx;
    const struct det *d = c->d;
    size_t xb = d->xb, yb = d->yb, rec = d->rec;
    for (size_t i = lo; i < hi; i++) {
        size_t f = d->from[i], t = d->to[i];
        if (c->mode == GATHER) {
            memcpy(d->stx + t * xb, d->xsrc + f * xb, xb);
            memcpy(d->sty + t * yb, d->ysrc + f * yb, yb);
        } else if (c->mode == PACK) {
            memcpy(d->send + t * rec, d->xsrc + f * xb, xb);
            memcpy(d->send + t * rec + xb, d->ysrc + f * yb, yb);
        } else {
            memcpy(d->stx + t * xb, d->recv + f * rec, xb);
            memcpy(d->sty + t * yb, d->recv + f * rec + xb, yb);
        }
    }
}

static void copy(const struct det *d, copy_mode_t mode, size_t n)
{
    copy_t c = {d, mode};
    dnn_matrix_parallel(copy_part, &c, n, 32);
}

/* Prefix sums of counts into displacements; the cursors start there. */
static void displace(const int *count, int *displ, int *cursor, int N)
{
    int at = 0;
    for (int s = 0; s < N; s++) {
        displ[s] = cursor[s] = at;
        at += count[s];
    }
}

/* Send this rank's members among batch positions [q0, q1) (groups [0, Gt) of
 * the round) to the ranks owning their groups, in batch order. */
static void plan_send(run_t *r, struct det *d, uint64_t base, uint64_t q0, uint64_t q1, uint64_t Gt)
{
    int N = r->d.size;
    for (int s = 0; s < N; s++) {
        for (uint64_t g = Gt * (uint64_t)s / (uint64_t)N; g < Gt * (uint64_t)(s + 1) / (uint64_t)N; g++)
            d->owner[g] = s;
        d->scount[s] = 0;
    }
    for (uint64_t p = q0; p < q1; p++) {
        uint64_t e = r->step.perm[base + p];
        if (e >= r->data.train.lo && e < r->data.train.hi)
            d->scount[d->owner[(p - q0) / DNN_DET_GROUP]]++;
    }
    displace(d->scount, d->sdispl, d->cursor, N);
    size_t n = 0;
    for (uint64_t p = q0; p < q1; p++) {
        uint64_t e = r->step.perm[base + p];
        if (e >= r->data.train.lo && e < r->data.train.hi) {
            d->from[n] = e - r->data.train.lo;
            d->to[n++] = (size_t)d->cursor[d->owner[(p - q0) / DNN_DET_GROUP]]++;
        }
    }
    copy(d, PACK, n);
}

/* Receive the staged columns: from each holder, its members of this rank's
 * groups in batch order, each to its place. */
static void plan_recv(run_t *r, struct det *d)
{
    int N = r->d.size;
    memset(d->rcount, 0, (size_t)N * sizeof(int));
    for (size_t j = 0; j < d->ncols; j++)
        d->rcount[holder(d, N, d->keys[j])]++;
    displace(d->rcount, d->rdispl, d->cursor, N);
    for (size_t j = 0; j < d->ncols; j++) {
        d->from[j] = (size_t)d->cursor[holder(d, N, d->keys[j])]++;
        d->to[j] = j;
    }
}

size_t det_exchange(run_t *r, uint64_t base, uint64_t nb, size_t t)
{
    struct det *d = r->step.det;
    uint64_t N = (uint64_t)r->d.size, me = (uint64_t)r->d.rank, G = groups(nb);
    uint64_t g0 = (uint64_t)t * DNN_DET_ROUND * N, Gt = G - g0 < DNN_DET_ROUND * N ? G - g0 : DNN_DET_ROUND * N;
    uint64_t a = g0 + Gt * me / N, b = g0 + Gt * (me + 1) / N; /* this rank's groups */
    uint64_t p0 = a * DNN_DET_GROUP, p1 = b * DNN_DET_GROUP < nb ? b * DNN_DET_GROUP : nb;
    d->ncols = p1 > p0 ? (size_t)(p1 - p0) : 0;
    for (size_t j = 0; j < d->ncols; j++)
        d->keys[j] = r->step.perm[base + p0 + j];
    if (N == 1) { /* one rank: straight from the local data */
        for (size_t j = 0; j < d->ncols; j++) {
            d->from[j] = d->keys[j] - r->data.train.lo;
            d->to[j] = j;
        }
        copy(d, GATHER, d->ncols);
        return (size_t)(b - a);
    }
    uint64_t q1 = (g0 + Gt) * DNN_DET_GROUP < nb ? (g0 + Gt) * DNN_DET_GROUP : nb;
    plan_send(r, d, base, g0 * DNN_DET_GROUP, q1, Gt);
    plan_recv(r, d);
    if (dnn_dist_exchange(&d->x, d->send, d->scount, d->sdispl, d->recv, d->rcount, d->rdispl))
        train_step_fail(r, "MPI_Alltoallv of the batch's columns (--deterministic) failed");
    copy(d, UNPACK, d->ncols);
    return (size_t)(b - a);
}

size_t det_group(run_t *r, long k, size_t i, const void **X, const void **Y)
{
    struct det *d = r->step.det;
    size_t c0 = i * DNN_DET_GROUP, c1 = min_sz(c0 + DNN_DET_GROUP, d->ncols);
    if (r->step.Xb) { /* layer 1 reads the bf16 columns; X itself is not read */
        dnn_model_set_input_bf16(&r->model, (const uint16_t *)(const void *)(d->stx + c0 * d->xb));
        *X = r->step.Xs;
    } else {
        *X = d->stx + c0 * d->xb;
    }
    *Y = d->sty + c0 * d->yb;
    dnn_model_set_columns(&r->model, (uint64_t)k, d->keys + c0, 0);
    return c1 - c0;
}
