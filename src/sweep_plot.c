/*
 * sweep_plot.c - dnn-sweep's curves: every finished trial's cost curve in
 * DIR/curves.gp, drawn into DIR/curves.png by gnuplot.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_run.h"

/* Gnuplot terminal: pngcairo when this gnuplot has it, else png. */
static const char *png_terminal(void)
{
    char *argv[] = {"gnuplot", "-e", "set terminal pngcairo", NULL};
    return sweep_run_command(argv, NULL, 0, 1) == 0 ? "pngcairo size 1000,700 enhanced font 'sans,10'"
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
    sweep_trial_path(s, i, "metrics.csv", path, sizeof path);
    char *text = sweep_read_text(path);
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
int sweep_curves(const sweep_t *s, const dnn_sweep_result_t *r, size_t n, int by_val)
{
    char *body = NULL, gp[DNN_PATH_MAX + 32], png[DNN_PATH_MAX + 32];
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f)
        return sweep_error("out of memory");
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
    int rc = sweep_write_atomic(gp, text);
    free(text);
    if (rc)
        return rc;
    char *argv[] = {"gnuplot", gp, NULL};
    int g = sweep_run_command(argv, NULL, 0, 0);
    if (g == 127)
        fprintf(stderr, PROG ": gnuplot not found (Debian: gnuplot-nox): no curves.png; the script is %s\n", gp);
    else if (g != 0)
        fprintf(stderr, PROG ": gnuplot failed on %s (exit %d)\n", gp, g);
    return 0;
}
