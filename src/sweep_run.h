/*
 * sweep_run.h - the parts of the dnn-sweep program (README, Hyperparameter
 * sweeps: dnn-sweep).  Private to dnn_sweep.c and sweep_*.c:
 *   dnn_sweep.c     options, the plan, main
 *   sweep_setup.c   the sweep's folder: its files, the trial configs, the lock
 *   sweep_pool.c    processes: one trial, the local pool, signals, commands
 *   sweep_slurm.c   the unfinished trials as one Slurm job array
 *   sweep_report.c  summary.csv, summary.md, the best trial's command line
 *   sweep_plot.c    curves.gp and, through gnuplot, curves.png
 * The grid, the trials and the ranking themselves are src/sweep.c's.
 */
#ifndef DNN_SWEEP_RUN_H
#define DNN_SWEEP_RUN_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "dnn/cli.h"
#include "dnn/sweep.h"

#define PROG "dnn-sweep"
#define EXIT_STOPPED 75

typedef struct {
    long jobs;
    int jobs_set, oversubscribe, slurm, dry_run, help;
    char **sbatch; /* options passed through to sbatch (argv pointers) */
    int n_sbatch;
    char throttle[32]; /* "%P" from --array=%P, or "" */
    long random_k;
    unsigned long long seed;
    int seed_set;
    const char *out, *grid, *run_trial;
    char train[DNN_PATH_MAX], self[DNN_PATH_MAX];
} args_t;

/* One sweep: the grid, its trials and where they live. */
typedef struct {
    args_t *a;
    dnn_sweep_grid_t grid;
    dnn_sweep_trials_t trials;
    char dir[DNN_PATH_MAX]; /* absolute DIR */
    char cwd[DNN_PATH_MAX]; /* relative data paths are taken from here */
    int *done;              /* the trial's log holds a final line */
    int grid_threads;       /* the grid sets threads itself */
} sweep_t;

/* ---- sweep_setup.c ---- */
/* Prints "dnn-sweep: MESSAGE" on stderr; returns 1 (the exit status). */
int sweep_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The whole file (at most 64 MiB), or NULL. */
char *sweep_read_text(const char *path);
/* Writes text to path atomically (atomic.h); prints the error and returns 1 on failure. */
int sweep_write_atomic(const char *path, const char *text);
/* DIR/trial-NNN, or DIR/trial-NNN/file. */
void sweep_trial_path(const sweep_t *s, size_t i, const char *file, char *out, size_t cap);
/* 1 when the log holds dnn-train's final line. */
int sweep_log_has_final(const char *log_path);
/* Trial i's dnn-train options. */
int sweep_trial_options(const sweep_t *s, size_t i, dnn_options_t *o, char *msg);
/* Grid, trials, checks, DIR, its lock and the trial configs; returns 0 or 1 (printed). */
int sweep_setup(sweep_t *s);

/* ---- sweep_pool.c ---- */
extern volatile sig_atomic_t sweep_n_signals, sweep_last_signal; /* SIGINT/SIGTERM received, the last one */
/* SIGINT and SIGTERM counted in sweep_n_signals, SIGCHLD wakes sigsuspend. */
void sweep_install_handlers(void);
/* Run argv (PATH search), stdin /dev/null, stdout into out (cap bytes) when
 * out != NULL, stderr dropped when quiet; returns its exit status, or -1. */
int sweep_run_command(char *const argv[], char *out, size_t cap, int quiet);
/* Cores this process may run on. */
long sweep_cores(void);
/* --run-trial DIR/trial-NNN (a Slurm array task); returns only on failure. */
int sweep_run_trial_here(const args_t *a);
/* The unfinished trials, jobs at a time; returns 0, 1 (a trial failed) or 75 (stopped). */
int sweep_run_local(sweep_t *s, long jobs, long threads);

/* ---- sweep_slurm.c ---- */
/* The unfinished trials as one job array, waited for; returns 0, 1 or 75. */
int sweep_run_slurm(sweep_t *s);
/* The unfinished trials as sbatch's --array list with the throttle ("0-1,3%2")
 * into buf (cap bytes); returns how many. */
int sweep_array_spec(const sweep_t *s, char *buf, size_t cap);

/* ---- sweep_report.c, sweep_plot.c ---- */
/* summary.csv, summary.md, curves.png and the best trial's command line; returns 0 or 1. */
int sweep_report(sweep_t *s);
/* DIR/curves.gp and, through gnuplot, DIR/curves.png; returns 0 or 1. */
int sweep_curves(const sweep_t *s, const dnn_sweep_result_t *r, size_t n, int by_val);

#endif
