/*
 * train_setup.c - everything dnn-train does before its first step, on every
 * rank: options, the checkpoint to resume from, the data shards, the
 * architecture, the model, the optimizer, and the step's buffers (sized here
 * once, so the step allocates nothing).  Every failure is agreed on by all
 * ranks (dnn_dist_agree) and returned to train.c, naming what the user typed.
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

/* The checkpoint must describe the network this run asks for (its stored
 * hyperparameters were checked against the option table by read_resume). */
static int resume_matches(run_t *r, const dnn_ckpt_t *c, const size_t *n, int L, char *msg)
{
    const char *ck = r->o.checkpoint;
    char a[512], b[512];
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
    return 0;
}

/* Agree on rc over the ranks (one message, naming the failing rank). */
static int agree(run_t *r, int rc, char *msg) { return dnn_dist_agree(&r->d, rc, msg); }

/* --validation-split: this rank trains on the whole chunks [split_lo, split_hi)
 * of the training examples and reads the file range [lo, hi) that holds them
 * (data.h, dnn_data_split_range). */
static int split_plan(run_t *r, uint64_t m, uint64_t *lo, uint64_t *hi, char *msg)
{
    double F = r->o.validation_split;
    uint64_t seed = (uint64_t)r->o.seed, mt = dnn_data_split_count(m, seed, F);
    int rc = 0;
    if (mt == 0 || mt == m)
        rc = dnn_fail(msg, DNN_EDATA, "--validation-split %g holds out %s of the %llu examples of X '%s' in '%s'; %s", F,
                      mt ? "none" : "all", (unsigned long long)m, r->o.x, r->o.data,
                      mt ? "raise it or give --validation FILE" : "lower it");
    if ((rc = agree(r, rc, msg)))
        return rc;
    dnn_dist_shard(mt, r->d.size, r->d.rank, &r->data.split_lo, &r->data.split_hi);
    dnn_data_split_range(m, seed, F, r->data.split_lo, r->data.split_hi, r->d.rank == 0, lo, hi);
    r->data.m_val = m - mt;
    return 0;
}

/* Probe and read this rank's part of a data set; X must be finite.  split: the
 * training file with --validation-split (its held-out examples are split off later). */
static int load_set(run_t *r, const char *file, const char *xn, const char *yn, dnn_data_shape_t *shape,
                    dnn_data_t *out, uint64_t *m, int split, char *msg)
{
    int rc = dnn_data_probe(file, xn, yn, r->o.layout == DNN_LAYOUT_FEATURES_FIRST, shape, msg);
    if ((rc = agree(r, rc, msg)))
        return rc;
    *m = shape->m;
    uint64_t lo, hi;
    if (split) {
        if ((rc = split_plan(r, shape->m, &lo, &hi, msg)))
            return rc;
    } else
        dnn_dist_shard(shape->m, r->d.size, r->d.rank, &lo, &hi);
    rc = dnn_data_read(out, file, xn, yn, shape, (dnn_precision_t)r->o.precision, lo, hi, r->o.scale, msg);
    if ((rc = agree(r, rc, msg)))
        return rc;
    size_t feat = 0;
    uint64_t bad = dnn_data_find_nonfinite(out, &feat);
    if (bad != UINT64_MAX)
        rc = dnn_fail(msg, DNN_EDATA, "X '%s' in '%s' holds a non-finite value (NaN or Inf) at example %llu, feature %zu",
                      xn, file, (unsigned long long)bad, feat);
    if ((rc = agree(r, rc, msg)))
        return rc;
    if (!isnan(r->o.binary_threshold))
        dnn_data_threshold(out, r->o.binary_threshold);
    return 0;
}

static int check_labels(run_t *r, const dnn_data_t *data, const char *file, const char *yn, size_t K, char *msg)
{
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
    return agree(r, rc, msg);
}

/* dnn_data_moments' reduction: agree, then sum the fixed-point parts over the ranks. */
static int sum_over_ranks(void *ctx, int rc, char *msg, int64_t *acc, size_t n)
{
    run_t *r = ctx;
    if ((rc = agree(r, rc, msg)))
        return rc;
    if (n && r->d.size > 1)
        dnn_dist_sum_i64(acc, n);
    return 0;
}

/* --standardize: the statistics of the training set (or the checkpoint's), applied to every set. */
static int standardize(run_t *r, const dnn_ckpt_t *ck, char *msg)
{
    train_data_t *d = &r->data;
    size_t nx = d->shape.n_x;
    d->mean = calloc(nx, sizeof(double));
    d->std = calloc(nx, sizeof(double));
    int rc = d->mean && d->std ? 0 : DNN_ENOMEM;
    if (rc)
        snprintf(msg, DNN_MSG_LEN, "out of memory for --standardize");
    if ((rc = agree(r, rc, msg)))
        return rc;
    if (ck && ck->mean) {
        memcpy(d->mean, ck->mean, nx * sizeof(double));
        memcpy(d->std, ck->std, nx * sizeof(double));
    } else {
        char what[2 * DNN_PATH_MAX];
        snprintf(what, sizeof what, "X '%s' in '%s'", r->o.x, r->o.data);
        dnn_data_stats_t st = {d->m, DNN_CHUNK, r->step.exact_max, what, sum_over_ranks, r};
        if ((rc = dnn_data_moments(&d->train, &st, d->mean, d->std, msg)))
            return rc;
    }
    dnn_data_standardize(&d->train, d->mean, d->std);
    if (d->have_test)
        dnn_data_standardize(&d->test, d->mean, d->std);
    if (d->have_val)
        dnn_data_standardize(&d->val, d->mean, d->std);
    return 0;
}

/* Options: defaults < config file < command line, then the cross-option checks.
 * Returns TRAIN_DONE when --help was printed (nothing else to do). */
static int parse_options(run_t *r, int argc, char **argv, char *msg)
{
    dnn_cli_defaults(&r->o);
    int rc = dnn_cli_parse(&r->o, argc, argv, msg);
    if (!rc && r->o.help) {
        if (r->d.rank == 0)
            dnn_cli_usage(stdout);
        return TRAIN_DONE;
    }
    if (!rc)
        rc = dnn_cli_validate(&r->o, msg);
    if (rc && r->d.rank == 0 && (argc <= 1))
        snprintf(msg, DNN_MSG_LEN, "--data FILE is required; run dnn-train --help for the options and examples");
    if ((rc = agree(r, rc, msg)))
        return rc;
    dnn_log_init(&r->log, PROG, r->d.rank, r->o.quiet, r->o.verbose);
    r->data.es = dnn_real_size((dnn_precision_t)r->o.precision);
    return 0;
}

/* A second data set (test or dev) must match the training set's widths. */
static int load_other(run_t *r, const char *what, const char *file, const char *xn, const char *yn,
                      dnn_data_t *out, uint64_t *m, char *msg)
{
    dnn_data_shape_t s;
    int rc = load_set(r, file, xn, yn, &s, out, m, 0, msg);
    if (rc)
        return rc;
    if (s.n_x != r->data.shape.n_x)
        rc = dnn_fail(msg, DNN_EDATA, "%s set X '%s' in '%s' has %zu features per example but the training set X '%s' in '%s' has %zu",
                      what, xn, file, s.n_x, r->o.x, r->o.data, r->data.shape.n_x);
    else if (s.n_y != r->data.shape.n_y)
        rc = dnn_fail(msg, DNN_EDATA, "%s labels Y '%s' in '%s' have %zu columns, the training labels %zu", what, yn,
                      file, s.n_y, r->data.shape.n_y);
    return agree(r, rc, msg);
}

/* The training, test and dev sets: each rank reads its own hyperslab. */
int train_data_init(run_t *r, char *msg)
{
    train_data_t *d = &r->data;
    int rc = load_set(r, r->o.data, r->o.x, r->o.y, &d->shape, &d->train, &d->m, r->o.validation_split > 0, msg);
    if (rc)
        return rc;
    d->have_test = r->o.test[0] != 0;
    if (d->have_test && (rc = load_other(r, "test", r->o.test, r->o.test_x, r->o.test_y, &d->test, &d->m_test, msg)))
        return rc;
    d->have_val = r->o.validation[0] != 0;
    if (d->have_val)
        rc = load_other(r, "dev", r->o.validation, r->o.validation_x, r->o.validation_y, &d->val, &d->m_val, msg);
    return rc;
}

void train_data_free(train_data_t *d)
{
    dnn_data_free(&d->train);
    dnn_data_free(&d->test);
    dnn_data_free(&d->val);
    free(d->mean);
    free(d->std);
    memset(d, 0, sizeof *d);
}

/* Labels of every set against the output layer; then the dev split. */
static int check_sets(run_t *r, size_t K, char *msg)
{
    train_data_t *d = &r->data;
    int rc = check_labels(r, &d->train, r->o.data, r->o.y, K, msg);
    if (!rc && d->have_test)
        rc = check_labels(r, &d->test, r->o.test, r->o.test_y, K, msg);
    if (!rc && d->have_val)
        rc = check_labels(r, &d->val, r->o.validation, r->o.validation_y, K, msg);
    if (rc || r->o.validation_split <= 0)
        return rc;
    rc = dnn_data_split_dev(&d->train, &d->val, (uint64_t)r->o.seed, r->o.validation_split, d->split_lo, d->split_hi,
                            msg);
    if ((rc = agree(r, rc, msg)))
        return rc;
    d->m -= d->m_val;
    d->have_val = 1;
    return 0;
}

/* n[0] = n_x, the hidden sizes, n[L] from the labels (softmax: the classes). */
static int architecture(run_t *r, const dnn_ckpt_t *ck, size_t *n, int *Lout, char *msg)
{
    train_data_t *d = &r->data;
    int L = *Lout = r->o.n_layers + 1, rc = 0;
    n[0] = d->shape.n_x;
    for (int l = 1; l < L; l++)
        n[l] = r->o.layers[l - 1];
    d->ny = d->shape.n_y;
    d->classify = r->o.output != DNN_ACT_LINEAR;
    n[L] = d->shape.n_y;
    if (r->o.output == DNN_ACT_SOFTMAX) {
        if (d->shape.n_y != 1)
            rc = dnn_fail(msg, DNN_EDATA, "--output softmax needs one class id per example, but Y '%s' in '%s' has %zu columns",
                          r->o.y, r->o.data, d->shape.n_y);
        if ((rc = agree(r, rc, msg)))
            return rc;
        double mx = d->train.hi > d->train.lo ? dnn_data_max_label(&d->train) : -1;
        if (r->d.size > 1)
            dnn_dist_max_d(&mx, 1);
        long K = r->o.classes ? r->o.classes : (r->o.resume ? (long)ck->n[ck->L] : (long)mx + 1);
        n[L] = (size_t)(K < 2 ? 2 : K);
    }
    if (r->o.resume)
        rc = agree(r, resume_matches(r, ck, n, L, msg), msg);
    return rc;
}

/* Steps per epoch and in the whole run. */
static int count_steps(run_t *r, char *msg)
{
    train_step_t *s = &r->step;
    uint64_t B = (uint64_t)r->o.batch_size;
    if (B > r->data.m)
        B = r->data.m;
    r->o.batch_size = (long)B;
    s->spe = B ? (long)((r->data.m + B - 1) / B) : 1;
    if (!r->o.epochs_set) {
        s->total = r->o.iterations;
        return 0;
    }
    int rc = 0;
    if (r->o.epochs > (long)(INT64_MAX / 4) / s->spe) {
        snprintf(msg, DNN_MSG_LEN, "--epochs %ld is too large", r->o.epochs);
        rc = DNN_EINVAL;
    }
    s->total = r->o.epochs * s->spe;
    return agree(r, rc, msg);
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
static int make_optimizer(run_t *r, const dnn_ckpt_t *ck, char *msg)
{
    dnn_opt_kind_t kind = (dnn_opt_kind_t)r->o.optimizer;
    int rc = dnn_optim_init(&r->opt, kind, (dnn_precision_t)r->o.precision, r->model.nparams, r->o.beta1, r->o.beta2,
                            r->o.epsilon, r->o.weight_decay, msg);
    if (!rc && r->o.resume && ck->has_optim)
        rc = dnn_checkpoint_read_optim(r->o.checkpoint, &r->model, &r->opt, msg);
    return agree(r, rc, msg);
}

/* The model sized for the largest block, its parameters (initial or resumed). */
static int make_model(run_t *r, const dnn_ckpt_t *ck, int L, const size_t *n, char *msg)
{
    int rc = dnn_model_init(&r->model, (dnn_precision_t)r->o.precision, L, n, (dnn_act_t)r->o.hidden,
                            (dnn_act_t)r->o.output, r->o.leaky_slope, block_columns(r), msg);
    if (!rc && r->o.batch_norm)
        rc = dnn_bn_init(&r->model, r->o.bn_momentum, r->o.bn_epsilon, msg);
    if (rc == DNN_ENOMEM && r->o.batch_norm) /* the activations of a whole step's local examples */
        snprintf(msg + strlen(msg), DNN_MSG_LEN - strlen(msg), " (--batch-norm holds the activations of all %zu "
                 "examples of a step on this rank: use --batch-size or more ranks)", block_columns(r));
    if ((rc = agree(r, rc, msg)))
        return rc;
    dnn_model_set_dropout(&r->model, r->o.keep_prob, (uint64_t)r->o.seed);
    if (r->o.standardize && (rc = standardize(r, r->o.resume ? ck : train_transfer_ckpt(r), msg)))
        return rc;
    if (r->o.resume) {
        rc = dnn_checkpoint_read_params(r->o.checkpoint, &r->model, msg);
        dnn_model_params_changed(&r->model); /* bf16: W's copy follows */
        if (!rc && ck->iteration > r->step.total)
            rc = dnn_fail(msg, DNN_EINVAL, "checkpoint '%s' is at iteration %lld, past the %ld iterations this run asks for "
                          "(--iterations/--epochs count the whole run; raise them to train further)",
                          r->o.checkpoint, (long long)ck->iteration, r->step.total);
        if ((rc = agree(r, rc, msg)))
            return rc;
        r->step.start = ck->iteration;
    } else {
        rc = dnn_model_init_params(&r->model, (dnn_init_t)r->o.init, r->o.init_scale, (dnn_rng_kind_t)r->o.rng,
                                   (uint64_t)r->o.seed, msg);
        if ((rc = agree(r, rc, msg)) || (rc = train_transfer_params(r, msg)))
            return rc;
    }
    return make_optimizer(r, ck, msg);
}

/* The configuration actually used (a valid config file) and one line of set-up facts. */
void train_announce(run_t *r)
{
    char dims[512];
    int threads = r->threads;
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
                 dims, r->model.nparams, (unsigned long long)r->data.m, r->d.size, r->d.size > 1 ? "s" : "", threads,
                 threads > 1 ? "s" : "", dnn_precision_name(r->o.precision),
                 r->o.batch_size ? "mini-batch" : "full batch", r->o.deterministic ? ", deterministic" : "",
                 r->o.optimizer ? ", " : "", r->o.optimizer ? dnn_optim_name((dnn_opt_kind_t)r->o.optimizer) : "");
    if (r->o.resume)
        dnn_log_info(&r->log, 0, "resuming from %s at iteration %ld", r->o.checkpoint, r->step.start);
}

/* Every file the run will write is proven writable before anything is read
 * (README, What happens when things go wrong): rank 0 creates and removes NAME.tmp in each folder, all agree. */
static int check_outputs(run_t *r, char *msg)
{
    int rc = 0;
    if (r->d.rank == 0 && !(rc = dnn_output_check("--checkpoint", r->o.checkpoint, msg)) &&
        !(rc = dnn_output_check("--best-checkpoint", r->o.best_checkpoint, msg)))
        if (!(rc = dnn_output_check("--metrics", r->o.metrics, msg)))
            rc = dnn_output_check("--report", r->o.report, msg);
    return agree(r, rc, msg);
}

/* --resume: the checkpoint's settings, history and preprocessing. */
static int read_resume(run_t *r, dnn_ckpt_t *ck, char *msg)
{
    int rc = dnn_checkpoint_read(r->o.checkpoint, ck, msg);
    if (rc)
        snprintf(msg + strlen(msg), DNN_MSG_LEN - strlen(msg), " (--resume)");
    if ((rc = agree(r, rc, msg)))
        return rc;
    if (r->d.rank == 0 && ck->note[0])
        dnn_log_error(&r->log, ck->note);
    return agree(r, dnn_cli_resume_check(&r->o, r->o.checkpoint, msg), msg); /* the option table's must-match rows */
}

/* Data, architecture, schedule, model, optimizer, buffers: in that order. */
static int build(run_t *r, dnn_ckpt_t *ck, char *msg)
{
    size_t n[DNN_MAX_LAYERS + 1];
    int L = 0, rc;
    if ((r->o.resume && (rc = read_resume(r, ck, msg))) || (rc = train_transfer_source(r, msg)) ||
        (rc = train_data_init(r, msg)) ||
        (rc = architecture(r, ck, n, &L, msg)) || (rc = check_sets(r, n[L], msg)) || (rc = count_steps(r, msg)))
        return rc;
    r->step.exact_max = dnn_exact_limit((r->data.m + DNN_CHUNK - 1) / DNN_CHUNK); /* one term per global chunk */
    if ((rc = make_model(r, ck, L, n, msg)) || (rc = agree(r, train_step_init(r, ck, msg), msg)))
        return rc;
    if ((rc = train_transfer_freeze(r, msg)))
        return rc;
    return agree(r, train_records_init(r, ck, msg), msg);
}

/* Everything before the first step, on every rank.  Returns 0, TRAIN_DONE
 * (--help, --gradient-check: *status is the exit status) or an agreed error. */
int train_setup(run_t *r, int argc, char **argv, int *status, char *msg)
{
    int rc = parse_options(r, argc, argv, msg);
    if (rc || (rc = check_outputs(r, msg)))
        return rc;
    r->threads = dnn_matrix_set_threads(choose_threads(r));
    if (r->o.gradient_check) { /* every rank runs the same check, rank 0 reports; 0 passed, 1 failed */
        *status = dnn_gradcheck_run(&r->o, r->d.rank == 0 ? stdout : NULL, msg);
        if ((rc = agree(r, *status < 0 ? *status : 0, msg)))
            return rc;
        return TRAIN_DONE;
    }
    dnn_ckpt_t *ck = calloc(1, sizeof *ck); /* large (holds the config text); zero when not resuming */
    rc = ck ? 0 : dnn_fail(msg, DNN_ENOMEM, "out of memory for the checkpoint's settings");
    if (!(rc = agree(r, rc, msg)))
        rc = build(r, ck, msg);
    dnn_checkpoint_free(ck);
    free(ck);
    return rc;
}

void train_free(run_t *r)
{
    train_records_free(&r->rec);
    train_transfer_free(r);
    dnn_optim_free(&r->opt);
    dnn_model_free(&r->model);
    train_data_free(&r->data);
    det_free(r);
    train_bn_free(r);
    train_step_free(&r->step);
}
