/*
 * train_report.c - dnn-train --report FILE (README, Error analysis): at the
 * end of a run, the error analysis of the dev set with the final
 * parameters, the same report as dnn-predict --report.  Each rank counts its
 * own dev examples; the counts are summed over the ranks (integers, so the
 * report does not depend on N) and rank 0 writes the file.
 */
#include <stdlib.h>
#include <string.h>

#include "dnn/report.h"
#include "train_run.h"

static double real_at(const run_t *r, const void *p, size_t i)
{
    return r->data.es == 8 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

/* The local dev examples into rep, block by block. */
static int count_local(run_t *r, dnn_report_t *rep, char *msg)
{
    const dnn_data_t *v = &r->data.val;
    size_t nx = r->data.shape.n_x, ny = r->data.ny, k = r->model.n[r->model.L], bs = r->model.bmax;
    size_t mloc = v->hi - v->lo;
    double *P = dnn_alloc(k * bs, sizeof *P), *Y = dnn_alloc(ny * bs, sizeof *Y);
    if (!P || !Y) {
        free(P);
        free(Y);
        return dnn_fail(msg, DNN_ENOMEM, "--report: out of memory");
    }
    for (size_t off = 0; off < mloc; off += bs) {
        size_t cols = mloc - off < bs ? mloc - off : bs;
        dnn_model_forward(&r->model, (const char *)v->X + off * nx * r->data.es, cols);
        const void *A = dnn_model_output(&r->model); /* (k, cols) column-major = (cols, k) row-major */
        for (size_t i = 0; i < k * cols; i++)
            P[i] = real_at(r, A, i);
        for (size_t i = 0; i < ny * cols; i++)
            Y[i] = real_at(r, (const char *)v->Y + off * ny * r->data.es, i);
        dnn_report_add(rep, P, Y, cols, off);
    }
    free(P);
    free(Y);
    return 0;
}

/* Returns 0 or an error agreed on by every rank. */
int train_report(run_t *r, char *msg)
{
    if (!r->o.report[0])
        return 0;
    dnn_report_t rep;
    memset(&rep, 0, sizeof rep);
    size_t k = r->model.n[r->model.L], cells = 0, n = 0;
    int rc = dnn_report_init(&rep, r->o.output == DNN_ACT_SOFTMAX, k, msg);
    if (!rc) {
        cells = rep.tasks * rep.classes * rep.classes;
        rc = count_local(r, &rep, msg);
    }
    n = cells + 3;
    int64_t *all = rc ? NULL : dnn_alloc(n, sizeof *all);
    if (!rc && !all)
        rc = dnn_fail(msg, DNN_ENOMEM, "--report: out of memory");
    if ((rc = dnn_dist_agree(&r->d, rc, msg))) {
        free(all);
        dnn_report_free(&rep);
        return rc;
    }
    memcpy(all, rep.cm, cells * sizeof *all);
    all[cells] = (int64_t)rep.examples;
    all[cells + 1] = (int64_t)rep.labelled;
    all[cells + 2] = (int64_t)rep.right;
    if (r->d.size > 1 && dnn_dist_sum_i64(all, n))
        rc = dnn_fail(msg, DNN_EMPI, "MPI_Allreduce of the --report counts failed");
    memcpy(rep.cm, all, cells * sizeof *all);
    rep.examples = (uint64_t)all[cells];
    rep.labelled = (uint64_t)all[cells + 1];
    rep.right = (uint64_t)all[cells + 2];
    free(all);
    if (!rc && r->d.rank == 0 && !(rc = dnn_report_write(&rep, r->o.report, msg)))
        dnn_log_info(&r->log, 0, "dev-set report written to %s", r->o.report);
    dnn_report_free(&rep);
    return dnn_dist_agree(&r->d, rc, msg);
}
