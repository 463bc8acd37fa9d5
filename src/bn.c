/*
 * bn.c - batch normalization of the hidden layers (see bn.h for the formulas
 * and the plan; README, "Batch normalization").
 *
 * A training pass goes layer by layer over all the columns it is given:
 *   forward, hidden l:  Z = W A[l-1] per group; mu and var from the groups'
 *                       partial sums (plan); Z becomes gamma z_norm (z_norm
 *                       kept), then g(. + beta) and dropout as model.c does;
 *   output L, per group: Z, the loss and dZ[L]; dW[L], db[L], the loss; dA[L-1];
 *   backward, hidden l: dropout; dz~ = dA g'; dbeta, dgamma from the groups'
 *                       partial sums; dz; per group dW[l] and dA[l-1].
 * The generic code is compiled for float and double (template.h).
 */
#ifndef DNN_TMPL
#include "dnn/bn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/activation.h"
#include "dnn/loss.h"
#include "dnn/matrix.h"

/* The plan of a pass without one: one group, sums kept here (bn_tot). */
static void local_add(void *ctx, const double *part, size_t n)
{
    dnn_model_t *m = ctx;
    for (size_t i = 0; i < n; i++)
        m->bn_tot[i] += part[i];
}

static void local_total(void *ctx, double *out, size_t n)
{
    dnn_model_t *m = ctx;
    if (out != m->bn_tot)
        memcpy(out, m->bn_tot, n * sizeof *out);
}

/* The pass's plan: the model's, or the local one in *tmp. */
static const dnn_bn_plan_t *plan_of(dnn_model_t *m, size_t cols, size_t *end, dnn_bn_plan_t *tmp)
{
    if (m->bn_plan)
        return m->bn_plan;
    *end = cols;
    *tmp = (dnn_bn_plan_t){end, 1, (double)cols, local_add, local_total, NULL, m};
    return tmp;
}

/* Start a sum over the groups (the local plan accumulates in bn_tot). */
static void sums_begin(dnn_model_t *m, size_t n) { memset(m->bn_tot, 0, n * sizeof *m->bn_tot); }

/* Columns [*c0, *c1) of group g. */
static void group(const dnn_bn_plan_t *p, size_t g, size_t *c0, size_t *c1)
{
    *c0 = g ? p->ends[g - 1] : 0;
    *c1 = p->ends[g];
}

/* Rows of Y per example: class ids for softmax, else n[L] targets. */
static size_t ny_of(const dnn_model_t *m) { return m->output == DNN_ACT_SOFTMAX ? 1 : m->n[m->L]; }

#define DNN_TMPL_FILE "bn.c"
#include "template.h"

int dnn_bn_check(double momentum, double epsilon, int hidden_layers, char *msg)
{
    if (!(momentum >= 0 && momentum < 1))
        return dnn_fail(msg, DNN_EINVAL, "--bn-momentum must be in [0, 1) (running = B running + (1-B) batch), got %g",
                        momentum);
    if (!(epsilon > 0) || !isfinite(epsilon))
        return dnn_fail(msg, DNN_EINVAL, "--bn-epsilon must be a finite value > 0, got %g", epsilon);
    if (hidden_layers < 1)
        return dnn_fail(msg, DNN_EINVAL, "--batch-norm normalizes the hidden layers, but --layers names none "
                        "(logistic regression); give hidden layers (e.g. --layers 20,7,5) or drop --batch-norm");
    return 0;
}

int dnn_bn_init(dnn_model_t *m, double momentum, double epsilon, char *msg)
{
    int rc = dnn_bn_check(momentum, epsilon, m->L - 1, msg);
    if (rc) {
        dnn_model_free(m);
        return rc;
    }
    size_t units = 0, nmax = 0, es = dnn_real_size(m->prec), P = m->nparams;
    for (int l = 1; l < m->L; l++) {
        m->off_u[l] = units;
        m->off_g[l] = P + units;
        units += m->n[l]; /* below P, which was checked */
    }
    for (int l = 1; l <= m->L; l++)
        nmax = m->n[l] > nmax ? m->n[l] : nmax;
    m->bn = 1;
    m->bn_momentum = momentum;
    m->bn_eps = epsilon;
    m->bf16 = 0; /* bf16: every product in float32 */
    m->nparams_core = P;
    m->nparams = P + units;
    free(m->params);
    free(m->grads);
    m->params = dnn_alloc(m->nparams, es);
    m->grads = dnn_alloc(m->nparams + DNN_GRAD_EXTRA, es);
    m->bn_run = dnn_alloc(2 * units, es);
    m->bn_mu = dnn_alloc(units, sizeof(double));
    m->bn_var = dnn_alloc(units, sizeof(double));
    m->bn_zn = dnn_alloc(m->off_A[m->L], es);
    m->bn_part = dnn_alloc(2 * nmax, sizeof(double));
    m->bn_tot = dnn_alloc(2 * nmax, sizeof(double));
    m->bn_scratch = dnn_alloc(nmax, es);
    if (!m->params || !m->grads || !m->bn_run || !m->bn_mu || !m->bn_var || !m->bn_zn || !m->bn_part || !m->bn_tot ||
        !m->bn_scratch) {
        dnn_model_free(m);
        return dnn_fail(msg, DNN_ENOMEM, "cannot allocate the batch-normalization buffers (--batch-norm)");
    }
    memset(m->params, 0, m->nparams * es);
    memset(m->grads, 0, (m->nparams + DNN_GRAD_EXTRA) * es);
    dnn_bn_reset(m);
    return 0;
}

void dnn_bn_reset(dnn_model_t *m)
{
    if (!m->bn)
        return;
    size_t units = m->nparams - m->nparams_core;
    for (size_t i = 0; i < units; i++) {
        if (m->prec == DNN_DOUBLE) {
            ((double *)m->params)[m->nparams_core + i] = 1;
            ((double *)m->bn_run)[i] = 0;
            ((double *)m->bn_run)[units + i] = 1;
        } else {
            ((float *)m->params)[m->nparams_core + i] = 1;
            ((float *)m->bn_run)[i] = 0;
            ((float *)m->bn_run)[units + i] = 1;
        }
    }
    for (int l = 1; l < m->L; l++) /* beta = 0 */
        memset((char *)m->params + m->off_b[l] * dnn_real_size(m->prec), 0, m->n[l] * dnn_real_size(m->prec));
}

void *dnn_bn_gamma(const dnn_model_t *m, int l) { return (char *)m->params + m->off_g[l] * dnn_real_size(m->prec); }

void *dnn_bn_beta(const dnn_model_t *m, int l) { return dnn_model_b(m, l); }

void *dnn_bn_mean(const dnn_model_t *m, int l) { return (char *)m->bn_run + m->off_u[l] * dnn_real_size(m->prec); }

void *dnn_bn_var(const dnn_model_t *m, int l)
{
    size_t units = m->nparams - m->nparams_core;
    return (char *)m->bn_run + (units + m->off_u[l]) * dnn_real_size(m->prec);
}

void dnn_bn_set_plan(dnn_model_t *m, const dnn_bn_plan_t *plan) { m->bn_plan = plan; }

void dnn_bn_update_running(dnn_model_t *m)
{
    if (!m->bn)
        return;
    size_t units = m->nparams - m->nparams_core;
    double B = m->bn_momentum, C = 1 - m->bn_momentum;
    for (size_t i = 0; i < units; i++) {
        if (m->prec == DNN_DOUBLE) {
            double *r = m->bn_run;
            r[i] = B * r[i] + C * m->bn_mu[i];
            r[units + i] = B * r[units + i] + C * m->bn_var[i];
        } else {
            float *r = m->bn_run;
            r[i] = (float)(B * r[i] + C * m->bn_mu[i]);
            r[units + i] = (float)(B * r[units + i] + C * m->bn_var[i]);
        }
    }
}

void dnn_bn_backward(dnn_model_t *m, const void *X, const void *Y, size_t cols, int overwrite)
{
    if (m->prec == DNN_DOUBLE)
        bn_backward_d(m, X, Y, cols, overwrite);
    else
        bn_backward_s(m, X, Y, cols, overwrite);
}

void dnn_bn_step_loss(dnn_model_t *m, const void *X, const void *Y, size_t cols, double *loss, double *correct)
{
    if (m->prec == DNN_DOUBLE)
        bn_step_loss_d(m, X, Y, cols, loss, correct);
    else
        bn_step_loss_s(m, X, Y, cols, loss, correct);
}

#else /* DNN_TMPL: generic code */

static real *SUF(A)(const dnn_model_t *m, int l) { return (real *)m->acts + m->off_A[l]; }
static real *SUF(ZN)(const dnn_model_t *m, int l) { return (real *)m->bn_zn + m->off_A[l]; }
static real *SUF(P)(const dnn_model_t *m) { return m->params; }

/* What layer l+1 reads: X, A[l], or A[l]'s dropped copy. */
static const real *SUF(input)(const dnn_model_t *m, int l, const real *X, int drop)
{
    return l == 0 ? X : drop ? (const real *)m->dropped + m->off_A[l] : SUF(A)(m, l);
}

void SUF(dnn_bn_infer)(const dnn_model_t *m, int l, real *Z, size_t cols)
{
    size_t nl = m->n[l];
    const real *mean = dnn_bn_mean(m, l), *var = dnn_bn_var(m, l), *gamma = dnn_bn_gamma(m, l);
    real sd[256]; /* on the stack: calls on one model may run at once (dnn_net_predict) */
    for (size_t i0 = 0; i0 < nl; i0 += 256) {
        size_t i1 = nl - i0 < 256 ? nl : i0 + 256;
        for (size_t i = i0; i < i1; i++)
            sd[i - i0] = (real)sqrt((double)var[i] + m->bn_eps);
        for (size_t j = 0; j < cols; j++) {
            real *z = Z + j * nl;
            for (size_t i = i0; i < i1; i++)
                z[i] = gamma[i] * ((z[i] - mean[i]) / sd[i - i0]);
        }
    }
}

/* Batch mean and var of Z (n[l], cols) over the plan's groups and ranks. */
static void SUF(stats)(dnn_model_t *m, const dnn_bn_plan_t *p, int l, const real *Z)
{
    size_t nl = m->n[l], c0, c1;
    double *mu = m->bn_mu + m->off_u[l], *var = m->bn_var + m->off_u[l], *part = m->bn_part;
    for (int pass = 0; pass < 2; pass++) { /* the mean, then the squares about it */
        sums_begin(m, nl);
        for (size_t g = 0; g < p->ngroups; g++) {
            group(p, g, &c0, &c1);
            memset(part, 0, nl * sizeof *part);
            for (size_t j = c0; j < c1; j++) {
                const real *z = Z + j * nl;
                if (pass == 0)
                    for (size_t i = 0; i < nl; i++)
                        part[i] += (double)z[i];
                else
                    for (size_t i = 0; i < nl; i++) {
                        double d = (double)z[i] - mu[i];
                        part[i] += d * d;
                    }
            }
            p->add(p->ctx, part, nl);
        }
        p->total(p->ctx, m->bn_tot, nl);
        for (size_t i = 0; i < nl; i++)
            (pass ? var : mu)[i] = m->bn_tot[i] / p->m;
    }
}

/* The hidden layers of a training pass: A[1..L-1] (and their dropped copies). */
static void SUF(forward_hidden)(dnn_model_t *m, const dnn_bn_plan_t *p, const real *X, size_t cols, int drop)
{
    const real *W = SUF(P)(m);
    size_t c0, c1;
    for (int l = 1; l < m->L; l++) {
        size_t nl = m->n[l], np = m->n[l - 1];
        real *Z = SUF(A)(m, l), *zn = SUF(ZN)(m, l), *sd = m->bn_scratch;
        const real *in = SUF(input)(m, l - 1, X, drop), *gamma = W + m->off_g[l];
        for (size_t g = 0; g < p->ngroups; g++) {
            group(p, g, &c0, &c1);
            SUF(dnn_matrix_gemm)(1, 0, nl, c1 - c0, np, 1, W + m->off_W[l], np, in + c0 * np, np, 0, Z + c0 * nl, nl);
        }
        SUF(stats)(m, p, l, Z);
        const double *mu = m->bn_mu + m->off_u[l], *var = m->bn_var + m->off_u[l];
        for (size_t i = 0; i < nl; i++)
            sd[i] = (real)sqrt(var[i] + m->bn_eps);
        for (size_t j = 0; j < cols; j++)
            for (size_t i = 0; i < nl; i++) {
                real v = (Z[j * nl + i] - (real)mu[i]) / sd[i];
                zn[j * nl + i] = v;
                Z[j * nl + i] = gamma[i] * v;
            }
        SUF(dnn_act_forward)(Z, W + m->off_b[l], nl, cols, m->hidden, (real)m->slope); /* + beta, then g */
        if (drop)
            SUF(dnn_model_dropout_forward)(m, l, cols);
    }
}

static void SUF(bn_step_loss)(dnn_model_t *m, const real *X, const real *Y, size_t cols, double *loss,
                              double *correct)
{
    size_t end, c0, c1, nL = m->n[m->L], np = m->n[m->L - 1], ny = ny_of(m);
    dnn_bn_plan_t tmp;
    const dnn_bn_plan_t *p = plan_of(m, cols, &end, &tmp);
    int drop = m->keep_prob < 1;
    const real *W = SUF(P)(m), *in = SUF(input)(m, m->L - 1, X, drop);
    real *AL = SUF(A)(m, m->L);
    SUF(forward_hidden)(m, p, X, cols, drop);
    for (size_t g = 0; g < p->ngroups; g++) {
        group(p, g, &c0, &c1);
        SUF(dnn_matrix_gemm)(1, 0, nL, c1 - c0, np, 1, W + m->off_W[m->L], np, in + c0 * np, np, 0, AL + c0 * nL, nL);
        SUF(dnn_loss_output)(AL + c0 * nL, (real *)m->dz[0] + c0 * nL, Y + c0 * ny, W + m->off_b[m->L], nL, c1 - c0,
                             m->output, loss, correct);
    }
}

/* Store (first) or add v into x[0..n). */
static void SUF(put)(real *x, const double *v, size_t n, int first)
{
    for (size_t i = 0; i < n; i++)
        x[i] = first ? (real)v[i] : x[i] + (real)v[i];
}

/* The output layer of a training pass, group by group: loss, dZ[L], dW[L],
 * db[L], and dA[L-1] into dA. */
static void SUF(output_backward)(dnn_model_t *m, const dnn_bn_plan_t *p, const real *X, const real *Y, int drop,
                                 int overwrite, real *dA)
{
    int L = m->L;
    size_t c0, c1, nL = m->n[L], np = m->n[L - 1], ny = ny_of(m), P = m->nparams;
    const real *W = SUF(P)(m), *in = SUF(input)(m, L - 1, X, drop);
    real *G = m->grads, *AL = SUF(A)(m, L), *dZ = m->dz[0];
    double *part = m->bn_part;
    for (size_t g = 0; g < p->ngroups; g++) {
        group(p, g, &c0, &c1);
        size_t cnt = c1 - c0;
        int first = p->absorb || (overwrite && g == 0);
        double lc[2] = {0, 0};
        SUF(dnn_matrix_gemm)(1, 0, nL, cnt, np, 1, W + m->off_W[L], np, in + c0 * np, np, 0, AL + c0 * nL, nL);
        SUF(dnn_loss_output)(AL + c0 * nL, dZ + c0 * nL, Y + c0 * ny, W + m->off_b[L], nL, cnt, m->output, &lc[0],
                             &lc[1]);
        SUF(dnn_matrix_gemm)(0, 1, np, nL, cnt, 1, in + c0 * np, np, dZ + c0 * nL, nL, first ? 0 : 1,
                             G + m->off_W[L], np);
        memset(part, 0, nL * sizeof *part);
        for (size_t j = c0; j < c1; j++)
            for (size_t i = 0; i < nL; i++)
                part[i] += (double)dZ[j * nL + i];
        SUF(put)(G + m->off_b[L], part, nL, first);
        SUF(put)(G + P, lc, 2, first);
        if (p->absorb) {
            p->absorb(p->ctx, m->off_W[L], m->off_b[L] + nL);
            p->absorb(p->ctx, P, P + 2);
        }
        SUF(dnn_matrix_gemm)(0, 0, np, cnt, nL, 1, W + m->off_W[L], np, dZ + c0 * nL, nL, 0, dA + c0 * np, np);
    }
}

/* dz~ = dA g'(z~) in place, and dbeta, dgamma: per group into the gradients
 * (absorbed or accumulated), over all groups and ranks into bn_tot. */
static void SUF(affine_backward)(dnn_model_t *m, const dnn_bn_plan_t *p, int l, real *dA, int overwrite)
{
    size_t nl = m->n[l], c0, c1;
    real *G = m->grads, *db = m->bn_scratch;
    const real *A = SUF(A)(m, l), *zn = SUF(ZN)(m, l);
    double *part = m->bn_part;
    sums_begin(m, 2 * nl);
    for (size_t g = 0; g < p->ngroups; g++) {
        group(p, g, &c0, &c1);
        int first = p->absorb || (overwrite && g == 0);
        SUF(dnn_act_backward)(dA + c0 * nl, A + c0 * nl, db, nl, c1 - c0, m->hidden, (real)m->slope, 1);
        for (size_t i = 0; i < nl; i++) {
            part[i] = (double)db[i];
            part[nl + i] = 0;
        }
        for (size_t j = c0; j < c1; j++)
            for (size_t i = 0; i < nl; i++)
                part[nl + i] += (double)dA[j * nl + i] * (double)zn[j * nl + i];
        SUF(put)(G + m->off_b[l], part, nl, first);
        SUF(put)(G + m->off_g[l], part + nl, nl, first);
        if (p->absorb) {
            p->absorb(p->ctx, m->off_b[l], m->off_b[l] + nl);
            p->absorb(p->ctx, m->off_g[l], m->off_g[l] + nl);
        }
        p->add(p->ctx, part, 2 * nl);
    }
    p->total(p->ctx, m->bn_tot, 2 * nl);
}

static void SUF(bn_backward)(dnn_model_t *m, const real *X, const real *Y, size_t cols, int overwrite)
{
    size_t end, c0, c1;
    dnn_bn_plan_t tmp;
    const dnn_bn_plan_t *p = plan_of(m, cols, &end, &tmp);
    int drop = m->keep_prob < 1, cur = 1;
    const real *W = SUF(P)(m);
    real *G = m->grads;
    SUF(forward_hidden)(m, p, X, cols, drop);
    SUF(output_backward)(m, p, X, Y, drop, overwrite, m->dz[cur]);
    for (int l = m->L - 1; l >= 1; l--) {
        size_t nl = m->n[l], np = m->n[l - 1];
        real *dz = m->dz[cur], *dA = m->dz[cur ^ 1], *coef = m->bn_scratch;
        const real *zn = SUF(ZN)(m, l), *gamma = W + m->off_g[l];
        if (drop)
            for (size_t i = 0; i < nl * cols; i++)
                dz[i] = m->mask[m->off_A[l] + i] ? dz[i] / (real)m->keep_prob : 0;
        SUF(affine_backward)(m, p, l, dz, overwrite);
        const double *dbeta = m->bn_tot, *dgamma = m->bn_tot + nl, *var = m->bn_var + m->off_u[l];
        for (size_t i = 0; i < nl; i++)
            coef[i] = (real)((double)gamma[i] / (p->m * sqrt(var[i] + m->bn_eps)));
        real M = (real)p->m;
        for (size_t j = 0; j < cols; j++)
            for (size_t i = 0; i < nl; i++) {
                size_t k = j * nl + i;
                dz[k] = coef[i] * (M * dz[k] - (real)dbeta[i] - zn[k] * (real)dgamma[i]);
            }
        const real *in = SUF(input)(m, l - 1, X, drop);
        for (size_t g = 0; g < p->ngroups; g++) {
            group(p, g, &c0, &c1);
            int first = p->absorb || (overwrite && g == 0);
            SUF(dnn_matrix_gemm)(0, 1, np, nl, c1 - c0, 1, in + c0 * np, np, dz + c0 * nl, nl, first ? 0 : 1,
                                 G + m->off_W[l], np);
            if (p->absorb)
                p->absorb(p->ctx, m->off_W[l], m->off_W[l] + nl * np);
            if (l > 1)
                SUF(dnn_matrix_gemm)(0, 0, np, c1 - c0, nl, 1, W + m->off_W[l], np, dz + c0 * nl, nl, 0,
                                     dA + c0 * np, np);
        }
        cur ^= 1;
    }
}

#endif
