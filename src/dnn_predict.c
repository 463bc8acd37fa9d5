/*
 * dnn_predict.c - apply a checkpoint to a data set through the inference API
 * (dnn/dnn.h: the stored preprocessing and the forward pass), reading the
 * inputs CHUNK examples at a time; with labels (thresholded by the stored
 * binary threshold) the accuracy or mean squared error; the predictions
 * written as HDF5 (probabilities (m, n[L]) float64, predictions (m,) int64)
 * or CSV.
 */
#include <errno.h>
#include <getopt.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnn/args.h"
#include "dnn/atomic.h"
#include "dnn/data.h"
#include "dnn/h5.h"
#include "dnn/net.h"
#include "dnn/output.h"
#include "dnn/report.h"

#define PROG "dnn-predict"
#define CHUNK 8192 /* examples read at once (a multiple of net.c's block, so the same bits) */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: dnn-predict --model CKPT.h5 --data FILE [--x NAME] [--y NAME] [--output OUT.h5|OUT.csv]\n\n"
            "Applies a dnn-train checkpoint to the inputs X in FILE. The checkpoint's preprocessing\n"
            "(--scale, --standardize, --binary-threshold) is applied as it was in training.\n\n"
            "  --model FILE      checkpoint written by dnn-train --checkpoint\n"
            "  --data FILE       HDF5 file holding the inputs\n"
            "  --x NAME          inputs dataset [test_x]\n"
            "  --y NAME          labels dataset: prints accuracy=... m=...\n"
            "  --layout L        examples-first|features-first [examples-first]\n"
            "  --output FILE     .h5: datasets probabilities (m, n[L]) float64 and predictions (m,) int64;\n"
            "                    .csv: header index,prediction,p0,p1,... one row per example\n"
            "Error analysis (with --y; README, Error analysis):\n"
            "  --report FILE     .md or .json: confusion matrix, precision, recall, F1 and support per class,\n"
            "                    macro and weighted averages, accuracy (one of each per task for several\n"
            "                    sigmoid outputs); the numbers of scikit-learn's sklearn.metrics\n"
            "  --misclassified FILE.csv  index,label,prediction,probability of every wrong example\n"
            "                    (a task column first for several sigmoid outputs)\n"
            "  --confusion-png FILE  the confusion matrix as a heat map (darker = more of the row)\n"
            "  --help            this text\n\n"
            "Examples:\n"
            "  dnn-predict --model planar-ckpt.h5 --data planar.h5 --x X --y Y\n"
            "  dnn-predict --model fmnist-ckpt.h5 --data fmnist.h5 --x test_x --y test_y --output pred.h5\n"
            "  dnn-predict --model fmnist-ckpt.h5 --data fmnist.h5 --y test_y --report err.md --misclassified wrong.csv\n");
}

static int write_h5(const char *path, const double *prob, const int64_t *pred, size_t m, size_t k, char *msg)
{
    dnn_atomic_t a;
    int rc = dnn_atomic_open(&a, "--output file", path, 0, msg);
    if (rc)
        return rc;
    dnn_h5_quiet();
    hid_t f = H5Fcreate(a.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        rc = dnn_fail(msg, DNN_EIO, "cannot create --output file '%s': %s", a.tmp, strerror(errno));
        dnn_atomic_abort(&a);
        return rc;
    }
    hsize_t d2[2] = {m, k}, d1[1] = {m};
    /* checksummed like every dataset dnn writes (h5.h) */
    int e = dnn_h5_write(f, path, "probabilities", H5T_NATIVE_DOUBLE, 2, d2, prob, msg) ||
            dnn_h5_write(f, path, "predictions", H5T_NATIVE_INT64, 1, d1, pred, msg);
    e |= H5Fclose(f) < 0;
    if (e) {
        dnn_atomic_abort(&a);
        return dnn_fail(msg, DNN_EIO, "cannot write predictions to '%s'", path);
    }
    return dnn_atomic_commit(&a, msg);
}

static int write_csv(const char *path, const double *prob, const int64_t *pred, size_t m, size_t k, char *msg)
{
    dnn_atomic_t a;
    int rc = dnn_atomic_open(&a, "--output file", path, 1, msg);
    if (rc)
        return rc;
    fprintf(a.f, "index,prediction");
    for (size_t i = 0; i < k; i++)
        fprintf(a.f, ",p%zu", i);
    fputc('\n', a.f);
    for (size_t j = 0; j < m; j++) {
        fprintf(a.f, "%zu,%lld", j, (long long)pred[j]);
        for (size_t i = 0; i < k; i++)
            fprintf(a.f, ",%.17g", prob[j * k + i]);
        fputc('\n', a.f);
    }
    return dnn_atomic_commit(&a, msg); /* a failed write above shows in the stream's error flag */
}

typedef struct {
    const char *model, *data, *x, *y, *out;
    const char *report, *wrong, *png; /* --report, --misclassified, --confusion-png */
    int features_first;
} args_t;

/* Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, args_t *a)
{
    static const struct option lo[] = {{"model", required_argument, 0, 'm'}, {"data", required_argument, 0, 'd'},
                                       {"x", required_argument, 0, 'x'},     {"y", required_argument, 0, 'y'},
                                       {"output", required_argument, 0, 'o'}, {"layout", required_argument, 0, 'l'},
                                       {"report", required_argument, 0, 'r'}, {"misclassified", required_argument, 0, 'w'},
                                       {"confusion-png", required_argument, 0, 'p'},
                                       {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    int c;
    memset(a, 0, sizeof *a);
    a->x = "test_x";
    while ((c = dnn_args_next(PROG, argc, argv, lo)) != -1) {
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'd': a->data = optarg; break;
        case 'x': a->x = optarg; break;
        case 'y': a->y = optarg; break;
        case 'o': a->out = optarg; break;
        case 'r': a->report = optarg; break;
        case 'w': a->wrong = optarg; break;
        case 'p': a->png = optarg; break;
        case 'l':
            if (strcmp(optarg, "features-first") && strcmp(optarg, "examples-first")) {
                fprintf(stderr, PROG ": --layout: unknown value '%s' (examples-first or features-first)\n", optarg);
                return 1;
            }
            a->features_first = strcmp(optarg, "features-first") == 0;
            break;
        case 'h': usage(stdout); return 0;
        default: return 1; /* reported */
        }
    }
    if (!a->model || !a->data) {
        fprintf(stderr, PROG ": --model CKPT and --data FILE are required (see --help)\n");
        return 1;
    }
    const char *o = a->out;
    if (o && !(strlen(o) > 3 && (!strcmp(o + strlen(o) - 3, ".h5") || !strcmp(o + strlen(o) - 4, ".csv") ||
                                  !strcmp(o + strlen(o) - 5, ".hdf5")))) {
        fprintf(stderr, PROG ": --output '%s': the name must end in .h5, .hdf5 or .csv\n", o);
        return 1;
    }
    if ((a->report || a->wrong || a->png) && !a->y) {
        fprintf(stderr, PROG ": --%s needs the labels: give --y NAME\n",
                a->report ? "report" : a->wrong ? "misclassified" : "confusion-png");
        return 1;
    }
    if (a->report && !dnn_report_name_ok(a->report)) {
        fprintf(stderr, PROG ": --report '%s': the name must end in .md or .json\n", a->report);
        return 1;
    }
    return -1;
}

/* 0 sigmoid (binary labels), 1 softmax (class ids), 2 linear (targets). */
static int label_kind(const dnn_ckpt_t *c) { return c->output == DNN_ACT_SOFTMAX ? 1 : c->output == DNN_ACT_SIGMOID ? 0 : 2; }

/* Predictions of cols examples (P: (cols, k)) and, with labels Y (cols, n_y),
 * the sum of squared errors (the accuracy is the report's count, report.c). */
static void decide(const dnn_ckpt_t *c, const double *P, const double *Y, size_t cols, size_t k, int64_t *pred,
                   double *sq)
{
    for (size_t j = 0; j < cols; j++) {
        const double *p = P + j * k;
        size_t best = 0;
        for (size_t i = 0; i < k; i++) {
            best = p[i] > p[best] ? i : best;
            if (Y && c->output == DNN_ACT_LINEAR)
                *sq += (p[i] - Y[j * k + i]) * (p[i] - Y[j * k + i]);
        }
        pred[j] = c->output == DNN_ACT_SOFTMAX ? (int64_t)best
                  : c->output == DNN_ACT_SIGMOID ? (int64_t)(p[0] > 0.5)
                                                 : (int64_t)llround(p[0]);
    }
}

/* Examples [lo, hi): read, check, predict into prob/pred, score. */
static int predict_chunk(const args_t *a, const dnn_net_t *net, const dnn_data_shape_t *s, uint64_t lo, uint64_t hi,
                         double *prob, int64_t *pred, double *sq, dnn_report_t *rep, char *msg)
{
    const dnn_ckpt_t *c = dnn_net_checkpoint(net);
    size_t k = dnn_net_outputs(net), feat;
    dnn_data_t d;
    int rc = dnn_data_read(&d, a->data, a->x, a->y, s, DNN_DOUBLE, lo, hi, 1.0, msg);
    if (rc)
        return rc;
    uint64_t bad = dnn_data_find_nonfinite(&d, &feat);
    if (bad != UINT64_MAX) {
        rc = dnn_fail(msg, DNN_EDATA, "X '%s' in '%s' holds a non-finite value at example %llu, feature %zu", a->x,
                      a->data, (unsigned long long)bad, feat);
        goto fail;
    }
    if (a->y) {
        double v;
        if (!isnan(c->binary_threshold))
            dnn_data_threshold(&d, c->binary_threshold);
        if ((bad = dnn_data_check_labels(&d, label_kind(c), (long)k, &v)) != UINT64_MAX) {
            rc = dnn_fail(msg, DNN_EDATA, "Y '%s' in '%s' does not fit the model's %s output of %zu unit(s) (label %g "
                          "of example %llu is out of range)", a->y, a->data, dnn_act_name((dnn_act_t)c->output), k, v,
                          (unsigned long long)bad);
            goto fail;
        }
    }
    if ((rc = dnn_net_predict(net, d.X, hi - lo, prob + lo * k, msg)))
        goto fail;
    decide(c, prob + lo * k, d.Y, hi - lo, k, pred + lo, sq);
    if (d.Y && c->output != DNN_ACT_LINEAR)
        dnn_report_add(rep, prob + lo * k, d.Y, hi - lo, lo);
fail:
    dnn_data_free(&d);
    return rc;
}

static int run(const args_t *a, char *msg)
{
    dnn_net_t *net = NULL;
    dnn_data_shape_t s;
    double *prob = NULL, sq = 0;
    int64_t *pred = NULL;
    size_t k, cells;
    dnn_report_t rep = {0};
    /* before any work: a bad path costs seconds */
    int rc = dnn_output_check("--output", a->out, msg);
    if (rc || (rc = dnn_output_check("--report", a->report, msg)) ||
        (rc = dnn_output_check("--misclassified", a->wrong, msg)) ||
        (rc = dnn_output_check("--confusion-png", a->png, msg)) || (rc = dnn_net_load(&net, a->model, msg)) ||
        (rc = dnn_data_probe(a->data, a->x, a->y, a->features_first, &s, msg)))
        goto fail;
    const dnn_ckpt_t *c = dnn_net_checkpoint(net);
    if ((a->report || a->wrong || a->png) && c->output == DNN_ACT_LINEAR) {
        rc = dnn_fail(msg, DNN_EINVAL, "--report, --misclassified and --confusion-png need a classifier; the model "
                      "'%s' has a linear output", a->model);
        goto fail;
    }
    if (c->note[0])
        fprintf(stderr, PROG ": %s\n", c->note);
    k = dnn_net_outputs(net);
    if (s.n_x != dnn_net_inputs(net)) {
        rc = dnn_fail(msg, DNN_EDATA, "X '%s' in '%s' has %zu features per example; the model '%s' expects n_x = %zu",
                      a->x, a->data, s.n_x, a->model, dnn_net_inputs(net));
        goto fail;
    }
    if (a->y && (label_kind(c) == 1 ? s.n_y != 1 : s.n_y != k)) {
        rc = dnn_fail(msg, DNN_EDATA, "Y '%s' in '%s' has %zu column(s); the model's %s output of %zu unit(s) needs %zu",
                      a->y, a->data, s.n_y, dnn_act_name((dnn_act_t)c->output), k, label_kind(c) == 1 ? (size_t)1 : k);
        goto fail;
    }
    if (dnn_size_mul(&cells, (size_t)s.m, k) || !(prob = dnn_alloc(cells + 1, sizeof *prob)) ||
        !(pred = dnn_alloc((size_t)s.m + 1, sizeof *pred))) {
        rc = dnn_fail(msg, DNN_ENOMEM, "out of memory for %llu predictions", (unsigned long long)s.m);
        goto fail;
    }
    if (a->y && c->output != DNN_ACT_LINEAR && (rc = dnn_report_init(&rep, c->output == DNN_ACT_SOFTMAX, k, msg)))
        goto fail;
    if (a->wrong && (rc = dnn_report_open_wrong(&rep, a->wrong, msg)))
        goto fail;
    for (uint64_t lo = 0; lo < s.m && !rc; lo += CHUNK)
        rc = predict_chunk(a, net, &s, lo, s.m - lo < CHUNK ? s.m : lo + CHUNK, prob, pred, &sq, &rep, msg);
    if (rc || (a->wrong && (rc = dnn_report_close_wrong(&rep, a->wrong, msg))) ||
        (a->report && (rc = dnn_report_write(&rep, a->report, msg))) || (a->png && (rc = dnn_report_png(&rep, a->png, msg))))
        goto fail;
    if (a->y && c->output != DNN_ACT_LINEAR) /* over the examples with a label (README, Multi-task outputs) */
        printf("accuracy=%.6f m=%llu\n", rep.labelled ? (double)rep.right / (double)rep.labelled : 0.0,
               (unsigned long long)rep.labelled);
    else if (a->y)
        printf("mse=%.9g m=%llu\n", s.m ? sq / (double)s.m / (double)k : 0.0, (unsigned long long)s.m);
    if (a->out) {
        size_t len = strlen(a->out);
        rc = len > 4 && !strcmp(a->out + len - 4, ".csv") ? write_csv(a->out, prob, pred, s.m, k, msg)
                                                          : write_h5(a->out, prob, pred, s.m, k, msg);
        if (!rc)
            printf("predictions written to %s\n", a->out);
    }
fail:
    dnn_report_free(&rep); /* a failed run leaves no half-written list */
    free(prob);
    free(pred);
    dnn_net_free(net);
    return rc;
}

int main(int argc, char **argv)
{
    args_t a;
    int st = parse_args(argc, argv, &a);
    if (st >= 0)
        return st;
    char msg[DNN_MSG_LEN];
    if (run(&a, msg)) {
        fprintf(stderr, PROG ": %s\n", msg);
        return 1;
    }
    return 0;
}
