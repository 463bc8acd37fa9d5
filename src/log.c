/*
 * log.c - rank-0 printing and the progress line.
 */
#include "dnn/log.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int launched = -1;

void dnn_log_detect_launcher(void)
{
    launched = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK") ||
               getenv("SLURM_STEP_ID");
}

void dnn_log_init(dnn_log_t *g, const char *prog, int rank, int quiet, int verbose)
{
    g->rank = rank;
    g->quiet = quiet;
    g->verbose = verbose;
    g->prog = prog;
    g->line_open = 0;
    const char *p = getenv("DNN_PROGRESS");
    /* Under an MPI launcher stdout may be a pseudo-terminal even when the job's
     * output goes to a file (Open MPI does this), so plain lines are the default there. */
    if (launched < 0)
        dnn_log_detect_launcher();
    g->tty = p ? strcmp(p, "tty") == 0 : (!launched && isatty(STDOUT_FILENO));
}

void dnn_log_newline(dnn_log_t *g)
{
    if (g->line_open) {
        fputc('\n', stdout);
        fflush(stdout);
        g->line_open = 0;
    }
}

void dnn_log_info(dnn_log_t *g, int verbose_only, const char *fmt, ...)
{
    if (g->rank != 0 || g->quiet || (verbose_only && !g->verbose))
        return;
    dnn_log_newline(g);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

static void fmt_time(char *buf, size_t len, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, len, "?");
    else if (s < 60)
        snprintf(buf, len, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, len, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

void dnn_log_progress(dnn_log_t *g, long it, long total, long epoch, double cost, double acc,
                      double ex_per_s, double eta_s, int record, const char *extra)
{
    if (g->rank != 0 || g->quiet)
        return;
    char eta[32], accs[48] = "";
    fmt_time(eta, sizeof eta, eta_s);
    if (!isnan(acc))
        snprintf(accs, sizeof accs, "  accuracy %.4f", acc);
    char more[128] = "";
    if (extra && *extra)
        snprintf(more, sizeof more, " %s", extra);
    if (g->tty) {
        fprintf(stdout, "\r\033[Kiteration %ld/%ld  epoch %ld  cost %.6f%s%s  %.0f examples/s  ETA %s", it, total,
                epoch, cost, accs, more, ex_per_s, eta);
        fflush(stdout);
        g->line_open = 1;
    } else if (record) {
        fprintf(stdout, "iteration %ld/%ld epoch %ld cost %.9f%s%s examples/s %.0f eta %s\n", it, total, epoch, cost,
                accs, more, ex_per_s, eta);
        fflush(stdout);
    }
}

void dnn_log_error(dnn_log_t *g, const char *msg)
{
    dnn_log_newline(g);
    fprintf(stderr, "%s: %s\n", g->prog, msg);
    fflush(stderr);
}
