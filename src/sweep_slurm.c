/*
 * sweep_slurm.c - dnn-sweep --slurm: the unfinished trials as one job array
 * (sbatch --array), waited for through squeue, stopped with scancel.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sweep_run.h"

/* "0-3,5,7%2": the unfinished trials as an sbatch --array list. */
int sweep_array_spec(const sweep_t *s, char *buf, size_t cap)
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
        return sweep_error("out of memory");
    fprintf(f, "#!/bin/sh\n# dnn-sweep job array: task N runs trial N of this folder (written by dnn-sweep;\n"
               "# run dnn-sweep again to continue an interrupted sweep).\n"
               "#SBATCH --job-name=dnn-sweep\n#SBATCH --output=%s/slurm-%%A_%%a.out\n#SBATCH --open-mode=append\n"
               "exec '%s' --train '%s' --run-trial \"$(printf '%%s/trial-%%03d' '%s' \"$SLURM_ARRAY_TASK_ID\")\"\n",
            s->dir, s->a->self, s->a->train, s->dir);
    fclose(f);
    for (const char *c = s->dir; *c; c++)
        if (*c == '\'' || *c == '\n') {
            free(text);
            return sweep_error("--out '%s': the Slurm job script cannot quote this folder name", s->dir);
        }
    int rc = sweep_write_atomic(path, text);
    free(text);
    return rc;
}

/* 1 while the job still has tasks in squeue, 0 when gone, -1 when squeue fails. */
static int job_alive(const char *id)
{
    char out[4096];
    char *argv[] = {"squeue", "-h", "-j", (char *)id, "-o", "%i", NULL};
    int rc = sweep_run_command(argv, out, sizeof out, 1);
    if (rc != 0)
        return strstr(out, id) ? 1 : -1;
    return out[strspn(out, " \t\r\n")] != 0;
}

static int submit(const sweep_t *s, const char *script, char *id, size_t cap)
{
    char spec[8192], array[8200];
    int count = sweep_array_spec(s, spec, sizeof spec);
    snprintf(array, sizeof array, "--array=%s", spec);
    char **argv = calloc((size_t)s->a->n_sbatch + 6, sizeof *argv);
    if (!argv)
        return sweep_error("out of memory");
    int n = 0;
    argv[n++] = "sbatch", argv[n++] = "--parsable", argv[n++] = array;
    for (int i = 0; i < s->a->n_sbatch; i++)
        argv[n++] = s->a->sbatch[i];
    argv[n++] = (char *)script;
    int rc = sweep_run_command(argv, id, cap, 0);
    free(argv);
    id[strcspn(id, ";\r\n")] = 0;
    if (rc != 0 || !id[0])
        return rc < 0 ? sweep_error("sbatch failed (exit -) for %s", script)
                      : sweep_error("sbatch failed (exit %d) for %s", rc, script);
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
    sweep_run_command(pending, NULL, 0, 0);
    sweep_run_command(running, NULL, 0, 0);
}

/* Submit the unfinished trials as one job array and wait for it.  Returns 0, 1 or 75. */
int sweep_run_slurm(sweep_t *s)
{
    char script[DNN_PATH_MAX + 32], id[256], idfile[DNN_PATH_MAX + 32];
    size_t todo = 0;
    for (size_t i = 0; i < s->trials.n_trials; i++)
        todo += !s->done[i];
    if (!todo)
        return 0;
    snprintf(idfile, sizeof idfile, "%s/slurm-job", s->dir);
    char *prev = sweep_read_text(idfile);
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
    sweep_install_handlers(); /* a Ctrl-C during the submission stops the job as soon as its id is known */
    if (write_job_script(s, script, sizeof script) || submit(s, script, id, sizeof id))
        return 1;
    char line[300];
    snprintf(line, sizeof line, "%s\n", id);
    sweep_write_atomic(idfile, line);
    int forwarded = 0, gone = 0, unknown = 0;
    while (gone < 2 && unknown < 30) { /* gone twice in a row; squeue failing for a minute */
        for (; forwarded < sweep_n_signals; forwarded++)
            stop_job(id, sweep_last_signal);
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
        sweep_trial_path(s, i, "train.log", path, sizeof path);
        int was = s->done[i];
        s->done[i] = sweep_log_has_final(path);
        if (!was && !s->done[i]) {
            failed++;
            fprintf(stderr, PROG ": trial-%03zu did not finish (see %s and %s/slurm-%s_%zu.out)\n", i, path,
                    s->dir, id, i);
        }
    }
    return sweep_n_signals ? EXIT_STOPPED : failed ? 1 : 0;
}
