/*
 * sweep_pool.c - dnn-sweep's processes: one trial (dnn-train in its folder, resumed
 * when it has a checkpoint), the local pool of --jobs N trials, SIGINT and
 * SIGTERM forwarded to them, and the helper that runs a command.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sweep_run.h"

volatile sig_atomic_t sweep_n_signals = 0, sweep_last_signal = 0;
static void on_stop(int sig) { sweep_last_signal = sig, sweep_n_signals++; }
static void on_child(int sig) { (void)sig; }

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
        return sweep_error("cannot open '%s': %s", log, strerror(errno));
    if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
        return sweep_error("cannot redirect output to '%s': %s", log, strerror(errno));
    if (strchr(train, '/'))
        execv(train, argv);
    else
        execvp(train, argv);
    fprintf(stderr, PROG ": cannot run '%s': %s\n", train, strerror(errno)); /* into train.log */
    return 127;
}

/* --run-trial DIR/trial-NNN (the Slurm array task): threads from the config, else SLURM_CPUS_PER_TASK. */
int sweep_run_trial_here(const args_t *a)
{
    char config[DNN_PATH_MAX + 32], log[DNN_PATH_MAX + 32], msg[DNN_MSG_LEN];
    snprintf(config, sizeof config, "%s/config", a->run_trial);
    snprintf(log, sizeof log, "%s/train.log", a->run_trial);
    dnn_options_t o;
    dnn_cli_defaults(&o);
    if (dnn_cli_read_config(&o, config, msg))
        return sweep_error("--run-trial: %s", msg);
    if (sweep_log_has_final(log)) {
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

long sweep_cores(void)
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
    sweep_trial_path(s, i, NULL, dir, sizeof dir);
    char ckpt[DNN_PATH_MAX + 64];
    sweep_trial_path(s, i, "checkpoint.h5", ckpt, sizeof ckpt);
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
    sweep_trial_path(s, i, "train.log", path, sizeof path);
    char *text = sweep_read_text(path);
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
    sweep_trial_path(s, sl->trial, "train.log", path, sizeof path);
    s->done[sl->trial] = sweep_log_has_final(path);
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

void sweep_install_handlers(void)
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
int sweep_run_local(sweep_t *s, long jobs, long threads)
{
    slot_t *slot = calloc((size_t)jobs, sizeof *slot);
    if (!slot)
        return sweep_error("out of memory");
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT), sigaddset(&block, SIGTERM), sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old);
    sweep_install_handlers();
    size_t next = 0;
    int running = 0, failed = 0, stopped = 0, forwarded = 0;
    for (;;) {
        while (running < jobs && !sweep_n_signals && next < s->trials.n_trials) {
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
        for (; forwarded < sweep_n_signals; forwarded++)
            for (int k = 0; k < jobs; k++)
                if (slot[k].pid)
                    kill(slot[k].pid, sweep_last_signal);
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
    if (sweep_n_signals)
        return EXIT_STOPPED;
    return failed ? 1 : (stopped ? EXIT_STOPPED : 0);
}

/* ---- commands (sbatch, squeue, scancel, gnuplot) ---- */

/*
 * Run argv (PATH search) with stdin from /dev/null, its stdout into out (cap
 * bytes) when out != NULL, its stderr dropped when quiet; returns its exit
 * status, or -1.
 */
int sweep_run_command(char *const argv[], char *out, size_t cap, int quiet)
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
