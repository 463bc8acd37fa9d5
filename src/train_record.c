/*
 * train_record.c - what a run keeps and shows: evaluation of the current
 * parameters on a data set, the cost history, the metrics CSV, the progress
 * line, the dev-set bookkeeping of early stopping, checkpoints and the
 * `final ...` line.  Output goes through rank 0; evaluation is collective.
 */
#define _GNU_SOURCE /* open_memstream */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "det.h"
#include "train_run.h"

/* Loss sum and correct count of the current parameters over a data set, summed over ranks. */
void train_evaluate(run_t *r, const dnn_data_t *data, double out[2])
{
    size_t nx = data->shape.n_x, mloc = data->hi - data->lo, bs = r->model.bmax;
    out[0] = out[1] = 0;
    for (size_t off = 0; off < mloc; off += bs) {
        size_t cols = mloc - off < bs ? mloc - off : bs;
        dnn_model_evaluate(&r->model, (char *)data->X + off * nx * r->es, (char *)data->Y + off * r->ny * r->es,
                           cols, &out[0], &out[1]);
    }
    if (r->d.size > 1 && dnn_dist_sum_d(out, 2))
        train_die(r, "MPI_Allreduce of the evaluation failed");
}

uint64_t train_params_hash(const run_t *r)
{
    const unsigned char *p = r->model.params;
    size_t n = r->model.nparams * r->es;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* ---- checkpoints ---- */

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
    c->deterministic_groups = r->det ? DNN_DET_GROUP : 0; /* --batch-norm sums per chunk (train_bn.c) */
    c->scale = r->o.scale;
    c->standardize = r->o.standardize;
    c->binary_threshold = r->o.binary_threshold;
    c->mean = r->mean;
    c->std = r->std;
    c->nhist = r->nhist;
    c->hist_iter = r->hist_iter;
    c->hist_cost = r->hist_cost;
    c->optim = &r->opt;
    c->l2 = r->o.l2;
    c->keep_prob = r->o.keep_prob;
    c->clip_norm = r->o.clip_norm;
    c->lr_decay = r->o.lr_decay;
    c->decay_rate = r->o.decay_rate;
    c->decay_every = r->o.decay_every;
    c->validation_split = r->o.validation_split;
    c->best_val_cost = r->best_val_cost;
    c->best_iteration = r->best_iteration;
    c->records_since_best = r->records_since_best;
    dnn_cli_dump_string(&r->o, c->config, sizeof c->config);
}

/* Rank 0 writes the parameters after steps_done steps to path (atomically). */
void train_write_checkpoint(run_t *r, const char *path, long steps_done)
{
    if (r->d.rank != 0 || !path[0])
        return;
    char msg[DNN_MSG_LEN];
    for (size_t i = 0; i < r->model.nparams; i++)
        if (!isfinite(train_real_at(r, r->model.params, i)))
            train_die(r, "parameters are not finite; the checkpoint is not written and the previous one is kept");
    static dnn_ckpt_t c; /* large (holds the config text) */
    fill_ckpt(r, &c, steps_done);
    if (dnn_checkpoint_write(path, &r->model, &c, msg))
        train_die(r, msg);
    dnn_log_info(&r->log, 1, "checkpoint written: %s (iteration %ld)", path, steps_done);
}

/* ---- metrics ---- */

/* On resume: the rows of the old file before the resume point, on the print grid. */
static char *kept_rows(run_t *r, size_t *klen)
{
    char *keep = NULL;
    *klen = 0;
    FILE *f = r->start > 0 ? fopen(r->o.metrics, "r") : NULL;
    if (!f)
        return NULL;
    FILE *mem = open_memstream(&keep, klen);
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
    return keep;
}

void train_metrics_open(run_t *r)
{
    if (r->d.rank != 0 || !r->o.metrics[0])
        return;
    size_t klen;
    char *keep = kept_rows(r, &klen);
    r->metrics = fopen(r->o.metrics, "w");
    if (!r->metrics) {
        char msg[DNN_MSG_LEN];
        snprintf(msg, sizeof msg, "--metrics: cannot create '%s': %s", r->o.metrics, strerror(errno));
        free(keep);
        train_die(r, msg);
    }
    if (keep && klen > 0)
        fputs(keep, r->metrics);
    else
        fprintf(r->metrics, "iteration,cost%s%s%s%s,seconds\n", r->classify ? ",train_accuracy" : "",
                r->have_test ? ",test_accuracy" : "", r->have_val ? ",val_cost" : "",
                r->have_val && r->classify ? ",val_accuracy" : "");
    free(keep);
    fflush(r->metrics);
}

static void metrics_row(run_t *r, long k, double cost, double acc, double test_acc, double secs)
{
    if (!r->metrics)
        return;
    fprintf(r->metrics, "%ld,%.17g", k, cost);
    if (r->classify)
        fprintf(r->metrics, ",%.17g", acc);
    if (r->have_test)
        fprintf(r->metrics, ",%.17g", test_acc);
    if (r->have_val)
        fprintf(r->metrics, ",%.17g", r->last_val_cost);
    if (r->have_val && r->classify)
        fprintf(r->metrics, ",%.17g", r->last_val_acc);
    fprintf(r->metrics, ",%.6f\n", secs);
    fflush(r->metrics);
}

/* Dev set at a record of step k: evaluate, track the best, write the best checkpoint. */
static void dev_record(run_t *r, long k)
{
    double ev[2];
    train_evaluate(r, &r->val, ev);
    r->last_val_cost = ev[0] / (double)r->m_val;
    r->last_val_acc = ev[1] / (double)r->m_val;
    if (r->best_iteration < 0 || r->last_val_cost < r->best_val_cost) {
        r->best_val_cost = r->last_val_cost;
        r->best_iteration = k;
        r->records_since_best = 0;
        train_write_checkpoint(r, r->o.best_checkpoint, k);
    } else {
        r->records_since_best++;
        if (r->o.early_stopping && r->records_since_best >= r->o.early_stopping)
            r->stopped_early = 1;
    }
}

/*
 * At a record of step k (every --print-every and the last): cost with the L2
 * term, test and dev figures, history, metrics, the ranks-agree check.
 * Returns 1 when it recorded.
 */
int train_record(run_t *r, long k, const step_result_t *res, double elapsed)
{
    if (k % r->o.print_every != 0 && k != r->total - 1)
        return 0;
    double cost = res->cost + train_l2_cost(r, k), test_acc = NAN;
    if (r->have_test) {
        double ev[2];
        train_evaluate(r, &r->test, ev);
        test_acc = ev[1] / (double)r->m_test;
    }
    if (r->have_val)
        dev_record(r, k);
    if (r->d.rank == 0 && r->nhist < r->hist_cap) {
        r->hist_iter[r->nhist] = k;
        r->hist_cost[r->nhist++] = cost;
    }
    if (r->d.rank == 0)
        metrics_row(r, k, cost, res->acc, test_acc, elapsed);
    r->last_cost = cost;
    if (r->d.size > 1 && !dnn_dist_same_hash(train_params_hash(r))) {
        char msg[DNN_MSG_LEN];
        snprintf(msg, sizeof msg, "ranks hold different parameters at iteration %ld", k);
        train_die(r, msg);
    }
    return 1;
}

/* Final accuracies with the final parameters after k steps, and the `final` line. */
void train_final_line(run_t *r, long k, double seconds, double ms_epoch)
{
    double ev[2], tv[2] = {0, 0}, vv[2] = {0, 0};
    train_evaluate(r, &r->train, ev);
    if (r->have_test)
        train_evaluate(r, &r->test, tv);
    if (r->have_val)
        train_evaluate(r, &r->val, vv);
    if (r->d.size > 1 && !dnn_dist_same_hash(train_params_hash(r)))
        train_die(r, "ranks hold different parameters at the end of training");
    if (r->d.rank != 0)
        return;
    printf("final iterations=%ld cost=%.9g", k, r->last_cost);
    if (r->classify)
        printf(" train_accuracy=%.6f", ev[1] / (double)r->m);
    if (r->have_test)
        printf(" test_accuracy=%.6f", tv[1] / (double)r->m_test);
    if (r->have_val) {
        printf(" val_cost=%.9g", vv[0] / (double)r->m_val);
        if (r->classify)
            printf(" val_accuracy=%.6f", vv[1] / (double)r->m_val);
        printf(" best_iteration=%ld", r->best_iteration);
    }
    if (r->stopped_early)
        printf(" stopped_early=1");
    printf(" seconds=%.3f ms_per_epoch=%.3f\n", seconds, ms_epoch);
    fflush(stdout);
}
