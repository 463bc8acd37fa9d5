/*
 * report.h - error analysis of a classifier's predictions (README, Error
 * analysis): confusion matrices, precision, recall, F1 and support per
 * class, macro and weighted averages, accuracy, the misclassified examples.
 *
 * The numbers are scikit-learn's (sklearn.metrics): rows of the confusion
 * matrix are the true label, columns the prediction; a class never predicted
 * has precision 0, a class never present recall 0, F1 is 0 when precision +
 * recall is 0; macro = the plain mean over classes, weighted = the mean
 * weighted by support.
 *
 * Softmax outputs give one task of K classes (prediction = argmax).  Sigmoid
 * outputs give one task per unit, of two classes (prediction = p > 0.5); an
 * unlabelled entry (NaN or negative label) is left out of its task, and an
 * example with no labelled entry is left out of the overall accuracy (an
 * example is right when every labelled entry is).
 */
#ifndef DNN_REPORT_H
#define DNN_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dnn/common.h"

typedef struct {
    size_t tasks;   /* 1 (softmax), or n_y sigmoid units */
    size_t classes; /* per task: K (softmax) or 2 */
    int softmax;
    uint64_t *cm;            /* (tasks, classes, classes) counts */
    uint64_t examples;       /* examples seen */
    uint64_t labelled, right; /* examples with a labelled entry; of them, right in every entry */
    FILE *wrong;              /* --misclassified CSV being written (a memory stream), or NULL */
    void *atom;               /* its dnn_atomic_t (atomic.h) */
} dnn_report_t;

/* Metrics of one task, from its confusion matrix. */
typedef struct {
    uint64_t m; /* labelled entries of the task */
    double accuracy;
    double macro[3], weighted[3]; /* precision, recall, F1 */
} dnn_task_metrics_t;

/* softmax: one task of n_out classes; else n_out tasks of 2 classes.
 * Returns 0 or DNN_ENOMEM / DNN_EINVAL with msg set. */
int dnn_report_init(dnn_report_t *r, int softmax, size_t n_out, char *msg);
void dnn_report_free(dnn_report_t *r);

/* Count cols examples: P (cols, n_out) row-major probabilities, Y (cols, n_y)
 * row-major labels (class ids for softmax), first global index g0.  Rows of
 * wrongly predicted labelled entries go to r->wrong when it is set. */
void dnn_report_add(dnn_report_t *r, const double *P, const double *Y, size_t cols, uint64_t g0);

/* Per-class precision, recall, F1 (each of classes entries, may be NULL) and the averages of task t. */
void dnn_report_task(const dnn_report_t *r, size_t t, double *prec, double *rec, double *f1, dnn_task_metrics_t *out);

/* The report as JSON (path ends in .json) or Markdown (.md), written atomically.
 * Returns 0 or DNN_EIO / DNN_ENOMEM. */
int dnn_report_write(const dnn_report_t *r, const char *path, char *msg);

/* 1 when path ends in .json or .md. */
int dnn_report_name_ok(const char *path);

/* --misclassified FILE.csv: start the file (atomic.h) with its header (index,label,prediction,probability,
 * with a task column first for several sigmoid units); dnn_report_close_wrong commits it, dnn_report_free
 * gives it up. */
int dnn_report_open_wrong(dnn_report_t *r, const char *path, char *msg);
int dnn_report_close_wrong(dnn_report_t *r, const char *path, char *msg);

/* --confusion-png FILE: the confusion matrices drawn as a grayscale heat map
 * (one block per task, darker = more examples of that row), written atomically. */
int dnn_report_png(const dnn_report_t *r, const char *path, char *msg);

#endif
