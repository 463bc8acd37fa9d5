/*
 * report.c - error analysis (README, Error analysis): confusion matrices and
 * the per-class and averaged precision, recall and F1 of scikit-learn, as
 * JSON or Markdown; the misclassified examples as CSV.  The heat map of
 * --confusion-png is in report_png.c.
 */
#include "dnn/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/atomic.h"

int dnn_report_init(dnn_report_t *r, int softmax, size_t n_out, char *msg)
{
    memset(r, 0, sizeof *r);
    r->softmax = softmax;
    r->tasks = softmax ? 1 : n_out;
    r->classes = softmax ? n_out : 2;
    size_t cells;
    if (!n_out || dnn_size_mul(&cells, r->classes, r->classes) || dnn_size_mul(&cells, cells, r->tasks) ||
        !(r->cm = calloc(cells, sizeof *r->cm)))
        return dnn_fail(msg, DNN_ENOMEM, "out of memory for the confusion matrix of %zu outputs", n_out);
    return 0;
}

void dnn_report_free(dnn_report_t *r)
{
    if (!r)
        return;
    free(r->cm);
    if (r->atom) { /* a list never committed: NAME.tmp goes */
        dnn_atomic_abort(r->atom);
        free(r->atom);
    }
    r->cm = NULL;
    r->atom = NULL;
    r->wrong = NULL;
}

/* The label of an entry: -1 when unlabelled (NaN or negative). */
static long label_of(double y) { return y >= 0 ? (long)y : -1; }

static void add_softmax(dnn_report_t *r, const double *p, double y, uint64_t g)
{
    size_t K = r->classes, best = 0;
    for (size_t i = 1; i < K; i++)
        best = p[i] > p[best] ? i : best;
    long t = label_of(y);
    if (t < 0 || (size_t)t >= K)
        return;
    r->cm[(size_t)t * K + best]++;
    r->labelled++;
    r->right += (size_t)t == best;
    if (r->wrong && (size_t)t != best)
        fprintf(r->wrong, "%llu,%ld,%zu,%.17g\n", (unsigned long long)g, t, best, p[best]);
}

void dnn_report_add(dnn_report_t *r, const double *P, const double *Y, size_t cols, uint64_t g0)
{
    size_t n = r->softmax ? r->classes : r->tasks;
    for (size_t j = 0; j < cols; j++) {
        const double *p = P + j * n;
        r->examples++;
        if (r->softmax) {
            add_softmax(r, p, Y[j], g0 + j);
            continue;
        }
        int any = 0, all = 1;
        for (size_t t = 0; t < r->tasks; t++) {
            long y = label_of(Y[j * n + t]);
            if (y < 0)
                continue;
            size_t pred = p[t] > 0.5;
            y = y > 0; /* labels are 0 or 1 here (thresholded when the model says so) */
            r->cm[t * 4 + (size_t)y * 2 + pred]++;
            any = 1;
            all &= (size_t)y == pred;
            if (r->wrong && (size_t)y != pred) {
                if (r->tasks > 1)
                    fprintf(r->wrong, "%llu,%zu,%ld,%zu,%.17g\n", (unsigned long long)(g0 + j), t, y, pred,
                            pred ? p[t] : 1 - p[t]);
                else
                    fprintf(r->wrong, "%llu,%ld,%zu,%.17g\n", (unsigned long long)(g0 + j), y, pred,
                            pred ? p[t] : 1 - p[t]);
            }
        }
        r->labelled += any;
        r->right += any && all;
    }
}

static double ratio(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : 0.0; }

void dnn_report_task(const dnn_report_t *r, size_t t, double *prec, double *rec, double *f1, dnn_task_metrics_t *out)
{
    size_t K = r->classes;
    const uint64_t *cm = r->cm + t * K * K;
    uint64_t m = 0, diag = 0;
    double sum[3] = {0, 0, 0}, wsum[3] = {0, 0, 0};
    for (size_t i = 0; i < K; i++) {
        uint64_t support = 0, predicted = 0;
        for (size_t k = 0; k < K; k++) {
            support += cm[i * K + k];
            predicted += cm[k * K + i];
        }
        uint64_t tp = cm[i * K + i];
        double v[3] = {ratio(tp, predicted), ratio(tp, support), 0};
        v[2] = v[0] + v[1] > 0 ? 2 * v[0] * v[1] / (v[0] + v[1]) : 0.0;
        for (int q = 0; q < 3; q++) {
            sum[q] += v[q];
            wsum[q] += v[q] * (double)support;
        }
        if (prec)
            prec[i] = v[0];
        if (rec)
            rec[i] = v[1];
        if (f1)
            f1[i] = v[2];
        m += support;
        diag += tp;
    }
    out->m = m;
    out->accuracy = ratio(diag, m);
    for (int q = 0; q < 3; q++) {
        out->macro[q] = sum[q] / (double)K;
        out->weighted[q] = m ? wsum[q] / (double)m : 0.0;
    }
}

int dnn_report_name_ok(const char *path)
{
    size_t n = strlen(path);
    return (n > 5 && !strcmp(path + n - 5, ".json")) || (n > 3 && !strcmp(path + n - 3, ".md"));
}

/* Task t's per-class precision, recall and F1 (v[0..K), v[K..2K), v[2K..3K),
 * to free) and its summary in *s; NULL when out of memory. */
static double *task_metrics(const dnn_report_t *r, size_t t, dnn_task_metrics_t *s)
{
    size_t K = r->classes;
    double *v = malloc(3 * K * sizeof *v);
    if (v)
        dnn_report_task(r, t, v, v + K, v + 2 * K, s);
    return v;
}

/* One task as a JSON object (the form of README, Error analysis). */
static int json_task(const dnn_report_t *r, size_t t, FILE *f, const char *ind)
{
    size_t K = r->classes;
    dnn_task_metrics_t s;
    double *v = task_metrics(r, t, &s);
    if (!v)
        return DNN_ENOMEM;
    const uint64_t *cm = r->cm + t * K * K;
    fprintf(f, "%s{\"m\": %llu, \"classes\": %zu, \"accuracy\": %.17g,\n%s \"confusion_matrix\": [", ind,
            (unsigned long long)s.m, K, s.accuracy, ind);
    for (size_t i = 0; i < K; i++) {
        fprintf(f, "%s[", i ? ", " : "");
        for (size_t k = 0; k < K; k++)
            fprintf(f, "%s%llu", k ? ", " : "", (unsigned long long)cm[i * K + k]);
        fputc(']', f);
    }
    fprintf(f, "],\n%s \"per_class\": [", ind);
    for (size_t i = 0; i < K; i++) {
        uint64_t support = 0;
        for (size_t k = 0; k < K; k++)
            support += cm[i * K + k];
        fprintf(f, "%s\n%s  {\"label\": %zu, \"precision\": %.17g, \"recall\": %.17g, \"f1\": %.17g, \"support\": %llu}",
                i ? "," : "", ind, i, v[i], v[K + i], v[2 * K + i], (unsigned long long)support);
    }
    fprintf(f, "],\n%s \"macro\": {\"precision\": %.17g, \"recall\": %.17g, \"f1\": %.17g},\n", ind, s.macro[0],
            s.macro[1], s.macro[2]);
    fprintf(f, "%s \"weighted\": {\"precision\": %.17g, \"recall\": %.17g, \"f1\": %.17g}}", ind, s.weighted[0],
            s.weighted[1], s.weighted[2]);
    free(v);
    return 0;
}

static int md_task(const dnn_report_t *r, size_t t, FILE *f)
{
    size_t K = r->classes;
    dnn_task_metrics_t s;
    double *v = task_metrics(r, t, &s);
    if (!v)
        return DNN_ENOMEM;
    const uint64_t *cm = r->cm + t * K * K;
    if (r->tasks > 1)
        fprintf(f, "## Task %zu\n\n", t);
    fprintf(f, "m = %llu, accuracy = %.6f\n\nConfusion matrix (rows: true label, columns: prediction)\n\n| |",
            (unsigned long long)s.m, s.accuracy);
    for (size_t k = 0; k < K; k++)
        fprintf(f, " %zu |", k);
    fprintf(f, "\n|---|");
    for (size_t k = 0; k < K; k++)
        fprintf(f, "---|");
    for (size_t i = 0; i < K; i++) {
        fprintf(f, "\n| **%zu** |", i);
        for (size_t k = 0; k < K; k++)
            fprintf(f, " %llu |", (unsigned long long)cm[i * K + k]);
    }
    fprintf(f, "\n\n| class | precision | recall | F1 | support |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < K; i++) {
        uint64_t support = 0;
        for (size_t k = 0; k < K; k++)
            support += cm[i * K + k];
        fprintf(f, "| %zu | %.4f | %.4f | %.4f | %llu |\n", i, v[i], v[K + i], v[2 * K + i], (unsigned long long)support);
    }
    fprintf(f, "| macro avg | %.4f | %.4f | %.4f | %llu |\n", s.macro[0], s.macro[1], s.macro[2], (unsigned long long)s.m);
    fprintf(f, "| weighted avg | %.4f | %.4f | %.4f | %llu |\n\n", s.weighted[0], s.weighted[1], s.weighted[2],
            (unsigned long long)s.m);
    free(v);
    return 0;
}

static int write_body(const dnn_report_t *r, FILE *f, int json)
{
    int rc = 0;
    double acc = ratio(r->right, r->labelled);
    if (json && r->tasks == 1)
        return json_task(r, 0, f, "");
    if (json) {
        fprintf(f, "{\"m\": %llu, \"accuracy\": %.17g, \"tasks\": [\n", (unsigned long long)r->labelled, acc);
        for (size_t t = 0; t < r->tasks && !rc; t++) {
            rc = json_task(r, t, f, "  ");
            fputs(t + 1 < r->tasks ? ",\n" : "]}", f);
        }
        return rc;
    }
    fprintf(f, "# Error analysis\n\n%llu examples, %llu with a label; accuracy %.6f (an example is right when every "
            "labelled output is)\n\n", (unsigned long long)r->examples, (unsigned long long)r->labelled, acc);
    for (size_t t = 0; t < r->tasks && !rc; t++)
        rc = md_task(r, t, f);
    return rc;
}

int dnn_report_write(const dnn_report_t *r, const char *path, char *msg)
{
    dnn_atomic_t a;
    int rc = dnn_atomic_open(&a, "--report file", path, 1, msg);
    if (rc)
        return rc;
    size_t n = strlen(path);
    if ((rc = write_body(r, a.f, n > 5 && !strcmp(path + n - 5, ".json")))) {
        dnn_atomic_abort(&a);
        return dnn_fail(msg, rc, "--report '%s': out of memory", path);
    }
    fputc('\n', a.f);
    return dnn_atomic_commit(&a, msg);
}

int dnn_report_open_wrong(dnn_report_t *r, const char *path, char *msg)
{
    dnn_atomic_t *a = malloc(sizeof *a);
    if (!a)
        return dnn_fail(msg, DNN_ENOMEM, "--misclassified '%s': out of memory", path);
    int rc = dnn_atomic_open(a, "--misclassified file", path, 1, msg);
    if (rc) {
        free(a);
        return rc;
    }
    r->atom = a;
    r->wrong = a->f;
    fprintf(r->wrong, "%s", !r->softmax && r->tasks > 1 ? "index,task,label,prediction,probability\n"
                                                         : "index,label,prediction,probability\n");
    return 0;
}

int dnn_report_close_wrong(dnn_report_t *r, const char *path, char *msg)
{
    (void)path;
    dnn_atomic_t *a = r->atom;
    int rc = dnn_atomic_commit(a, msg);
    free(a);
    r->atom = NULL;
    r->wrong = NULL;
    return rc;
}
