/*
 * sweep.c - dnn-sweep's grid (GRID.conf with `a | b` alternatives and
 * ranges), its expansion into trials, each trial's dnn-train options and the
 * ranked summary of the trials' final lines (README, Hyperparameter sweeps: dnn-sweep).
 *
 * A trial's options are found by handing dnn-train's own config parser a
 * text with the grid's line structure (every grid line replaced by the
 * trial's `key = value`, other lines blank), so an unknown key or a refused
 * value is reported at the grid's file:line exactly as dnn-train would
 * report it; dnn_cli_validate then applies dnn-train's cross-option checks.
 * Random samples come from the project's seeded generator (rng.h).
 */
#define _GNU_SOURCE /* getdelim */
#include "dnn/sweep.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/rng.h"

/* Keys dnn-sweep sets for each trial; a grid may not set them. */
static const char *const owned_keys[] = {"checkpoint", "metrics", "resume"};

static const char *const range_names[] = {"uniform", "loguniform", "randint"};

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

/* '#' starts a comment at the start of a line or after white space (as --config). */
static void strip_comment(char *line)
{
    for (char *h = line; *h; h++)
        if (*h == '#' && (h == line || isspace((unsigned char)h[-1]))) {
            *h = 0;
            return;
        }
}

static int parse_number(const char *s, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (errno == ERANGE || end == s || *end || !isfinite(x))
        return -1;
    *v = x;
    return 0;
}

/* Length of a leading lower-case word followed by '(' (a range's name), or 0. */
static size_t range_word(const char *v)
{
    size_t n = 0;
    while (islower((unsigned char)v[n]) || v[n] == '_')
        n++;
    return n > 0 && v[n] == '(' && v[strlen(v) - 1] == ')' ? n : 0;
}

/* v is `name(a, b)`: fills the range of p; returns DNN_EINVAL naming where. */
static int parse_range(dnn_sweep_param_t *p, const char *v, size_t wlen, const char *where, char *msg)
{
    int kind = -1;
    for (int k = 0; k < 3; k++)
        if (strlen(range_names[k]) == wlen && strncmp(v, range_names[k], wlen) == 0)
            kind = k;
    if (kind < 0)
        return dnn_fail(msg, DNN_EINVAL, "%s: %s: unknown range '%.*s' (ranges: uniform(a, b), loguniform(a, b), "
                        "randint(a, b))", where, p->key, (int)wlen, v);
    char inner[256];
    size_t ilen = strlen(v) - wlen - 2;
    if (ilen >= sizeof inner)
        return dnn_fail(msg, DNN_EINVAL, "%s: %s: range '%s' is too long", where, p->key, v);
    memcpy(inner, v + wlen + 1, ilen);
    inner[ilen] = 0;
    char *comma = strchr(inner, ',');
    if (!comma || strchr(comma + 1, ',') || (*comma = 0, parse_number(inner, &p->lo)) ||
        parse_number(comma + 1, &p->hi))
        return dnn_fail(msg, DNN_EINVAL, "%s: %s: '%s' is not %s(a, b) with two numbers a <= b", where, p->key, v,
                        range_names[kind]);
    p->kind = (dnn_sweep_kind_t)(DNN_SWEEP_UNIFORM + kind);
    if (p->lo > p->hi)
        return dnn_fail(msg, DNN_EINVAL, "%s: %s: '%s' has a > b", where, p->key, v);
    if (p->kind == DNN_SWEEP_LOGUNIFORM && !(p->lo > 0))
        return dnn_fail(msg, DNN_EINVAL, "%s: %s: loguniform needs 0 < a <= b, got '%s'", where, p->key, v);
    if (p->kind == DNN_SWEEP_RANDINT &&
        (p->lo != floor(p->lo) || p->hi != floor(p->hi) || fabs(p->lo) > 9e15 || fabs(p->hi) > 9e15))
        return dnn_fail(msg, DNN_EINVAL, "%s: %s: randint needs integer bounds, got '%s'", where, p->key, v);
    return 0;
}

/* One alternative a of the n in whole (a range only when n == 1). */
static int parse_alt(dnn_sweep_param_t *p, char *a, size_t n, const char *whole, const char *where, char *msg)
{
    if (n > 1 && !*a)
        return dnn_fail(msg, DNN_EINVAL, "%s: %s: empty alternative in '%s' (write \"\" for an empty value)", where,
                        p->key, whole);
    size_t wlen = range_word(a);
    if (wlen && n > 1)
        return dnn_fail(msg, DNN_EINVAL, "%s: %s: a range cannot be one of several alternatives in '%s'", where,
                        p->key, whole);
    if (wlen)
        return parse_range(p, a, wlen, where, msg);
    p->alts[p->n_alts] = strdup(strcmp(a, "\"\"") == 0 ? "" : a);
    if (!p->alts[p->n_alts])
        return dnn_fail(msg, DNN_ENOMEM, "out of memory");
    p->n_alts++;
    return 0;
}

/* Split v on '|' into p's alternatives, or parse it as one range. */
static int parse_value(dnn_sweep_param_t *p, char *v, const char *where, char *msg)
{
    size_t n = 1;
    for (const char *c = v; *c; c++)
        n += *c == '|';
    char *whole = strdup(v);
    p->alts = calloc(n, sizeof *p->alts);
    p->kind = DNN_SWEEP_LIST;
    int rc = whole && p->alts ? 0 : dnn_fail(msg, DNN_ENOMEM, "out of memory");
    for (char *tok = v; !rc && tok;) {
        char *bar = strchr(tok, '|');
        if (bar)
            *bar = 0;
        rc = parse_alt(p, trim(tok), n, whole, where, msg);
        tok = bar ? bar + 1 : NULL;
    }
    free(whole);
    return rc;
}

/* One non-blank line `key = value` (comment stripped, trimmed). */
static int parse_line(dnn_sweep_grid_t *g, char *s, int lineno, char *msg)
{
    char where[DNN_PATH_MAX + 32];
    snprintf(where, sizeof where, "%s:%d", g->name, lineno);
    char *eq = strchr(s, '=');
    if (!eq)
        return dnn_fail(msg, DNN_EINVAL, "%s: expected 'key = value', got '%s'", where, s);
    *eq = 0;
    char *k = trim(s), *v = trim(eq + 1);
    if (strlen(k) >= DNN_SWEEP_KEY_MAX || !*k)
        return dnn_fail(msg, DNN_EINVAL, "%s: unknown key '%s'", where, k);
    for (size_t i = 0; i < sizeof owned_keys / sizeof owned_keys[0]; i++)
        if (strcmp(k, owned_keys[i]) == 0)
            return dnn_fail(msg, DNN_EINVAL, "%s: '%s' is set by dnn-sweep for each trial (inside its folder "
                            "DIR/trial-NNN/); remove this line", where, k);
    for (size_t i = 0; i < g->n_params; i++)
        if (strcmp(g->params[i].key, k) == 0)
            return dnn_fail(msg, DNN_EINVAL, "%s: '%s' is already given at line %d", where, k, g->params[i].line);
    dnn_sweep_param_t *p = &g->params[g->n_params++];
    memset(p, 0, sizeof *p);
    strcpy(p->key, k);
    p->line = lineno;
    return parse_value(p, v, where, msg);
}

int dnn_sweep_grid_parse(dnn_sweep_grid_t *g, const char *text, const char *name, char *msg)
{
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    size_t lines = 1;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    g->params = calloc(lines, sizeof *g->params);
    char *line = malloc(DNN_PATH_MAX + 256);
    int rc = 0;
    if (!g->params || !line) {
        rc = dnn_fail(msg, DNN_ENOMEM, "out of memory");
        goto fail;
    }
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        g->n_lines++;
        if (len >= DNN_PATH_MAX + 256) {
            rc = dnn_fail(msg, DNN_EINVAL, "%s:%d: line is too long", name, g->n_lines);
            goto fail;
        }
        memcpy(line, p, len);
        line[len] = 0;
        p += len + (p[len] == '\n');
        strip_comment(line);
        char *s = trim(line);
        if (*s && (rc = parse_line(g, s, g->n_lines, msg)) != 0)
            goto fail;
    }
    free(line);
    return 0;
fail:
    free(line);
    dnn_sweep_grid_free(g);
    return rc;
}

int dnn_sweep_grid_read(dnn_sweep_grid_t *g, const char *path, char *msg)
{
    memset(g, 0, sizeof *g);
    FILE *f = fopen(path, "rb");
    if (!f)
        return dnn_fail(msg, DNN_EIO, "cannot open grid '%s': %s", path, strerror(errno));
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&text, &cap, '\0', f); /* all of it, unless a NUL byte stops it early */
    int rc = 0;
    if (ferror(f))
        rc = dnn_fail(msg, DNN_EIO, "cannot read grid '%s': %s", path, strerror(errno));
    else if (n > (1 << 20))
        rc = dnn_fail(msg, DNN_EINVAL, "grid '%s' is larger than 1 MiB", path);
    else if (n > 0 && (!feof(f) || memchr(text, 0, (size_t)n)))
        rc = dnn_fail(msg, DNN_EINVAL, "grid '%s' is not a text file (it contains NUL bytes)", path);
    else
        rc = dnn_sweep_grid_parse(g, n > 0 ? text : "", path, msg);
    fclose(f);
    free(text);
    return rc;
}

void dnn_sweep_grid_free(dnn_sweep_grid_t *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_params; i++) {
        for (size_t a = 0; g->params[i].alts && a < g->params[i].n_alts; a++)
            free(g->params[i].alts[a]);
        free(g->params[i].alts);
    }
    free(g->params);
    g->params = NULL;
    g->n_params = 0;
}

int dnn_sweep_param_swept(const dnn_sweep_param_t *p) { return p->kind != DNN_SWEEP_LIST || p->n_alts > 1; }

/* ---- expansion ---- */

static int trials_alloc(dnn_sweep_trials_t *t, const dnn_sweep_grid_t *g, size_t n, char *msg)
{
    memset(t, 0, sizeof *t);
    size_t cells;
    if (dnn_size_mul(&cells, n, g->n_params ? g->n_params : 1))
        return dnn_fail(msg, DNN_ENOMEM, "%s: too many trials", g->name);
    t->alt = calloc(cells, sizeof *t->alt);
    t->drawn = calloc(cells, sizeof *t->drawn);
    if (!t->alt || !t->drawn) {
        dnn_sweep_trials_free(t);
        return dnn_fail(msg, DNN_ENOMEM, "out of memory for %zu trials", n);
    }
    t->n_trials = n;
    t->n_params = g->n_params;
    t->grid = g;
    return 0;
}

static int expand_product(const dnn_sweep_grid_t *g, dnn_sweep_trials_t *t, char *msg)
{
    size_t n = 1;
    for (size_t p = 0; p < g->n_params; p++) {
        const dnn_sweep_param_t *q = &g->params[p];
        if (q->kind != DNN_SWEEP_LIST)
            return dnn_fail(msg, DNN_EINVAL, "%s:%d: %s: %s(...) is a range; ranges need --random K", g->name,
                            q->line, q->key, range_names[q->kind - DNN_SWEEP_UNIFORM]);
        if (dnn_size_mul(&n, n, q->n_alts) || n > DNN_SWEEP_MAX_TRIALS)
            return dnn_fail(msg, DNN_EINVAL, "%s:%d: the grid has more than %d trials; use --random K", g->name,
                            q->line, DNN_SWEEP_MAX_TRIALS);
    }
    int rc = trials_alloc(t, g, n, msg);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        size_t rest = i;
        for (size_t p = g->n_params; p-- > 0;) { /* the last key varies fastest */
            t->alt[i * g->n_params + p] = rest % g->params[p].n_alts;
            rest /= g->params[p].n_alts;
        }
    }
    return 0;
}

static void draw(const dnn_sweep_param_t *q, dnn_rng_t *rng, size_t *alt, char *text)
{
    double u = dnn_rng_uniform(rng), x;
    switch (q->kind) {
    case DNN_SWEEP_LIST:
        *alt = (size_t)(u * (double)q->n_alts);
        if (*alt >= q->n_alts)
            *alt = q->n_alts - 1;
        return;
    case DNN_SWEEP_UNIFORM:
        snprintf(text, DNN_SWEEP_DRAWN_MAX, "%.6g", q->lo + u * (q->hi - q->lo));
        return;
    case DNN_SWEEP_LOGUNIFORM:
        snprintf(text, DNN_SWEEP_DRAWN_MAX, "%.6g", exp(log(q->lo) + u * (log(q->hi) - log(q->lo))));
        return;
    case DNN_SWEEP_RANDINT:
        x = floor(q->lo + u * (q->hi - q->lo + 1));
        snprintf(text, DNN_SWEEP_DRAWN_MAX, "%.0f", x > q->hi ? q->hi : x);
        return;
    }
}

int dnn_sweep_expand(const dnn_sweep_grid_t *g, long random_k, uint64_t seed, dnn_sweep_trials_t *t, char *msg)
{
    if (random_k <= 0)
        return expand_product(g, t, msg);
    if (random_k > DNN_SWEEP_MAX_TRIALS)
        return dnn_fail(msg, DNN_EINVAL, "--random: at most %d trials, got %ld", DNN_SWEEP_MAX_TRIALS, random_k);
    int rc = trials_alloc(t, g, (size_t)random_k, msg);
    if (rc)
        return rc;
    dnn_rng_t rng;
    dnn_rng_init(&rng, DNN_RNG_DEFAULT, seed);
    for (size_t i = 0; i < t->n_trials; i++)
        for (size_t p = 0; p < g->n_params; p++)
            if (dnn_sweep_param_swept(&g->params[p]))
                draw(&g->params[p], &rng, &t->alt[i * g->n_params + p], t->drawn[i * g->n_params + p]);
    return 0;
}

void dnn_sweep_trials_free(dnn_sweep_trials_t *t)
{
    if (!t)
        return;
    free(t->alt);
    free(t->drawn);
    t->alt = NULL;
    t->drawn = NULL;
    t->n_trials = 0;
}

const char *dnn_sweep_value(const dnn_sweep_trials_t *t, size_t i, size_t p)
{
    const dnn_sweep_param_t *q = &t->grid->params[p];
    return q->kind == DNN_SWEEP_LIST ? q->alts[t->alt[i * t->n_params + p]] : t->drawn[i * t->n_params + p];
}

void dnn_sweep_describe(const dnn_sweep_grid_t *g, const dnn_sweep_trials_t *t, size_t i, char *buf, size_t len)
{
    size_t n = 0;
    if (len)
        buf[0] = 0;
    for (size_t p = 0; p < g->n_params; p++) {
        if (!dnn_sweep_param_swept(&g->params[p]))
            continue;
        n += (size_t)snprintf(buf + (n < len ? n : len), n < len ? len - n : 0, "%s%s = %s", n ? ", " : "",
                              g->params[p].key, dnn_sweep_value(t, i, p));
    }
}

/* ---- a trial's options ---- */

/* The grid's lines with trial i's values; other lines blank (numbers kept). */
static char *trial_text(const dnn_sweep_grid_t *g, const dnn_sweep_trials_t *t, size_t i)
{
    size_t len = (size_t)g->n_lines + 1;
    for (size_t p = 0; p < g->n_params; p++)
        len += strlen(g->params[p].key) + strlen(dnn_sweep_value(t, i, p)) + 4;
    char *text = malloc(len), *w = text;
    if (!text)
        return NULL;
    size_t p = 0;
    for (int line = 1; line <= g->n_lines; line++) {
        if (p < g->n_params && g->params[p].line == line) {
            w += sprintf(w, "%s = %s", g->params[p].key, dnn_sweep_value(t, i, p));
            p++;
        }
        *w++ = '\n';
    }
    *w = 0;
    return text;
}

static int absolute(char *path, size_t cap, const char *base, const char *key, char *msg)
{
    if (!base || !path[0] || path[0] == '/')
        return 0;
    if (strlen(base) + 1 + strlen(path) >= cap)
        return dnn_fail(msg, DNN_EINVAL, "%s: path '%s/%s' is too long", key, base, path);
    char tmp[DNN_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    snprintf(path, cap, "%s/%s", base, tmp);
    return 0;
}

/* Prefix a dnn_cli_validate message with the grid line of the option it names. */
static int blame(const dnn_sweep_grid_t *g, const dnn_sweep_trials_t *t, size_t i, const char *why, char *msg)
{
    const char *best = NULL;
    int line = 0;
    for (size_t p = 0; p < g->n_params; p++) {
        size_t kl = strlen(g->params[p].key);
        for (const char *s = strstr(why, "--"); s; s = strstr(s + 2, "--"))
            if (strncmp(s + 2, g->params[p].key, kl) == 0 && !isalnum((unsigned char)s[2 + kl]) && s[2 + kl] != '-' &&
                (!best || s < best))
                best = s, line = g->params[p].line;
    }
    char desc[1024], where[DNN_PATH_MAX + 32];
    dnn_sweep_describe(g, t, i, desc, sizeof desc);
    if (line)
        snprintf(where, sizeof where, "%s:%d", g->name, line);
    else
        snprintf(where, sizeof where, "%s", g->name);
    return dnn_fail(msg, DNN_EINVAL, "%s: trial-%03zu%s%s%s: %s", where, i, *desc ? " (" : "", desc, *desc ? ")" : "",
                    why);
}

int dnn_sweep_trial_options(const dnn_sweep_grid_t *g, const dnn_sweep_trials_t *t, size_t i, const char *trial_dir,
                            const char *base_dir, dnn_options_t *o, char *msg)
{
    char *text = trial_text(g, t, i);
    if (!text)
        return dnn_fail(msg, DNN_ENOMEM, "out of memory");
    dnn_cli_defaults(o);
    int rc = dnn_cli_parse_config_text(o, text, g->name, msg);
    free(text);
    if (rc)
        return rc;
    char path[DNN_PATH_MAX + 64], why[DNN_MSG_LEN];
    static const char *const files[][2] = {{"checkpoint", "checkpoint.h5"}, {"metrics", "metrics.csv"},
                                           {"best-checkpoint", "best-checkpoint.h5"}};
    for (size_t f = 0; f < 3; f++) {
        int in_grid = 0;
        for (size_t p = 0; p < g->n_params; p++)
            in_grid |= strcmp(g->params[p].key, files[f][0]) == 0;
        if (f == 2 && !in_grid)
            continue;
        snprintf(path, sizeof path, "%s/%s", trial_dir, files[f][1]);
        if ((rc = dnn_cli_set(o, files[f][0], path, why)) != 0)
            return blame(g, t, i, why, msg);
    }
    if ((rc = absolute(o->data, sizeof o->data, base_dir, "data", msg)) != 0 ||
        (rc = absolute(o->test, sizeof o->test, base_dir, "test", msg)) != 0 ||
        (rc = absolute(o->validation, sizeof o->validation, base_dir, "validation", msg)) != 0)
        return rc;
    if (dnn_cli_validate(o, why))
        return blame(g, t, i, why, msg);
    return 0;
}

/* ---- results ---- */

/* Copy the value of `name=` in a space-separated line into out ("" when absent). */
static void field(const char *line, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    out[0] = 0;
    for (const char *s = line; *s;) {
        size_t len = strcspn(s, " \t\r\n");
        if (len > nl && strncmp(s, name, nl) == 0 && s[nl] == '=')
            snprintf(out, cap, "%.*s", (int)(len - nl - 1), s + nl + 1);
        s += len;
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
            s++;
    }
}

int dnn_sweep_csv_column(const char *header, const char *name)
{
    int col = 1;
    size_t nl = strlen(name);
    for (const char *s = header;; col++) {
        while (*s == ' ')
            s++;
        size_t len = strcspn(s, ",\r\n");
        size_t t = len;
        while (t > 0 && s[t - 1] == ' ')
            t--;
        if (t == nl && strncmp(s, name, nl) == 0)
            return col;
        if (s[len] != ',')
            return 0;
        s += len + 1;
    }
}

/* Field col (1-based) of a CSV line as a number; NAN when absent. */
static double csv_number(const char *line, int col)
{
    for (int c = 1; c < col; c++) {
        line += strcspn(line, ",\n");
        if (*line != ',')
            return NAN;
        line++;
    }
    char *end;
    double x = strtod(line, &end);
    return end == line ? NAN : x;
}

/* val_cost from the metrics text: the row of iteration `at` (or the last row). */
static void metrics_val_cost(const char *text, const char *at, char *out, size_t cap)
{
    out[0] = 0;
    int cv = dnn_sweep_csv_column(text, "val_cost"), ci = dnn_sweep_csv_column(text, "iteration");
    if (!cv || !ci)
        return;
    double want = *at ? strtod(at, NULL) : NAN, found = NAN;
    for (const char *s = strchr(text, '\n'); s && s[1]; s = strchr(s + 1, '\n')) {
        double it = csv_number(s + 1, ci), v = csv_number(s + 1, cv);
        if (isnan(it))
            continue;
        if (isnan(want) || it == want)
            found = v;
    }
    if (!isnan(found))
        snprintf(out, cap, "%.9g", found);
}

void dnn_sweep_result_parse(dnn_sweep_result_t *r, const char *log_text, const char *metrics_text)
{
    size_t trial = r->trial;
    memset(r, 0, sizeof *r);
    r->trial = trial;
    const char *last = NULL;
    for (const char *s = log_text; s && *s; s += strcspn(s, "\n"), s += *s == '\n')
        if (strncmp(s, "final ", 6) == 0)
            last = s;
    if (!last)
        return;
    char line[4096];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(last, "\n"), last);
    r->done = 1;
    field(line, "val_cost", r->val_cost, sizeof r->val_cost);
    field(line, "val_accuracy", r->val_accuracy, sizeof r->val_accuracy);
    field(line, "train_accuracy", r->train_accuracy, sizeof r->train_accuracy);
    field(line, "best_iteration", r->best_iteration, sizeof r->best_iteration);
    field(line, "seconds", r->seconds, sizeof r->seconds);
    field(line, "cost", r->cost, sizeof r->cost);
    if (!r->val_cost[0] && metrics_text)
        metrics_val_cost(metrics_text, r->best_iteration, r->val_cost, sizeof r->val_cost);
}

static int rank_by_val;

static int rank_key(const dnn_sweep_result_t *r, double *v)
{
    const char *s = rank_by_val ? r->val_cost : r->cost;
    char *end;
    *v = strtod(s, &end);
    return *s && !*end && !isnan(*v);
}

static int compare(const void *pa, const void *pb)
{
    const dnn_sweep_result_t *a = pa, *b = pb;
    if (a->done != b->done)
        return b->done - a->done;
    double x, y;
    int hx = rank_key(a, &x), hy = rank_key(b, &y);
    if (hx != hy)
        return hy - hx;
    if (hx && x != y)
        return x < y ? -1 : 1;
    return a->trial < b->trial ? -1 : a->trial > b->trial;
}

int dnn_sweep_rank(dnn_sweep_result_t *r, size_t n)
{
    rank_by_val = 0;
    for (size_t i = 0; i < n; i++)
        rank_by_val |= r[i].done && r[i].val_cost[0];
    qsort(r, n, sizeof *r, compare);
    return rank_by_val;
}

/* One cell: CSV quotes a value holding a comma, quote or newline; Markdown escapes '|'. */
static int cell(FILE *f, int md, const char *v)
{
    if (md) {
        fputs(" ", f);
        for (; *v; v++)
            fputs(*v == '|' ? "\\|" : (char[]){*v, 0}, f);
        return fputs(" |", f) < 0;
    }
    if (!strpbrk(v, ",\"\n"))
        return fputs(v, f) < 0;
    fputc('"', f);
    for (; *v; v++)
        fputs(*v == '"' ? "\"\"" : (char[]){*v, 0}, f);
    return fputc('"', f) < 0;
}

static const char *const figure_names[] = {"val_cost", "val_accuracy", "train_accuracy", "best_iteration",
                                           "seconds", "cost"};

static void figures(const dnn_sweep_result_t *r, const char *out[6])
{
    out[0] = r->val_cost, out[1] = r->val_accuracy, out[2] = r->train_accuracy;
    out[3] = r->best_iteration, out[4] = r->seconds, out[5] = r->cost;
}

static void header(FILE *f, int md, const dnn_sweep_grid_t *g)
{
    fputs(md ? "| rank | trial |" : "trial", f);
    for (size_t p = 0; p < g->n_params; p++)
        if (dnn_sweep_param_swept(&g->params[p])) {
            fputs(md ? "" : ",", f);
            cell(f, md, g->params[p].key);
        }
    for (size_t c = 0; c < 6; c++)
        fprintf(f, md ? " %s |" : ",%s", figure_names[c]);
    fputc('\n', f);
    if (!md)
        return;
    fputs("|---:|---|", f);
    for (size_t p = 0; p < g->n_params; p++)
        if (dnn_sweep_param_swept(&g->params[p]))
            fputs("---|", f);
    fputs("---:|---:|---:|---:|---:|---:|\n", f);
}

int dnn_sweep_summary_write(FILE *f, int md, const dnn_sweep_grid_t *g, const dnn_sweep_trials_t *t,
                            const dnn_sweep_result_t *r, size_t n, char *msg)
{
    header(f, md, g);
    size_t rank = 0;
    for (size_t i = 0; i < n; i++) {
        if (!r[i].done)
            continue;
        char name[32];
        snprintf(name, sizeof name, "trial-%03zu", r[i].trial);
        if (md)
            fprintf(f, "| %zu |", ++rank);
        cell(f, md, name);
        for (size_t p = 0; p < g->n_params; p++)
            if (dnn_sweep_param_swept(&g->params[p])) {
                fputs(md ? "" : ",", f);
                cell(f, md, dnn_sweep_value(t, r[i].trial, p));
            }
        const char *v[6];
        figures(&r[i], v);
        for (size_t c = 0; c < 6; c++) {
            fputs(md ? "" : ",", f);
            cell(f, md, v[c]);
        }
        fputc('\n', f);
    }
    if (fflush(f) || ferror(f))
        return dnn_fail(msg, DNN_EIO, "cannot write the %s summary: %s", md ? "Markdown" : "CSV", strerror(errno));
    return 0;
}
