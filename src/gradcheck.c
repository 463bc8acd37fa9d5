/*
 * gradcheck.c - dnn-train --gradient-check (README, Course 2: optimizers, regularization, schedules, dev sets): backprop against
 * central differences on the configured network, in double precision.
 *
 * J(theta) is what a training step minimizes on the checked examples: the
 * mean loss of dnn_model_backward (dropout masks of fixed keys) plus the L2
 * term (lambda / 2m) sum ||W||^2; grad = grads / m + (lambda / m) W.  Each
 * J(theta +- eps e_i) is one more backward pass over at most 64 examples.
 */
#include "dnn/gradcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/bn.h"
#include "dnn/data.h"
#include "dnn/rng.h"

#define SAMPLE_KEY 0x6772616463686bull /* "gradchk": the key of the sample's permutation */

double dnn_gradcheck_difference(const double *grad, const double *approx, size_t n, size_t *worst)
{
    double d2 = 0, g2 = 0, a2 = 0, big = -1;
    for (size_t i = 0; i < n; i++) {
        double d = grad[i] - approx[i];
        d2 += d * d;
        g2 += grad[i] * grad[i];
        a2 += approx[i] * approx[i];
        if (worst && fabs(d) > big) {
            big = fabs(d);
            *worst = i;
        }
    }
    double den = sqrt(g2) + sqrt(a2);
    return den > 0 ? sqrt(d2) / den : NAN;
}

int dnn_gradcheck_passed(double difference) { return difference < DNN_GRADCHECK_THRESHOLD; }

/* Layer of parameter i, and whether it is a weight (--batch-norm's gammas follow bL). */
static int layer_of(const dnn_model_t *m, size_t i, int *is_W)
{
    int l = 1;
    if (m->bn && i >= m->nparams_core) {
        while (l + 1 < m->L && i >= m->off_g[l + 1])
            l++;
        *is_W = 0;
        return l;
    }
    while (l < m->L && i >= m->off_W[l + 1])
        l++;
    *is_W = i < m->off_b[l];
    return l;
}

void dnn_gradcheck_param_name(const dnn_model_t *m, size_t i, char *buf, size_t len)
{
    int is_W, l = layer_of(m, i, &is_W);
    if (is_W) {
        size_t e = i - m->off_W[l], np = m->n[l - 1];
        snprintf(buf, len, "dW%d[%zu][%zu]", l, e / np, e % np);
    } else if (m->bn && i >= m->nparams_core) {
        snprintf(buf, len, "dgamma%d[%zu]", l, i - m->off_g[l]);
    } else {
        snprintf(buf, len, "d%s%d[%zu]", m->bn && l < m->L ? "beta" : "b", l, i - m->off_b[l]);
    }
}

/* J(theta) of the current parameters on the cols examples. */
static double cost(dnn_model_t *m, const double *X, const double *Y, size_t cols, double l2)
{
    double loss = 0, correct = 0, w2 = 0;
    dnn_model_step_loss(m, X, Y, cols, &loss, &correct);
    double J = loss / (double)cols;
    if (l2 > 0) {
        for (int l = 1; l <= m->L; l++) {
            const double *W = dnn_model_W(m, l);
            for (size_t e = 0; e < m->n[l] * m->n[l - 1]; e++)
                w2 += W[e] * W[e];
        }
        J += l2 / (2.0 * (double)cols) * w2;
    }
    return J;
}

void dnn_gradcheck_backprop(dnn_model_t *m, const double *X, const double *Y, size_t cols, double l2,
                            const size_t *idx, size_t k, double *grad)
{
    const double *P = m->params, *G = m->grads;
    dnn_model_backward(m, X, Y, cols, 1);
    for (size_t t = 0; t < k; t++) {
        int is_W;
        layer_of(m, idx[t], &is_W);
        grad[t] = G[idx[t]] / (double)cols + (is_W ? l2 / (double)cols * P[idx[t]] : 0.0);
    }
}

void dnn_gradcheck_numeric(dnn_model_t *m, const double *X, const double *Y, size_t cols, double l2,
                           const size_t *idx, size_t k, double eps, double *approx)
{
    double *P = m->params;
    for (size_t t = 0; t < k; t++) {
        double p = P[idx[t]];
        P[idx[t]] = p + eps;
        double jp = cost(m, X, Y, cols, l2);
        P[idx[t]] = p - eps;
        double jm = cost(m, X, Y, cols, l2);
        P[idx[t]] = p;
        approx[t] = (jp - jm) / (2 * eps);
    }
}

/* idx[0..k) = the parameters to check: all of them, or a seeded sample in increasing order. */
static int choose(const dnn_model_t *m, size_t k, uint64_t seed, size_t *idx)
{
    if (k == m->nparams) {
        for (size_t i = 0; i < k; i++)
            idx[i] = i;
        return 0;
    }
    uint64_t *perm = dnn_alloc(m->nparams, sizeof *perm);
    if (!perm)
        return DNN_ENOMEM;
    dnn_rng_permutation(perm, m->nparams, seed, SAMPLE_KEY);
    uint8_t *pick = calloc(m->nparams, 1);
    if (!pick) {
        free(perm);
        return DNN_ENOMEM;
    }
    for (size_t i = 0; i < k; i++)
        pick[perm[i]] = 1;
    for (size_t i = 0, n = 0; i < m->nparams; i++)
        if (pick[i])
            idx[n++] = i;
    free(pick);
    free(perm);
    return 0;
}

int dnn_gradcheck_model(dnn_model_t *m, const double *X, const double *Y, size_t cols, double l2, size_t max_params,
                        uint64_t seed, dnn_gradcheck_result_t *res, char *msg)
{
    memset(res, 0, sizeof *res);
    if (m->prec != DNN_DOUBLE || cols == 0 || cols > m->bmax || max_params == 0)
        return dnn_fail(msg, DNN_EINVAL, "gradient check: needs a double model and 1..%zu examples, got %zu", m->bmax,
                        cols);
    size_t k = m->nparams < max_params ? m->nparams : max_params;
    size_t *idx = calloc(k, sizeof *idx);
    double *grad = malloc(k * sizeof *grad), *approx = malloc(k * sizeof *approx);
    int rc = idx && grad && approx ? choose(m, k, seed, idx) : DNN_ENOMEM;
    if (rc) {
        rc = dnn_fail(msg, DNN_ENOMEM, "gradient check: out of memory for %zu parameters", m->nparams);
        goto done;
    }
    size_t worst = 0;
    dnn_gradcheck_backprop(m, X, Y, cols, l2, idx, k, grad);
    dnn_gradcheck_numeric(m, X, Y, cols, l2, idx, k, DNN_GRADCHECK_EPSILON, approx);
    res->nparams = m->nparams;
    res->checked = k;
    res->examples = cols;
    res->difference = dnn_gradcheck_difference(grad, approx, k, &worst);
    for (size_t t = 0; t < k; t++) {
        res->grad_norm += grad[t] * grad[t];
        res->approx_norm += approx[t] * approx[t];
    }
    res->grad_norm = sqrt(res->grad_norm);
    res->approx_norm = sqrt(res->approx_norm);
    res->worst = idx[worst];
    res->worst_grad = grad[worst];
    res->worst_approx = approx[worst];
    res->difference_wide = NAN;
    if (!dnn_gradcheck_passed(res->difference) && !isnan(res->difference)) {
        dnn_gradcheck_numeric(m, X, Y, cols, l2, idx, k, DNN_GRADCHECK_WIDE_EPSILON, approx);
        res->difference_wide = dnn_gradcheck_difference(grad, approx, k, NULL);
    }
done:
    free(idx);
    free(grad);
    free(approx);
    return rc;
}

/* ---- dnn-train --gradient-check: data and network as configured ---- */

/* Largest label of the whole Y (softmax without --classes), read in slices. */
static int max_label(const dnn_options_t *o, const dnn_data_shape_t *s, double *mx, char *msg)
{
    *mx = -1;
    for (uint64_t lo = 0; lo < s->m; lo += 4096) {
        dnn_data_t d;
        uint64_t hi = s->m - lo < 4096 ? s->m : lo + 4096;
        int rc = dnn_data_read(&d, o->data, o->x, o->y, s, DNN_SINGLE, lo, hi, 1.0, msg);
        if (rc)
            return rc;
        double v = dnn_data_max_label(&d);
        *mx = v > *mx ? v : *mx;
        dnn_data_free(&d);
    }
    return 0;
}

/* mean/std of the checked examples, as dnn-train's --standardize computes them over its set. */
static int standardize(dnn_data_t *d, char *msg)
{
    size_t nx = d->shape.n_x;
    double *mean = calloc(nx, sizeof *mean), *sd = calloc(nx, sizeof *sd);
    if (!mean || !sd) {
        free(mean);
        free(sd);
        return dnn_fail(msg, DNN_ENOMEM, "out of memory for --standardize");
    }
    double m = (double)(d->hi - d->lo);
    dnn_data_feature_sums(d, NULL, mean);
    for (size_t i = 0; i < nx; i++)
        mean[i] /= m;
    dnn_data_feature_sums(d, mean, sd);
    for (size_t i = 0; i < nx; i++) {
        sd[i] = sqrt(sd[i] / m);
        if (!(sd[i] > 1e-12))
            sd[i] = 1.0;
    }
    dnn_data_standardize(d, mean, sd);
    free(mean);
    free(sd);
    return 0;
}

/* The first <= 64 examples, prepared as dnn-train prepares its set; n_out = n[L]. */
static int load(const dnn_options_t *o, dnn_data_t *d, size_t *n_out, uint64_t *m_file, char *msg)
{
    dnn_data_shape_t s;
    int rc = dnn_data_probe(o->data, o->x, o->y, o->layout == DNN_LAYOUT_FEATURES_FIRST, &s, msg);
    if (rc)
        return rc;
    if (s.m == 0)
        return dnn_fail(msg, DNN_EDATA, "--gradient-check: X '%s' in '%s' holds no examples", o->x, o->data);
    *m_file = s.m;
    *n_out = s.n_y;
    if (o->output == DNN_ACT_SOFTMAX) {
        double mx = 1;
        if (s.n_y != 1)
            return dnn_fail(msg, DNN_EDATA, "--output softmax needs one class id per example, but Y '%s' in '%s' has "
                            "%zu columns", o->y, o->data, s.n_y);
        if (!o->classes && (rc = max_label(o, &s, &mx, msg)) != 0)
            return rc;
        *n_out = o->classes ? (size_t)o->classes : mx >= 1 && mx < 1e9 ? (size_t)mx + 1 : 2;
    }
    uint64_t m = s.m < DNN_GRADCHECK_EXAMPLES ? s.m : DNN_GRADCHECK_EXAMPLES;
    if ((rc = dnn_data_read(d, o->data, o->x, o->y, &s, DNN_DOUBLE, 0, m, o->scale, msg)) != 0)
        return rc;
    size_t feat = 0;
    uint64_t bad = dnn_data_find_nonfinite(d, &feat);
    if (bad != UINT64_MAX)
        return dnn_fail(msg, DNN_EDATA, "X '%s' in '%s' holds a non-finite value (NaN or Inf) at example %llu, "
                        "feature %zu", o->x, o->data, (unsigned long long)bad, feat);
    if (!isnan(o->binary_threshold))
        dnn_data_threshold(d, o->binary_threshold);
    int kind = o->output == DNN_ACT_SOFTMAX ? 1 : o->output == DNN_ACT_SIGMOID ? 0 : 2;
    double v = 0;
    bad = dnn_data_check_labels(d, kind, (long)*n_out, &v);
    if (bad != UINT64_MAX)
        return dnn_fail(msg, DNN_EDATA, "Y '%s' in '%s': label %g at example %llu does not fit --output %s%s", o->y,
                        o->data, v, (unsigned long long)bad, dnn_act_name((dnn_act_t)o->output),
                        kind == 0 ? " (labels 0 or 1; see --binary-threshold)" : kind == 1 ? " (class ids 0..K-1)" : "");
    return o->standardize ? standardize(d, msg) : 0;
}

static const char *init_name(int init)
{
    static const char *const names[] = {"zeros", "normal", "sqrt", "he", "xavier"};
    return init >= 0 && init < 5 ? names[init] : "?";
}

static void report(FILE *out, const dnn_options_t *o, const dnn_model_t *m, uint64_t m_file,
                   const dnn_gradcheck_result_t *r)
{
    char dims[512], name[64];
    size_t at = 0;
    for (int l = 0; l <= m->L && at < sizeof dims; l++)
        at += (size_t)snprintf(dims + at, sizeof dims - at, "%s%zu", l ? "," : "", m->n[l]);
    fprintf(out, "gradient check: layer_dims %s, %s %zu of %zu parameters, on the first %zu of %llu examples in "
            "'%s'; double precision, epsilon %g, l2 %g, keep_prob %g%s%s; at the initial parameters (--init %s, "
            "--seed %ld)\n", dims, r->checked < r->nparams ? "a seeded sample of" : "all", r->checked, r->nparams,
            r->examples, (unsigned long long)m_file, o->data, DNN_GRADCHECK_EPSILON, o->l2, m->keep_prob,
            m->keep_prob < 1 && m->L > 1 ? " (dropout masks held fixed)" : "",
            m->bn ? ", batch norm (gamma and beta included; the checked examples' own batch statistics)" : "",
            init_name(o->init), o->seed);
    dnn_gradcheck_param_name(m, r->worst, name, sizeof name);
    fprintf(out, "||grad|| = %.6g, ||gradapprox|| = %.6g; largest disagreement at %s: backprop %.9g, central "
            "difference %.9g\n", r->grad_norm, r->approx_norm, name, r->worst_grad, r->worst_approx);
    fprintf(out, "difference = %.6e\n", r->difference);
    if (isnan(r->difference))
        fprintf(out, "FAILED: the gradient is exactly zero, so the check shows nothing (change --seed or --init)\n");
    else if (dnn_gradcheck_passed(r->difference))
        fprintf(out, "passed: backpropagation agrees with central differences (difference < %g)\n",
                DNN_GRADCHECK_THRESHOLD);
    else {
        fprintf(out, "FAILED: difference >= %g: backpropagation and central differences disagree\n",
                DNN_GRADCHECK_THRESHOLD);
        fprintf(out, "with epsilon %g the difference is %.6e%s\n", DNN_GRADCHECK_WIDE_EPSILON, r->difference_wide,
                r->difference_wide < r->difference / 10
                    ? ": it falls with the larger step, so rounding in the cost (a large network) is the likely "
                      "cause, not backprop; check a smaller network with the same activations"
                    : ": it does not fall with the larger step, which points to a mistake in backprop");
    }
    fflush(out);
}

int dnn_gradcheck_run(const dnn_options_t *o, FILE *out, char *msg)
{
    dnn_data_t d;
    dnn_model_t m;
    dnn_gradcheck_result_t res;
    size_t n[DNN_MAX_LAYERS + 1];
    uint64_t m_file = 0;
    memset(&d, 0, sizeof d);
    memset(&m, 0, sizeof m);
    int L = o->n_layers + 1;
    int rc = load(o, &d, &n[L], &m_file, msg);
    if (rc)
        goto done;
    n[0] = d.shape.n_x;
    for (int l = 1; l < L; l++)
        n[l] = o->layers[l - 1];
    size_t cols = (size_t)(d.hi - d.lo);
    rc = dnn_model_init(&m, DNN_DOUBLE, L, n, (dnn_act_t)o->hidden, (dnn_act_t)o->output, o->leaky_slope, cols, msg);
    if (!rc && o->batch_norm) /* the batch's statistics, as training takes them */
        rc = dnn_bn_init(&m, o->bn_momentum, o->bn_epsilon, msg);
    if (!rc)
        rc = dnn_model_init_params(&m, (dnn_init_t)o->init, o->init_scale, (dnn_rng_kind_t)o->rng, (uint64_t)o->seed,
                                   msg);
    if (rc)
        goto done;
    dnn_model_set_dropout(&m, o->keep_prob, (uint64_t)o->seed);
    dnn_model_set_columns(&m, 0, NULL, 0); /* the masks of step 0: examples 0..m-1 */
    rc = dnn_gradcheck_model(&m, d.X, d.Y, cols, o->l2, DNN_GRADCHECK_SAMPLE, (uint64_t)o->seed, &res, msg);
    if (rc)
        goto done;
    if (out)
        report(out, o, &m, m_file, &res);
    rc = dnn_gradcheck_passed(res.difference) ? 0 : 1;
done:
    dnn_model_free(&m);
    dnn_data_free(&d);
    return rc;
}
