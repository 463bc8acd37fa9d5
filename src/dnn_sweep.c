/*
 * dnn_sweep.c - the dnn-sweep program (DESIGN §15): expands GRID.conf into
 * trials (src/sweep.c), writes DIR/trial-NNN/config for each, runs the trials
 * as separate dnn-train processes -- --jobs N at a time here, each with
 * cores / N BLAS threads, or as one Slurm job array -- and writes the ranked
 * summary (summary.csv, summary.md) and curves.png (gnuplot).
 *
 * A trial is done when its train.log holds dnn-train's `final` line; a rerun
 * skips done trials and resumes the others from their checkpoint.  SIGINT and
 * SIGTERM are forwarded to the running trials, which write their checkpoint
 * and exit 75; dnn-sweep then exits 75 too.  One dnn-sweep at a time may work
 * on a DIR (flock on DIR/sweep.lock).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dnn/atomic.h"
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

static volatile sig_atomic_t n_signals = 0, last_signal = 0;
static void on_stop(int sig) { last_signal = sig, n_signals++; }
static void on_child(int sig) { (void)sig; }

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

static int die(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 1;
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
            return die("%s needs a value%s", s, ""), -1;
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
        return die("--slurm: sbatch's --array takes only a throttle %%P here (got '%s'): dnn-sweep picks the "
                   "task indices, one per unfinished trial%s", v, ""), -1;
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
        return die("out of memory%s%s", "", "");
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
            return die("unknown option '%s' (see --help)%s", argv[i], "");
        if (slurm_at < 0 && a->grid)
            return die("unexpected argument '%s' (one GRID.conf, given last; see --help)%s", argv[i], "");
        if (slurm_at < 0)
            a->grid = argv[i];
        last_free = i;
        i++;
    }
    if (slurm_at >= 0 && !a->grid) { /* the grid is the last argument that is not ours */
        if (last_free < 0 || last_free < slurm_at)
            return a->help ? 0 : die("GRID.conf is missing (it comes last; see --help)%s%s", "", "");
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
        return die("--jobs and --slurm exclude each other (with --slurm, --array=%%P runs at most P trials at "
                   "once)%s%s", "", "");
    if (a->seed_set && !a->random_k)
        return die("--seed needs --random K (it seeds the random samples)%s%s", "", "");
    if (!a->out)
        return die("--out DIR is required (the folder of the sweep; see --help)%s%s", "", "");
    if (!a->grid)
        return die("GRID.conf is missing (see --help)%s%s", "", "");
    return 0;
}

/* ---- files ---- */

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap || cap >= (64u << 20))
            break;
        char *b = realloc(buf, 2 * cap + 1);
        if (!b)
            free(buf);
        buf = b, cap *= 2;
    }
    fclose(f);
    if (buf)
        buf[n] = 0;
    return buf;
}

/* Write text to path atomically (atomic.h); prints the error. */
static int write_atomic(const char *path, const char *text)
{
    char msg[DNN_MSG_LEN];
    if (dnn_atomic_save("file", path, text, strlen(text), msg) == 0)
        return 0;
    return die("%s%s", msg, "");
}

static int make_dir(const char *path)
{
    char p[DNN_PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) && errno != EEXIST)
                return die("cannot create folder '%s': %s", p, strerror(errno));
            *s = '/';
        }
    if (mkdir(p, 0777) && errno != EEXIST)
        return die("cannot create folder '%s': %s", p, strerror(errno));
    return 0;
}

static void trial_path(const sweep_t *s, size_t i, const char *file, char *out, size_t cap)
{
    snprintf(out, cap, "%s/trial-%03zu%s%s", s->dir, i, file ? "/" : "", file ? file : "");
}

static int log_has_final(const char *log_path)
{
    char *text = read_text(log_path);
    dnn_sweep_result_t r = {0};
    dnn_sweep_result_parse(&r, text, NULL);
    free(text);
    return r.done;
}

/* ---- set-up: grid, trials, configs ---- */

/* Trial i's dnn-train options (recomputed: a large grid keeps no options per trial). */
static int trial_options(const sweep_t *s, size_t i, dnn_options_t *o, char *msg)
{
    char dir[DNN_PATH_MAX + 32];
    trial_path(s, i, NULL, dir, sizeof dir);
    return dnn_sweep_trial_options(&s->grid, &s->trials, i, dir, s->cwd, o, msg);
}

static int config_text(const sweep_t *s, size_t i, char **out)
{
    char desc[2048], path[DNN_PATH_MAX + 32], msg[DNN_MSG_LEN];
    dnn_options_t o;
    if (trial_options(s, i, &o, msg))
        return die("%s%s", msg, "");
    dnn_sweep_describe(&s->grid, &s->trials, i, desc, sizeof desc);
    trial_path(s, i, "config", path, sizeof path);
    size_t n = dnn_cli_dump_string(&o, NULL, 0);
    size_t head = strlen(desc) + strlen(path) + 128;
    *out = malloc(n + head);
    if (!*out)
        return die("out of memory%s%s", "", "");
    int h = snprintf(*out, head, "# dnn-sweep trial-%03zu%s%s\n# run it by hand: dnn-train --config %s\n", i,
                     *desc ? ": " : "", desc, path);
    dnn_cli_dump_string(&o, *out + h, n + 1);
    return 0;
}

/* The data, test and validation files a trial reads exist and are readable (named at their grid line). */
static int inputs_readable(const sweep_t *s, const dnn_options_t *o, char *msg)
{
    const char *const keys[3] = {"data", "test", "validation"};
    const char *const paths[3] = {o->data, o->test, o->validation};
    for (int k = 0; k < 3; k++) {
        if (!paths[k][0] || access(paths[k], R_OK) == 0)
            continue;
        int line = 0;
        for (size_t p = 0; p < s->grid.n_params; p++)
            if (!strcmp(s->grid.params[p].key, keys[k]))
                line = s->grid.params[p].line;
        return dnn_fail(msg, DNN_EIO, "%s:%d: %s: cannot read '%s': %s", s->grid.name, line, keys[k], paths[k],
                        strerror(errno));
    }
    return 0;
}

/* Every trial's options, checked before anything is written or run. */
static int check_trials(sweep_t *s)
{
    char msg[DNN_MSG_LEN];
    if (!getcwd(s->cwd, sizeof s->cwd))
        return die("cannot find the current folder: %s%s", strerror(errno), "");
    s->done = calloc(s->trials.n_trials, sizeof *s->done);
    if (!s->done)
        return die("out of memory for %s trials%s", "the", "");
    dnn_options_t o;
    for (size_t i = 0; i < s->trials.n_trials; i++)
        if (trial_options(s, i, &o, msg) || inputs_readable(s, &o, msg))
            return die("%s%s", msg, "");
    for (size_t p = 0; p < s->grid.n_params; p++)
        s->grid_threads |= !strcmp(s->grid.params[p].key, "threads");
    return 0;
}

/* DIR/trial-NNN/config: written, or when present, the same as this grid gives. */
static int write_configs(sweep_t *s)
{
    char path[DNN_PATH_MAX + 64];
    for (size_t i = 0; i < s->trials.n_trials; i++) {
        char *text;
        if (config_text(s, i, &text))
            return 1;
        trial_path(s, i, NULL, path, sizeof path);
        int rc = make_dir(path);
        trial_path(s, i, "config", path, sizeof path);
        char *old = rc ? NULL : read_text(path);
        if (!rc && old && strcmp(old, text) != 0)
            rc = die("'%s' differs from what the grid gives now (was the grid or --random/--seed changed?); "
                     "use another --out, or remove %s", path, s->dir);
        else if (!rc && !old)
            rc = write_atomic(path, text);
        free(old);
        free(text);
        if (rc)
            return rc;
        trial_path(s, i, "train.log", path, sizeof path);
        s->done[i] = log_has_final(path);
    }
    return 0;
}

static int lock_dir(const sweep_t *s)
{
    char path[DNN_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/sweep.lock", s->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return die("cannot create '%s': %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB))
        return die("another dnn-sweep is working on '%s' (%s is locked)", s->dir, path);
    return 0; /* the descriptor stays open (and locked) until exit */
}

/* 1 when dnn-train can be run: a path that is executable, or a name found on PATH. */
static int train_found(const char *train)
{
    if (strchr(train, '/'))
        return access(train, X_OK) == 0;
    const char *path = getenv("PATH");
    char dir[DNN_PATH_MAX + 64];
    for (const char *p = path ? path : ""; *p; p += *p == ':') {
        size_t n = strcspn(p, ":");
        snprintf(dir, sizeof dir, "%.*s/%s", (int)n, n ? p : ".", train);
        if (access(dir, X_OK) == 0)
            return 1;
        p += n;
    }
    return 0;
}

static int setup(sweep_t *s)
{
    char msg[DNN_MSG_LEN];
    if (!s->a->dry_run && !train_found(s->a->train))
        return die("cannot run '%s' (not beside dnn-sweep nor on PATH, or not executable); name it with "
                   "--train PATH%s", s->a->train, "");
    if (dnn_sweep_grid_read(&s->grid, s->a->grid, msg) ||
        dnn_sweep_expand(&s->grid, s->a->random_k, s->a->seed, &s->trials, msg))
        return die("%s%s", msg, "");
    if (s->a->out[0] == '/') {
        snprintf(s->dir, sizeof s->dir, "%s", s->a->out);
    } else {
        char cwd[DNN_PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return die("cannot find the current folder: %s%s", strerror(errno), "");
        snprintf(s->dir, sizeof s->dir, "%s/%s", cwd, s->a->out);
    }
    size_t len = strlen(s->dir);
    while (len > 1 && s->dir[len - 1] == '/')
        s->dir[--len] = 0;
    if (check_trials(s) || make_dir(s->dir) || lock_dir(s) || write_configs(s))
        return 1;
    return 0;
}

/* ---- running one trial ---- */

/*
 * Replace this process by dnn-train for the trial in trial_dir:
 * --config trial_dir/config, --resume when its checkpoint exists, output
 * appended to train.log.  threads > 0 adds --threads.  Returns only on failure.
 */
static int exec_trial(const char *train, const char *trial_dir, long threads)
{
    char config[DNN_PATH_MAX + 32], ckpt[DNN_PATH_MAX + 32], log[DNN_PATH_MAX + 32], th[32];
    snprintf(config, sizeof config, "%s/config", trial_dir);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", trial_dir);
    snprintf(log, sizeof log, "%s/train.log", trial_dir);
    snprintf(th, sizeof th, "%ld", threads);
    char *argv[8];
    int n = 0;
    argv[n++] = (char *)train;
    argv[n++] = "--config";
    argv[n++] = config;
    if (threads > 0)
        argv[n++] = "--threads", argv[n++] = th;
    if (access(ckpt, F_OK) == 0)
        argv[n++] = "--resume";
    argv[n] = NULL;
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0)
        return die("cannot open '%s': %s", log, strerror(errno));
    if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
        return die("cannot redirect output to '%s': %s", log, strerror(errno));
    if (strchr(train, '/'))
        execv(train, argv);
    else
        execvp(train, argv);
    fprintf(stderr, PROG ": cannot run '%s': %s\n", train, strerror(errno)); /* into train.log */
    return 127;
}

/* --run-trial DIR/trial-NNN (the Slurm array task): threads from the config, else SLURM_CPUS_PER_TASK. */
static int run_trial_here(const args_t *a)
{
    char config[DNN_PATH_MAX + 32], log[DNN_PATH_MAX + 32], msg[DNN_MSG_LEN];
    snprintf(config, sizeof config, "%s/config", a->run_trial);
    snprintf(log, sizeof log, "%s/train.log", a->run_trial);
    dnn_options_t o;
    dnn_cli_defaults(&o);
    if (dnn_cli_read_config(&o, config, msg))
        return die("--run-trial: %s%s", msg, "");
    if (log_has_final(log)) {
        printf(PROG ": %s is done already (its train.log holds the final line)\n", a->run_trial);
        return 0;
    }
    const char *cpus = getenv("SLURM_CPUS_PER_TASK");
    long threads = o.threads > 0 ? 0 : (cpus && atol(cpus) > 0 ? atol(cpus) : 1);
    return exec_trial(a->train, a->run_trial, threads);
}

/* ---- local pool ---- */

typedef struct {
    pid_t pid;
    size_t trial;
    struct timespec t0;
} slot_t;

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static long cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

static pid_t start_trial(const sweep_t *s, size_t i, long threads, const sigset_t *old)
{
    char dir[DNN_PATH_MAX + 32], desc[2048];
    trial_path(s, i, NULL, dir, sizeof dir);
    char ckpt[DNN_PATH_MAX + 64];
    trial_path(s, i, "checkpoint.h5", ckpt, sizeof ckpt);
    dnn_sweep_describe(&s->grid, &s->trials, i, desc, sizeof desc);
    printf(PROG ": trial-%03zu %s%s%s\n", i, access(ckpt, F_OK) == 0 ? "resumed" : "started", *desc ? ": " : "",
           desc);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        sigprocmask(SIG_SETMASK, old, NULL);
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* dnn-sweep gone: checkpoint and stop */
        _exit(exec_trial(s->a->train, dir, s->grid_threads ? 0 : threads));
    }
    if (pid < 0)
        fprintf(stderr, PROG ": cannot start trial-%03zu: %s\n", i, strerror(errno));
    return pid;
}

/* Last non-empty line of a trial's log (its error message, usually). */
static void last_line(const sweep_t *s, size_t i, char *out, size_t cap)
{
    char path[DNN_PATH_MAX + 32];
    trial_path(s, i, "train.log", path, sizeof path);
    char *text = read_text(path);
    out[0] = 0;
    if (!text)
        return;
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    size_t b = n;
    while (b > 0 && text[b - 1] != '\n')
        b--;
    snprintf(out, cap, "%.*s", (int)(n - b), text + b);
    free(text);
}

/* Report how a trial's process ended; returns 0 done, 1 failed, 2 stopped. */
static int finished(sweep_t *s, const slot_t *sl, int status)
{
    char path[DNN_PATH_MAX + 32], line[1024];
    trial_path(s, sl->trial, "train.log", path, sizeof path);
    s->done[sl->trial] = log_has_final(path);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && s->done[sl->trial]) {
        printf(PROG ": trial-%03zu done in %.1f s\n", sl->trial, since(&sl->t0));
        return 0;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_STOPPED) {
        printf(PROG ": trial-%03zu stopped; its checkpoint is kept\n", sl->trial);
        return 2;
    }
    last_line(s, sl->trial, line, sizeof line);
    if (WIFSIGNALED(status))
        fprintf(stderr, PROG ": trial-%03zu killed by signal %d (see %s)\n", sl->trial, WTERMSIG(status), path);
    else
        fprintf(stderr, PROG ": trial-%03zu failed (exit %d): %s (see %s)\n", sl->trial,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1, line, path);
    return 1;
}

static void install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_child;
    sigaction(SIGCHLD, &sa, NULL);
}

/* Runs the unfinished trials, jobs at a time.  Returns 0, 1 (a trial failed) or 75 (stopped). */
static int run_local(sweep_t *s, long jobs, long threads)
{
    slot_t *slot = calloc((size_t)jobs, sizeof *slot);
    if (!slot)
        return die("out of memory%s%s", "", "");
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT), sigaddset(&block, SIGTERM), sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old);
    install_handlers();
    size_t next = 0;
    int running = 0, failed = 0, stopped = 0, forwarded = 0;
    for (;;) {
        while (running < jobs && !n_signals && next < s->trials.n_trials) {
            size_t i = next++;
            if (s->done[i])
                continue;
            int k = 0;
            while (slot[k].pid)
                k++;
            clock_gettime(CLOCK_MONOTONIC, &slot[k].t0);
            slot[k].trial = i;
            slot[k].pid = start_trial(s, i, threads, &old);
            failed += slot[k].pid < 0;
            running += slot[k].pid > 0;
            if (slot[k].pid < 0)
                slot[k].pid = 0;
        }
        if (!running)
            break;
        sigsuspend(&old);
        for (; forwarded < n_signals; forwarded++)
            for (int k = 0; k < jobs; k++)
                if (slot[k].pid)
                    kill(slot[k].pid, last_signal);
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
            for (int k = 0; k < jobs; k++)
                if (slot[k].pid == pid) {
                    int r = finished(s, &slot[k], status);
                    failed += r == 1, stopped += r == 2;
                    slot[k].pid = 0;
                    running--;
                }
        fflush(stdout);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    free(slot);
    if (n_signals)
        return EXIT_STOPPED;
    return failed ? 1 : (stopped ? EXIT_STOPPED : 0);
}

/* ---- Slurm ---- */

/*
 * Run argv (PATH search) with stdin from /dev/null, its stdout into out (cap
 * bytes) when out != NULL, its stderr dropped when quiet; returns its exit
 * status, or -1.
 */
static int run_command(char *const argv[], char *out, size_t cap, int quiet)
{
    int fds[2] = {-1, -1};
    if (out && pipe(fds))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0); /* Ctrl-C at the terminal is ours to handle, not sbatch's or squeue's */
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            if (quiet)
                dup2(null, STDERR_FILENO);
        }
        if (out)
            dup2(fds[1], STDOUT_FILENO), close(fds[0]), close(fds[1]);
        execvp(argv[0], argv);
        fprintf(stderr, PROG ": cannot run '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    size_t n = 0;
    if (out) {
        close(fds[1]);
        ssize_t r;
        while (pid > 0 && (r = read(fds[0], out + n, cap - 1 - n)) != 0)
            if (r > 0 && (n += (size_t)r) >= cap - 1)
                break;
            else if (r < 0 && errno != EINTR)
                break;
        close(fds[0]);
        out[n] = 0;
    }
    int status;
    while (pid > 0 && waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* "0-3,5,7%2": the unfinished trials as an sbatch --array list. */
static int array_spec(const sweep_t *s, char *buf, size_t cap)
{
    size_t n = 0, count = 0;
    buf[0] = 0;
    for (size_t i = 0; i < s->trials.n_trials; i++) {
        if (s->done[i])
            continue;
        size_t j = i;
        while (j + 1 < s->trials.n_trials && !s->done[j + 1])
            j++;
        n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, j > i ? "%s%zu-%zu" : "%s%zu", n ? "," : "", i, j);
        count += j - i + 1;
        i = j;
    }
    snprintf(buf + n, n < cap ? cap - n : 0, "%s", s->a->throttle);
    return (int)count;
}

static int write_job_script(const sweep_t *s, char *path, size_t cap)
{
    snprintf(path, cap, "%s/sweep.sbatch", s->dir);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return die("out of memory%s%s", "", "");
    fprintf(f, "#!/bin/sh\n# dnn-sweep job array: task N runs trial N of this folder (written by dnn-sweep;\n"
               "# run dnn-sweep again to continue an interrupted sweep).\n"
               "#SBATCH --job-name=dnn-sweep\n#SBATCH --output=%s/slurm-%%A_%%a.out\n#SBATCH --open-mode=append\n"
               "exec '%s' --train '%s' --run-trial \"$(printf '%%s/trial-%%03d' '%s' \"$SLURM_ARRAY_TASK_ID\")\"\n",
            s->dir, s->a->self, s->a->train, s->dir);
    fclose(f);
    for (const char *c = s->dir; *c; c++)
        if (*c == '\'' || *c == '\n') {
            free(text);
            return die("--out '%s': the Slurm job script cannot quote this folder name%s", s->dir, "");
        }
    int rc = write_atomic(path, text);
    free(text);
    return rc;
}

/* 1 while the job still has tasks in squeue, 0 when gone, -1 when squeue fails. */
static int job_alive(const char *id)
{
    char out[4096];
    char *argv[] = {"squeue", "-h", "-j", (char *)id, "-o", "%i", NULL};
    int rc = run_command(argv, out, sizeof out, 1);
    if (rc != 0)
        return strstr(out, id) ? 1 : -1;
    return out[strspn(out, " \t\r\n")] != 0;
}

static int submit(const sweep_t *s, const char *script, char *id, size_t cap)
{
    char spec[8192], array[8200];
    int count = array_spec(s, spec, sizeof spec);
    snprintf(array, sizeof array, "--array=%s", spec);
    char **argv = calloc((size_t)s->a->n_sbatch + 6, sizeof *argv);
    if (!argv)
        return die("out of memory%s%s", "", "");
    int n = 0;
    argv[n++] = "sbatch", argv[n++] = "--parsable", argv[n++] = array;
    for (int i = 0; i < s->a->n_sbatch; i++)
        argv[n++] = s->a->sbatch[i];
    argv[n++] = (char *)script;
    int rc = run_command(argv, id, cap, 0);
    free(argv);
    id[strcspn(id, ";\r\n")] = 0;
    if (rc != 0 || !id[0])
        return die("sbatch failed (exit %s) for %s", rc < 0 ? "-" : (snprintf(spec, 32, "%d", rc), spec), script);
    printf(PROG ": submitted job array %s: %d trial%s (--array=%s)\n", id, count, count == 1 ? "" : "s", array + 8);
    fflush(stdout);
    return 0;
}

static void stop_job(const char *id, int sig)
{
    char sigopt[32];
    snprintf(sigopt, sizeof sigopt, "--signal=%s", sig == SIGTERM ? "TERM" : "INT");
    char *pending[] = {"scancel", "--state=PENDING", (char *)id, NULL};
    char *running[] = {"scancel", "--batch", sigopt, (char *)id, NULL};
    printf(PROG ": stopping job %s: pending tasks cancelled, running trials signalled to checkpoint\n", id);
    fflush(stdout);
    run_command(pending, NULL, 0, 0);
    run_command(running, NULL, 0, 0);
}

/* Submit the unfinished trials as one job array and wait for it.  Returns 0, 1 or 75. */
static int run_slurm(sweep_t *s)
{
    char script[DNN_PATH_MAX + 32], id[256], idfile[DNN_PATH_MAX + 32];
    size_t todo = 0;
    for (size_t i = 0; i < s->trials.n_trials; i++)
        todo += !s->done[i];
    if (!todo)
        return 0;
    snprintf(idfile, sizeof idfile, "%s/slurm-job", s->dir);
    char *prev = read_text(idfile);
    if (prev) {
        prev[strcspn(prev, "\r\n")] = 0;
        int alive = *prev ? job_alive(prev) : 0;
        if (alive)
            fprintf(stderr, PROG ": job %s of an earlier dnn-sweep on '%s' %s; wait for it or scancel it\n", prev,
                    s->dir, alive > 0 ? "is still running" : "may still be running (squeue failed)");
        free(prev);
        if (alive)
            return 1;
    }
    install_handlers(); /* a Ctrl-C during the submission stops the job as soon as its id is known */
    if (write_job_script(s, script, sizeof script) || submit(s, script, id, sizeof id))
        return 1;
    char line[300];
    snprintf(line, sizeof line, "%s\n", id);
    write_atomic(idfile, line);
    int forwarded = 0, gone = 0, unknown = 0;
    while (gone < 2 && unknown < 30) { /* gone twice in a row; squeue failing for a minute */
        for (; forwarded < n_signals; forwarded++)
            stop_job(id, last_signal);
        struct timespec t = {2, 0};
        nanosleep(&t, NULL);
        int alive = job_alive(id);
        gone = alive == 0 ? gone + 1 : 0;
        unknown = alive < 0 ? unknown + 1 : 0;
    }
    if (unknown)
        fprintf(stderr, PROG ": squeue keeps failing; no longer waiting for job %s\n", id);
    int failed = 0;
    for (size_t i = 0; i < s->trials.n_trials; i++) {
        char path[DNN_PATH_MAX + 32];
        trial_path(s, i, "train.log", path, sizeof path);
        int was = s->done[i];
        s->done[i] = log_has_final(path);
        if (!was && !s->done[i]) {
            failed++;
            fprintf(stderr, PROG ": trial-%03zu did not finish (see %s and %s/slurm-%s_%zu.out)\n", i, path,
                    s->dir, id, i);
        }
    }
    return n_signals ? EXIT_STOPPED : failed ? 1 : 0;
}

/* ---- summary ---- */

/* Shell-quoted value for a printed command line. */
static void shell_word(FILE *f, const char *v)
{
    if (*v && strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./,:=+-@%") == strlen(v)) {
        fputs(v, f);
        return;
    }
    fputc('\'', f);
    for (; *v; v++)
        fputs(*v == '\'' ? "'\\''" : (char[]){*v, 0}, f);
    fputc('\'', f);
}

/* dnn-train with the grid's options as trial i has them (paths made absolute, flags bare). */
static void print_command(const sweep_t *s, size_t i, FILE *f)
{
    dnn_options_t opts, *o = &opts;
    char msg[DNN_MSG_LEN];
    if (trial_options(s, i, o, msg))
        return;
    size_t n = dnn_cli_dump_string(o, NULL, 0);
    char *dump = malloc(n + 1), line[DNN_SWEEP_KEY_MAX + 16];
    if (!dump)
        return;
    dnn_cli_dump_string(o, dump, n + 1);
    fputs("  dnn-train", f);
    for (size_t p = 0; p < s->grid.n_params; p++) {
        const char *key = s->grid.params[p].key, *v = dnn_sweep_value(&s->trials, i, p);
        if (!strcmp(key, "data") || !strcmp(key, "test") || !strcmp(key, "validation"))
            v = !strcmp(key, "data") ? o->data : !strcmp(key, "test") ? o->test : o->validation;
        if (!strcmp(key, "best-checkpoint"))
            continue; /* the trial's own file */
        snprintf(line, sizeof line, "\n%s = true\n", key);
        int is_true = strstr(dump, line) != NULL;
        snprintf(line, sizeof line, "\n%s = false\n", key);
        if (strstr(dump, line)) /* a flag left off */
            continue;
        fprintf(f, " --%s", key);
        if (!is_true) {
            fputc(' ', f);
            shell_word(f, v);
        }
    }
    fputc('\n', f);
    free(dump);
}

/* Gnuplot terminal: pngcairo when this gnuplot has it, else png. */
static const char *png_terminal(void)
{
    char *argv[] = {"gnuplot", "-e", "set terminal pngcairo", NULL};
    return run_command(argv, NULL, 0, 1) == 0 ? "pngcairo size 1000,700 enhanced font 'sans,10'"
                                                 : "png size 1000,700";
}

static void gq(FILE *f, const char *s) /* a gnuplot single-quoted string */
{
    fputc('\'', f);
    for (; *s; s++)
        fputs(*s == '\'' ? "''" : (char[]){*s, 0}, f);
    fputc('\'', f);
}

/* One curve: trial i's metrics column (val_cost or cost); returns 1 when plotted. */
static int curve(FILE *f, const sweep_t *s, size_t i, int by_val, int k, int *positive)
{
    static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    char path[DNN_PATH_MAX + 32], desc[2048];
    trial_path(s, i, "metrics.csv", path, sizeof path);
    char *text = read_text(path);
    int ci = text ? dnn_sweep_csv_column(text, "iteration") : 0;
    int cc = text ? dnn_sweep_csv_column(text, by_val ? "val_cost" : "cost") : 0;
    const char *row = text ? strchr(text, '\n') : NULL;
    if (!ci || !cc || !row || !row[1]) {
        free(text);
        return 0;
    }
    for (; row && row[1]; row = strchr(row + 1, '\n')) {
        const char *c = row + 1;
        for (int col = 1; col < cc && c; col++)
            c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL;
        *positive &= c && strtod(c, NULL) > 0;
    }
    free(text);
    dnn_sweep_describe(&s->grid, &s->trials, i, desc, sizeof desc);
    fputs(k ? ", \\\n     " : "plot ", f);
    gq(f, path);
    char title[2100];
    snprintf(title, sizeof title, "trial-%03zu%s%s", i, *desc ? ": " : "", desc);
    fprintf(f, " every ::1 using %d:%d with linespoints pt 7 ps 0.5 lw 2 lc rgb '%s' title ", ci, cc,
            colours[k % 10]);
    gq(f, title);
    return 1;
}

/* DIR/curves.gp and, through gnuplot, DIR/curves.png. */
static int curves(const sweep_t *s, const dnn_sweep_result_t *r, size_t n, int by_val)
{
    char *body = NULL, gp[DNN_PATH_MAX + 32], png[DNN_PATH_MAX + 32];
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f)
        return die("out of memory%s%s", "", "");
    int k = 0, positive = 1;
    for (size_t j = 0; j < n; j++)
        if (r[j].done)
            k += curve(f, s, r[j].trial, by_val, k, &positive);
    fclose(f);
    snprintf(gp, sizeof gp, "%s/curves.gp", s->dir);
    snprintf(png, sizeof png, "%s/curves.png", s->dir);
    if (!k) {
        free(body);
        return 0;
    }
    char *text = NULL;
    f = open_memstream(&text, &len);
    fprintf(f, "# dnn-sweep: every trial's %s cost curve (gnuplot %s)\nset terminal %s\nset output ",
            by_val ? "validation" : "training", gp, png_terminal());
    gq(f, png);
    const char *base = strrchr(s->dir, '/') ? strrchr(s->dir, '/') + 1 : s->dir;
    char title[DNN_PATH_MAX + 128];
    snprintf(title, sizeof title, "dnn-sweep %s: %d trial%s, %s cost", base, k, k == 1 ? "" : "s",
             by_val ? "validation" : "training");
    fprintf(f, "\nset datafile separator ','\nset datafile missing 'nan'\nset title ");
    gq(f, title);
    fprintf(f, " noenhanced\nset xlabel 'iteration'\nset ylabel '%s'\nset grid\n%sset key outside below left "
               "Left reverse noenhanced\n%s\n", by_val ? "validation cost (dev set)" : "training cost",
            positive ? "set logscale y\n" : "", body);
    fclose(f);
    free(body);
    int rc = write_atomic(gp, text);
    free(text);
    if (rc)
        return rc;
    char *argv[] = {"gnuplot", gp, NULL};
    int g = run_command(argv, NULL, 0, 0);
    if (g == 127)
        fprintf(stderr, PROG ": gnuplot not found (Debian: gnuplot-nox): no curves.png; the script is %s\n", gp);
    else if (g != 0)
        fprintf(stderr, PROG ": gnuplot failed on %s (exit %d)\n", gp, g);
    return 0;
}

static int write_summaries(const sweep_t *s, const dnn_sweep_result_t *r, size_t n, int by_val, char **md_out)
{
    char msg[DNN_MSG_LEN], path[DNN_PATH_MAX + 32];
    for (int md = 0; md <= 1; md++) {
        char *text = NULL;
        size_t len = 0, done = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
            return die("out of memory%s%s", "", "");
        for (size_t i = 0; i < n; i++)
            done += r[i].done != 0;
        if (md)
            fprintf(f, "%zu of %zu trials finished, ranked by %s.\n\n", done, n,
                    by_val ? "val_cost (the dev set)" : "the training cost (no dev set)");
        int rc = dnn_sweep_summary_write(f, md, &s->grid, &s->trials, r, n, msg);
        for (size_t i = 0; md && i < n; i++)
            if (!r[i].done)
                fprintf(f, "%strial-%03zu", i == done ? "\nNot finished: " : ", ", r[i].trial);
        if (md && done < n)
            fputs(" (see their train.log; running dnn-sweep again retries them, resuming from their "
                  "checkpoints).\n", f);
        fclose(f);
        snprintf(path, sizeof path, "%s/summary.%s", s->dir, md ? "md" : "csv");
        if (rc)
            fprintf(stderr, PROG ": %s\n", msg);
        if (rc || write_atomic(path, text)) {
            free(text);
            return 1;
        }
        if (md)
            *md_out = text;
        else
            free(text);
    }
    return 0;
}

/* summary.csv, summary.md, curves.png and the best trial's command line. */
static int report(sweep_t *s)
{
    size_t n = s->trials.n_trials;
    dnn_sweep_result_t *r = calloc(n, sizeof *r);
    if (!r)
        return die("out of memory%s%s", "", "");
    char path[DNN_PATH_MAX + 32];
    for (size_t i = 0; i < n; i++) {
        trial_path(s, i, "train.log", path, sizeof path);
        char *log = read_text(path);
        trial_path(s, i, "metrics.csv", path, sizeof path);
        char *metrics = read_text(path);
        r[i].trial = i;
        dnn_sweep_result_parse(&r[i], log, metrics);
        free(log);
        free(metrics);
    }
    int by_val = dnn_sweep_rank(r, n);
    char *md = NULL;
    int rc = write_summaries(s, r, n, by_val, &md) || curves(s, r, n, by_val);
    if (!rc && md) {
        printf("\n%s\n" PROG ": wrote %s/summary.csv, summary.md%s\n", md, s->dir,
               r[0].done ? ", curves.png" : "");
        if (r[0].done) {
            char desc[2048];
            dnn_sweep_describe(&s->grid, &s->trials, r[0].trial, desc, sizeof desc);
            printf(PROG ": best: trial-%03zu (%s) with %s %s; as a command line:\n", r[0].trial, desc,
                   by_val ? "val_cost" : "cost", by_val ? r[0].val_cost : r[0].cost);
            print_command(s, r[0].trial, stdout);
        }
    }
    free(md);
    free(r);
    fflush(stdout);
    return rc;
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
        trial_path(s, i, "checkpoint.h5", ckpt, sizeof ckpt);
        done += s->done[i] != 0;
        resume += !s->done[i] && access(ckpt, F_OK) == 0;
    }
    size_t start = s->trials.n_trials - done - resume;
    printf(PROG ": %zu trial%s in %s: %zu to start, %zu to resume, %zu done", s->trials.n_trials,
           s->trials.n_trials == 1 ? "" : "s", s->dir, start, resume, done);
    if (s->a->slurm)
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
        trial_path(s, i, "config", path, sizeof path);
        printf("trial-%03zu %s %s%s%s\n", i, s->done[i] ? "done" : "todo", path, *desc ? "  " : "", desc);
    }
}

/* The sweep in s (set up by setup); returns 0, 1 or 75. */
static int sweep(sweep_t *s)
{
    const args_t *a = s->a;
    long n_cores = cores(), jobs = a->jobs;
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
    int rc = a->slurm ? run_slurm(s) : run_local(s, jobs, threads);
    if (report(s) && rc == 0)
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
        rc = a.run_trial ? run_trial_here(&a) : setup(&s) ? 1 : sweep(&s);
    }
    free(s.done);
    dnn_sweep_trials_free(&s.trials);
    dnn_sweep_grid_free(&s.grid);
    free(a.sbatch);
    return rc;
}
