/*
 * net.c - the inference API of dnn/dnn.h: a checkpoint loaded once, applied
 * to raw features any number of times, from any number of threads.
 *
 * A loaded net holds the checkpoint's metadata and parameters and is never
 * written after dnn_net_load; each dnn_net_predict call allocates its own
 * scratch (an input block and two ping-pong activation blocks), so calls on
 * one net may run at once.  The forward pass is dnn-train's evaluation pass,
 * dnn_model_infer (model.c), on that scratch, over blocks of BLOCK examples
 * (any blocking gives the same bits: README, Batch invariance); the inputs are prepared as dnn-train's reader prepares
 * them (data.c): converted to the model precision, then scaled, then
 * standardized, each step rounded to that precision, so a prediction on a
 * training example sees exactly what training saw.  Nothing here calls MPI.
 * The generic code is compiled for float and double (self-inclusion).
 */
#ifndef DNN_TMPL
#include "dnn/net.h"

#include "dnn/bn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


#define BLOCK 1024 /* examples per forward block, as dnn-train evaluates */

struct dnn_net {
    dnn_ckpt_t ck;     /* metadata: activations, preprocessing, threshold */
    dnn_model_t model; /* parameters (its activation buffers stay unused) */
};

#define DNN_TMPL_FILE "net.c"
#include "template.h"

int dnn_net_load(dnn_net_t **out, const char *checkpoint, char *msg)
{
    char local[DNN_MSG_LEN];
    if (!msg)
        msg = local;
    if (!out || !checkpoint)
        return dnn_fail(msg, DNN_EINVAL, "dnn_net_load: net and checkpoint must not be NULL");
    *out = NULL;
    dnn_net_t *net = calloc(1, sizeof *net);
    if (!net)
        return dnn_fail(msg, DNN_ENOMEM, "out of memory loading '%s'", checkpoint);
    const dnn_ckpt_t *c = &net->ck;
    int rc = dnn_checkpoint_read(checkpoint, &net->ck, msg);
    if (!rc)
        /* a bf16 checkpoint holds float32 parameters: predict in float32 */
        rc = dnn_model_init(&net->model, c->precision == DNN_BF16 ? DNN_SINGLE : (dnn_precision_t)c->precision, c->L, c->n, (dnn_act_t)c->hidden,
                            (dnn_act_t)c->output, c->leaky_slope, 1, msg);
    if (!rc && c->batch_norm) /* gamma, beta and the running statistics (README, Batch normalization) */
        rc = dnn_bn_init(&net->model, c->bn_momentum, c->bn_epsilon, msg);
    if (!rc)
        rc = dnn_checkpoint_read_params(checkpoint, &net->model, msg);
    if (rc) {
        dnn_net_free(net);
        return rc;
    }
    *out = net;
    return 0;
}

size_t dnn_net_inputs(const dnn_net_t *net) { return net ? net->ck.n[0] : 0; }

size_t dnn_net_outputs(const dnn_net_t *net) { return net ? net->ck.n[net->ck.L] : 0; }

const dnn_ckpt_t *dnn_net_checkpoint(const dnn_net_t *net) { return &net->ck; }

const dnn_model_t *dnn_net_model(const dnn_net_t *net) { return &net->model; }

void dnn_net_free(dnn_net_t *net)
{
    if (!net)
        return;
    dnn_checkpoint_free(&net->ck);
    dnn_model_free(&net->model);
    free(net);
}

int dnn_net_predict(const dnn_net_t *net, const double *X, size_t m, double *P, char *msg)
{
    char local[DNN_MSG_LEN];
    if (!msg)
        msg = local;
    if (!net || (m && (!X || !P)))
        return dnn_fail(msg, DNN_EINVAL, "dnn_net_predict: net, X and P must not be NULL");
    const dnn_model_t *md = &net->model;
    size_t nx = md->n[0], nmax = 0, cells, outs, B = m < BLOCK ? m : BLOCK, scratch;
    for (int l = 1; l <= md->L; l++)
        nmax = md->n[l] > nmax ? md->n[l] : nmax;
    if (dnn_size_mul(&cells, m, nx) || dnn_size_mul(&outs, m, md->n[md->L]) || dnn_size_mul(&scratch, nmax, 2 * B) ||
        dnn_size_add(&scratch, scratch, nx * B))
        return dnn_fail(msg, DNN_ENOMEM, "dnn_net_predict: %zu examples of %zu features overflow the size", m, nx);
    for (size_t k = 0; k < cells; k++)
        if (!isfinite(X[k]))
            return dnn_fail(msg, DNN_EINVAL, "dnn_net_predict: X[%zu][%zu] = %g is not finite (example %zu, feature %zu)",
                            k / nx, k % nx, X[k], k / nx, k % nx);
    if (m == 0)
        return 0;
    void *buf = dnn_alloc(scratch, dnn_real_size(md->prec));
    if (!buf)
        return dnn_fail(msg, DNN_ENOMEM, "dnn_net_predict: cannot allocate %zu MiB of scratch for %zu examples",
                        (scratch * dnn_real_size(md->prec)) >> 20, B);
    size_t k = md->n[md->L];
    for (size_t off = 0; off < m; off += B) {
        size_t cols = m - off < B ? m - off : B;
        if (md->prec == DNN_DOUBLE)
            predict_block_d(net, buf, nmax * B, X + off * nx, cols, P + off * k);
        else
            predict_block_s(net, buf, nmax * B, X + off * nx, cols, P + off * k);
    }
    free(buf);
    return 0;
}

#else /* DNN_TMPL: generic code */

/* X (cols, n_x) row-major raw -> X0 (n_x, cols) column-major (the same
 * layout), prepared as data.c prepares training inputs. */
static void SUF(prepare)(const dnn_ckpt_t *c, real *X0, const double *X, size_t cols)
{
    size_t n = c->n[0];
    for (size_t j = 0; j < cols; j++)
        for (size_t i = 0; i < n; i++) {
            real v = (real)X[j * n + i];
            if (c->scale != 1.0)
                v = (real)(v * c->scale);
            if (c->standardize)
                v = (real)((v - c->mean[i]) / c->std[i]);
            X0[j * n + i] = v;
        }
}

/* One block: buf holds A[0] (n_x, cols) after two ping-pong blocks of
 * `half` elements each; P (cols, n[L]) row-major = A[L] (n[L], cols). */
static void SUF(predict_block)(const dnn_net_t *net, void *buf, size_t half, const double *X, size_t cols, double *P)
{
    const dnn_model_t *md = &net->model;
    real *A[2] = {(real *)buf, (real *)buf + half}, *X0 = (real *)buf + 2 * half;
    SUF(prepare)(&net->ck, X0, X, cols);
    real *Al[DNN_MAX_LAYERS + 1];
    for (int l = 1; l <= md->L; l++)
        Al[l] = A[l & 1];
    const real *AL = SUF(dnn_model_infer)(md, X0, cols, Al, 1);
    for (size_t i = 0; i < md->n[md->L] * cols; i++)
        P[i] = (double)AL[i];
}

#endif
