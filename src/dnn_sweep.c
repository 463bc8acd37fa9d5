/*
 * dnn_sweep.c - the dnn-sweep program (README, Hyperparameter sweeps:
 * dnn-sweep): expands GRID.conf into trials (src/sweep.c), writes DIR/trial-NNN/config for each, runs the trials
 * as separate dnn-train processes -- --jobs N at a time here, each with
 * cores / N BLAS threads, or as one Slurm job array -- and writes the ranked
 * summary (summary.csv, summary.md) and curves.png (gnuplot).
 *
 * A trial is done when its train.log holds dnn-train's `final` line; a rerun
 * skips done trials and resumes the others from their checkpoint.  SIGINT and
 * SIGTERM are forwarded to the running trials, which write their checkpoint
 * and exit 75; dnn-sweep then exits 75 too.  One dnn-sweep at a time may work
 * on a DIR (flock on DIR/sweep.lock).  This file: the options, the plan and
 * main; the other parts are listed in sweep_run.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sweep_run.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: dnn-sweep [--jobs N | --slurm [SBATCH-OPTIONS...]] [--random K [--seed S]] --out DIR GRID.conf\n\n"
            "Runs dnn-train once per combination of hyperparameters (the course's \"very empirical\n"
            "process\") and ranks the trials on the dev set.  GRID.conf is a dnn-train config file\n"
            "(key = value lines, # comments) in which a value may list alternatives or, with --random,\n"
            "give a range:\n"
            "  lr = 0.01 | 0.1 | 1            alternatives: the trials are the Cartesian product\n"
            "  layers = \"\" | 8 | 16,8         \"\" is an empty value (here: logistic regression)\n"
            "  lr = loguniform(1e-4, 1e-1)    --random only: exp of a uniform draw in [ln a, ln b]\n"
            "  keep-prob = uniform(0.5, 1)    --random only: uniform in [a, b]\n"
            "  batch-size = randint(16, 256)  --random only: an integer in [a, b]\n"
            "Every trial's config is checked as dnn-train checks its own before any trial starts;\n"
            "checkpoint, metrics and resume are set by dnn-sweep and may not appear in the grid.\n\n"
            "Options:\n"
            "  --out DIR             folder of the sweep (required): DIR/trial-NNN/{config,train.log,\n"
            "                        metrics.csv,checkpoint.h5}, DIR/summary.csv, summary.md, curves.png\n"
            "  --jobs N              trials run at once on this machine, each with cores/N BLAS\n"
            "                        threads (--threads; the grid may set threads itself) [1]\n"
            "  --oversubscribe       allow --jobs N above the number of cores\n"
            "  --slurm [OPTS...]     submit the unfinished trials as one job array (sbatch --array)\n"
            "                        and wait for it; every argument after --slurm that is not a\n"
            "                        dnn-sweep option goes to sbatch (--time 1:00:00 -p gpu ...);\n"
            "                        a throttle --array=%%P runs at most P tasks at once; each task\n"
            "                        gets SLURM_CPUS_PER_TASK threads [1]; DIR must be on a file\n"
            "                        system shared with the nodes\n"
            "  --random K            K random samples of the grid instead of the product\n"
            "  --seed S              seed of the samples: the same K trials for the same S [1]\n"
            "  --train PATH          dnn-train to run [the one beside dnn-sweep, else PATH]\n"
            "  --dry-run             write the trial configs and list the trials; run nothing\n"
            "  --run-trial DIR/trial-NNN  run that one trial here, resuming it when its checkpoint\n"
            "                        exists (what each Slurm array task runs)\n"
            "  --help                show this help\n\n"
            "A trial is done when its train.log holds dnn-train's `final` line.  Running the same\n"
            "command again skips done trials and resumes the others from their checkpoint, so an\n"
            "interrupted sweep (Ctrl-C: the trials write their checkpoint) continues where it stopped.\n"
            "summary.csv ranks the trials by val_cost (the dev set: validation-split or validation in\n"
            "the grid), or by the training cost when there is no dev set.\n\n"
            "Examples:\n"
            "  dnn-sweep --jobs 2 --out runs grid.conf\n"
            "  dnn-sweep --random 20 --seed 7 --jobs 4 --out runs-random grid.conf\n"
            "  dnn-sweep --slurm --time 0:30:00 --cpus-per-task 4 --array=%%8 --out /scratch/runs grid.conf\n\n"
            "Exit status: 0 every trial done; 1 error or a failed trial; 75 stopped by SIGINT or\n"
            "SIGTERM (run the same command again to continue).\n");
}


static int parse_count(const char *opt, const char *v, long min, long *out)
{
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || x < min) {
        fprintf(stderr, PROG ": %s: '%s' is not an integer >= %ld\n", opt, v ? v : "", min);
        return -1;
    }
    *out = x;
    return 0;
}

/* Our own option at argv[i] (with its value); returns arguments used, 0 if not ours, -1 on error. */
static int own_option(args_t *a, int argc, char **argv, int i)
{
    const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    long x;
    if (!strcmp(s, "--help") || !strcmp(s, "-h"))
        return a->help = 1;
    if (!strcmp(s, "--oversubscribe"))
        return a->oversubscribe = 1;
    if (!strcmp(s, "--dry-run"))
        return a->dry_run = 1;
    if (!strcmp(s, "--slurm"))
        return a->slurm = 1;
    if (!strcmp(s, "--jobs"))
        return parse_count(s, v, 1, &a->jobs) ? -1 : (a->jobs_set = 1, 2);
    if (!strcmp(s, "--random"))
        return parse_count(s, v, 1, &a->random_k) ? -1 : 2;
    if (!strcmp(s, "--seed"))
        return parse_count(s, v, 0, &x) ? -1 : (a->seed = (unsigned long long)x, a->seed_set = 1, 2);
    if (!strcmp(s, "--out") || !strcmp(s, "--run-trial") || !strcmp(s, "--train")) {
        if (!v || !*v)
            return sweep_error("%s needs a value", s), -1;
        if (!strcmp(s, "--out"))
            a->out = v;
        else if (!strcmp(s, "--run-trial"))
            a->run_trial = v;
        else
            snprintf(a->train, sizeof a->train, "%s", v);
        return 2;
    }
    return 0;
}

/* --array=%P / --array %P / -a %P among the sbatch options: only the throttle is ours to take. */
static int sbatch_option(args_t *a, int argc, char **argv, int i)
{
    const char *s = argv[i], *v = NULL;
    int used = 1;
    if (!strncmp(s, "--array=", 8))
        v = s + 8;
    else if ((!strcmp(s, "--array") || !strcmp(s, "-a")) && i + 1 < argc)
        v = argv[i + 1], used = 2;
    if (!v) {
        a->sbatch[a->n_sbatch++] = argv[i];
        return 1;
    }
    char *end;
    long p = v[0] == '%' ? strtol(v + 1, &end, 10) : 0;
    if (v[0] != '%' || end == v + 1 || *end || p < 1)
        return sweep_error("--slurm: sbatch's --array takes only a throttle %%P here (got '%s'): dnn-sweep picks the "
                   "task indices, one per unfinished trial", v), -1;
    snprintf(a->throttle, sizeof a->throttle, "%%%ld", p);
    return used;
}

static int parse_args(args_t *a, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->jobs = 1;
    a->seed = 1;
    a->sbatch = calloc((size_t)argc + 1, sizeof *a->sbatch);
    if (!a->sbatch)
        return sweep_error("out of memory");
    int slurm_at = -1, last_free = -1;
    for (int i = 1; i < argc;) {
        int n = own_option(a, argc, argv, i);
        if (n < 0)
            return 1;
        if (n > 0 && a->slurm && slurm_at < 0)
            slurm_at = i;
        if (n > 0) {
            i += n;
            continue;
        }
        if (slurm_at < 0 && argv[i][0] == '-' && argv[i][1])
            return sweep_error("unknown option '%s' (see --help)", argv[i]);
        if (slurm_at < 0 && a->grid)
            return sweep_error("unexpected argument '%s' (one GRID.conf, given last; see --help)", argv[i]);
        if (slurm_at < 0)
            a->grid = argv[i];
        last_free = i;
        i++;
    }
    if (slurm_at >= 0 && !a->grid) { /* the grid is the last argument that is not ours */
        if (last_free < 0 || last_free < slurm_at)
            return a->help ? 0 : sweep_error("GRID.conf is missing (it comes last; see --help)");
        a->grid = argv[last_free];
        for (int i = slurm_at + 1; i < last_free;) {
            int n = own_option(a, argc, argv, i);
            int m = n > 0 ? n : sbatch_option(a, argc, argv, i);
            if (m < 0)
                return 1;
            i += m;
        }
    }
    return 0;
}

static int check_args(const args_t *a)
{
    if (a->help || a->run_trial)
        return 0;
    if (a->slurm && a->jobs_set)
        return sweep_error("--jobs and --slurm exclude each other (with --slurm, --array=%%P runs at most P trials at "
                   "once)");
    if (a->seed_set && !a->random_k)
        return sweep_error("--seed needs --random K (it seeds the random samples)");
    if (!a->out)
        return sweep_error("--out DIR is required (the folder of the sweep; see --help)");
    if (!a->grid)
        return sweep_error("GRID.conf is missing (see --help)");
    return 0;
}

/* ---- main ---- */

static void find_programs(args_t *a)
{
    ssize_t n = readlink("/proc/self/exe", a->self, sizeof a->self - 1);
    a->self[n > 0 ? n : 0] = 0;
    char abs[PATH_MAX];
    if (a->train[0] && strchr(a->train, '/') && realpath(a->train, abs)) /* Slurm tasks may start elsewhere */
        snprintf(a->train, sizeof a->train, "%s", abs);
    if (a->train[0])
        return;
    char *slash = strrchr(a->self, '/');
    if (slash) {
        snprintf(a->train, sizeof a->train, "%.*s/dnn-train", (int)(slash - a->self), a->self);
        if (access(a->train, X_OK) == 0)
            return;
    }
    snprintf(a->train, sizeof a->train, "dnn-train");
}

static void plan(const sweep_t *s, long jobs, long threads)
{
    size_t done = 0, resume = 0;
    char ckpt[DNN_PATH_MAX + 64];
    for (size_t i = 0; i < s->trials.n_trials; i++) {
        sweep_trial_path(s, i, "checkpoint.h5", ckpt, sizeof ckpt);
        done += s->done[i] != 0;
        resume += !s->done[i] && access(ckpt, F_OK) == 0;
    }
    size_t start = s->trials.n_trials - done - resume;
    printf(PROG ": %zu trial%s in %s: %zu to start, %zu to resume, %zu done", s->trials.n_trials,
           s->trials.n_trials == 1 ? "" : "s", s->dir, start, resume, done);
    char spec[8192];
    if (s->a->slurm && start + resume > 0 && sweep_array_spec(s, spec, sizeof spec))
        printf("; as a Slurm job array (--array=%s)\n", spec);
    else if (s->a->slurm)
        printf("; as a Slurm job array\n");
    else if (s->grid_threads)
        printf("; %ld at a time (threads as the grid sets them)\n", jobs);
    else
        printf("; %ld at a time, %ld BLAS thread%s each\n", jobs, threads, threads == 1 ? "" : "s");
    fflush(stdout);
}

/* --dry-run: one line per trial. */
static void list_trials(const sweep_t *s)
{
    char desc[2048], path[DNN_PATH_MAX + 32];
    for (size_t i = 0; i < s->trials.n_trials; i++) {
        dnn_sweep_describe(&s->grid, &s->trials, i, desc, sizeof desc);
        sweep_trial_path(s, i, "config", path, sizeof path);
        printf("trial-%03zu %s %s%s%s\n", i, s->done[i] ? "done" : "todo", path, *desc ? "  " : "", desc);
    }
}

/* The sweep in s (set up by sweep_setup); returns 0, 1 or 75. */
static int sweep(sweep_t *s)
{
    const args_t *a = s->a;
    long n_cores = sweep_cores(), jobs = a->jobs;
    if (jobs > n_cores && !a->oversubscribe) {
        printf(PROG ": --jobs %ld is more than the %ld cores here: running %ld at a time (--oversubscribe to "
               "run %ld)\n", jobs, n_cores, n_cores, jobs);
        jobs = n_cores;
    }
    long threads = n_cores / jobs > 0 ? n_cores / jobs : 1;
    plan(s, jobs, threads);
    if (a->dry_run) {
        list_trials(s);
        return 0;
    }
    int rc = a->slurm ? sweep_run_slurm(s) : sweep_run_local(s, jobs, threads);
    if (sweep_report(s) && rc == 0)
        rc = 1;
    if (rc == EXIT_STOPPED)
        fprintf(stderr, PROG ": stopped; run the same command again to continue\n");
    return rc;
}

int main(int argc, char **argv)
{
    args_t a;
    sweep_t s;
    memset(&s, 0, sizeof s);
    s.a = &a;
    int rc = parse_args(&a, argc, argv) || check_args(&a);
    if (!rc && a.help)
        usage(stdout);
    else if (!rc) {
        find_programs(&a);
        rc = a.run_trial ? sweep_run_trial_here(&a) : sweep_setup(&s) ? 1 : sweep(&s);
    }
    free(s.done);
    dnn_sweep_trials_free(&s.trials);
    dnn_sweep_grid_free(&s.grid);
    free(a.sbatch);
    return rc;
}
