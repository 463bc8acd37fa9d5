/*
 * test_sweep.c - CUnit suite for the sweep module (grid, trials, results).
 *
 * References are written here by hand: the product order of nested loops,
 * the grid lines each message must name, the figures of hand-made final
 * lines and metrics, and CSV quoting as RFC 4180 has it.
 */
#include "dnn/sweep.h"

#include "dnn_test.h"
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_sweep_parse_alternatives(void)
{
    dnn_sweep_grid_t g;
    char msg[DNN_MSG_LEN];
    const char *text = "# grid\ndata = d.h5\n\nlr = 0.1 | 0.2|0.3   # three\nlayers = \"\" | 8 | 16,8\n";
    CU_ASSERT_EQUAL_FATAL(dnn_sweep_grid_parse(&g, text, "g.conf", msg), 0);
    CU_ASSERT_EQUAL(g.n_params, 3);
    CU_ASSERT_EQUAL(g.n_lines, 5);
    CU_ASSERT_STRING_EQUAL(g.params[1].key, "lr");
    CU_ASSERT_EQUAL(g.params[1].line, 4);
    CU_ASSERT_EQUAL(g.params[1].n_alts, 3);
    CU_ASSERT_STRING_EQUAL(g.params[1].alts[2], "0.3");
    CU_ASSERT_STRING_EQUAL(g.params[2].alts[0], "");
    CU_ASSERT_STRING_EQUAL(g.params[2].alts[2], "16,8");
    CU_ASSERT_FALSE(dnn_sweep_param_swept(&g.params[0]));
    CU_ASSERT_TRUE(dnn_sweep_param_swept(&g.params[1]));
    dnn_sweep_grid_free(&g);
}

static void test_sweep_product_order(void)
{
    dnn_sweep_grid_t g;
    dnn_sweep_trials_t t;
    char msg[DNN_MSG_LEN];
    CU_ASSERT_EQUAL_FATAL(dnn_sweep_grid_parse(&g, "a = 1 | 2\nb = x\nc = p | q | r\n", "g", msg), 0);
    CU_ASSERT_EQUAL_FATAL(dnn_sweep_expand(&g, 0, 0, &t, msg), 0);
    CU_ASSERT_EQUAL_FATAL(t.n_trials, 6);
    /* for a in (1, 2): for c in (p, q, r) */
    const char *want[6][2] = {{"1", "p"}, {"1", "q"}, {"1", "r"}, {"2", "p"}, {"2", "q"}, {"2", "r"}};
    for (size_t i = 0; i < 6; i++) {
        CU_ASSERT_STRING_EQUAL(dnn_sweep_value(&t, i, 0), want[i][0]);
        CU_ASSERT_STRING_EQUAL(dnn_sweep_value(&t, i, 1), "x");
        CU_ASSERT_STRING_EQUAL(dnn_sweep_value(&t, i, 2), want[i][1]);
    }
    char desc[128];
    dnn_sweep_describe(&g, &t, 4, desc, sizeof desc);
    CU_ASSERT_STRING_EQUAL(desc, "a = 2, c = q");
    dnn_sweep_trials_free(&t);
    dnn_sweep_grid_free(&g);
}

/* A grid file that cannot be opened: named in the message, *g left empty. */
static void test_sweep_read_missing(void)
{
    dnn_sweep_grid_t g;
    char msg[DNN_MSG_LEN] = "";
    memset(&g, 0xa5, sizeof g); /* whatever the caller's variable held */
    CU_ASSERT_NOT_EQUAL(dnn_sweep_grid_read(&g, "/nonexistent-dnn-dir/grid.conf", msg), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "cannot open grid '/nonexistent-dnn-dir/grid.conf'"));
    CU_ASSERT(g.n_params == 0 && g.params == NULL);
    if (g.params == NULL)
        dnn_sweep_grid_free(&g);
}

/* Spaces around a range's numbers are allowed: randint( 3 , 5 ). */
static void test_sweep_range_spaces(void)
{
    dnn_sweep_grid_t g;
    dnn_sweep_trials_t t;
    char msg[DNN_MSG_LEN] = "";
    alarm(20); /* a parser that loops on the spaces fails here, not at ctest's timeout */
    int rc = dnn_sweep_grid_parse(&g, "k = randint( 3 , 5 )\nlr = loguniform( 1e-4 ,1e-1 )\n", "g", msg);
    if (rc)
        printf("\n  %s\n", msg);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL_FATAL(dnn_sweep_expand(&g, 60, 3, &t, msg), 0);
    int seen[3] = {0, 0, 0}, bad = 0;
    for (size_t i = 0; i < 60; i++) {
        int k = atoi(dnn_sweep_value(&t, i, 0));
        double lr = atof(dnn_sweep_value(&t, i, 1));
        bad += k < 3 || k > 5 || !(lr >= 1e-4 && lr <= 1e-1);
        if (k >= 3 && k <= 5)
            seen[k - 3]++;
    }
    alarm(0);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(seen[0] > 5 && seen[1] > 5 && seen[2] > 5);
    dnn_sweep_trials_free(&t);
    dnn_sweep_grid_free(&g);
}

/* A grid line may be DNN_PATH_MAX + 255 characters long (a path with its
 * option name and alternatives around it); one more is refused by number. */
static void test_sweep_long_line(void)
{
    size_t n = DNN_PATH_MAX + 255;
    char *text = malloc(2 * n + 64), msg[DNN_MSG_LEN] = "";
    CU_ASSERT_FATAL(text != NULL);
    memset(text, 'x', n);
    text[0] = '#';
    strcpy(text + n, "\nlr = 0.1 | 0.2\n");
    dnn_sweep_grid_t g;
    int rc = dnn_sweep_grid_parse(&g, text, "g.conf", msg);
    if (rc)
        printf("\n  a grid line of %zu characters was refused: %s\n", n, msg);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc == 0) {
        CU_ASSERT_EQUAL(g.n_params, 1);
        dnn_sweep_grid_free(&g);
    }
    memmove(text + 1, text, strlen(text) + 1); /* the first line one character longer */
    rc = dnn_sweep_grid_parse(&g, text, "g.conf", msg);
    CU_ASSERT_NOT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "g.conf:1: line is too long"));
    if (rc == 0)
        dnn_sweep_grid_free(&g);
    free(text);
}

/* Parse (and expand with random_k) text; the message must hold want. */
static void expect_error(const char *text, long random_k, const char *want)
{
    dnn_sweep_grid_t g;
    dnn_sweep_trials_t t;
    char msg[DNN_MSG_LEN] = "";
    int rc = dnn_sweep_grid_parse(&g, text, "g.conf", msg);
    if (rc == 0) {
        rc = dnn_sweep_expand(&g, random_k, 1, &t, msg);
        if (rc == 0)
            dnn_sweep_trials_free(&t);
        dnn_sweep_grid_free(&g);
    }
    CU_ASSERT_NOT_EQUAL(rc, 0);
    if (!strstr(msg, want))
        printf("\n  message '%s' lacks '%s'\n", msg, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
}

static void test_sweep_errors_name_lines(void)
{
    expect_error("a = 1\n\nlr = 0.1 || 0.2\n", 0, "g.conf:3: lr: empty alternative");
    expect_error("lr = 0.1\nlr = 0.2\n", 0, "g.conf:2: 'lr' is already given at line 1");
    expect_error("x = 1\nmetrics = m.csv\n", 0, "g.conf:2: 'metrics' is set by dnn-sweep");
    expect_error("\nlr = loguniform(1e-3, 1e-1)\n", 0, "g.conf:2: lr: loguniform(...) is a range; ranges need --random K");
    expect_error("lr = uniform(2, 1)\n", 3, "g.conf:1: lr: 'uniform(2, 1)' has a > b");
    expect_error("lr = uniform(1, 2, 3)\n", 3, "is not uniform(a, b)");
    expect_error("k = randint(0.5, 3)\n", 3, "randint needs integer bounds");
    expect_error("lr\n", 0, "g.conf:1: expected 'key = value'");
}

static void test_sweep_random_ranges(void)
{
    dnn_sweep_grid_t g;
    dnn_sweep_trials_t t, u, v;
    char msg[DNN_MSG_LEN];
    CU_ASSERT_EQUAL_FATAL(
        dnn_sweep_grid_parse(&g, "lr = loguniform(1e-4, 1e-1)\nk = randint(3, 5)\nu = uniform(-1, 1)\n", "g", msg), 0);
    CU_ASSERT_EQUAL_FATAL(dnn_sweep_expand(&g, 200, 7, &t, msg), 0);
    CU_ASSERT_EQUAL_FATAL(dnn_sweep_expand(&g, 200, 7, &u, msg), 0);
    CU_ASSERT_EQUAL_FATAL(dnn_sweep_expand(&g, 200, 8, &v, msg), 0);
    int seen[3] = {0, 0, 0}, same = 1, other = 0, low = 0;
    for (size_t i = 0; i < 200; i++) {
        double lr = atof(dnn_sweep_value(&t, i, 0)), x = atof(dnn_sweep_value(&t, i, 2));
        int k = atoi(dnn_sweep_value(&t, i, 1));
        CU_ASSERT(lr >= 1e-4 && lr <= 1e-1);
        CU_ASSERT(x >= -1 && x <= 1);
        CU_ASSERT(k >= 3 && k <= 5);
        if (k >= 3 && k <= 5)
            seen[k - 3]++;
        low += lr < 1e-3; /* loguniform: a third of the draws below 1e-3, uniform would give 0.9% */
        for (size_t p = 0; p < 3; p++) {
            same &= strcmp(dnn_sweep_value(&t, i, p), dnn_sweep_value(&u, i, p)) == 0;
            other |= strcmp(dnn_sweep_value(&t, i, p), dnn_sweep_value(&v, i, p)) != 0;
        }
    }
    CU_ASSERT(seen[0] > 40 && seen[1] > 40 && seen[2] > 40);
    CU_ASSERT(low > 40 && low < 95);
    CU_ASSERT_TRUE(same);
    CU_ASSERT_TRUE(other);
    dnn_sweep_trials_free(&t);
    dnn_sweep_trials_free(&u);
    dnn_sweep_trials_free(&v);
    dnn_sweep_grid_free(&g);
}

static void test_sweep_trial_options(void)
{
    dnn_sweep_grid_t g;
    dnn_sweep_trials_t t;
    dnn_options_t o;
    char msg[DNN_MSG_LEN];
    CU_ASSERT_EQUAL_FATAL(dnn_sweep_grid_parse(&g, "data = d.h5\n\nlr = 0.5 | -1\nlayers = \"\" | 3,2\n", "g", msg), 0);
    CU_ASSERT_EQUAL_FATAL(dnn_sweep_expand(&g, 0, 0, &t, msg), 0);
    CU_ASSERT_EQUAL(dnn_sweep_trial_options(&g, &t, 1, "/r/trial-001", "/base", &o, msg), 0);
    CU_ASSERT_STRING_EQUAL(o.data, "/base/d.h5");
    CU_ASSERT_STRING_EQUAL(o.checkpoint, "/r/trial-001/checkpoint.h5");
    CU_ASSERT_STRING_EQUAL(o.metrics, "/r/trial-001/metrics.csv");
    CU_ASSERT_EQUAL(o.n_layers, 2);
    CU_ASSERT_EQUAL(o.lr, 0.5);
    CU_ASSERT_EQUAL(dnn_sweep_trial_options(&g, &t, 0, "/r/trial-000", NULL, &o, msg), 0);
    CU_ASSERT_EQUAL(o.n_layers, 0);
    CU_ASSERT_STRING_EQUAL(o.data, "d.h5");
    CU_ASSERT_NOT_EQUAL(dnn_sweep_trial_options(&g, &t, 2, "/r/trial-002", NULL, &o, msg), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "g:3: trial-002 (lr = -1, layers = ): --lr must be"));
    dnn_sweep_trials_free(&t);
    dnn_sweep_grid_free(&g);
    /* an unknown key and a refused value: dnn-train's parser names the grid line */
    CU_ASSERT_EQUAL_FATAL(dnn_sweep_grid_parse(&g, "data = d.h5\nlrr = 1 | 2\n", "g", msg), 0);
    CU_ASSERT_EQUAL_FATAL(dnn_sweep_expand(&g, 0, 0, &t, msg), 0);
    CU_ASSERT_NOT_EQUAL(dnn_sweep_trial_options(&g, &t, 0, "/r", NULL, &o, msg), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "g:2: unknown key 'lrr'"));
    dnn_sweep_trials_free(&t);
    dnn_sweep_grid_free(&g);
}

static void test_sweep_result_parse(void)
{
    dnn_sweep_result_t r = {.trial = 7};
    const char *log = "iteration 0/10 cost 1\nfinal iterations=5 cost=0.5 seconds=1.0\n"
                      "final iterations=10 cost=0.25 train_accuracy=0.900000 val_accuracy=0.800000 "
                      "best_iteration=4 seconds=2.5 ms_per_epoch=1\n";
    const char *csv = "iteration,cost,val_cost,val_accuracy,seconds\n0,1,0.9,0.5,0\n4,0.5,0.375,0.8,1\n9,0.25,0.5,0.8,2\n";
    dnn_sweep_result_parse(&r, log, csv);
    CU_ASSERT_EQUAL(r.trial, 7);
    CU_ASSERT_TRUE(r.done);
    CU_ASSERT_STRING_EQUAL(r.cost, "0.25");
    CU_ASSERT_STRING_EQUAL(r.train_accuracy, "0.900000");
    CU_ASSERT_STRING_EQUAL(r.val_accuracy, "0.800000");
    CU_ASSERT_STRING_EQUAL(r.best_iteration, "4");
    CU_ASSERT_STRING_EQUAL(r.seconds, "2.5");
    CU_ASSERT_STRING_EQUAL(r.val_cost, "0.375"); /* the row of best_iteration */
    dnn_sweep_result_parse(&r, "final iterations=10 cost=0.25 seconds=1\n", csv);
    CU_ASSERT_STRING_EQUAL(r.val_cost, "0.5"); /* no best_iteration: the last row */
    dnn_sweep_result_parse(&r, "final iterations=10 cost=0.25 val_cost=0.125 seconds=1\n", csv);
    CU_ASSERT_STRING_EQUAL(r.val_cost, "0.125"); /* the final line wins */
    dnn_sweep_result_parse(&r, "iteration 3/10\nstopped\n", csv);
    CU_ASSERT_FALSE(r.done);
    CU_ASSERT_EQUAL(dnn_sweep_csv_column("iteration,cost,val_cost\r\n", "val_cost"), 3);
    CU_ASSERT_EQUAL(dnn_sweep_csv_column("iteration,cost\n", "val_cost"), 0);
}

static void test_sweep_rank(void)
{
    dnn_sweep_result_t r[4] = {{.trial = 0, .done = 1, .cost = "0.1", .val_cost = "0.9"},
                               {.trial = 1, .done = 0},
                               {.trial = 2, .done = 1, .cost = "0.3", .val_cost = "0.2"},
                               {.trial = 3, .done = 1, .cost = "0.2", .val_cost = "0.2"}};
    CU_ASSERT_EQUAL(dnn_sweep_rank(r, 4), 1);
    size_t want[4] = {2, 3, 0, 1}; /* by val_cost, ties by trial, unfinished last */
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(r[i].trial, want[i]);
    dnn_sweep_result_t c[3] = {{.trial = 0, .done = 1, .cost = "0.3"},
                               {.trial = 1, .done = 1, .cost = "0.1"},
                               {.trial = 2, .done = 1, .cost = "nan"}};
    CU_ASSERT_EQUAL(dnn_sweep_rank(c, 3), 0);
    CU_ASSERT_EQUAL(c[0].trial, 1);
    CU_ASSERT_EQUAL(c[1].trial, 0);
    CU_ASSERT_EQUAL(c[2].trial, 2);
}

static void test_sweep_summary_csv(void)
{
    dnn_sweep_grid_t g;
    dnn_sweep_trials_t t;
    char msg[DNN_MSG_LEN], *buf = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(dnn_sweep_grid_parse(&g, "data = d\nlayers = 4 | 8,4\nname = a\"b | c\n", "g", msg), 0);
    CU_ASSERT_EQUAL_FATAL(dnn_sweep_expand(&g, 0, 0, &t, msg), 0);
    dnn_sweep_result_t r[2] = {{.trial = 2, .done = 1, .cost = "0.5", .seconds = "1"}, {.trial = 1, .done = 0}};
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_EQUAL(dnn_sweep_summary_write(f, 0, &g, &t, r, 2, msg), 0);
    fclose(f);
    CU_ASSERT_STRING_EQUAL(buf, "trial,layers,name,val_cost,val_accuracy,train_accuracy,best_iteration,seconds,cost\n"
                                "trial-002,\"8,4\",\"a\"\"b\",,,,,1,0.5\n");
    free(buf);
    f = open_memstream(&buf, &len);
    CU_ASSERT_EQUAL(dnn_sweep_summary_write(f, 1, &g, &t, r, 2, msg), 0);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "| 1 | trial-002 | 8,4 | a\"b |  |  |  |  | 1 | 0.5 |\n"));
    free(buf);
    dnn_sweep_trials_free(&t);
    dnn_sweep_grid_free(&g);
}

int main(void)
{
    static const dnn_test_t tests[] = {
        DNN_TEST(test_sweep_long_line), DNN_TEST(test_sweep_range_spaces), DNN_TEST(test_sweep_read_missing),
        DNN_TEST(test_sweep_parse_alternatives), DNN_TEST(test_sweep_product_order),
        DNN_TEST(test_sweep_errors_name_lines),  DNN_TEST(test_sweep_random_ranges),
        DNN_TEST(test_sweep_trial_options),      DNN_TEST(test_sweep_result_parse),
        DNN_TEST(test_sweep_rank),               DNN_TEST(test_sweep_summary_csv),
    };
    return dnn_test_run("sweep", NULL, NULL, tests, sizeof tests / sizeof tests[0]);
}
