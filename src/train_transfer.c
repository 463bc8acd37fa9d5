/*
 * train_transfer.c - transfer learning (README, Transfer learning):
 * --init-from CKPT, --transfer-layers K, --freeze K.
 *
 * The source checkpoint is loaded once (its checksums verified) before the
 * data, so that its input preprocessing (--scale, --standardize and the
 * stored mean and std) is the run's.  After the usual initialization the
 * leading layers whose shapes match (or the first --transfer-layers) take its
 * W and b (with --batch-norm also gamma, beta and the running statistics);
 * the others keep their --init values.
 *
 * --freeze K: layers 1..K are never updated (the update starts after them).
 * Without dropout their outputs A[K] are computed once per example here and
 * the step runs on the trainable layers K+1..L alone: a second model (the
 * "head") whose parameter and gradient buffers are the tail of the full
 * model's (W[K+1] b[K+1] ... W[L] b[L] are its W1 b1 ...; the loss, correct
 * count and stop slots follow both), fed A[K] in place of X.  Backprop thus
 * stops at layer K+1 and an epoch costs only the trainable layers; the
 * records, the evaluation and the checkpoints see the full model as always.
 * With dropout (which acts on A[K]), or when A[K] does not fit in memory,
 * every step runs the full model and the frozen layers' gradients are
 * dropped before the update (said once at start).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "det.h"
#include "dnn/bn.h"
#include "dnn/net.h"
#include "train_run.h"

struct train_xfer {
    dnn_net_t *src;   /* the --init-from checkpoint, loaded */
    int frozen;       /* K of --freeze */
    size_t first;     /* first trainable parameter: off_W[K+1] */
    int cached;       /* the step runs on head with A[K] cached */
    dnn_model_t head; /* layers K+1..L, buffers aliased into the full model's */
    void *AK;         /* (n[K], local m) A[K] of the local training examples */
    void *stage;      /* (n[K], bmax) staging for mini-batches */
    /* the full-model members swapped out while a step runs on head */
    dnn_model_t saved_model;
    void *saved_X, *saved_Xs, *saved_g0;
    uint16_t *saved_Xb, *saved_Xsb;
    size_t saved_nx;
};

/* Called before the data are read: load the source, take its preprocessing. */
int train_transfer_source(run_t *r, char *msg)
{
    if (!r->o.init_from[0] || r->o.resume)
        return 0;
    struct train_xfer *x = calloc(1, sizeof *x);
    int rc = x ? dnn_net_load(&x->src, r->o.init_from, msg) : dnn_fail(msg, DNN_ENOMEM, "out of memory");
    if (rc)
        snprintf(msg + strlen(msg), DNN_MSG_LEN - strlen(msg), " (--init-from)");
    r->xfer = x;
    if ((rc = dnn_dist_agree(&r->d, rc, msg)))
        return rc;
    const dnn_ckpt_t *c = dnn_net_checkpoint(x->src);
    if (!r->o.batch_norm != !dnn_net_model(x->src)->bn)
        rc = dnn_fail(msg, DNN_EDATA, "--init-from '%s' was trained %s --batch-norm; this run asks %s it", r->o.init_from,
                      r->o.batch_norm ? "without" : "with", r->o.batch_norm ? "for" : "to go without");
    if ((rc = dnn_dist_agree(&r->d, rc, msg)))
        return rc;
    if (r->d.rank == 0 && c->note[0])
        dnn_log_error(&r->log, c->note);
    if (c->scale != r->o.scale && r->o.scale != 1.0)
        rc = dnn_fail(msg, DNN_EDATA, "--init-from '%s' was trained with --scale %.17g; this run asks for --scale %.17g "
                      "(the source's input preprocessing is kept: leave --scale out)", r->o.init_from, c->scale,
                      r->o.scale);
    else if (r->o.standardize && !c->standardize)
        rc = dnn_fail(msg, DNN_EDATA, "--init-from '%s' was trained without --standardize; this run asks for it (the "
                      "source's input preprocessing is kept: leave --standardize out)", r->o.init_from);
    if ((rc = dnn_dist_agree(&r->d, rc, msg)))
        return rc;
    r->o.scale = c->scale;
    r->o.standardize = c->standardize;
    return 0;
}

/* The stored mean/std to standardize with (the source's), or NULL. */
const dnn_ckpt_t *train_transfer_ckpt(const run_t *r)
{
    return r->xfer && r->xfer->src ? dnn_net_checkpoint(r->xfer->src) : NULL;
}

/* Leading layers of src that fit the run's model n[]: every l <= T has the same n[l-1], n[l]. */
static int matching_layers(const dnn_model_t *s, const dnn_model_t *m)
{
    int T = 0;
    while (T < s->L && T < m->L && s->n[T] == m->n[T] && s->n[T + 1] == m->n[T + 1])
        T++;
    return T;
}

static int check_source(const run_t *r, const dnn_model_t *s, int T, char *msg)
{
    const char *ck = r->o.init_from;
    if (s->n[0] != r->model.n[0])
        return dnn_fail(msg, DNN_EDATA, "--init-from '%s' expects n_x = %zu inputs (layer_dims[0]) but X '%s' in '%s' "
                        "has %zu features per example", ck, s->n[0], r->o.x, r->o.data, r->model.n[0]);
    long want = r->o.transfer_layers;
    if (want > T)
        return dnn_fail(msg, DNN_EDATA, "--transfer-layers %ld: only the first %d layer%s of '%s' match this network's "
                        "shapes (layer %d is %zu x %zu there, %zu x %zu here)", want, T, T == 1 ? "" : "s", ck, T + 1,
                        T < s->L ? s->n[T + 1] : 0, s->n[T], T < r->model.L ? r->model.n[T + 1] : 0, r->model.n[T]);
    int use = want ? (int)want : T;
    if (r->o.freeze > use)
        return dnn_fail(msg, DNN_EDATA, "--freeze %ld: only %d layer%s come from '%s' (the frozen layers must be "
                        "transferred)", r->o.freeze, use, use == 1 ? "" : "s", ck);
    if (use > 0 && use < r->model.L + 1 && s->L > 1 && r->model.L > 1 && s->hidden != r->model.hidden)
        return dnn_fail(msg, DNN_EDATA, "--init-from '%s' uses hidden %s; this run asks for --hidden-activation %s", ck,
                        dnn_act_name(s->hidden), dnn_act_name(r->model.hidden));
    if (use == r->model.L && s->L == r->model.L && s->output != r->model.output)
        return dnn_fail(msg, DNN_EDATA, "--init-from '%s' has a %s output; this run asks for --output %s (transfer "
                        "fewer layers with --transfer-layers)", ck, dnn_act_name(s->output), dnn_act_name(r->model.output));
    return 0;
}

/* n values from src (precision sp) to dst (the run's), converted. */
static void copy_values(const run_t *r, void *dst, const void *src, dnn_precision_t sp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double v = sp == DNN_DOUBLE ? ((const double *)src)[i] : ((const float *)src)[i];
        if (r->data.es == 8)
            ((double *)dst)[i] = v;
        else
            ((float *)dst)[i] = (float)v;
    }
}

/* Copy W, b of layers 1..T from src into the run's model, converting the
 * precision; with batch normalization also gamma (beta is b's slot) and the
 * running mean and var of the hidden layers among them. */
static void copy_layers(run_t *r, const dnn_model_t *s, int T)
{
    size_t n = T < s->L ? s->off_W[T + 1] : s->bn ? s->nparams_core : s->nparams;
    copy_values(r, r->model.params, s->params, s->prec, n);
    for (int l = 1; s->bn && l <= T && l < s->L; l++) {
        copy_values(r, dnn_bn_gamma(&r->model, l), dnn_bn_gamma(s, l), s->prec, s->n[l]);
        copy_values(r, dnn_bn_mean(&r->model, l), dnn_bn_mean(s, l), s->prec, s->n[l]);
        copy_values(r, dnn_bn_var(&r->model, l), dnn_bn_var(s, l), s->prec, s->n[l]);
    }
    dnn_model_params_changed(&r->model);
}

/* After the model's initialization (not on resume): the transferred layers. */
int train_transfer_params(run_t *r, char *msg)
{
    struct train_xfer *x = r->xfer;
    if (!x || !x->src)
        return 0;
    const dnn_model_t *s = dnn_net_model(x->src);
    int T = matching_layers(s, &r->model);
    int rc = check_source(r, s, T, msg);
    if ((rc = dnn_dist_agree(&r->d, rc, msg)))
        return rc;
    if (r->o.transfer_layers)
        T = (int)r->o.transfer_layers;
    copy_layers(r, s, T);
    dnn_log_info(&r->log, 0, "transfer: layers 1..%d from %s%s", T, r->o.init_from,
                 T < r->model.L ? ", the rest initialized by --init" : "");
    return 0;
}

/* Copy the columns of A[K] of one forward block into the cache. */
static void cache_block(run_t *r, struct train_xfer *x, size_t off, size_t cols)
{
    size_t nK = r->model.n[x->frozen], es = r->data.es;
    dnn_model_forward(&r->model, (char *)r->data.train.X + off * r->data.shape.n_x * es, cols);
    memcpy((char *)x->AK + off * nK * es, (char *)r->model.acts + r->model.off_A[x->frozen] * es, nK * cols * es);
}

/* The head: layers K+1..L of the full model, its buffers the tail of the full ones. */
static int make_head(run_t *r, struct train_xfer *x, char *msg)
{
    dnn_model_t *f = &r->model;
    int K = x->frozen;
    int rc = dnn_model_init(&x->head, f->prec, f->L - K, f->n + K, f->hidden, f->output, f->slope, f->bmax, msg);
    if (rc)
        return rc;
    free(x->head.params);
    free(x->head.grads);
    x->head.params = (char *)f->params + x->first * r->data.es;
    x->head.grads = (char *)f->grads + x->first * r->data.es;
    dnn_model_set_dropout(&x->head, 1.0, 0);
    return 0;
}

/* The room A[K] needs against the memory available to this rank. */
static int cache_fits(const run_t *r, size_t bytes)
{
    long pages = sysconf(_SC_AVPHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || psz <= 0)
        return 1;
    double avail = (double)pages * (double)psz / (double)(r->d.local_size > 0 ? r->d.local_size : 1);
    return (double)bytes < 0.5 * avail;
}

/* After the step's buffers exist: decide how the frozen layers are spared. */
int train_transfer_freeze(run_t *r, char *msg)
{
    struct train_xfer *x = r->xfer;
    if (r->o.freeze <= 0)
        return 0;
    int rc = 0;
    if (!x && !(x = r->xfer = calloc(1, sizeof *x)))
        rc = dnn_fail(msg, DNN_ENOMEM, "out of memory");
    if ((rc = dnn_dist_agree(&r->d, rc, msg)))
        return rc;
    x->frozen = (int)r->o.freeze;
    x->first = r->model.off_W[x->frozen + 1];
    size_t nK = r->model.n[x->frozen], mloc = r->data.train.hi - r->data.train.lo, bytes = 0;
    int fits = !dnn_size_mul(&bytes, nK, mloc ? mloc : 1) && !dnn_size_mul(&bytes, bytes, r->data.es) && cache_fits(r, bytes);
    int ok = r->o.keep_prob >= 1 && fits;
    if (ok && !(x->AK = dnn_alloc(nK * (mloc ? mloc : 1), r->data.es)))
        ok = 0;
    if (ok && r->o.batch_size && !(x->stage = dnn_alloc(nK * r->model.bmax, r->data.es)))
        ok = 0;
    if (ok)
        rc = make_head(r, x, msg);
    if ((rc = dnn_dist_agree(&r->d, rc, msg)))
        return rc;
    /* every rank takes the same road (the reductions must agree) */
    double bad = !ok;
    if (r->d.size > 1)
        dnn_dist_max_d(&bad, 1);
    x->cached = bad == 0;
    for (size_t off = 0; x->cached && off < mloc; off += r->model.bmax)
        cache_block(r, x, off, mloc - off < r->model.bmax ? mloc - off : r->model.bmax);
    if (x->cached && r->step.det) { /* --deterministic mini-batch: its column exchange moves A[K] instead of X */
        dnn_ckpt_t *none = calloc(1, sizeof *none); /* its resume note was given already */
        det_free(r);
        train_transfer_enter(r);
        rc = none ? det_init(r, none, msg) : dnn_fail(msg, DNN_ENOMEM, "out of memory");
        train_transfer_leave(r);
        free(none);
        if ((rc = dnn_dist_agree(&r->d, rc, msg)))
            return rc;
    }
    if (!x->cached)
        dnn_log_info(&r->log, 0, "--freeze %d: %s; every step runs all layers and drops the frozen layers' gradients",
                     x->frozen, r->o.keep_prob < 1 ? "with --keep-prob < 1 the frozen outputs are dropped anew at each step"
                                                   : "A[K] of the training examples does not fit in memory");
    else
        dnn_log_info(&r->log, 1, "--freeze %d: A[%d] of %zu examples cached (%zu MiB); steps run layers %d..%d", x->frozen,
                     x->frozen, mloc, bytes >> 20, x->frozen + 1, r->model.L);
    return 0;
}

/* First parameter the update may change (0 without --freeze). */
size_t train_transfer_first(const run_t *r) { return r->xfer ? r->xfer->first : 0; }

/* Around a step: run it on the head, fed A[K]. */
void train_transfer_enter(run_t *r)
{
    struct train_xfer *x = r->xfer;
    if (!x || !x->cached)
        return;
    x->saved_model = r->model;
    x->saved_X = r->data.train.X;
    x->saved_Xs = r->step.Xs;
    x->saved_Xb = r->step.Xb;
    x->saved_Xsb = r->step.Xsb;
    x->saved_nx = r->data.shape.n_x;
    x->saved_g0 = r->step.gbuf[0];
    x->head.grads = (char *)r->model.grads + x->first * r->data.es; /* gbuf[0] + first */
    r->model = x->head;
    dnn_model_params_changed(&r->model); /* bf16: the update wrote the full model's copy */
    r->step.gbuf[0] = r->model.grads;
    r->data.train.X = x->AK;
    r->step.Xs = x->stage;
    r->step.Xb = r->step.Xsb = NULL;
    r->data.shape.n_x = x->saved_model.n[x->frozen];
}

void train_transfer_leave(run_t *r)
{
    struct train_xfer *x = r->xfer;
    if (!x || !x->frozen)
        return;
    if (!x->cached) { /* the full model ran: forget the frozen layers' gradients */
        memset(r->model.grads, 0, x->first * r->data.es);
        return;
    }
    x->head = r->model;
    r->model = x->saved_model;
    r->step.gbuf[0] = x->saved_g0;
    r->data.train.X = x->saved_X;
    r->step.Xs = x->saved_Xs;
    r->step.Xb = x->saved_Xb;
    r->step.Xsb = x->saved_Xsb;
    r->data.shape.n_x = x->saved_nx;
}

void train_transfer_free(run_t *r)
{
    struct train_xfer *x = r->xfer;
    if (!x)
        return;
    x->head.params = x->head.grads = NULL; /* the full model's */
    dnn_model_free(&x->head);
    dnn_net_free(x->src);
    free(x->AK);
    free(x->stage);
    free(x);
    r->xfer = NULL;
}
