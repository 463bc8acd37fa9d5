/*
 * train.c - dnn-train: set-up on every rank, the gradient-descent loop, the
 * reduction, checkpoints, metrics and the final line.
 *
 * One step (DESIGN §5): every rank runs forward + backward over the examples
 * of the step that it holds, in blocks of at most bmax columns, ADDING
 * gradient sums; one allreduce adds the sums (plus loss, correct count and a
 * stop flag) over the ranks; every rank divides by the step's global example
 * count and applies the same update.  With --deterministic the sums are taken
 * per fixed global chunk of DNN_CHUNK examples and each chunk sum x is added
 * exactly as two 64-bit integers, hi = trunc(x 2^24) and lo = round((x 2^24 -
 * hi) 2^40); integer addition is associative, so the result does not depend
 * on the number of ranks or on the order of the chunks, bit for bit.
 * Nothing in the step allocates: every buffer is sized at set-up.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include "dnn/train.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "dnn/checkpoint.h"
#include "dnn/cli.h"
#include "dnn/data.h"
#include "dnn/dist.h"
#include "dnn/log.h"
#include "dnn/matrix.h"
#include "dnn/model.h"
#include "dnn/output.h"

#define PROG "dnn-train"
#define DNN_BLOCK 1024 /* columns per block outside --deterministic */
#define FIX_MAX 0x1p38 /* |chunk sum| bound of the fixed-point format */

static volatile sig_atomic_t stop_signal = 0;

static void on_signal(int sig) { stop_signal = sig; }

typedef struct {
    dnn_options_t o;
    dnn_dist_t d;
    dnn_log_t log;
    dnn_model_t model;
    dnn_data_t train, test;
    dnn_data_shape_t shape, test_shape;
    int have_test, classify;
    uint64_t m, m_test;
    size_t es, ny; /* element size; label rows per example */
    long spe, total, start; /* steps per epoch, total steps, first step */
    uint64_t *perm;         /* (m) this epoch's order, mini-batch only */
    long perm_epoch;
    uint64_t *keys;         /* (B) owned batch members, mini-batch only */
    void *Xs, *Ys;          /* (n_x, bmax), (ny, bmax) staging for gathered columns */
    int64_t *acc;           /* (2, P + DNN_GRAD_EXTRA) fixed-point hi, lo sums, --deterministic */
    double *mean, *std;     /* (n_x) standardization, or NULL */
    int64_t *hist_iter;
    double *hist_cost;
    size_t nhist, hist_cap;
    FILE *metrics;
    double last_cost;
    int diverged_fixed; /* a chunk sum overflowed the fixed-point range */
} run_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Collective: if any rank failed, every rank leaves with the first message. */
static void check(run_t *r, int rc, char *msg)
{
    rc = dnn_dist_agree(&r->d, rc, msg);
    if (rc) {
        if (r->d.rank == 0)
            dnn_log_error(&r->log, msg);
        dnn_dist_finalize();
        exit(1);
    }
}

/* A failure that other ranks cannot see coming: log and bring the job down. */
static _Noreturn void die(run_t *r, const char *msg)
{
    dnn_log_newline(&r->log);
    if (r->d.size == 1) { /* nobody to bring down: spare the user MPI_Abort's banner */
        dnn_log_error(&r->log, msg);
        if (r->metrics)
            fflush(r->metrics);
        fflush(stdout);
        /* _exit, like MPI_Abort, skips atexit handlers: HDF5's crashes on a file
         * whose close failed (a full disk), and MPI_Finalize would be a collective */
        _exit(1);
    }
    dnn_dist_abort(&r->d, PROG, 1, msg);
}

static inline double real_at(const run_t *r, const void *p, size_t i)
{
    return r->es == 8 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

static inline void real_set(const run_t *r, void *p, size_t i, double v)
{
    if (r->es == 8)
        ((double *)p)[i] = v;
    else
        ((float *)p)[i] = (float)v;
}

/* ---- fixed point: x = hi 2^-24 + lo 2^-64, hi and lo exact int64 sums ---- */

static inline double fix_value(int64_t hi, int64_t lo) { return (double)hi * 0x1p-24 + (double)lo * 0x1p-64; }

/* Split x into the two exact parts; returns 0, or -1 when |x| is out of range. */
static inline int fix_add(int64_t *hi, int64_t *lo, double x)
{
    if (!(fabs(x) < FIX_MAX))
        return -1;
    double t = x * 0x1p24;
    int64_t h = (int64_t)t;
    *hi += h;
    *lo += (int64_t)((t - (double)h) * 0x1p40);
    return 0;
}

/* Add the chunk's gradient sums (and loss, correct count) to acc. */
static void fix_accumulate(run_t *r)
{
    size_t n = r->model.nparams + 2, stride = r->model.nparams + DNN_GRAD_EXTRA;
    int64_t *hi = r->acc, *lo = r->acc + stride;
    int bad = 0;
    if (r->es == 8) {
        const double *G = r->model.grads;
        for (size_t i = 0; i < n; i++)
            bad |= fix_add(&hi[i], &lo[i], G[i]);
    } else {
        const float *G = r->model.grads;
        for (size_t i = 0; i < n; i++)
            bad |= fix_add(&hi[i], &lo[i], G[i]);
    }
    if (bad)
        r->diverged_fixed = 1;
}

/* ---- one step ---- */

static void full_batch_grads(run_t *r)
{
    size_t nx = r->shape.n_x, mloc = r->train.hi - r->train.lo;
    size_t bs = r->model.bmax;
    if (mloc == 0 && !r->o.deterministic)
        dnn_model_zero_grads(&r->model); /* an empty shard contributes zeros */
    for (size_t off = 0; off < mloc; off += bs) {
        size_t cols = mloc - off < bs ? mloc - off : bs;
        dnn_model_backward(&r->model, (char *)r->train.X + off * nx * r->es,
                           (char *)r->train.Y + off * r->ny * r->es, cols, off == 0 || r->o.deterministic);
        if (r->o.deterministic)
            fix_accumulate(r);
    }
}

/* Sort in place without allocating (glibc's qsort mallocs a merge buffer):
 * heapsort of n keys. */
static void sort_u64(uint64_t *a, size_t n)
{
    for (size_t end = n, start = n / 2; end > 1;) {
        if (start > 0)
            start--; /* build the heap */
        else {
            uint64_t t = a[0]; /* move the largest to the end */
            a[0] = a[--end];
            a[end] = t;
        }
        for (size_t i = start, c; (c = 2 * i + 1) < end; i = c) { /* sift down */
            if (c + 1 < end && a[c + 1] > a[c])
                c++;
            if (a[i] >= a[c])
                break;
            uint64_t t = a[i];
            a[i] = a[c];
            a[c] = t;
        }
    }
}

/* Copy the columns of global examples idx[0..n) into the staging buffers. */
static void gather(run_t *r, const uint64_t *keys, size_t n, uint64_t base, uint64_t B)
{
    size_t nx = r->shape.n_x, ny = r->ny, es = r->es;
    for (size_t j = 0; j < n; j++) {
        uint64_t g = r->perm[base + keys[j] % B], c = g - r->train.lo;
        memcpy((char *)r->Xs + j * nx * es, (char *)r->train.X + c * nx * es, nx * es);
        memcpy((char *)r->Ys + j * ny * es, (char *)r->train.Y + c * ny * es, ny * es);
    }
}

static void mini_batch_grads(run_t *r, long s)
{
    uint64_t B = (uint64_t)r->o.batch_size, base = (uint64_t)s * B;
    uint64_t end = base + B < r->m ? base + B : r->m;
    size_t n = 0;
    /* keys = position in the batch, or (chunk, position) when deterministic */
    for (uint64_t p = base; p < end; p++) {
        uint64_t g = r->perm[p];
        if (g >= r->train.lo && g < r->train.hi)
            r->keys[n++] = (r->o.deterministic ? (g / DNN_CHUNK) * B : 0) + (p - base);
    }
    if (!r->o.deterministic) {
        if (n == 0)
            dnn_model_zero_grads(&r->model); /* none of this batch is here */
        for (size_t off = 0; off < n; off += r->model.bmax) {
            size_t cols = n - off < r->model.bmax ? n - off : r->model.bmax;
            gather(r, r->keys + off, cols, base, B);
            dnn_model_backward(&r->model, r->Xs, r->Ys, cols, off == 0);
        }
        return;
    }
    /* one group per global chunk, each summed alone, then added exactly */
    sort_u64(r->keys, n);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && r->keys[j] / B == r->keys[i] / B && j - i < r->model.bmax)
            j++;
        gather(r, r->keys + i, j - i, base, B);
        dnn_model_backward(&r->model, r->Xs, r->Ys, j - i, 1);
        fix_accumulate(r);
        i = j;
    }
}

/* Sum the step's gradients over ranks into model.grads (deterministic: from acc). */
static void reduce(run_t *r, int stop)
{
    size_t P = r->model.nparams, n = P + DNN_GRAD_EXTRA;
    if (r->o.deterministic) {
        int64_t *hi = r->acc, *lo = r->acc + n;
        hi[P + 2] = (stop ? 1 : 0) + (r->diverged_fixed ? (int64_t)1 << 40 : 0);
        lo[P + 2] = 0;
        if (r->d.size > 1 && dnn_dist_sum_i64(r->acc, 2 * n))
            die(r, "MPI_Allreduce of the gradients failed");
        for (size_t i = 0; i < P + 2; i++)
            real_set(r, r->model.grads, i, fix_value(hi[i], lo[i]));
        real_set(r, r->model.grads, P + 2, (double)(hi[P + 2] & (((int64_t)1 << 40) - 1)));
        if (hi[P + 2] >> 40)
            real_set(r, r->model.grads, P, NAN);
        return;
    }
    real_set(r, r->model.grads, P + 2, stop ? 1 : 0);
    if (r->d.size > 1 && dnn_dist_sum_real(r->model.grads, n, r->es))
        die(r, "MPI_Allreduce of the gradients failed");
}

/* ---- evaluation: loss and accuracy of the current parameters over a data set ---- */

static void evaluate(run_t *r, const dnn_data_t *data, double out[2])
{
    size_t nx = data->shape.n_x, mloc = data->hi - data->lo, bs = r->model.bmax;
    out[0] = out[1] = 0;
    for (size_t off = 0; off < mloc; off += bs) {
        size_t cols = mloc - off < bs ? mloc - off : bs;
        dnn_model_evaluate(&r->model, (char *)data->X + off * nx * r->es, (char *)data->Y + off * r->ny * r->es,
                           cols, &out[0], &out[1]);
    }
    if (r->d.size > 1 && dnn_dist_sum_d(out, 2))
        die(r, "MPI_Allreduce of the evaluation failed");
}

/* ---- checkpoints ---- */

static uint64_t params_hash(const run_t *r)
{
    const unsigned char *p = r->model.params;
    size_t n = r->model.nparams * r->es;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void fill_ckpt(run_t *r, dnn_ckpt_t *c, long steps_done)
{
    memset(c, 0, sizeof *c);
    c->L = r->model.L;
    memcpy(c->n, r->model.n, sizeof c->n);
    c->hidden = r->model.hidden;
    c->output = r->model.output;
    c->leaky_slope = r->o.leaky_slope;
    c->precision = r->o.precision;
    c->iteration = steps_done;
    c->epoch = steps_done / r->spe;
    c->learning_rate = r->o.lr;
    c->seed = r->o.seed;
    c->rng = r->o.rng;
    c->batch_size = r->o.batch_size;
    c->deterministic = r->o.deterministic;
    c->scale = r->o.scale;
    c->standardize = r->o.standardize;
    c->binary_threshold = r->o.binary_threshold;
    c->mean = r->mean;
    c->std = r->std;
    c->nhist = r->nhist;
    c->hist_iter = r->hist_iter;
    c->hist_cost = r->hist_cost;
    dnn_cli_dump_string(&r->o, c->config, sizeof c->config);
}

static void write_checkpoint(run_t *r, long steps_done)
{
    if (r->d.rank != 0 || !r->o.checkpoint[0])
        return;
    char msg[DNN_MSG_LEN];
    for (size_t i = 0; i < r->model.nparams; i++)
        if (!isfinite(real_at(r, r->model.params, i)))
            die(r, "parameters are not finite; the checkpoint is not written and the previous one is kept");
    dnn_ckpt_t c;
    fill_ckpt(r, &c, steps_done);
    if (dnn_checkpoint_write(r->o.checkpoint, &r->model, &c, msg))
        die(r, msg);
    dnn_log_info(&r->log, 1, "checkpoint written: %s (iteration %ld)", r->o.checkpoint, steps_done);
}

/* ---- metrics ---- */

static void metrics_open(run_t *r)
{
    if (r->d.rank != 0 || !r->o.metrics[0])
        return;
    char *keep = NULL;
    size_t klen = 0;
    if (r->start > 0) { /* resume: keep rows of iterations before the resume point */
        FILE *f = fopen(r->o.metrics, "r");
        if (f) {
            FILE *mem = open_memstream(&keep, &klen);
            char line[1024];
            int first = 1;
            while (mem && fgets(line, sizeof line, f)) {
                long it = strtol(line, NULL, 10);
                if (!first && (it >= r->start || it % r->o.print_every != 0))
                    continue;
                first = 0;
                fputs(line, mem);
            }
            if (mem)
                fclose(mem);
            fclose(f);
        }
    }
    r->metrics = fopen(r->o.metrics, "w");
    if (!r->metrics) {
        char msg[DNN_MSG_LEN];
        snprintf(msg, sizeof msg, "--metrics: cannot create '%s': %s", r->o.metrics, strerror(errno));
        free(keep);
        die(r, msg);
    }
    if (keep && klen > 0)
        fputs(keep, r->metrics);
    else
        fprintf(r->metrics, "iteration,cost%s%s,seconds\n", r->classify ? ",train_accuracy" : "",
                r->have_test ? ",test_accuracy" : "");
    free(keep);
    fflush(r->metrics);
}

static void record(run_t *r, long k, double cost, double acc, double test_acc, double secs)
{
    if (r->d.rank != 0)
        return;
    if (r->nhist < r->hist_cap) {
        r->hist_iter[r->nhist] = k;
        r->hist_cost[r->nhist++] = cost;
    }
    if (r->metrics) {
        fprintf(r->metrics, "%ld,%.17g", k, cost);
        if (r->classify)
            fprintf(r->metrics, ",%.17g", acc);
        if (r->have_test)
            fprintf(r->metrics, ",%.17g", test_acc);
        fprintf(r->metrics, ",%.6f\n", secs);
        fflush(r->metrics);
    }
}

/* ---- set-up ---- */

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
                        ck, c->precision == DNN_DOUBLE ? "double" : "single", r->o.precision == DNN_DOUBLE ? "double" : "single");
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
    int t1 = isnan(c->binary_threshold), t2 = isnan(r->o.binary_threshold);
    if (t1 != t2 || (!t1 && c->binary_threshold != r->o.binary_threshold))
        return dnn_fail(msg, DNN_EDATA, "checkpoint '%s' and this run differ in --binary-threshold", ck);
    return 0;
}

static void load_set(run_t *r, const char *file, const char *xn, const char *yn, dnn_data_shape_t *shape,
                     dnn_data_t *out, uint64_t *m)
{
    char msg[DNN_MSG_LEN] = "";
    int rc = dnn_data_probe(file, xn, yn, r->o.layout == DNN_LAYOUT_FEATURES_FIRST, shape, msg);
    check(r, rc, msg);
    *m = shape->m;
    uint64_t lo, hi;
    dnn_dist_shard(shape->m, r->d.size, r->d.rank, &lo, &hi);
    rc = dnn_data_read(out, file, xn, yn, shape, (dnn_precision_t)r->o.precision, lo, hi, r->o.scale, msg);
    check(r, rc, msg);
    size_t feat = 0;
    uint64_t bad = dnn_data_find_nonfinite(out, &feat);
    rc = 0;
    if (bad != UINT64_MAX)
        rc = dnn_fail(msg, DNN_EDATA, "X '%s' in '%s' holds a non-finite value (NaN or Inf) at example %llu, feature %zu",
                      xn, file, (unsigned long long)bad, feat);
    check(r, rc, msg);
    if (!isnan(r->o.binary_threshold))
        dnn_data_threshold(out, r->o.binary_threshold);
}

static void check_labels(run_t *r, const dnn_data_t *data, const char *file, const char *yn)
{
    char msg[DNN_MSG_LEN] = "";
    int kind = r->o.output == DNN_ACT_SOFTMAX ? 1 : r->o.output == DNN_ACT_SIGMOID ? 0 : 2;
    double v = 0;
    uint64_t bad = dnn_data_check_labels(data, kind, (long)r->model.n[r->model.L], &v);
    int rc = 0;
    if (bad != UINT64_MAX) {
        if (kind == 0)
            rc = dnn_fail(msg, DNN_EDATA, "Y '%s' in '%s': label %g at example %llu; binary labels (--output sigmoid) must be 0 or 1 (use --binary-threshold T or --output softmax for class ids)",
                          yn, file, v, (unsigned long long)bad);
        else if (kind == 1)
            rc = dnn_fail(msg, DNN_EDATA, "Y '%s' in '%s': label %g at example %llu; softmax labels must be class ids 0..%zu (K = %zu)",
                          yn, file, v, (unsigned long long)bad, r->model.n[r->model.L] - 1, r->model.n[r->model.L]);
        else
            rc = dnn_fail(msg, DNN_EDATA, "Y '%s' in '%s': target %g at example %llu is not finite", yn, file, v,
                          (unsigned long long)bad);
    }
    check(r, rc, msg);
}

static void standardize(run_t *r, const dnn_ckpt_t *ck)
{
    size_t nx = r->shape.n_x;
    r->mean = calloc(nx, sizeof(double));
    r->std = calloc(nx, sizeof(double));
    char msg[DNN_MSG_LEN] = "out of memory for --standardize";
    check(r, r->mean && r->std ? 0 : DNN_ENOMEM, msg);
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
        check(r, part && acc ? 0 : DNN_ENOMEM, msg);
        for (int pass = 0; pass < 2; pass++) {
            double *out = pass ? r->std : r->mean;
            int bad = 0;
            memset(acc, 0, 2 * nx * sizeof(int64_t));
            for (size_t j = 0; j < mloc; j += DNN_CHUNK) {
                memset(part, 0, nx * sizeof(double));
                dnn_data_feature_sums_range(&r->train, j, mloc - j < DNN_CHUNK ? mloc : j + DNN_CHUNK,
                                            pass ? r->mean : NULL, part);
                for (size_t i = 0; i < nx; i++)
                    bad |= fix_add(&acc[i], &acc[nx + i], part[i]);
            }
            int rc = bad ? dnn_fail(msg, DNN_EDATA, "--standardize: X '%s' in '%s' has values too large to sum exactly "
                                    "(|chunk sum| >= 2^38); use --scale first", r->o.x, r->o.data) : 0;
            check(r, rc, msg);
            if (r->d.size > 1)
                dnn_dist_sum_i64(acc, 2 * nx);
            for (size_t i = 0; i < nx; i++)
                out[i] = fix_value(acc[i], acc[nx + i]) / (double)r->m;
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
}

int dnn_train_main(int argc, char **argv)
{
    static run_t run; /* large; zero-initialized */
    run_t *r = &run;
    char msg[DNN_MSG_LEN] = "";
    dnn_log_detect_launcher();
    if (dnn_dist_init(&r->d, &argc, &argv)) {
        fprintf(stderr, PROG ": MPI_Init failed\n");
        return 1;
    }
    dnn_log_init(&r->log, PROG, r->d.rank, 0, 0);
    dnn_cli_defaults(&r->o);
    int rc = dnn_cli_parse(&r->o, argc, argv, msg);
    if (!rc && r->o.help) {
        if (r->d.rank == 0)
            dnn_cli_usage(stdout);
        dnn_dist_finalize();
        return 0;
    }
    if (!rc)
        rc = dnn_cli_validate(&r->o, msg);
    if (rc && r->d.rank == 0 && (argc <= 1))
        snprintf(msg, sizeof msg, "--data FILE is required; run dnn-train --help for the options and examples");
    check(r, rc, msg);
    dnn_log_init(&r->log, PROG, r->d.rank, r->o.quiet, r->o.verbose);
    /* every file the run will write, proven writable before anything else: rank 0 tries, all agree */
    if (r->d.rank == 0 && !(rc = dnn_output_check("--checkpoint", r->o.checkpoint, msg)))
        rc = dnn_output_check("--metrics", r->o.metrics, msg);
    check(r, rc, msg);
    int threads = dnn_matrix_set_threads(choose_threads(r));
    r->es = dnn_real_size((dnn_precision_t)r->o.precision);

    /* the checkpoint to resume from, read by every rank */
    dnn_ckpt_t ck;
    memset(&ck, 0, sizeof ck);
    int resuming = 0;
    if (r->o.resume) {
        rc = dnn_checkpoint_read(r->o.checkpoint, &ck, msg);
        if (rc)
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " (--resume)");
        check(r, rc, msg);
        if (r->d.rank == 0 && ck.note[0])
            dnn_log_error(&r->log, ck.note);
        resuming = 1;
    }

    /* data: each rank reads its own hyperslab */
    load_set(r, r->o.data, r->o.x, r->o.y, &r->shape, &r->train, &r->m);
    if (r->o.test[0]) {
        r->have_test = 1;
        load_set(r, r->o.test, r->o.test_x, r->o.test_y, &r->test_shape, &r->test, &r->m_test);
        rc = 0;
        if (r->test_shape.n_x != r->shape.n_x)
            rc = dnn_fail(msg, DNN_EDATA, "test set X '%s' in '%s' has %zu features per example but the training set X '%s' in '%s' has %zu",
                          r->o.test_x, r->o.test, r->test_shape.n_x, r->o.x, r->o.data, r->shape.n_x);
        else if (r->test_shape.n_y != r->shape.n_y)
            rc = dnn_fail(msg, DNN_EDATA, "test labels Y '%s' in '%s' have %zu columns, the training labels %zu",
                          r->o.test_y, r->o.test, r->test_shape.n_y, r->shape.n_y);
        check(r, rc, msg);
    }

    /* architecture: n[0] = n_x, hidden sizes, n[L] from the labels */
    size_t n[DNN_MAX_LAYERS + 1];
    int L = r->o.n_layers + 1;
    n[0] = r->shape.n_x;
    for (int l = 1; l < L; l++)
        n[l] = r->o.layers[l - 1];
    r->ny = r->shape.n_y;
    r->classify = r->o.output != DNN_ACT_LINEAR;
    if (r->o.output == DNN_ACT_SOFTMAX) {
        rc = 0;
        if (r->shape.n_y != 1)
            rc = dnn_fail(msg, DNN_EDATA, "--output softmax needs one class id per example, but Y '%s' in '%s' has %zu columns",
                          r->o.y, r->o.data, r->shape.n_y);
        check(r, rc, msg);
        double mx = r->train.hi > r->train.lo ? dnn_data_max_label(&r->train) : -1;
        if (r->d.size > 1)
            dnn_dist_max_d(&mx, 1);
        long K = r->o.classes ? r->o.classes : (resuming ? (long)ck.n[ck.L] : (long)mx + 1);
        if (K < 2)
            K = 2;
        n[L] = (size_t)K;
    } else {
        n[L] = r->shape.n_y;
    }
    if (resuming) {
        rc = resume_matches(r, &ck, n, L, msg);
        check(r, rc, msg);
    }

    /* steps */
    uint64_t B = (uint64_t)r->o.batch_size;
    if (B > r->m)
        B = r->m;
    r->o.batch_size = (long)B;
    r->spe = B ? (long)((r->m + B - 1) / B) : 1;
    if (r->o.epochs_set) {
        if (r->o.epochs > (long)(INT64_MAX / 4) / r->spe) {
            snprintf(msg, sizeof msg, "--epochs %ld is too large", r->o.epochs);
            check(r, DNN_EINVAL, msg);
        }
        r->total = r->o.epochs * r->spe;
    } else {
        r->total = r->o.iterations;
    }

    /* the model, sized for the largest block */
    size_t mloc = r->train.hi - r->train.lo, mtest = r->have_test ? r->test.hi - r->test.lo : 0;
    size_t bmax;
    if (r->o.deterministic)
        bmax = B && B < DNN_CHUNK ? B : DNN_CHUNK;
    else if (B)
        bmax = B < DNN_BLOCK ? B : DNN_BLOCK;
    else {
        size_t most = mloc > mtest ? mloc : mtest;
        bmax = most < DNN_BLOCK ? (most ? most : 1) : DNN_BLOCK;
    }
    rc = dnn_model_init(&r->model, (dnn_precision_t)r->o.precision, L, n, (dnn_act_t)r->o.hidden,
                        (dnn_act_t)r->o.output, r->o.leaky_slope, bmax, msg);
    check(r, rc, msg);
    check_labels(r, &r->train, r->o.data, r->o.y);
    if (r->have_test)
        check_labels(r, &r->test, r->o.test, r->o.test_y);
    if (r->o.standardize)
        standardize(r, resuming ? &ck : NULL);
    if (resuming) {
        rc = dnn_checkpoint_read_params(r->o.checkpoint, &r->model, msg);
        if (!rc && ck.iteration > r->total)
            rc = dnn_fail(msg, DNN_EINVAL, "checkpoint '%s' is at iteration %lld, past the %ld iterations this run asks for "
                          "(--iterations/--epochs count the whole run; raise them to train further)",
                          r->o.checkpoint, (long long)ck.iteration, r->total);
        check(r, rc, msg);
        r->start = ck.iteration;
    } else {
        rc = dnn_model_init_params(&r->model, (dnn_init_t)r->o.init, r->o.init_scale, (dnn_rng_kind_t)r->o.rng,
                                   (uint64_t)r->o.seed, msg);
        check(r, rc, msg);
    }

    /* buffers of the step */
    size_t P = r->model.nparams;
    rc = 0;
    if (B) {
        r->perm = dnn_alloc(r->m, sizeof(uint64_t));
        r->keys = dnn_alloc(B, sizeof(uint64_t));
        r->Xs = dnn_alloc(r->shape.n_x * bmax, r->es);
        r->Ys = dnn_alloc(r->ny * bmax, r->es);
        if (!r->perm || !r->keys || !r->Xs || !r->Ys)
            rc = dnn_fail(msg, DNN_ENOMEM, "out of memory for the mini-batch buffers (m = %llu)", (unsigned long long)r->m);
        r->perm_epoch = -1;
    }
    if (r->o.deterministic && !rc) {
        r->acc = dnn_alloc(2 * (P + DNN_GRAD_EXTRA), sizeof(int64_t));
        if (!r->acc)
            rc = dnn_fail(msg, DNN_ENOMEM, "out of memory for the --deterministic accumulators");
    }
    r->hist_cap = (size_t)((r->total - r->start) / r->o.print_every + 2) + ck.nhist;
    r->hist_iter = malloc(r->hist_cap * sizeof(int64_t));
    r->hist_cost = malloc(r->hist_cap * sizeof(double));
    if (!rc && (!r->hist_iter || !r->hist_cost))
        rc = dnn_fail(msg, DNN_ENOMEM, "out of memory for the cost history");
    check(r, rc, msg);
    for (size_t i = 0; i < ck.nhist && i < r->hist_cap; i++)
        if (ck.hist_iter[i] < r->start && ck.hist_iter[i] % r->o.print_every == 0) {
            r->hist_iter[r->nhist] = ck.hist_iter[i];
            r->hist_cost[r->nhist++] = ck.hist_cost[i];
        }
    r->last_cost = r->nhist ? r->hist_cost[r->nhist - 1] : NAN;
    dnn_checkpoint_free(&ck);
    if (r->d.size > 1 && !dnn_dist_same_hash(params_hash(r)))
        die(r, "ranks start from different parameters");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit must fail the write (EFBIG), not kill the job */

    char dims[512];
    fmt_layers(dims, sizeof dims, L, n);
    if (r->d.rank == 0 && !r->o.quiet) { /* the configuration actually used, as a valid config file */
        if (r->o.config[0])
            printf("# dnn-train configuration (from %s and the command line)\n", r->o.config);
        else
            printf("# dnn-train configuration\n");
        dnn_cli_dump(&r->o, stdout);
        fflush(stdout);
    }
    dnn_log_info(&r->log, 0, "dnn-train: layer_dims %s (%zu parameters), m = %llu on %d rank%s x %d BLAS thread%s, %s precision, %s%s",
                 dims, P, (unsigned long long)r->m, r->d.size, r->d.size > 1 ? "s" : "", threads, threads > 1 ? "s" : "",
                 r->o.precision == DNN_DOUBLE ? "double" : "single", B ? "mini-batch" : "full batch",
                 r->o.deterministic ? ", deterministic" : "");
    if (resuming)
        dnn_log_info(&r->log, 0, "resuming from %s at iteration %ld", r->o.checkpoint, r->start);
    metrics_open(r);

    /* ---- the loop ---- */
    double t0 = now(), t_epoch1 = -1, t_last_print = 0;
    long k;
    int stopped = 0;
    for (k = r->start; k < r->total; k++) {
        long epoch = k / r->spe, s = k % r->spe;
        if (r->o.deterministic)
            memset(r->acc, 0, 2 * (P + DNN_GRAD_EXTRA) * sizeof(int64_t));
        if (B) {
            if (epoch != r->perm_epoch) {
                dnn_rng_permutation(r->perm, r->m, (uint64_t)r->o.seed, (uint64_t)epoch);
                r->perm_epoch = epoch;
            }
            mini_batch_grads(r, s);
        } else {
            full_batch_grads(r);
        }
        reduce(r, stop_signal != 0);
        double mb = B ? (double)((uint64_t)(s + 1) * B < r->m ? B : r->m - (uint64_t)s * B) : (double)r->m;
        double cost = real_at(r, r->model.grads, P) / mb, acc = real_at(r, r->model.grads, P + 1) / mb;
        int stop = real_at(r, r->model.grads, P + 2) > 0;
        if (!isfinite(cost)) {
            snprintf(msg, sizeof msg, "training diverged at iteration %ld: the cost is %g; try a smaller --lr "
                     "(now %g)%s", k, cost, r->o.lr, r->o.checkpoint[0] ? "; the last good checkpoint is kept" : "");
            if (r->d.rank == 0)
                dnn_log_error(&r->log, msg);
            dnn_dist_finalize();
            exit(1);
        }
        if (r->o.output == DNN_ACT_LINEAR)
            acc = NAN;
        int rec = k % r->o.print_every == 0 || k == r->total - 1;
        double elapsed = now() - t0;
        if (rec) {
            double test_acc = NAN;
            if (r->have_test) {
                double ev[2];
                evaluate(r, &r->test, ev);
                test_acc = ev[1] / (double)r->m_test;
            }
            record(r, k, cost, acc, test_acc, elapsed);
            r->last_cost = cost;
            if (r->d.size > 1 && !dnn_dist_same_hash(params_hash(r))) {
                snprintf(msg, sizeof msg, "ranks hold different parameters at iteration %ld", k);
                die(r, msg);
            }
        }
        dnn_model_update(&r->model, r->o.lr, 1.0 / mb);
        if (rec || (r->log.tty && elapsed - t_last_print > 0.25)) {
            double done = (double)(k + 1 - r->start);
            double ex = done * (B ? (double)B : (double)r->m) / (elapsed > 0 ? elapsed : 1e-9);
            dnn_log_progress(&r->log, k, r->total, epoch, cost, acc, ex, (r->total - k - 1) * elapsed / done, rec);
            t_last_print = elapsed;
        }
        if ((k + 1) % r->spe == 0 && epoch == r->start / r->spe)
            t_epoch1 = now();
        if (stop) {
            stopped = 1;
            k++;
            break;
        }
        if (r->o.checkpoint_every && (k + 1) % r->o.checkpoint_every == 0 && k + 1 < r->total)
            write_checkpoint(r, k + 1);
    }
    double seconds = now() - t0, t_end = now();
    dnn_log_newline(&r->log);
    write_checkpoint(r, k);
    if (stopped) {
        if (r->d.rank == 0)
            fprintf(stderr, PROG ": stopped by a signal at iteration %ld; checkpoint %s%s; run again with --resume\n", k,
                    r->o.checkpoint[0] ? "written to " : "not written (no --checkpoint)", r->o.checkpoint);
        if (r->metrics)
            fclose(r->metrics);
        dnn_dist_finalize();
        return DNN_EXIT_STOPPED;
    }

    /* final accuracies with the final parameters */
    double ev[2], tv[2] = {0, 0};
    evaluate(r, &r->train, ev);
    if (r->have_test)
        evaluate(r, &r->test, tv);
    if (r->d.size > 1 && !dnn_dist_same_hash(params_hash(r)))
        die(r, "ranks hold different parameters at the end of training");
    if (r->d.rank == 0) {
        long epochs_done = (k - r->start) / r->spe;
        double ms_epoch = epochs_done >= 2 && t_epoch1 > 0 ? (t_end - t_epoch1) / (double)(epochs_done - 1) * 1e3
                                                            : seconds / (double)(k - r->start > 0 ? k - r->start : 1) * r->spe * 1e3;
        printf("final iterations=%ld cost=%.9g", r->total, r->last_cost);
        if (r->classify)
            printf(" train_accuracy=%.6f", ev[1] / (double)r->m);
        if (r->have_test)
            printf(" test_accuracy=%.6f", tv[1] / (double)r->m_test);
        printf(" seconds=%.3f ms_per_epoch=%.3f\n", seconds, ms_epoch);
        fflush(stdout);
    }
    if (r->metrics)
        fclose(r->metrics);
    dnn_model_free(&r->model);
    dnn_data_free(&r->train);
    dnn_data_free(&r->test);
    free(r->perm);
    free(r->keys);
    free(r->Xs);
    free(r->Ys);
    free(r->acc);
    free(r->mean);
    free(r->std);
    free(r->hist_iter);
    free(r->hist_cost);
    dnn_dist_finalize();
    return 0;
}
