/*
 * train.c - dnn-train: the order of a run and its loop, read like the
 * course's algorithm.  Set-up (train_setup.c), one step (train_step.c) and
 * the records (train_record.c) live in their own files; this one holds the
 * loop, the stop conditions (signals, divergence, early stopping) and the end.
 */
#include "dnn/train.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "train_run.h"

static volatile sig_atomic_t stop_signal = 0;

static void on_signal(int sig) { stop_signal = sig; }

double train_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double train_real_at(const run_t *r, const void *p, size_t i)
{
    return r->es == 8 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

/* Collective: if any rank failed, every rank leaves with the first message. */
void train_check(run_t *r, int rc, char *msg)
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
_Noreturn void train_die(run_t *r, const char *msg)
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

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit must fail the write (EFBIG), not kill the job */
}

/* A non-finite cost: every rank sees the same reduced value, so all stop here. */
static void diverged(run_t *r, long k, double cost)
{
    char msg[DNN_MSG_LEN];
    snprintf(msg, sizeof msg, "training diverged at iteration %ld: the cost is %g; try a smaller --lr (now %g)%s", k,
             cost, r->o.lr, r->o.checkpoint[0] ? "; the last good checkpoint is kept" : "");
    if (r->d.rank == 0)
        dnn_log_error(&r->log, msg);
    dnn_dist_finalize();
    exit(1);
}

typedef struct {
    double t0, t_epoch1, t_last_print;
} clock_t_;

static void progress(run_t *r, long k, const step_result_t *res, int rec, clock_t_ *c)
{
    double elapsed = train_now() - c->t0;
    if (!rec && !(r->log.tty && elapsed - c->t_last_print > 0.25))
        return;
    char extra[96] = "";
    if (r->have_val)
        snprintf(extra, sizeof extra, r->classify ? "val_cost %.6f val_accuracy %.4f" : "val_cost %.6f",
                 r->last_val_cost, r->last_val_acc);
    double done = (double)(k + 1 - r->start);
    double ex = done * (r->o.batch_size ? (double)r->o.batch_size : (double)r->m) / (elapsed > 0 ? elapsed : 1e-9);
    dnn_log_progress(&r->log, k, r->total, k / r->spe, rec ? r->last_cost : res->cost, res->acc,
                     ex, (r->total - k - 1) * elapsed / done, rec, extra);
    c->t_last_print = elapsed;
}

/* The loop: gradients -> reduce -> record -> update, until the end, a signal or early stopping.
 * Returns the number of steps done; *stopped is set for a signal. */
static long train_loop(run_t *r, clock_t_ *c, int *stopped)
{
    long k;
    for (k = r->start; k < r->total; k++) {
        step_result_t res;
        train_step(r, k, stop_signal != 0, &res);
        if (!isfinite(res.cost))
            diverged(r, k, res.cost);
        int rec = train_record(r, k, &res, train_now() - c->t0);
        train_update(r, k);
        progress(r, k, &res, rec, c);
        if ((k + 1) % r->spe == 0 && k / r->spe == r->start / r->spe)
            c->t_epoch1 = train_now();
        if (res.stop) {
            *stopped = 1;
            return k + 1;
        }
        if (r->stopped_early)
            return k + 1;
        if (r->o.checkpoint_every && (k + 1) % r->o.checkpoint_every == 0 && k + 1 < r->total)
            train_write_checkpoint(r, r->o.checkpoint, k + 1);
    }
    return k;
}

int dnn_train_main(int argc, char **argv)
{
    static run_t run; /* large; zero-initialized */
    run_t *r = &run;
    dnn_log_detect_launcher();
    if (dnn_dist_init(&r->d, &argc, &argv)) {
        fprintf(stderr, PROG ": MPI_Init failed\n");
        return 1;
    }
    dnn_log_init(&r->log, PROG, r->d.rank, 0, 0);
    if (train_setup(r, argc, argv)) { /* --help or --gradient-check */
        dnn_dist_finalize();
        return r->status;
    }
    catch_signals();
    clock_t_ c = {train_now(), -1, 0};
    int stopped = 0;
    long k = train_loop(r, &c, &stopped);
    double seconds = train_now() - c.t0, t_end = train_now();
    dnn_log_newline(&r->log);
    train_write_checkpoint(r, r->o.checkpoint, k);
    if (stopped) {
        if (r->d.rank == 0)
            fprintf(stderr, PROG ": stopped by a signal at iteration %ld; checkpoint %s%s; run again with --resume\n", k,
                    r->o.checkpoint[0] ? "written to " : "not written (no --checkpoint)", r->o.checkpoint);
        train_free(r);
        dnn_dist_finalize();
        return DNN_EXIT_STOPPED;
    }
    long epochs_done = (k - r->start) / r->spe;
    double ms_epoch = epochs_done >= 2 && c.t_epoch1 > 0
                          ? (t_end - c.t_epoch1) / (double)(epochs_done - 1) * 1e3
                          : seconds / (double)(k - r->start > 0 ? k - r->start : 1) * r->spe * 1e3;
    train_final_line(r, k, seconds, ms_epoch);
    train_report(r);
    train_free(r);
    dnn_dist_finalize();
    return 0;
}
