/*
 * train_setup.c - everything dnn-train does before its first step, on every
 * rank: options, the checkpoint to resume from, the data shards, the
 * architecture, the model, the optimizer, and the step's buffers (sized here
 * once, so the step allocates nothing).  Every failure is agreed on by all
 * ranks (train_check) and reported once, naming what the user typed.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnn/exact.h"
#include "dnn/gradcheck.h"
#include "dnn/matrix.h"
#include "dnn/output.h"
#include "det.h"
#include "train_run.h"

static int choose_threads(const run_t *r)
{
    if (r->o.threads > 0)
        return (int)r->o.threads;
    const char *env = getenv("OPENBLAS_NUM_THREADS");
    if (env && atoi(env) > 0)
        return atoi(env);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    int mine = online > 0 ? (int)online : 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        mine = CPU_COUNT(&set);
    int share = (int)(online / (r->d.local_size > 0 ? r->d.local_size : 1));
    int t = mine < share ? mine : share;
    return t < 1 ? 1 : t;
}

static void fmt_layers(char *buf, size_t len, int L, const size_t *n)
{
    size_t k = 0;
    buf[0] = 0;
    for (int l = 0; l <= L && k < len; l++)
        k += (size_t)snprintf(buf + k, len - k, "%s%zu", l ? "," : "", n[l]);
}

/* The checkpoint must describe the network this run asks for. */
static int resume_matches(run_t *r, const dnn_ckpt_t *c, const size_t *n, int L, char *msg)
{
    const char *ck = r->o.checkpoint;
    char a[512], b[512];
    if (c->precision != r->o.precision)
        return dnn_fail(msg, DNN_EDATA, "checkpoint '%s' holds %s-precision parameters; this run asks for --precision %s",
                        ck, dnn_precision_name(c->precision), dnn_precision_name(r->o.precision));
    if (c->n[0] != n[0])
        return dnn_fail(msg, DNN_EDATA, "checkpoint '%s' expects n_x = %zu inputs (layer_dims[0]) but X '%s' in '%s' has %zu features",
                        ck, c->n[0], r->o.x, r->o.data, n[0]);
    int same = c->L == L;
    for (int l = 0; same && l <= L; l++)
        same = c->n[l] == n[l];
    if (!same) {
        fmt_layers(a, sizeof a, c->L, c->n);
        fmt_layers(b, sizeof b, L, n);
        return dnn_fail(msg, DNN_EDATA, "checkpoint '%s' has layer_dims %s; this run asks for %s (check --layers, --output, --classes)",
                        ck, a, b);
    }
    if ((L > 1 && c->hidden != r->o.hidden) || c->output != r->o.output)
        return dnn_fail(msg, DNN_EDATA, "checkpoint '%s' uses hidden %s / output %s; this run asks for %s / %s", ck,
                        dnn_act_name((dnn_act_t)c->hidden), dnn_act_name((dnn_act_t)c->output),
                        dnn_act_name((dnn_act_t)r->o.hidden), dnn_act_name((dnn_act_t)r->o.output));
    if (c->scale != r->o.scale || c->standardize != r->o.standardize)
        return dnn_fail(msg, DNN_EDATA, "checkpoint '%s' was trained with scale %.17g%s; this run asks for scale %.17g%s", ck,
                        c->scale, c->standardize ? " and --standardize" : "", r->o.scale,
                        r->o.standardize ? " and --standardize" : "");
    if (c->validation_split != r->o.validation_split)
        return dnn_fail(msg, DNN_EDATA, "checkpoint '%s' was trained with --validation-split %g; this run asks for %g "
                        "(the training set would differ)", ck, c->validation_split, r->o.validation_split);
    int t1 = isnan(c->binary_threshold), t2 = isnan(r->o.binary_threshold);
    if (t1 != t2 || (!t1 && c->binary_threshold != r->o.binary_threshold))
        return dnn_fail(msg, DNN_EDATA, "checkpoint '%s' and this run differ in --binary-threshold", ck);
    return 0;
}

/* --validation-split: example g of the file is held out for the dev set when
 * u(seed, g) < F, u a SplitMix64-style hash of (seed, g) scaled to [0, 1)
 * (README "Extensions"): a function of the index only, never of N. */
static int held_out(uint64_t seed, uint64_t g, double F)
{
    uint64_t z = (seed ^ 0xd1b54a32d192ed03ull) * 0x9e3779b97f4a7c15ull + g;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-53 < F;
}

/* The training examples (not held out) are numbered t = 0..m_train-1 in file
 * order; this rank trains on the whole chunks [tlo, thi) of them and reads the
 * file range [lo, hi) that holds them and the held-out examples in between,
 * so the ranks' ranges tile the file and no data moves. */
static void split_plan(run_t *r, uint64_t m, uint64_t *lo, uint64_t *hi)
{
    char msg[DNN_MSG_LEN] = "";
    double F = r->o.validation_split;
    uint64_t seed = (uint64_t)r->o.seed, mt = 0;
    for (uint64_t g = 0; g < m; g++)
        mt += !held_out(seed, g, F);
    int rc = 0;
    if (mt == 0 || mt == m)
        rc = dnn_fail(msg, DNN_EDATA, "--validation-split %g holds out %s of the %llu examples of X '%s' in '%s'; %s", F,
                      mt ? "none" : "all", (unsigned long long)m, r->o.x, r->o.data,
                      mt ? "raise it or give --validation FILE" : "lower it");
    train_check(r, rc, msg);
    dnn_dist_shard(mt, r->d.size, r->d.rank, &r->split_lo, &r->split_hi);
    *lo = r->d.rank == 0 ? 0 : m;
    *hi = m;
    for (uint64_t g = 0, t = 0; g < m; g++) {
        if (held_out(seed, g, F))
            continue;
        if (t == r->split_lo && r->d.rank > 0)
            *lo = g;
        if (t == r->split_hi)
            *hi = g;
        t++;
    }
    r->m_val = m - mt;
}

/* Probe and read this rank's part of a data set; X must be finite.  split: the
 * training file with --validation-split (its held-out examples are split off later). */
static void load_set(run_t *r, const char *file, const char *xn, const char *yn, dnn_data_shape_t *shape,
                     dnn_data_t *out, uint64_t *m, int split)
{
    char msg[DNN_MSG_LEN] = "";
    int rc = dnn_data_probe(file, xn, yn, r->o.layout == DNN_LAYOUT_FEATURES_FIRST, shape, msg);
    train_check(r, rc, msg);
    *m = shape->m;
    uint64_t lo, hi;
    if (split)
        split_plan(r, shape->m, &lo, &hi);
    else
        dnn_dist_shard(shape->m, r->d.size, r->d.rank, &lo, &hi);
    rc = dnn_data_read(out, file, xn, yn, shape, (dnn_precision_t)r->o.precision, lo, hi, r->o.scale, msg);
    train_check(r, rc, msg);
    size_t feat = 0;
    uint64_t bad = dnn_data_find_nonfinite(out, &feat);
    rc = 0;
    if (bad != UINT64_MAX)
        rc = dnn_fail(msg, DNN_EDATA, "X '%s' in '%s' holds a non-finite value (NaN or Inf) at example %llu, feature %zu",
                      xn, file, (unsigned long long)bad, feat);
    train_check(r, rc, msg);
    if (!isnan(r->o.binary_threshold))
        dnn_data_threshold(out, r->o.binary_threshold);
}

/* --validation-split: move the held-out columns of the training slab into the dev
 * set and close up the rest, which then holds training examples [split_lo, split_hi). */
static void split_dev(run_t *r)
{
    char msg[DNN_MSG_LEN] = "";
    dnn_data_t *t = &r->train, *v = &r->val;
    size_t nx = r->shape.n_x, ny = r->ny, es = r->es, cols = t->hi - t->lo;
    size_t keep = r->split_hi - r->split_lo, nv = cols - keep;
    *v = *t;
    v->X = dnn_alloc(nx * (nv ? nv : 1), es);
    v->Y = dnn_alloc(ny * (nv ? nv : 1), es);
    train_check(r, v->X && v->Y ? 0 : dnn_fail(msg, DNN_ENOMEM, "out of memory for the dev set (--validation-split)"), msg);
    size_t jt = 0, jv = 0;
    for (size_t c = 0; c < cols; c++) {
        int out = held_out((uint64_t)r->o.seed, t->lo + c, r->o.validation_split);
        char *dx = out ? (char *)v->X + jv * nx * es : (char *)t->X + jt * nx * es;
        char *dy = out ? (char *)v->Y + jv * ny * es : (char *)t->Y + jt * ny * es;
        if (out || jt != c) { /* distinct columns of equal size: no overlap */
            memcpy(dx, (char *)t->X + c * nx * es, nx * es);
            memcpy(dy, (char *)t->Y + c * ny * es, ny * es);
        }
        out ? jv++ : jt++;
    }
    v->lo = 0;
    v->hi = nv;
    t->lo = r->split_lo;
    t->hi = r->split_hi;
    r->m -= r->m_val;
    r->have_val = 1;
}

static void check_labels(run_t *r, const dnn_data_t *data, const char *file, const char *yn, size_t K)
{
    char msg[DNN_MSG_LEN] = "";
    int kind = r->o.output == DNN_ACT_SOFTMAX ? 1 : r->o.output == DNN_ACT_SIGMOID ? 0 : 2;
    double v = 0;
    uint64_t bad = dnn_data_check_labels(data, kind, (long)K, &v);
    int rc = 0;
    if (bad != UINT64_MAX) {
        if (kind == 0)
            rc = dnn_fail(msg, DNN_EDATA, "Y '%s' in '%s': label %g at example %llu; binary labels (--output sigmoid) must be 0 or 1 (use --binary-threshold T or --output softmax for class ids)",
                          yn, file, v, (unsigned long long)bad);
        else if (kind == 1)
            rc = dnn_fail(msg, DNN_EDATA, "Y '%s' in '%s': label %g at example %llu; softmax labels must be class ids 0..%zu (K = %zu)",
                          yn, file, v, (unsigned long long)bad, K - 1, K);
        else
            rc = dnn_fail(msg, DNN_EDATA, "Y '%s' in '%s': target %g at example %llu is not finite", yn, file, v,
                          (unsigned long long)bad);
    }
    train_check(r, rc, msg);
}

static void standardize(run_t *r, const dnn_ckpt_t *ck)
{
    size_t nx = r->shape.n_x;
    r->mean = calloc(nx, sizeof(double));
    r->std = calloc(nx, sizeof(double));
    char msg[DNN_MSG_LEN] = "out of memory for --standardize";
    train_check(r, r->mean && r->std ? 0 : DNN_ENOMEM, msg);
    if (ck && ck->mean) {
        memcpy(r->mean, ck->mean, nx * sizeof(double));
        memcpy(r->std, ck->std, nx * sizeof(double));
    } else {
        /* two passes over the global set: mean, then squared deviations, each
         * summed per global chunk and added exactly, so the statistics (and the
         * training after them) do not depend on the number of ranks */
        size_t mloc = r->train.hi - r->train.lo;
        double *part = malloc(nx * sizeof(double));
        int64_t *acc = calloc(2 * nx, sizeof(int64_t));
        train_check(r, part && acc ? 0 : DNN_ENOMEM, msg);
        for (int pass = 0; pass < 2; pass++) {
            double *out = pass ? r->std : r->mean;
            int bad = 0;
            memset(acc, 0, 2 * nx * sizeof(int64_t));
            for (size_t j = 0; j < mloc; j += DNN_CHUNK) {
                memset(part, 0, nx * sizeof(double));
                dnn_data_feature_sums_range(&r->train, j, mloc - j < DNN_CHUNK ? mloc : j + DNN_CHUNK,
                                            pass ? r->mean : NULL, part);
                bad |= dnn_exact_accumulate_max(acc, acc + nx, part, nx, sizeof(double), r->exact_max);
            }
            int rc = bad ? dnn_fail(msg, DNN_EDATA, "--standardize: X '%s' in '%s' has values too large to sum exactly "
                                    "(a chunk sum of %d examples is beyond %g, the bound for exact sums of this many chunks); use --scale first", r->o.x, r->o.data,
                                    DNN_CHUNK, r->exact_max) : 0;
            train_check(r, rc, msg);
            if (r->d.size > 1)
                dnn_dist_sum_i64(acc, 2 * nx);
            for (size_t i = 0; i < nx; i++)
                out[i] = dnn_exact_value(acc[i], acc[nx + i]) / (double)r->m;
        }
        for (size_t i = 0; i < nx; i++) {
            r->std[i] = sqrt(r->std[i]);
            if (!(r->std[i] > 1e-12)) /* a constant feature: leave it centred, unscaled */
                r->std[i] = 1.0;
        }
        free(part);
        free(acc);
    }
    dnn_data_standardize(&r->train, r->mean, r->std);
    if (r->have_test)
        dnn_data_standardize(&r->test, r->mean, r->std);
    if (r->have_val)
        dnn_data_standardize(&r->val, r->mean, r->std);
}

/* Options: defaults < config file < command line, then the cross-option checks.
 * Returns 1 when --help was printed (nothing else to do). */
static int parse_options(run_t *r, int argc, char **argv)
{
    char msg[DNN_MSG_LEN] = "";
    dnn_cli_defaults(&r->o);
    int rc = dnn_cli_parse(&r->o, argc, argv, msg);
    if (!rc && r->o.help) {
        if (r->d.rank == 0)
            dnn_cli_usage(stdout);
        return 1;
    }
    if (!rc)
        rc = dnn_cli_validate(&r->o, msg);
    if (rc && r->d.rank == 0 && (argc <= 1))
        snprintf(msg, sizeof msg, "--data FILE is required; run dnn-train --help for the options and examples");
    train_check(r, rc, msg);
    dnn_log_init(&r->log, PROG, r->d.rank, r->o.quiet, r->o.verbose);
    r->es = dnn_real_size((dnn_precision_t)r->o.precision);
    return 0;
}

/* A second data set (test or dev) must match the training set's widths. */
static void load_other(run_t *r, const char *what, const char *file, const char *xn, const char *yn,
                       dnn_data_t *out, uint64_t *m)
{
    char msg[DNN_MSG_LEN] = "";
    dnn_data_shape_t s;
    load_set(r, file, xn, yn, &s, out, m, 0);
    int rc = 0;
    if (s.n_x != r->shape.n_x)
        rc = dnn_fail(msg, DNN_EDATA, "%s set X '%s' in '%s' has %zu features per example but the training set X '%s' in '%s' has %zu",
                      what, xn, file, s.n_x, r->o.x, r->o.data, r->shape.n_x);
    else if (s.n_y != r->shape.n_y)
        rc = dnn_fail(msg, DNN_EDATA, "%s labels Y '%s' in '%s' have %zu columns, the training labels %zu", what, yn,
                      file, s.n_y, r->shape.n_y);
    train_check(r, rc, msg);
}

/* The training, test and dev sets: each rank reads its own hyperslab. */
static void load_data(run_t *r)
{
    load_set(r, r->o.data, r->o.x, r->o.y, &r->shape, &r->train, &r->m, r->o.validation_split > 0);
    r->have_test = r->o.test[0] != 0;
    if (r->have_test)
        load_other(r, "test", r->o.test, r->o.test_x, r->o.test_y, &r->test, &r->m_test);
    r->have_val = r->o.validation[0] != 0;
    if (r->have_val)
        load_other(r, "dev", r->o.validation, r->o.validation_x, r->o.validation_y, &r->val, &r->m_val);
}

/* Labels of every set against the output layer; then the dev split. */
static void check_sets(run_t *r, size_t K)
{
    check_labels(r, &r->train, r->o.data, r->o.y, K);
    if (r->have_test)
        check_labels(r, &r->test, r->o.test, r->o.test_y, K);
    if (r->have_val)
        check_labels(r, &r->val, r->o.validation, r->o.validation_y, K);
    if (r->o.validation_split > 0)
        split_dev(r);
}

/* n[0] = n_x, the hidden sizes, n[L] from the labels (softmax: the classes). */
static int architecture(run_t *r, const dnn_ckpt_t *ck, size_t *n)
{
    char msg[DNN_MSG_LEN] = "";
    int L = r->o.n_layers + 1;
    n[0] = r->shape.n_x;
    for (int l = 1; l < L; l++)
        n[l] = r->o.layers[l - 1];
    r->ny = r->shape.n_y;
    r->classify = r->o.output != DNN_ACT_LINEAR;
    n[L] = r->shape.n_y;
    if (r->o.output == DNN_ACT_SOFTMAX) {
        int rc = 0;
        if (r->shape.n_y != 1)
            rc = dnn_fail(msg, DNN_EDATA, "--output softmax needs one class id per example, but Y '%s' in '%s' has %zu columns",
                          r->o.y, r->o.data, r->shape.n_y);
        train_check(r, rc, msg);
        double mx = r->train.hi > r->train.lo ? dnn_data_max_label(&r->train) : -1;
        if (r->d.size > 1)
            dnn_dist_max_d(&mx, 1);
        long K = r->o.classes ? r->o.classes : (r->o.resume ? (long)ck->n[ck->L] : (long)mx + 1);
        n[L] = (size_t)(K < 2 ? 2 : K);
    }
    if (r->o.resume)
        train_check(r, resume_matches(r, ck, n, L, msg), msg);
    return L;
}

/* Steps per epoch and in the whole run. */
static void count_steps(run_t *r)
{
    char msg[DNN_MSG_LEN] = "";
    uint64_t B = (uint64_t)r->o.batch_size;
    if (B > r->m)
        B = r->m;
    r->o.batch_size = (long)B;
    r->spe = B ? (long)((r->m + B - 1) / B) : 1;
    if (r->o.epochs_set) {
        if (r->o.epochs > (long)(INT64_MAX / 4) / r->spe) {
            snprintf(msg, sizeof msg, "--epochs %ld is too large", r->o.epochs);
            train_check(r, DNN_EINVAL, msg);
        }
        r->total = r->o.epochs * r->spe;
    } else {
        r->total = r->o.iterations;
    }
}

/* Columns per block: one chunk in full batch (its chunk sums are added
 * exactly), one chunk with --deterministic (its groups are smaller, det.h), or
 * B (at most DNN_BLOCK). */
static size_t block_columns(const run_t *r)
{
    uint64_t B = (uint64_t)r->o.batch_size;
    if (r->o.batch_norm) /* a step's local examples go through at once (README, Batch normalization) */
        return train_bn_columns(r);
    if (!B)
        return DNN_CHUNK;
    if (r->o.deterministic) /* groups of DNN_DET_GROUP train (det.h); evaluation takes blocks of a chunk */
        return B < DNN_CHUNK ? B : DNN_CHUNK;
    return B < DNN_BLOCK ? B : DNN_BLOCK;
}

/* The optimizer; on resume its state, which must be of the same rule. */
static void make_optimizer(run_t *r, const dnn_ckpt_t *ck)
{
    char msg[DNN_MSG_LEN] = "";
    dnn_opt_kind_t kind = (dnn_opt_kind_t)r->o.optimizer;
    int rc = dnn_optim_init(&r->opt, kind, (dnn_precision_t)r->o.precision, r->model.nparams, r->o.beta1, r->o.beta2,
                            r->o.epsilon, r->o.weight_decay, msg);
    if (!rc && r->o.resume && strcmp(ck->optim_name, dnn_optim_name(kind)) != 0)
        rc = dnn_fail(msg, DNN_EDATA, "checkpoint '%s' was trained with --optimizer %s%s; this run asks for --optimizer %s "
                      "(its state cannot carry over)", r->o.checkpoint, ck->optim_name,
                      ck->has_optim ? "" : " (an older file without /optimizer)", dnn_optim_name(kind));
    if (!rc && r->o.resume && ck->has_optim)
        rc = dnn_checkpoint_read_optim(r->o.checkpoint, &r->model, &r->opt, msg);
    train_check(r, rc, msg);
}

/* The model sized for the largest block, its parameters (initial or resumed). */
static void make_model(run_t *r, const dnn_ckpt_t *ck, int L, const size_t *n)
{
    char msg[DNN_MSG_LEN] = "";
    int rc = dnn_model_init(&r->model, (dnn_precision_t)r->o.precision, L, n, (dnn_act_t)r->o.hidden,
                            (dnn_act_t)r->o.output, r->o.leaky_slope, block_columns(r), msg);
    if (!rc && r->o.resume && ck->batch_norm != r->o.batch_norm)
        rc = dnn_fail(msg, DNN_EDATA, "checkpoint '%s' was trained %s --batch-norm; this run asks %s it", r->o.checkpoint,
                      ck->batch_norm ? "with" : "without", r->o.batch_norm ? "for" : "to go without");
    if (!rc && r->o.batch_norm)
        rc = dnn_bn_init(&r->model, r->o.bn_momentum, r->o.bn_epsilon, msg);
    if (rc == DNN_ENOMEM && r->o.batch_norm) /* the activations of a whole step's local examples */
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " (--batch-norm holds the activations of all %zu "
                 "examples of a step on this rank: use --batch-size or more ranks)", block_columns(r));
    train_check(r, rc, msg);
    dnn_model_set_dropout(&r->model, r->o.keep_prob, (uint64_t)r->o.seed);
    if (r->o.standardize)
        standardize(r, r->o.resume ? ck : train_transfer_ckpt(r));
    if (r->o.resume) {
        rc = dnn_checkpoint_read_params(r->o.checkpoint, &r->model, msg);
        dnn_model_params_changed(&r->model); /* bf16: W's copy follows */
        if (!rc && ck->iteration > r->total)
            rc = dnn_fail(msg, DNN_EINVAL, "checkpoint '%s' is at iteration %lld, past the %ld iterations this run asks for "
                          "(--iterations/--epochs count the whole run; raise them to train further)",
                          r->o.checkpoint, (long long)ck->iteration, r->total);
        train_check(r, rc, msg);
        r->start = ck->iteration;
    } else {
        rc = dnn_model_init_params(&r->model, (dnn_init_t)r->o.init, r->o.init_scale, (dnn_rng_kind_t)r->o.rng,
                                   (uint64_t)r->o.seed, msg);
        train_check(r, rc, msg);
        train_transfer_params(r);
    }
    make_optimizer(r, ck);
}

static void to_bf16_part(void *ctx, size_t lo, size_t hi)
{
    run_t *r = ctx;
    dnn_matrix_to_bf16(r->Xb + lo, (const float *)r->train.X + lo, hi - lo);
}

/* --precision bf16: the training X in bfloat16, converted once (after any
 * preprocessing), which layer 1 reads in place or gathered; 0 or DNN_ENOMEM. */
static int bf16_inputs(run_t *r, char *msg)
{
    if (!dnn_model_bf16_input(&r->model))
        return 0;
    size_t nx = r->shape.n_x, mloc = r->train.hi - r->train.lo;
    r->Xb = dnn_alloc(mloc ? nx * mloc : 1, sizeof(uint16_t));
    if (r->o.batch_size)
        r->Xsb = dnn_alloc(nx * r->model.bmax, sizeof(uint16_t));
    if (!r->Xb || (r->o.batch_size && !r->Xsb))
        return dnn_fail(msg, DNN_ENOMEM, "out of memory for the bf16 copy of X '%s' in '%s' (%zu MiB)", r->o.x,
                        r->o.data, nx * mloc * sizeof(uint16_t) >> 20);
    dnn_matrix_parallel(to_bf16_part, r, nx * mloc, 16384);
    return 0;
}

/* Mini-batch order and staging, fixed-point sums, the cost history. */
static void step_buffers(run_t *r, const dnn_ckpt_t *ck)
{
    char msg[DNN_MSG_LEN] = "";
    size_t P = r->model.nparams, bmax = r->model.bmax;
    uint64_t B = (uint64_t)r->o.batch_size;
    int rc = 0;
    if (B) {
        r->perm = dnn_alloc(r->m, sizeof(uint64_t));
        r->keys = dnn_alloc(B, sizeof(uint64_t));
        r->Xs = dnn_alloc(r->shape.n_x * bmax, r->es);
        r->Ys = dnn_alloc(r->ny * bmax, r->es);
        if (!r->perm || !r->keys || !r->Xs || !r->Ys)
            rc = dnn_fail(msg, DNN_ENOMEM, "out of memory for the mini-batch buffers (m = %llu)", (unsigned long long)r->m);
        r->perm_epoch = -1;
    }
    if (!rc)
        rc = bf16_inputs(r, msg);
    r->exact = r->o.deterministic || !B; /* full batch: N-independent by default (DESIGN §5) */
    int bf16 = r->o.comm_precision == 1;
    if (bf16 && !rc && (r->o.precision == DNN_DOUBLE || r->exact))
        rc = dnn_fail(msg, DNN_EINVAL, "--comm-precision bf16 applies to float32 sums: it needs --precision single or "
                      "bf16, --batch-size > 0 and no --deterministic (exact sums)");
    r->overlap = r->d.size > 1 && r->o.comm_overlap != 2 && !r->o.batch_norm; /* batch norm reduces layer by layer */
    r->bucket = DNN_BUCKET;
    if (r->d.size > 1 && (r->overlap || bf16) && !rc &&
        dnn_dist_async_init(&r->comm, &r->d, (dnn_progress_t)(r->overlap ? r->o.comm_overlap : 1), DNN_POLL_US))
        rc = dnn_fail(msg, DNN_ENOMEM, "--comm-overlap: cannot set up the non-blocking sums (MPI_Op_create, mutex)");
    if (r->d.size > 1 && bf16 && !rc && !(r->g16 = dnn_alloc(P, sizeof(uint16_t))))
        rc = dnn_fail(msg, DNN_ENOMEM, "out of memory for the --comm-precision bf16 buffer");
    r->grads_zero = 1;                   /* dnn_model_init zeroes them */
    r->gbuf[0] = r->model.grads;
    for (int b = 1; b < DNN_FIX_BATCH && r->exact && !rc; b++) {
        r->gbuf[b] = dnn_alloc(P + DNN_GRAD_EXTRA, r->es);
        if (!r->gbuf[b])
            rc = dnn_fail(msg, DNN_ENOMEM, "out of memory for the chunk gradient buffers");
        else
            memset(r->gbuf[b], 0, (P + DNN_GRAD_EXTRA) * r->es);
    }
    if (r->exact && !rc) {
        r->acc = dnn_alloc(2 * (P + DNN_GRAD_EXTRA), sizeof(int64_t));
        if (!r->acc)
            rc = dnn_fail(msg, DNN_ENOMEM, "out of memory for the --deterministic accumulators");
    }
    if (r->o.deterministic && B && !rc)
        rc = det_init(r, ck, msg);
    if (r->o.batch_norm && !rc)
        rc = train_bn_setup(r, msg);
    r->hist_cap = (size_t)((r->total - r->start) / r->o.print_every + 2) + ck->nhist;
    r->hist_iter = malloc(r->hist_cap * sizeof(int64_t));
    r->hist_cost = malloc(r->hist_cap * sizeof(double));
    if (!rc && (!r->hist_iter || !r->hist_cost))
        rc = dnn_fail(msg, DNN_ENOMEM, "out of memory for the cost history");
    train_check(r, rc, msg);
    for (size_t i = 0; i < ck->nhist && i < r->hist_cap; i++)
        if (ck->hist_iter[i] < r->start && ck->hist_iter[i] % r->o.print_every == 0) {
            r->hist_iter[r->nhist] = ck->hist_iter[i];
            r->hist_cost[r->nhist++] = ck->hist_cost[i];
        }
    r->last_cost = r->nhist ? r->hist_cost[r->nhist - 1] : NAN;
    r->best_val_cost = NAN;
    r->best_iteration = -1;
    if (r->o.resume && ck->best_iteration >= 0 && ck->best_iteration < r->start) {
        r->best_val_cost = ck->best_val_cost;
        r->best_iteration = ck->best_iteration;
        r->records_since_best = ck->records_since_best;
    }
}

/* The configuration actually used (a valid config file) and one line of set-up facts. */
static void announce(run_t *r, int threads)
{
    char dims[512];
    fmt_layers(dims, sizeof dims, r->model.L, r->model.n);
    if (r->d.rank == 0 && !r->o.quiet) {
        if (r->o.config[0])
            printf("# dnn-train configuration (from %s and the command line)\n", r->o.config);
        else
            printf("# dnn-train configuration\n");
        dnn_cli_dump(&r->o, stdout);
        fflush(stdout);
    }
    dnn_log_info(&r->log, 0, "dnn-train: layer_dims %s (%zu parameters), m = %llu on %d rank%s x %d BLAS thread%s, %s precision, %s%s%s%s",
                 dims, r->model.nparams, (unsigned long long)r->m, r->d.size, r->d.size > 1 ? "s" : "", threads,
                 threads > 1 ? "s" : "", dnn_precision_name(r->o.precision),
                 r->o.batch_size ? "mini-batch" : "full batch", r->o.deterministic ? ", deterministic" : "",
                 r->o.optimizer ? ", " : "", r->o.optimizer ? dnn_optim_name((dnn_opt_kind_t)r->o.optimizer) : "");
    if (r->o.resume)
        dnn_log_info(&r->log, 0, "resuming from %s at iteration %ld", r->o.checkpoint, r->start);
}

/* Every file the run will write is proven writable before anything is read
 * (DESIGN §13): rank 0 creates and removes NAME.tmp in each folder, all agree. */
static void check_outputs(run_t *r)
{
    char msg[DNN_MSG_LEN] = "";
    int rc = 0;
    if (r->d.rank == 0 && !(rc = dnn_output_check("--checkpoint", r->o.checkpoint, msg)) &&
        !(rc = dnn_output_check("--best-checkpoint", r->o.best_checkpoint, msg)))
        if (!(rc = dnn_output_check("--metrics", r->o.metrics, msg)))
            rc = dnn_output_check("--report", r->o.report, msg);
    train_check(r, rc, msg);
}

/* Everything before the first step.  Returns 1 when --help was printed. */
/* --gradient-check: every rank runs the same check, rank 0 reports; 0 passed, 1 failed. */
static int gradient_check(run_t *r)
{
    char msg[DNN_MSG_LEN] = "";
    int rc = dnn_gradcheck_run(&r->o, r->d.rank == 0 ? stdout : NULL, msg);
    train_check(r, rc < 0 ? rc : 0, msg);
    return rc;
}

int train_setup(run_t *r, int argc, char **argv)
{
    char msg[DNN_MSG_LEN] = "";
    static dnn_ckpt_t ck; /* large (holds the config text); zero when not resuming */
    if (parse_options(r, argc, argv))
        return 1;
    check_outputs(r);
    int threads = dnn_matrix_set_threads(choose_threads(r));
    if (r->o.gradient_check) {
        r->status = gradient_check(r);
        return 1;
    }
    if (r->o.resume) {
        int rc = dnn_checkpoint_read(r->o.checkpoint, &ck, msg);
        if (rc)
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " (--resume)");
        train_check(r, rc, msg);
        if (r->d.rank == 0 && ck.note[0])
            dnn_log_error(&r->log, ck.note);
    }
    train_transfer_source(r);
    load_data(r);
    size_t n[DNN_MAX_LAYERS + 1];
    int L = architecture(r, &ck, n);
    check_sets(r, n[L]);
    count_steps(r);
    r->exact_max = dnn_exact_limit((r->m + DNN_CHUNK - 1) / DNN_CHUNK); /* one term per global chunk */
    make_model(r, &ck, L, n);
    step_buffers(r, &ck);
    train_transfer_freeze(r);
    dnn_checkpoint_free(&ck);
    if (r->d.size > 1 && !dnn_dist_same_hash(train_params_hash(r)))
        train_die(r, "ranks start from different parameters");
    announce(r, threads);
    train_metrics_open(r);
    return 0;
}

void train_free(run_t *r)
{
    if (r->metrics)
        fclose(r->metrics);
    r->metrics = NULL;
    train_transfer_free(r);
    dnn_optim_free(&r->opt);
    dnn_model_free(&r->model);
    dnn_data_free(&r->train);
    dnn_data_free(&r->test);
    dnn_data_free(&r->val);
    free(r->perm);
    free(r->keys);
    free(r->Xs);
    free(r->Ys);
    free(r->Xb);
    free(r->Xsb);
    for (int b = 1; b < DNN_FIX_BATCH; b++)
        free(r->gbuf[b]);
    free(r->acc);
    det_free(r);
    train_bn_free(r);
    free(r->g16);
    free(r->mean);
    free(r->std);
    free(r->hist_iter);
    free(r->hist_cost);
}
