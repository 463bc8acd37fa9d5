/*
 * log.h - rank-0 output: info lines, the live progress line on a terminal,
 * plain lines in logs, and errors.  Only rank 0 prints (errors: any rank).
 */
#ifndef DNN_LOG_H
#define DNN_LOG_H

#include <stdio.h>

typedef struct {
    int rank;
    int quiet, verbose;
    int tty;         /* stdout is a terminal: progress is one updating line */
    int line_open;   /* a progress line is on screen without its newline */
    const char *prog;
} dnn_log_t;

/* Set up for this rank; tty is detected from stdout, plain under an MPI launcher
 * (DNN_PROGRESS=tty|plain overrides). */
void dnn_log_init(dnn_log_t *g, const char *prog, int rank, int quiet, int verbose);

/* Note whether an MPI launcher started us; call before MPI_Init, whose singleton
 * mode sets the same environment variables. */
void dnn_log_detect_launcher(void);

/* An info line on rank 0 unless quiet (verbose_only: only with --verbose). */
void dnn_log_info(dnn_log_t *g, int verbose_only, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Progress at iteration it of total: on a tty one line rewritten in place;
 * otherwise a plain line, printed only when `record` is set (every --print-every).
 * extra (may be NULL or "") is appended after the accuracy, e.g. the dev-set figures.
 */
void dnn_log_progress(dnn_log_t *g, long it, long total, long epoch, double cost, double acc,
                      double ex_per_s, double eta_s, int record, const char *extra);

/* End an open progress line before other output. */
void dnn_log_newline(dnn_log_t *g);

/* "prog: message" on stderr from any rank. */
void dnn_log_error(dnn_log_t *g, const char *msg);

#endif
