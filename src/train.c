/*
 * train.c - dnn-train: the order of a run and its loop, read like the
 * course's algorithm.  Set-up (train_setup.c), one step (train_step.c) and
 * the records (train_record.c) live in their own files and return error
 * codes; this one holds the loop, the stop conditions (signals, divergence,
 * early stopping) and train_end, the one place where a run ends.
 */
#include "dnn/train.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "train_run.h"

/* The one piece of process-wide state: a signal arrives for the process, not
 * for a run (reset when a run starts). */
static volatile sig_atomic_t stop_signal = 0;

static void on_signal(int sig) { stop_signal = sig; }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef enum {
    END_AGREED, /* every rank comes here with the failure: agree on one message, rank 0 prints it */
    END_ALONE   /* a failure the other ranks cannot see coming: bring the job down */
} end_kind_t;

/*
 * The one place a failed run ends (README, What happens when things go
 * wrong): every exit, _exit and MPI_Abort of the trainer is here.  With a
 * failure every rank has, the ranks agree on one message, rank 0 prints it
 * and the exit status 1 is returned (run() then winds down); otherwise the
 * job is brought down and this does not return.
 */
static int train_end(run_t *r, int rc, char *msg, end_kind_t kind)
{
    if (kind == END_AGREED) {
        dnn_dist_agree(&r->d, rc ? rc : DNN_EINVAL, msg);
        if (r->d.rank == 0)
            dnn_log_error(&r->log, msg);
        return 1;
    }
    dnn_log_newline(&r->log);
    if (r->d.size == 1) { /* nobody to bring down: spare the user MPI_Abort's banner */
        dnn_log_error(&r->log, msg);
        if (r->rec.metrics)
            fflush(r->rec.metrics);
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
static int diverged(run_t *r, long k, double cost, char *msg)
{
    snprintf(msg, DNN_MSG_LEN, "training diverged at iteration %ld: the cost is %g; try a smaller --lr (now %g)%s", k,
             cost, r->o.lr, r->o.checkpoint[0] ? "; the last good checkpoint is kept" : "");
    return DNN_EDIVERGE;
}

typedef struct {
    double t0, t_epoch1, t_last_print;
} clock_t_;

static void progress(run_t *r, long k, const step_result_t *res, int rec, clock_t_ *c)
{
    double elapsed = now() - c->t0;
    if (!rec && !(r->log.tty && elapsed - c->t_last_print > 0.25))
        return;
    char extra[96] = "";
    if (r->data.have_val)
        snprintf(extra, sizeof extra, r->data.classify ? "val_cost %.6f val_accuracy %.4f" : "val_cost %.6f",
                 r->rec.last_val_cost, r->rec.last_val_acc);
    double done = (double)(k + 1 - r->step.start);
    double ex = done * (r->o.batch_size ? (double)r->o.batch_size : (double)r->data.m) / (elapsed > 0 ? elapsed : 1e-9);
    dnn_log_progress(&r->log, k, r->step.total, k / r->step.spe, rec ? r->rec.last_cost : res->cost, res->acc,
                     ex, (r->step.total - k - 1) * elapsed / done, rec, extra);
    c->t_last_print = elapsed;
}

/* The loop: gradients -> reduce -> record -> update, until the end, a signal or early stopping.
 * Sets *k to the number of steps done and *stopped for a signal; a failure ends the run here. */
static int train_loop(run_t *r, clock_t_ *c, long *k, int *stopped, char *msg)
{
    int rc;
    for (*k = r->step.start; *k < r->step.total; ++*k) {
        step_result_t res;
        int rec = 0;
        if ((rc = train_step(r, *k, stop_signal != 0, &res, msg)))
            return train_end(r, rc, msg, END_ALONE);
        if (!isfinite(res.cost))
            return train_end(r, diverged(r, *k, res.cost, msg), msg, END_AGREED);
        if ((rc = train_record(r, *k, &res, now() - c->t0, &rec, msg)))
            return train_end(r, rc, msg, END_ALONE);
        train_update(r, *k);
        progress(r, *k, &res, rec, c);
        if ((*k + 1) % r->step.spe == 0 && *k / r->step.spe == r->step.start / r->step.spe)
            c->t_epoch1 = now();
        if (res.stop || r->rec.stopped_early) {
            *stopped = res.stop;
            ++*k;
            return 0;
        }
        if (r->o.checkpoint_every && (*k + 1) % r->o.checkpoint_every == 0 && *k + 1 < r->step.total &&
            (rc = train_write_checkpoint(r, r->o.checkpoint, *k + 1, msg)))
            return train_end(r, rc, msg, END_ALONE);
    }
    return 0;
}

/* After the loop: the checkpoint, and the `final` line or the note of a signal. */
static int train_finish(run_t *r, const clock_t_ *c, long k, int stopped, char *msg)
{
    double seconds = now() - c->t0, t_end = now();
    dnn_log_newline(&r->log);
    int rc = train_write_checkpoint(r, r->o.checkpoint, k, msg);
    if (rc)
        return train_end(r, rc, msg, END_ALONE);
    if (stopped) {
        if (r->d.rank == 0)
            fprintf(stderr, PROG ": stopped by a signal at iteration %ld; checkpoint %s%s; run again with --resume\n", k,
                    r->o.checkpoint[0] ? "written to " : "not written (no --checkpoint)", r->o.checkpoint);
        return DNN_EXIT_STOPPED;
    }
    long epochs_done = (k - r->step.start) / r->step.spe;
    double ms_epoch = epochs_done >= 2 && c->t_epoch1 > 0
                          ? (t_end - c->t_epoch1) / (double)(epochs_done - 1) * 1e3
                          : seconds / (double)(k - r->step.start > 0 ? k - r->step.start : 1) * r->step.spe * 1e3;
    if ((rc = train_final_line(r, k, seconds, ms_epoch, msg)))
        return train_end(r, rc, msg, END_ALONE);
    if ((rc = train_report(r, msg)))
        return train_end(r, rc, msg, END_AGREED);
    return 0;
}

/* Set-up, the loop and the end; returns the exit status. */
static int train_run(run_t *r, int argc, char **argv, char *msg)
{
    int status = 0, rc = train_setup(r, argc, argv, &status, msg);
    if (rc == TRAIN_DONE) /* --help or --gradient-check */
        return status;
    if (rc)
        return train_end(r, rc, msg, END_AGREED);
    if (r->d.size > 1 && !dnn_dist_same_hash(dnn_model_params_hash(&r->model)))
        return train_end(r, DNN_EDATA, strcpy(msg, "ranks start from different parameters"), END_ALONE);
    train_announce(r);
    if ((rc = train_metrics_open(r, msg)))
        return train_end(r, rc, msg, END_ALONE);
    stop_signal = 0;
    catch_signals();
    clock_t_ c = {now(), -1, 0};
    int stopped = 0;
    long k = 0;
    if ((rc = train_loop(r, &c, &k, &stopped, msg)))
        return rc; /* the exit status of train_end */
    return train_finish(r, &c, k, stopped, msg);
}

int dnn_train_main(int argc, char **argv)
{
    run_t *r = calloc(1, sizeof *r); /* large: the options hold paths */
    if (!r) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    char msg[DNN_MSG_LEN] = "";
    int initialized = 0;
    dnn_log_detect_launcher();
    MPI_Initialized(&initialized);
    r->own_mpi = !initialized; /* a caller that initialized MPI keeps it (dist.h) */
    if (dnn_dist_init(&r->d, &argc, &argv)) {
        fprintf(stderr, PROG ": MPI_Init failed\n");
        free(r);
        return 1;
    }
    dnn_log_init(&r->log, PROG, r->d.rank, 0, 0);
    int status = train_run(r, argc, argv, msg);
    train_free(r);
    if (r->own_mpi)
        dnn_dist_finalize();
    free(r);
    return status;
}
