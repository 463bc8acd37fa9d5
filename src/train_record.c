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

static double real_at(const run_t *r, const void *p, size_t i)
{
    return r->data.es == 8 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

/* Loss sum, correct count and the number of examples that count for the
 * accuracy (those with a labelled entry: an example whose every entry is
 * unlabelled is left out, README, Multi-task outputs) of the current
 * parameters over a data set, summed over ranks. */
int train_evaluate(run_t *r, const dnn_data_t *data, double out[3], char *msg)
{
    size_t nx = data->shape.n_x, ny = r->data.ny, mloc = data->hi - data->lo, bs = r->model.bmax;
    out[0] = out[1] = out[2] = 0;
    for (size_t off = 0; off < mloc; off += bs) {
        size_t cols = mloc - off < bs ? mloc - off : bs;
        dnn_model_evaluate(&r->model, (char *)data->X + off * nx * r->data.es, (char *)data->Y + off * ny * r->data.es,
                           cols, &out[0], &out[1]);
    }
    for (size_t j = 0; j < mloc; j++) {
        int labelled = r->o.output != DNN_ACT_SIGMOID;
        for (size_t i = 0; i < ny && !labelled; i++)
            labelled = real_at(r, data->Y, j * ny + i) >= 0; /* not NaN, not negative */
        out[2] += labelled;
    }
    if (r->d.size > 1 && dnn_dist_sum_d(out, 3))
        return dnn_fail(msg, DNN_EMPI, "MPI_Allreduce of the evaluation failed");
    return 0;
}

/* ---- checkpoints ---- */

#define MAX_STORED 64 /* rows of the option table that the checkpoint stores, at most */

typedef struct {
    dnn_ckpt_t c;
    dnn_ckpt_attr_t attrs[MAX_STORED];
} ckpt_out_t;

/* The checkpoint after steps_done steps: the model's shape, the counters, the
 * preprocessing, the history and the dev-set bookkeeping; the hyperparameters
 * come from the option table (README, Adding a hyperparameter). */
static void fill_ckpt(run_t *r, ckpt_out_t *out, long steps_done)
{
    dnn_ckpt_t *c = &out->c;
    memset(c, 0, sizeof *c);
    c->L = r->model.L;
    memcpy(c->n, r->model.n, sizeof c->n);
    c->hidden = r->model.hidden;
    c->output = r->model.output;
    c->precision = r->o.precision;
    c->iteration = steps_done;
    c->epoch = steps_done / r->step.spe;
    c->deterministic_groups = r->step.det ? DNN_DET_GROUP : 0; /* a --batch-norm batch above 1024: per chunk (train_bn.c) */
    c->standardize = r->o.standardize; /* /preprocess is written */
    c->mean = r->data.mean;
    c->std = r->data.std;
    c->nhist = r->rec.nhist;
    c->hist_iter = r->rec.hist_iter;
    c->hist_cost = r->rec.hist_cost;
    c->optim = &r->opt;
    c->best_val_cost = r->rec.best_val_cost;
    c->best_iteration = r->rec.best_iteration;
    c->records_since_best = r->rec.records_since_best;
    c->attrs = out->attrs;
    c->nattrs = dnn_cli_ckpt_attrs(&r->o, out->attrs, MAX_STORED);
    dnn_cli_dump_string(&r->o, c->config, sizeof c->config);
}

/* Rank 0 writes the parameters after steps_done steps to path (atomically).
 * Returns 0 or DNN_E* (rank 0's alone). */
int train_write_checkpoint(run_t *r, const char *path, long steps_done, char *msg)
{
    if (r->d.rank != 0 || !path[0])
        return 0;
    for (size_t i = 0; i < r->model.nparams; i++)
        if (!isfinite(real_at(r, r->model.params, i)))
            return dnn_fail(msg, DNN_EDIVERGE, "parameters are not finite; the checkpoint is not written and the "
                            "previous one is kept");
    ckpt_out_t *c = malloc(sizeof *c); /* large (holds the config text) */
    if (!c)
        return dnn_fail(msg, DNN_ENOMEM, "out of memory for the checkpoint's settings");
    fill_ckpt(r, c, steps_done);
    int rc = dnn_checkpoint_write(path, &r->model, &c->c, msg);
    free(c);
    if (!rc)
        dnn_log_info(&r->log, 1, "checkpoint written: %s (iteration %ld)", path, steps_done);
    return rc;
}

/* ---- metrics ---- */

/* On resume: the rows of the old file before the resume point, on the print grid. */
static char *kept_rows(run_t *r, size_t *klen)
{
    char *keep = NULL;
    *klen = 0;
    FILE *f = r->step.start > 0 ? fopen(r->o.metrics, "r") : NULL;
    if (!f)
        return NULL;
    FILE *mem = open_memstream(&keep, klen);
    char line[1024];
    int first = 1;
    while (mem && fgets(line, sizeof line, f)) {
        long it = strtol(line, NULL, 10);
        if (!first && (it >= r->step.start || it % r->o.print_every != 0))
            continue;
        first = 0;
        fputs(line, mem);
    }
    if (mem)
        fclose(mem);
    fclose(f);
    return keep;
}

/* Rank 0 opens --metrics (keeping the rows before a resume point).  Returns 0 or DNN_EIO (rank 0's alone). */
int train_metrics_open(run_t *r, char *msg)
{
    if (r->d.rank != 0 || !r->o.metrics[0])
        return 0;
    size_t klen;
    char *keep = kept_rows(r, &klen);
    r->rec.metrics = fopen(r->o.metrics, "w");
    if (!r->rec.metrics) {
        snprintf(msg, DNN_MSG_LEN, "--metrics: cannot create '%s': %s", r->o.metrics, strerror(errno));
        free(keep);
        return DNN_EIO;
    }
    if (keep && klen > 0)
        fputs(keep, r->rec.metrics);
    else
        fprintf(r->rec.metrics, "iteration,cost%s%s%s%s,seconds\n", r->data.classify ? ",train_accuracy" : "",
                r->data.have_test ? ",test_accuracy" : "", r->data.have_val ? ",val_cost" : "",
                r->data.have_val && r->data.classify ? ",val_accuracy" : "");
    free(keep);
    fflush(r->rec.metrics);
    return 0;
}

static void metrics_row(run_t *r, long k, double cost, double acc, double test_acc, double secs)
{
    if (!r->rec.metrics)
        return;
    fprintf(r->rec.metrics, "%ld,%.17g", k, cost);
    if (r->data.classify)
        fprintf(r->rec.metrics, ",%.17g", acc);
    if (r->data.have_test)
        fprintf(r->rec.metrics, ",%.17g", test_acc);
    if (r->data.have_val)
        fprintf(r->rec.metrics, ",%.17g", r->rec.last_val_cost);
    if (r->data.have_val && r->data.classify)
        fprintf(r->rec.metrics, ",%.17g", r->rec.last_val_acc);
    fprintf(r->rec.metrics, ",%.6f\n", secs);
    fflush(r->rec.metrics);
}

/* Dev set at a record of step k: evaluate, track the best, write the best checkpoint. */
static int dev_record(run_t *r, long k, char *msg)
{
    double ev[3];
    int rc = train_evaluate(r, &r->data.val, ev, msg);
    if (rc)
        return rc;
    r->rec.last_val_cost = ev[0] / (double)r->data.m_val;
    r->rec.last_val_acc = ev[1] / ev[2];
    if (r->rec.best_iteration < 0 || r->rec.last_val_cost < r->rec.best_val_cost) {
        r->rec.best_val_cost = r->rec.last_val_cost;
        r->rec.best_iteration = k;
        r->rec.records_since_best = 0;
        return train_write_checkpoint(r, r->o.best_checkpoint, k, msg);
    }
    r->rec.records_since_best++;
    if (r->o.early_stopping && r->rec.records_since_best >= r->o.early_stopping)
        r->rec.stopped_early = 1;
    return 0;
}

/*
 * At a record of step k (every --print-every and the last): cost with the L2
 * term, test and dev figures, history, metrics, the ranks-agree check.
 * Sets *recorded when it recorded.  Returns 0 or DNN_E* (this rank's alone).
 */
int train_record(run_t *r, long k, const step_result_t *res, double elapsed, int *recorded, char *msg)
{
    *recorded = 0;
    if (k % r->o.print_every != 0 && k != r->step.total - 1)
        return 0;
    double cost = res->cost + dnn_optim_l2_cost(&r->model, r->o.l2, train_step_examples(r, k)), test_acc = NAN;
    int rc;
    if (r->data.have_test) {
        double ev[3];
        if ((rc = train_evaluate(r, &r->data.test, ev, msg)))
            return rc;
        test_acc = ev[1] / ev[2];
    }
    if (r->data.have_val && (rc = dev_record(r, k, msg)))
        return rc;
    if (r->d.rank == 0 && r->rec.nhist < r->rec.hist_cap) {
        r->rec.hist_iter[r->rec.nhist] = k;
        r->rec.hist_cost[r->rec.nhist++] = cost;
    }
    if (r->d.rank == 0)
        metrics_row(r, k, cost, res->acc, test_acc, elapsed);
    r->rec.last_cost = cost;
    *recorded = 1;
    if (r->d.size > 1 && !dnn_dist_same_hash(dnn_model_params_hash(&r->model)))
        return dnn_fail(msg, DNN_EDATA, "ranks hold different parameters at iteration %ld", k);
    return 0;
}

/* Final accuracies with the final parameters after k steps, and the `final` line.
 * Returns 0 or DNN_E* (this rank's alone). */
int train_final_line(run_t *r, long k, double seconds, double ms_epoch, char *msg)
{
    double ev[3], tv[3] = {0, 0, 0}, vv[3] = {0, 0, 0};
    int rc = train_evaluate(r, &r->data.train, ev, msg);
    if (!rc && r->data.have_test)
        rc = train_evaluate(r, &r->data.test, tv, msg);
    if (!rc && r->data.have_val)
        rc = train_evaluate(r, &r->data.val, vv, msg);
    if (rc)
        return rc;
    if (r->d.size > 1 && !dnn_dist_same_hash(dnn_model_params_hash(&r->model)))
        return dnn_fail(msg, DNN_EDATA, "ranks hold different parameters at the end of training");
    if (r->d.rank != 0)
        return 0;
    printf("final iterations=%ld cost=%.9g", k, r->rec.last_cost);
    if (r->data.classify)
        printf(" train_accuracy=%.6f", ev[1] / ev[2]);
    if (r->data.have_test)
        printf(" test_accuracy=%.6f", tv[1] / tv[2]);
    if (r->data.have_val) {
        printf(" val_cost=%.9g", vv[0] / (double)r->data.m_val);
        if (r->data.classify)
            printf(" val_accuracy=%.6f", vv[1] / vv[2]);
        printf(" best_iteration=%ld", r->rec.best_iteration);
    }
    if (r->rec.stopped_early)
        printf(" stopped_early=1");
    printf(" seconds=%.3f ms_per_epoch=%.3f\n", seconds, ms_epoch);
    fflush(stdout);
    return 0;
}

/* ---- the records' own state ---- */

/* The cost history (on resume, the checkpoint's up to the resume point) and the
 * dev-set bookkeeping.  Returns 0 or DNN_ENOMEM. */
int train_records_init(run_t *r, const dnn_ckpt_t *ck, char *msg)
{
    train_records_t *c = &r->rec;
    c->hist_cap = (size_t)((r->step.total - r->step.start) / r->o.print_every + 2) + ck->nhist;
    c->hist_iter = malloc(c->hist_cap * sizeof(int64_t));
    c->hist_cost = malloc(c->hist_cap * sizeof(double));
    if (!c->hist_iter || !c->hist_cost)
        return dnn_fail(msg, DNN_ENOMEM, "out of memory for the cost history");
    for (size_t i = 0; i < ck->nhist && i < c->hist_cap; i++)
        if (ck->hist_iter[i] < r->step.start && ck->hist_iter[i] % r->o.print_every == 0) {
            c->hist_iter[c->nhist] = ck->hist_iter[i];
            c->hist_cost[c->nhist++] = ck->hist_cost[i];
        }
    c->last_cost = c->nhist ? c->hist_cost[c->nhist - 1] : NAN;
    c->best_val_cost = NAN;
    c->best_iteration = -1;
    if (r->o.resume && ck->best_iteration >= 0 && ck->best_iteration < r->step.start) {
        c->best_val_cost = ck->best_val_cost;
        c->best_iteration = ck->best_iteration;
        c->records_since_best = ck->records_since_best;
    }
    return 0;
}

void train_records_free(train_records_t *c)
{
    if (c->metrics)
        fclose(c->metrics);
    free(c->hist_iter);
    free(c->hist_cost);
    memset(c, 0, sizeof *c);
}
