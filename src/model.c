/*
 * model.c - parameter layout, initialization, forward and backward passes.
 *
 * Every product is one BLAS call over all columns of a block (matrix.c).
 * Products, with W stored row-major (= column-major W^T, no copies):
 *   Z[l]      = W[l] A[l-1]      gemm(T, N)  (n[l] x cols)
 *   dW[l]    += dZ[l] A[l-1]^T   as dW^T += A[l-1] dZ[l]^T: gemm(N, T)
 *   dA[l-1]   = W[l]^T dZ[l]     gemm(N, N) on the row-major W
 * With dropout (training only), layer l+1 and dW[l+1] read the dropped copy
 * of A[l]; g'(Z[l]) is still taken from A[l] itself.
 * The generic code is compiled twice, for float and double (self-inclusion).
 * --precision bf16 runs the float code; the dnn_bf16_* hooks (model_bf16.c;
 * float only, no-ops otherwise) take over the products of layers whose sides
 * are all >= DNN_BF16_MIN.
 */
#ifndef DNN_TMPL
#include "dnn/model.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/bn.h"
#include "dnn/matrix.h"
#include "model_bf16.h"

#define BAND_ELEMS 32768 /* about this many weights per band (128 KiB in float) */

int dnn_model_bands(const dnn_model_t *m, int l)
{
    size_t w = m->n[l] * m->n[l - 1], k = w / BAND_ELEMS;
    if (k > m->n[l])
        k = m->n[l];
    return k < 1 ? 1 : k > DNN_MAX_BANDS ? DNN_MAX_BANDS : (int)k;
}

/* Rows [*u0, *u1) of W[l] in band t of K. */
static void band_rows(const dnn_model_t *m, int l, int t, int K, size_t *u0, size_t *u1)
{
    *u0 = m->n[l] * (size_t)t / (size_t)K;
    *u1 = m->n[l] * (size_t)(t + 1) / (size_t)K;
}

/* Slots [lo, hi) of band t of layer l: its rows of W, and b[l] with the last band. */
static void band_slots(const dnn_model_t *m, int l, int t, int K, size_t *lo, size_t *hi)
{
    size_t u0, u1;
    band_rows(m, l, t, K, &u0, &u1);
    *lo = m->off_W[l] + u0 * m->n[l - 1];
    *hi = t + 1 == K ? m->off_b[l] + m->n[l] : m->off_W[l] + u1 * m->n[l - 1];
}

uint64_t dnn_model_params_hash(const dnn_model_t *m)
{
    const unsigned char *p = m->params;
    size_t n = m->nparams * dnn_real_size(m->prec);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

#define DNN_TMPL_FILE "model.c"
#include "template.h"

int dnn_model_init(dnn_model_t *m, dnn_precision_t prec, int L, const size_t *n, dnn_act_t hidden,
                   dnn_act_t output, double slope, size_t bmax, char *msg)
{
    memset(m, 0, sizeof *m);
    if (L < 1 || L > DNN_MAX_LAYERS)
        return dnn_fail(msg, DNN_EINVAL, "the network must have 1..%d layers, not %d", DNN_MAX_LAYERS, L);
    if (hidden == DNN_ACT_SOFTMAX)
        return dnn_fail(msg, DNN_EINVAL, "softmax is an output activation, not a hidden one");
    if (output != DNN_ACT_SIGMOID && output != DNN_ACT_SOFTMAX && output != DNN_ACT_LINEAR)
        return dnn_fail(msg, DNN_EINVAL, "output activation must be sigmoid, softmax or linear, not %s",
                        dnn_act_name(output));
    if (!(slope >= 0) || !isfinite(slope))
        return dnn_fail(msg, DNN_EINVAL, "--leaky-slope must be a finite value >= 0, got %g", slope);
    if (bmax == 0 || bmax > INT_MAX)
        return dnn_fail(msg, DNN_EINVAL, "block size %zu out of range", bmax);
    m->prec = prec;
    m->L = L;
    m->hidden = hidden;
    m->output = output;
    m->loss = dnn_loss_for(output);
    m->slope = slope;
    m->bmax = bmax;
    if (prec == DNN_BF16) { /* bf16 products run on column counts rounded up to bf16_q (few shapes) */
        m->bf16_q = bmax <= 256 ? 16 : (bmax / 16 + 15) / 16 * 16;
        bmax = (bmax + m->bf16_q - 1) / m->bf16_q * m->bf16_q; /* the buffers' column capacity */
    }
    m->keep_prob = 1;
    size_t P = 0, acts = 0, nmax = 0;
    for (int l = 0; l <= L; l++) {
        if (n[l] == 0)
            return dnn_fail(msg, DNN_EINVAL, "layer %d has 0 units: n[%d] must be >= 1", l, l);
        if (n[l] > INT_MAX)
            return dnn_fail(msg, DNN_ENOMEM, "n[%d] = %zu is larger than BLAS can index (%d)", l, n[l], INT_MAX);
        m->n[l] = n[l];
        if (l > 0 && n[l] > nmax)
            nmax = n[l];
    }
    for (int l = 1; l <= L; l++) {
        size_t w, a;
        m->off_W[l] = P;
        if (dnn_size_mul(&w, n[l], n[l - 1]) || w > INT_MAX) {
            dnn_model_free(m);
            return dnn_fail(msg, DNN_ENOMEM, "layer sizes too large: W%d would be (%zu, %zu), more than the %d "
                            "elements one BLAS call can index; use smaller --layers", l, n[l], n[l - 1], INT_MAX);
        }
        if (dnn_size_add(&P, P, w))
            goto overflow;
        m->off_b[l] = P;
        if (dnn_size_add(&P, P, n[l]))
            goto overflow;
        m->off_A[l] = acts;
        if (dnn_size_mul(&a, n[l], bmax) || a > INT_MAX || dnn_size_add(&acts, acts, a))
            goto overflow;
    }
    m->nparams = P;
    size_t es = dnn_real_size(prec), dzn, bytes;
    if (dnn_size_mul(&dzn, nmax, bmax) || dnn_size_mul(&bytes, P + DNN_GRAD_EXTRA, es) ||
        dnn_size_mul(&bytes, acts, es))
        goto overflow;
    m->params = dnn_alloc(P, es);
    m->grads = dnn_alloc(P + DNN_GRAD_EXTRA, es);
    m->acts = dnn_alloc(acts, es);
    m->dz[0] = dnn_alloc(dzn, es);
    m->dz[1] = dnn_alloc(dzn, es);
    m->dropped = dnn_alloc(m->off_A[L], es); /* the hidden layers' part of acts */
    m->mask = dnn_alloc(m->off_A[L], 1);
    if (!m->params || !m->grads || !m->acts || !m->dz[0] || !m->dz[1] || !m->dropped || !m->mask) {
        size_t total = (P * 2 + acts + 2 * dzn + m->off_A[L]) * es + m->off_A[L];
        dnn_model_free(m);
        return dnn_fail(msg, DNN_ENOMEM, "cannot allocate %zu MiB for the network's parameters and buffers",
                        total >> 20);
    }
    memset(m->params, 0, P * es);
    memset(m->grads, 0, (P + DNN_GRAD_EXTRA) * es);
    return prec == DNN_BF16 ? dnn_bf16_init(m, msg) : 0;
overflow:
    dnn_model_free(m);
    return dnn_fail(msg, DNN_ENOMEM, "layer sizes are too large: the parameter or activation count overflows");
}

void dnn_model_free(dnn_model_t *m)
{
    if (!m)
        return;
    free(m->params);
    free(m->grads);
    free(m->acts);
    free(m->dz[0]);
    free(m->dz[1]);
    free(m->dropped);
    free(m->mask);
    free(m->wb);
    free(m->ab);
    free(m->dzb);
    free(m->dbp);
    free(m->bn_run);
    free(m->bn_mu);
    free(m->bn_var);
    free(m->bn_zn);
    free(m->bn_part);
    free(m->bn_tot);
    free(m->bn_scratch);
    m->bn_run = m->bn_zn = m->bn_scratch = NULL;
    m->bn_mu = m->bn_var = m->bn_part = m->bn_tot = NULL;
    m->wb = m->ab = m->dzb = NULL;
    m->dbp = NULL;
    m->params = m->grads = m->acts = m->dz[0] = m->dz[1] = m->dropped = NULL;
    m->mask = NULL;
}

void *dnn_model_W(const dnn_model_t *m, int l)
{
    return (char *)m->params + m->off_W[l] * dnn_real_size(m->prec);
}

void *dnn_model_b(const dnn_model_t *m, int l)
{
    return (char *)m->params + m->off_b[l] * dnn_real_size(m->prec);
}

const void *dnn_model_output(const dnn_model_t *m)
{
    return (char *)m->acts + m->off_A[m->L] * dnn_real_size(m->prec);
}

int dnn_model_init_params(dnn_model_t *m, dnn_init_t kind, double scale, dnn_rng_kind_t rk,
                          uint64_t seed, char *msg)
{
    if (kind == DNN_INIT_ZEROS && m->L > 1)
        return dnn_fail(msg, DNN_EINVAL,
                        "--init zeros is only valid for logistic regression (no hidden layers): with %d hidden "
                        "layer(s), every unit of a layer would compute the same function and get the same "
                        "gradient, so the symmetry is never broken; use --init he, xavier, sqrt or normal",
                        m->L - 1);
    if (kind == DNN_INIT_NORMAL && !(isfinite(scale) && scale > 0))
        return dnn_fail(msg, DNN_EINVAL, "--init-scale must be a finite value > 0, got %g", scale);
    dnn_rng_t *r = malloc(sizeof *r);
    if (!r)
        return dnn_fail(msg, DNN_ENOMEM, "out of memory");
    dnn_rng_init(r, rk, seed);
    memset(m->params, 0, m->nparams * dnn_real_size(m->prec));
    for (int l = 1; l <= m->L && kind != DNN_INIT_ZEROS; l++) {
        double f = kind == DNN_INIT_NORMAL ? scale
                   : kind == DNN_INIT_SQRT ? 1.0 / sqrt((double)m->n[l - 1])
                   : kind == DNN_INIT_HE   ? sqrt(2.0 / (double)m->n[l - 1])
                                           : sqrt(1.0 / (double)m->n[l - 1]);
        size_t cnt = m->n[l] * m->n[l - 1];
        if (m->prec == DNN_DOUBLE) {
            double *W = dnn_model_W(m, l);
            for (size_t i = 0; i < cnt; i++)
                W[i] = dnn_rng_normal(r) * f;
        } else {
            float *W = dnn_model_W(m, l);
            for (size_t i = 0; i < cnt; i++)
                W[i] = (float)(dnn_rng_normal(r) * f);
        }
    }
    free(r);
    dnn_bn_reset(m); /* --batch-norm: gamma 1, beta 0, running mean 0 and var 1 */
    dnn_model_params_changed(m);
    return 0;
}

void dnn_model_forward(dnn_model_t *m, const void *X, size_t cols)
{
    if (m->prec == DNN_DOUBLE)
        forward_d(m, X, cols);
    else
        forward_s(m, X, cols);
}

void dnn_model_evaluate(dnn_model_t *m, const void *X, const void *Y, size_t cols, double *loss,
                        double *correct)
{
    if (m->prec == DNN_DOUBLE)
        evaluate_d(m, X, Y, cols, loss, correct, 0);
    else
        evaluate_s(m, X, Y, cols, loss, correct, 0);
}

void dnn_model_step_loss(dnn_model_t *m, const void *X, const void *Y, size_t cols, double *loss, double *correct)
{
    if (m->bn) /* the batch's statistics, as training uses them */
        dnn_bn_step_loss(m, X, Y, cols, loss, correct);
    else if (m->prec == DNN_DOUBLE)
        evaluate_d(m, X, Y, cols, loss, correct, 1);
    else
        evaluate_s(m, X, Y, cols, loss, correct, 1);
}

void dnn_model_backward(dnn_model_t *m, const void *X, const void *Y, size_t cols, int overwrite)
{
    dnn_model_backward_ready(m, X, Y, cols, overwrite, NULL, NULL);
}

void dnn_model_backward_ready(dnn_model_t *m, const void *X, const void *Y, size_t cols, int overwrite,
                              dnn_grad_ready_fn fn, void *ctx)
{
    if (m->bn) /* layer by layer over the step's columns (bn.h); no ready calls */
        dnn_bn_backward(m, X, Y, cols, overwrite);
    else if (m->prec == DNN_DOUBLE)
        backward_d(m, X, Y, cols, overwrite, fn, ctx);
    else
        backward_s(m, X, Y, cols, overwrite, fn, ctx);
}

void dnn_model_grad_ranges(const dnn_model_t *m, dnn_grad_ready_fn fn, void *ctx)
{
    for (int l = m->L; l >= 1; l--) {
        int K = dnn_model_bands(m, l);
        for (int t = K - 1; t >= 0; t--) {
            size_t lo, hi;
            band_slots(m, l, t, K, &lo, &hi);
            fn(ctx, lo, hi);
        }
    }
}

void dnn_model_set_dropout(dnn_model_t *m, double keep_prob, uint64_t seed)
{
    /* (0, 1] is checked where the user gives it; anything else turns dropout off */
    m->keep_prob = keep_prob > 0 && keep_prob < 1 ? keep_prob : 1;
    m->drop_seed = seed;
}

void dnn_model_set_columns(dnn_model_t *m, uint64_t step, const uint64_t *g, uint64_t g0)
{
    m->drop_step = step;
    m->drop_g = g;
    m->drop_g0 = g0;
}

void dnn_model_update(dnn_model_t *m, double lr, double scale)
{
    if (m->prec == DNN_DOUBLE)
        update_d(m, lr, scale);
    else
        update_s(m, lr, scale);
    if (m->prec == DNN_BF16)
        dnn_model_bf16_refresh(m, 0, m->nparams);
}

void dnn_model_zero_grads(dnn_model_t *m)
{
    memset(m->grads, 0, (m->nparams + DNN_GRAD_EXTRA) * dnn_real_size(m->prec));
}

#else /* DNN_TMPL: generic code */

static real *SUF(act)(dnn_model_t *m, int l) { return (real *)m->acts + m->off_A[l]; }

/* What layer l+1 reads: A[l], or its dropped copy in a training step; X for l = 0. */
static const real *SUF(input)(dnn_model_t *m, int l, const real *X, int drop)
{
    if (l == 0)
        return X;
    return drop ? (const real *)m->dropped + m->off_A[l] : SUF(act)(m, l);
}

/* D[l] from the column keys, dropped A[l] = A[l] * D[l] / keep_prob (the course's
 * two operations; A * 1 is exact, so this is one division). */
void SUF(dnn_model_dropout_forward)(dnn_model_t *m, int l, size_t cols)
{
    size_t nl = m->n[l];
    const real *A = SUF(act)(m, l);
    real *Ad = (real *)m->dropped + m->off_A[l], kp = (real)m->keep_prob;
    uint8_t *D = m->mask + m->off_A[l];
    for (size_t j = 0; j < cols; j++) {
        uint64_t g = m->drop_g ? m->drop_g[j] : m->drop_g0 + j;
        dnn_rng_keyed_mask(D + j * nl, dnn_rng_key(m->drop_seed, m->drop_step, (uint64_t)l, g), nl, m->keep_prob);
    }
    for (size_t i = 0; i < nl * cols; i++)
        Ad[i] = D[i] ? A[i] / kp : 0;
}

/* dA[l] = dA[l] * D[l] / keep_prob with the masks of the forward pass. */
static void SUF(dropout_backward)(const dnn_model_t *m, int l, real *dA, size_t cols)
{
    const uint8_t *D = m->mask + m->off_A[l];
    real kp = (real)m->keep_prob;
    for (size_t i = 0; i < m->n[l] * cols; i++)
        dA[i] = D[i] ? dA[i] / kp : 0;
}

/* The evaluation pass (README, Batch invariance), shared by dnn-train's
 * evaluation and dnn_net_predict: the products of dnn_matrix_dot, float32
 * for --precision bf16 too, so an example's outputs do not depend on the
 * other examples of the pass; batch norm with the running statistics.
 * Layer l's activations go to the caller's A[l] (n[l] x cols; one buffer may
 * serve layers l and l + 2).  Returns A[L], with the output activation
 * applied when `output` is set, else W[L] A[L-1] (the loss applies it). */
real *SUF(dnn_model_infer)(const dnn_model_t *m, const real *X, size_t cols, real *const *A, int output)
{
    const real *P = m->params, *prev = X;
    for (int l = 1; l <= m->L; l++) {
        size_t nl = m->n[l], np = m->n[l - 1];
        SUF(dnn_matrix_dot)(nl, cols, np, P + m->off_W[l], np, prev, np, A[l], nl);
        if (l < m->L) {
            if (m->bn) /* gamma z_norm with the running statistics; beta is b[l]'s slot */
                SUF(dnn_bn_infer)(m, l, A[l], cols);
            SUF(dnn_act_forward)(A[l], P + m->off_b[l], nl, cols, m->hidden, (real)m->slope);
        } else if (output)
            SUF(dnn_loss_output)(A[l], NULL, NULL, P + m->off_b[l], nl, cols, m->output, NULL, NULL);
        prev = A[l];
    }
    return A[m->L];
}

/* The evaluation pass on the model's own activation buffers. */
static real *SUF(infer_own)(dnn_model_t *m, const real *X, size_t cols, int output)
{
    real *A[DNN_MAX_LAYERS + 1];
    for (int l = 1; l <= m->L; l++)
        A[l] = SUF(act)(m, l);
    return SUF(dnn_model_infer)(m, X, cols, A, output);
}

/* A training step's forward pass: hidden layers and the output's linear
 * part, the output activation left to the loss. Returns A[L] holding
 * W[L] A[L-1].  drop: apply dropout to the hidden layers. */
static real *SUF(forward_linear)(dnn_model_t *m, const real *X, size_t cols, int drop)
{
    const real *P = m->params;
    dnn_bf16_begin(m, X, cols);
    for (int l = 1; l <= m->L; l++) {
        real *A = SUF(act)(m, l);
        size_t nl = m->n[l], np = m->n[l - 1];
        if (!dnn_bf16_forward(m, l, A, cols))
            SUF(dnn_matrix_gemm)(1, 0, nl, cols, np, 1, P + m->off_W[l], np, SUF(input)(m, l - 1, X, drop), np, 0, A,
                                 nl);
        if (l < m->L) {
            if (m->bn) /* --batch-norm: gamma z_norm with the running statistics; beta is b[l]'s slot */
                SUF(dnn_bn_infer)(m, l, A, cols);
            if (!dnn_bf16_act_forward(m, l, A, cols, drop))
                SUF(dnn_act_forward)(A, P + m->off_b[l], nl, cols, m->hidden, (real)m->slope);
            if (drop) {
                SUF(dnn_model_dropout_forward)(m, l, cols);
                dnn_bf16_after_dropout(m, l, cols);
            }
        }
    }
    return SUF(act)(m, m->L);
}

static void SUF(forward)(dnn_model_t *m, const real *X, size_t cols) { SUF(infer_own)(m, X, cols, 1); }

/* step: the products and dropout of a training step; else an evaluation pass. */
static void SUF(evaluate)(dnn_model_t *m, const real *X, const real *Y, size_t cols, double *loss,
                          double *correct, int step)
{
    real *AL = step ? SUF(forward_linear)(m, X, cols, m->keep_prob < 1) : SUF(infer_own)(m, X, cols, 0);
    const real *P = m->params;
    SUF(dnn_loss_output)(AL, m->dz[0], Y, P + m->off_b[m->L], m->n[m->L], cols, m->output, loss, correct);
}

/* dW[l]^T (np x nl) += A[l-1] (np x cols) dZ[l]^T, with the A[l-1] that layer l
 * read, in bands of rows of W[l] (columns of dW^T), each announced when done. */
static void SUF(dW_bands)(dnn_model_t *m, int l, const real *Aprev, const real *dZ, size_t cols, real beta,
                          dnn_grad_ready_fn fn, void *ctx)
{
    size_t nl = m->n[l], np = m->n[l - 1];
    real *G = m->grads;
    int K = dnn_model_bands(m, l);
    int whole = dnn_bf16_dw(m, l, (float)beta, cols); /* --precision bf16 takes the product whole */
    for (int t = K - 1; t >= 0; t--) { /* from the top: each range lies just below the one before */
        size_t u0, u1, lo, hi;
        band_rows(m, l, t, K, &u0, &u1);
        if (!whole)
            SUF(dnn_matrix_gemm)(0, 1, np, u1 - u0, cols, 1, Aprev, np, dZ + u0, nl, beta, G + m->off_W[l] + u0 * np,
                                 np);
        if (fn) { /* the same ranges either way: every rank starts the same sums */
            band_slots(m, l, t, K, &lo, &hi);
            fn(ctx, lo, hi);
        }
    }
}

static void SUF(backward)(dnn_model_t *m, const real *X, const real *Y, size_t cols, int overwrite,
                          dnn_grad_ready_fn fn, void *ctx)
{
    const real *P = m->params;
    real *G = m->grads;
    int L = m->L, cur = 0, drop = m->keep_prob < 1;
    real *AL = SUF(forward_linear)(m, X, cols, drop);
    double loss = 0, correct = 0;
    real *dZ = m->dz[cur];
    SUF(dnn_loss_output)(AL, dZ, Y, P + m->off_b[L], m->n[L], cols, m->output, &loss, &correct);
    dnn_bf16_dz(m, L, dZ, cols);
    real beta = overwrite ? 0 : 1;
    G[m->nparams] = (real)loss + (overwrite ? 0 : G[m->nparams]);
    G[m->nparams + 1] = (real)correct + (overwrite ? 0 : G[m->nparams + 1]);
    /* db[L] = row sums of dZ[L] */
    real *dbL = G + m->off_b[L];
    if (overwrite)
        memset(dbL, 0, m->n[L] * sizeof(real));
    for (size_t j = 0; j < cols; j++)
        for (size_t i = 0; i < m->n[L]; i++)
            dbL[i] += dZ[j * m->n[L] + i];
    for (int l = L; l >= 1; l--) {
        size_t nl = m->n[l], np = m->n[l - 1];
        SUF(dW_bands)(m, l, SUF(input)(m, l - 1, X, drop), dZ, cols, beta, fn, ctx);
        if (l == 1)
            break; /* dA[0] is never computed */
        real *dA = m->dz[cur ^ 1];
        /* dA[l-1] (np x cols) = W[l]^T dZ[l]; row-major W is column-major (np x nl) */
        if (!dnn_bf16_da(m, l, dA, cols))
            SUF(dnn_matrix_gemm)(0, 0, np, cols, nl, 1, P + m->off_W[l], np, dZ, nl, 0, dA, np);
        if (fn)
            fn(ctx, 0, 0); /* between products: let the reductions move */
        if (drop)
            SUF(dropout_backward)(m, l - 1, dA, cols);
        if (!dnn_bf16_act_backward(m, l - 1, dA, cols, overwrite))
            SUF(dnn_act_backward)(dA, SUF(act)(m, l - 1), G + m->off_b[l - 1], np, cols, m->hidden, (real)m->slope,
                                  overwrite);
        cur ^= 1;
        dZ = dA;
    }
}

static void SUF(update)(dnn_model_t *m, double lr, double scale)
{
    real *P = m->params;
    const real *G = m->grads;
    real a = (real)(lr * scale);
    if (m->prec == DNN_DOUBLE) /* keep lr*(g/m) bit-exact with a float64 reference */
        for (size_t i = 0; i < m->nparams; i++)
            P[i] -= (real)(lr * (G[i] * scale));
    else
        for (size_t i = 0; i < m->nparams; i++)
            P[i] -= a * G[i];
}

#endif
