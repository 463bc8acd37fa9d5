/*
 * optim.c - update rules, L2, clipping and learning-rate schedules (README, Course 2: optimizers, regularization, schedules, dev sets).
 *
 * The moments v and s are flat buffers shaped like the parameter buffer; an
 * update walks the layer segments (W[l] with L2 and weight decay, b[l]
 * without) in one fused loop per rule.  The operations are written in the
 * course notebooks' order, so a float64 run equals a numpy reference to
 * rounding.  The kernels are compiled twice, for float and double.
 */
#ifndef DNN_TMPL
#include "dnn/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"gd", "momentum", "rmsprop", "adam", "adamw"};
static const char *const decay_names[] = {"none", "inverse", "exponential", "step", "cosine"};

#define DNN_TMPL_FILE "optim.c"
#include "template.h"

const char *dnn_optim_name(dnn_opt_kind_t kind)
{
    return (unsigned)kind < 5 ? kind_names[kind] : "?";
}

const char *dnn_optim_decay_name(dnn_decay_t d)
{
    return (unsigned)d < 5 ? decay_names[d] : "?";
}

int dnn_optim_kind(const char *name)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return i;
    return -1;
}

int dnn_optim_init(dnn_optim_t *o, dnn_opt_kind_t kind, dnn_precision_t prec, size_t P, double beta1,
                   double beta2, double epsilon, double weight_decay, char *msg)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->prec = prec;
    o->n = P;
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->epsilon = epsilon;
    o->weight_decay = weight_decay;
    size_t es = dnn_real_size(prec);
    int need_v = kind == DNN_OPT_MOMENTUM || kind == DNN_OPT_ADAM || kind == DNN_OPT_ADAMW;
    int need_s = kind == DNN_OPT_RMSPROP || kind == DNN_OPT_ADAM || kind == DNN_OPT_ADAMW;
    if ((need_v && !(o->v = dnn_alloc(P, es))) || (need_s && !(o->s = dnn_alloc(P, es)))) {
        dnn_optim_free(o);
        return dnn_fail(msg, DNN_ENOMEM, "out of memory for the %s state (%zu parameters)", dnn_optim_name(kind), P);
    }
    if (o->v)
        memset(o->v, 0, P * es);
    if (o->s)
        memset(o->s, 0, P * es);
    return 0;
}

void dnn_optim_free(dnn_optim_t *o)
{
    if (!o)
        return;
    free(o->v);
    free(o->s);
    o->v = o->s = NULL;
}

double dnn_optim_lr(dnn_decay_t d, double lr0, double rate, long every, long k, long steps_per_epoch, long total)
{
    long epoch = k / (steps_per_epoch > 0 ? steps_per_epoch : 1);
    switch (d) {
    case DNN_DECAY_INVERSE: return lr0 / (1 + rate * (double)epoch);
    case DNN_DECAY_EXPONENTIAL: return lr0 * pow(rate, (double)epoch);
    case DNN_DECAY_STEP: return lr0 / (1 + rate * floor((double)epoch / (double)(every > 0 ? every : 1)));
    case DNN_DECAY_COSINE: return lr0 * (1 + cos(M_PI * (double)k / (double)(total > 0 ? total : 1))) / 2;
    default: return lr0;
    }
}

void dnn_optim_prepare(dnn_optim_t *o, const dnn_model_t *m, double lr, double scale, double l2, double clip_norm,
                       dnn_optim_step_t *st)
{
    o->t++;
    st->lr = lr;
    st->scale = scale;
    st->l2m = l2 * scale;
    st->clip = 1;
    st->bc1 = 1 - pow(o->beta1, (double)o->t);
    st->bc2 = 1 - pow(o->beta2, (double)o->t);
    if (clip_norm > 0) {
        double sq = m->prec == DNN_DOUBLE ? grad_sq_d(m, st) : grad_sq_s(m, st);
        double norm = sqrt(sq);
        if (norm > clip_norm)
            st->clip = clip_norm / norm;
    }
}

void dnn_optim_apply(const dnn_optim_t *o, dnn_model_t *m, const dnn_optim_step_t *st, size_t lo, size_t hi)
{
    /* the parameter buffer is W1 b1 W2 b2 ... : walk the segments that meet [lo, hi) */
    for (int l = 1; l <= m->L; l++) {
        size_t w0 = m->off_W[l], b0 = m->off_b[l], b1 = b0 + m->n[l];
        for (int part = 0; part < 2; part++) {
            size_t s0 = part ? b0 : w0, s1 = part ? b1 : b0;
            size_t a = s0 > lo ? s0 : lo, b = s1 < hi ? s1 : hi;
            if (a >= b)
                continue;
            if (m->prec == DNN_DOUBLE)
                segment_d(o, m, st, a, b - a, !part);
            else
                segment_s(o, m, st, a, b - a, !part);
        }
    }
    size_t a = m->bn && m->nparams_core > lo ? m->nparams_core : lo; /* --batch-norm: the gammas, like biases */
    if (m->bn && a < hi) {
        if (m->prec == DNN_DOUBLE)
            segment_d(o, m, st, a, hi - a, 0);
        else
            segment_s(o, m, st, a, hi - a, 0);
    }
}

void dnn_optim_update(dnn_optim_t *o, dnn_model_t *m, double lr, double scale, double l2, double clip_norm)
{
    dnn_optim_step_t st;
    dnn_optim_prepare(o, m, lr, scale, l2, clip_norm, &st);
    dnn_optim_apply(o, m, &st, 0, m->nparams);
}

double dnn_optim_weights_sq(const dnn_model_t *m)
{
    double sq = 0;
    for (int l = 1; l <= m->L; l++)
        sq += m->prec == DNN_DOUBLE ? sumsq_d((const double *)m->params + m->off_W[l], m->n[l] * m->n[l - 1])
                                    : sumsq_s((const float *)m->params + m->off_W[l], m->n[l] * m->n[l - 1]);
    return sq;
}

double dnn_optim_l2_cost(const dnn_model_t *m, double lambda, double examples)
{
    return lambda > 0 ? lambda / (2 * examples) * dnn_optim_weights_sq(m) : 0;
}

#else /* DNN_TMPL: generic code */

static inline real SUF(root)(real x) { return _Generic(x, float: sqrtf, default: sqrt)(x); }

static double SUF(sumsq)(const real *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * (double)x[i];
    return s;
}

/* ||g||^2 with g = G scale + l2m W on weights, G scale on biases. */
static double SUF(grad_sq)(const dnn_model_t *m, const dnn_optim_step_t *st)
{
    const real *G = m->grads, *P = m->params;
    double sq = 0;
    for (int l = 1; l <= m->L; l++) {
        size_t w0 = m->off_W[l], b0 = m->off_b[l], b1 = b0 + m->n[l];
        for (size_t i = w0; i < b0; i++) {
            double g = (double)G[i] * st->scale + st->l2m * (double)P[i];
            sq += g * g;
        }
        for (size_t i = b0; i < b1; i++) {
            double g = (double)G[i] * st->scale;
            sq += g * g;
        }
    }
    for (size_t i = m->bn ? m->nparams_core : m->nparams; i < m->nparams; i++) { /* --batch-norm's gammas */
        double g = (double)G[i] * st->scale;
        sq += g * g;
    }
    return sq;
}

/* One segment [i0, i0 + n) of parameters: weights (L2, weight decay) or biases. */
static void SUF(segment)(const dnn_optim_t *o, dnn_model_t *m, const dnn_optim_step_t *st, size_t i0, size_t n,
                         int weights)
{
    real *restrict w = (real *)m->params + i0;
    const real *restrict G = (const real *)m->grads + i0;
    real *restrict v = o->v ? (real *)o->v + i0 : NULL;
    real *restrict s = o->s ? (real *)o->s + i0 : NULL;
    const real scale = (real)st->scale, l2m = weights ? (real)st->l2m : 0, clip = (real)st->clip;
    const real lr = (real)st->lr, b1 = (real)o->beta1, b2 = (real)o->beta2, eps = (real)o->epsilon;
    const real c1 = (real)(1 - o->beta1), c2 = (real)(1 - o->beta2);
    const real bc1 = (real)st->bc1, bc2 = (real)st->bc2;
    const int plain = l2m == 0 && clip == 1;
    switch (o->kind) {
    case DNN_OPT_GD:
        if (plain && sizeof(real) == 4) { /* the course-1 float update, unchanged: w -= (lr/m) G */
            const real a = (real)(st->lr * st->scale);
            for (size_t i = 0; i < n; i++)
                w[i] -= a * G[i];
        } else {
            for (size_t i = 0; i < n; i++)
                w[i] -= lr * ((G[i] * scale + l2m * w[i]) * clip);
        }
        break;
    case DNN_OPT_MOMENTUM:
        for (size_t i = 0; i < n; i++) {
            real g = (G[i] * scale + l2m * w[i]) * clip;
            v[i] = b1 * v[i] + c1 * g;
            w[i] -= lr * v[i];
        }
        break;
    case DNN_OPT_RMSPROP:
        for (size_t i = 0; i < n; i++) {
            real g = (G[i] * scale + l2m * w[i]) * clip;
            s[i] = b2 * s[i] + c2 * (g * g);
            w[i] -= lr * g / (SUF(root)(s[i]) + eps);
        }
        break;
    case DNN_OPT_ADAM:
    case DNN_OPT_ADAMW: {
        const real wd = weights && o->kind == DNN_OPT_ADAMW ? (real)(st->lr * o->weight_decay) : 0;
        if (sizeof(real) == 8) { /* float64: the notebook's operations, in its order */
            for (size_t i = 0; i < n; i++) {
                real g = (G[i] * scale + l2m * w[i]) * clip;
                v[i] = b1 * v[i] + c1 * g;
                s[i] = b2 * s[i] + c2 * (g * g);
                real vc = v[i] / bc1, sc = s[i] / bc2;
                w[i] -= lr * vc / (SUF(root)(sc) + eps);
            }
        } else { /* float32: the bias corrections folded into two factors, one division left */
            const real a1 = (real)(st->lr / st->bc1), r2 = (real)(1 / st->bc2);
            for (size_t i = 0; i < n; i++) {
                real g = (G[i] * scale + l2m * w[i]) * clip;
                v[i] = b1 * v[i] + c1 * g;
                s[i] = b2 * s[i] + c2 * (g * g);
                w[i] -= a1 * v[i] / (SUF(root)(s[i] * r2) + eps);
            }
        }
        if (wd != 0) /* adamw: decoupled decay of the updated weights */
            for (size_t i = 0; i < n; i++)
                w[i] -= wd * w[i];
        break;
    }
    }
}

#endif
