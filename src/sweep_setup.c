/*
 * sweep_setup.c - dnn-sweep: the sweep's folder (README, Hyperparameter sweeps: dnn-sweep):
 * the grid read and expanded, every trial checked, DIR/trial-NNN/config
 * written (or compared), the lock on DIR/sweep.lock; the file helpers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sweep_run.h"

#include "dnn/atomic.h"

int sweep_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* ---- files ---- */

char *sweep_read_text(const char *path)
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
int sweep_write_atomic(const char *path, const char *text)
{
    char msg[DNN_MSG_LEN];
    if (dnn_atomic_save("file", path, text, strlen(text), msg) == 0)
        return 0;
    return sweep_error("%s", msg);
}

static int make_dir(const char *path)
{
    char p[DNN_PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) && errno != EEXIST)
                return sweep_error("cannot create folder '%s': %s", p, strerror(errno));
            *s = '/';
        }
    if (mkdir(p, 0777) && errno != EEXIST)
        return sweep_error("cannot create folder '%s': %s", p, strerror(errno));
    return 0;
}

void sweep_trial_path(const sweep_t *s, size_t i, const char *file, char *out, size_t cap)
{
    snprintf(out, cap, "%s/trial-%03zu%s%s", s->dir, i, file ? "/" : "", file ? file : "");
}

int sweep_log_has_final(const char *log_path)
{
    char *text = sweep_read_text(log_path);
    dnn_sweep_result_t r = {0};
    dnn_sweep_result_parse(&r, text, NULL);
    free(text);
    return r.done;
}

/* ---- set-up: grid, trials, configs ---- */

/* Trial i's dnn-train options (recomputed: a large grid keeps no options per trial). */
int sweep_trial_options(const sweep_t *s, size_t i, dnn_options_t *o, char *msg)
{
    char dir[DNN_PATH_MAX + 32];
    sweep_trial_path(s, i, NULL, dir, sizeof dir);
    return dnn_sweep_trial_options(&s->grid, &s->trials, i, dir, s->cwd, o, msg);
}

static int config_text(const sweep_t *s, size_t i, char **out)
{
    char desc[2048], path[DNN_PATH_MAX + 32], msg[DNN_MSG_LEN];
    dnn_options_t o;
    if (sweep_trial_options(s, i, &o, msg))
        return sweep_error("%s", msg);
    dnn_sweep_describe(&s->grid, &s->trials, i, desc, sizeof desc);
    sweep_trial_path(s, i, "config", path, sizeof path);
    size_t n = dnn_cli_dump_string(&o, NULL, 0);
    size_t head = strlen(desc) + strlen(path) + 128;
    *out = malloc(n + head);
    if (!*out)
        return sweep_error("out of memory");
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
        return sweep_error("cannot find the current folder: %s", strerror(errno));
    s->done = calloc(s->trials.n_trials, sizeof *s->done);
    if (!s->done)
        return sweep_error("out of memory for the trials");
    dnn_options_t o;
    for (size_t i = 0; i < s->trials.n_trials; i++)
        if (sweep_trial_options(s, i, &o, msg) || inputs_readable(s, &o, msg))
            return sweep_error("%s", msg);
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
        sweep_trial_path(s, i, NULL, path, sizeof path);
        int rc = make_dir(path);
        sweep_trial_path(s, i, "config", path, sizeof path);
        char *old = rc ? NULL : sweep_read_text(path);
        if (!rc && old && strcmp(old, text) != 0)
            rc = sweep_error("'%s' differs from what the grid gives now (was the grid or --random/--seed changed?); "
                     "use another --out, or remove %s", path, s->dir);
        else if (!rc && !old)
            rc = sweep_write_atomic(path, text);
        free(old);
        free(text);
        if (rc)
            return rc;
        sweep_trial_path(s, i, "train.log", path, sizeof path);
        s->done[i] = sweep_log_has_final(path);
    }
    return 0;
}

static int lock_dir(const sweep_t *s)
{
    char path[DNN_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/sweep.lock", s->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return sweep_error("cannot create '%s': %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB))
        return sweep_error("another dnn-sweep is working on '%s' (%s is locked)", s->dir, path);
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

int sweep_setup(sweep_t *s)
{
    char msg[DNN_MSG_LEN];
    if (!s->a->dry_run && !train_found(s->a->train))
        return sweep_error("cannot run '%s' (not beside dnn-sweep nor on PATH, or not executable); name it with "
                   "--train PATH", s->a->train);
    if (dnn_sweep_grid_read(&s->grid, s->a->grid, msg) ||
        dnn_sweep_expand(&s->grid, s->a->random_k, s->a->seed, &s->trials, msg))
        return sweep_error("%s", msg);
    if (s->a->out[0] == '/') {
        snprintf(s->dir, sizeof s->dir, "%s", s->a->out);
    } else {
        char cwd[DNN_PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return sweep_error("cannot find the current folder: %s", strerror(errno));
        snprintf(s->dir, sizeof s->dir, "%s/%s", cwd, s->a->out);
    }
    size_t len = strlen(s->dir);
    while (len > 1 && s->dir[len - 1] == '/')
        s->dir[--len] = 0;
    if (check_trials(s) || make_dir(s->dir) || lock_dir(s) || write_configs(s))
        return 1;
    return 0;
}
