/*
 * sweep_report.c - dnn-sweep's report: the ranked summary.csv and summary.md
 * (src/sweep.c ranks), the curves (sweep_plot.c), the best trial as a command line.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_run.h"

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
    if (sweep_trial_options(s, i, o, msg))
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

static int write_summaries(const sweep_t *s, const dnn_sweep_result_t *r, size_t n, int by_val, char **md_out)
{
    char msg[DNN_MSG_LEN], path[DNN_PATH_MAX + 32];
    for (int md = 0; md <= 1; md++) {
        char *text = NULL;
        size_t len = 0, done = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
            return sweep_error("out of memory");
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
        if (rc || sweep_write_atomic(path, text)) {
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
int sweep_report(sweep_t *s)
{
    size_t n = s->trials.n_trials;
    dnn_sweep_result_t *r = calloc(n, sizeof *r);
    if (!r)
        return sweep_error("out of memory");
    char path[DNN_PATH_MAX + 32];
    for (size_t i = 0; i < n; i++) {
        sweep_trial_path(s, i, "train.log", path, sizeof path);
        char *log = sweep_read_text(path);
        sweep_trial_path(s, i, "metrics.csv", path, sizeof path);
        char *metrics = sweep_read_text(path);
        r[i].trial = i;
        dnn_sweep_result_parse(&r[i], log, metrics);
        free(log);
        free(metrics);
    }
    int by_val = dnn_sweep_rank(r, n);
    char *md = NULL;
    int rc = write_summaries(s, r, n, by_val, &md) || sweep_curves(s, r, n, by_val);
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
