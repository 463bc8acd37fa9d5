/*
 * test_cli.c - CUnit suite for the cli module (options, config file, dump).
 *
 * The reference is the option list of the project contract (preamble and
 * README, What dnn-train prints): names, defaults and value kinds.  Config files are written
 * into a mkdtemp folder that is removed at the end.
 */
#define _GNU_SOURCE
#include "dnn/cli.h"

#include "dnn_test.h"
#include <CUnit/Basic.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

static int suite_init(void)
{
    snprintf(tmpdir, sizeof tmpdir, "test_cli_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void) { return dnn_test_rmtree(tmpdir); }

/* Write text to a file in the temporary folder; returns its path (static). */
static const char *write_file(const char *name, const char *text)
{
    static char path[2][512];
    static int k;
    k ^= 1;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    FILE *f = fopen(path[k], "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
    return path[k];
}

/*
 * Parse a NULL-terminated list of arguments (argv[0] = "dnn-train" is added).
 * getopt permutes argv, so the strings are copied into writable storage,
 * fresh for every call (never reused: see test_cli_parse_twice_reused_argv).
 */
static char *pool_copy(const char *s)
{
    static char pool[1 << 20];
    static size_t used;
    size_t n = strlen(s) + 1;
    CU_ASSERT_FATAL(used + n <= sizeof pool);
    char *p = memcpy(pool + used, s, n);
    used += n;
    return p;
}

/*
 * Bring glibc's getopt back to its initial state (optind = 0 forces a full
 * re-initialization), so one test's parse cannot leak into the next.
 */
static void reset_getopt(void)
{
    char prog[] = "reset", *argv[] = {prog, NULL};
    optind = 0;
    opterr = 0;
    while (getopt(1, argv, "") != -1)
        ;
}

static int parse(dnn_options_t *o, char *msg, ...)
{
    reset_getopt();
    char *argv[65];
    int argc = 0;
    va_list ap;
    va_start(ap, msg);
    argv[argc++] = pool_copy("dnn-train");
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && argc < 64; argc++)
        argv[argc] = pool_copy(a);
    va_end(ap);
    argv[argc] = NULL;
    dnn_cli_defaults(o);
    msg[0] = 0;
    return dnn_cli_parse(o, argc, argv, msg);
}

static int contains(const char *msg, const char *needle)
{
    int ok = strstr(msg, needle) != NULL;
    if (!ok)
        fprintf(stderr, "\n  message \"%s\" lacks \"%s\"\n", msg, needle);
    return ok;
}

/* Every default of the contract. */
static void test_cli_defaults(void)
{
    dnn_options_t o;
    memset(&o, 0x5a, sizeof o); /* defaults must set every field, not rely on a zeroed struct */
    dnn_cli_defaults(&o);
    CU_ASSERT_STRING_EQUAL(o.data, "");
    CU_ASSERT_STRING_EQUAL(o.x, "train_x");
    CU_ASSERT_STRING_EQUAL(o.y, "train_y");
    CU_ASSERT_EQUAL(o.layout, DNN_LAYOUT_EXAMPLES_FIRST);
    CU_ASSERT_EQUAL(o.scale, 1.0);
    CU_ASSERT_EQUAL(o.standardize, 0);
    CU_ASSERT(isnan(o.binary_threshold));
    CU_ASSERT_EQUAL(o.n_layers, 0);
    CU_ASSERT_EQUAL(o.hidden, DNN_ACT_RELU);
    CU_ASSERT_EQUAL(o.leaky_slope, 0.01);
    CU_ASSERT_EQUAL(o.output, DNN_ACT_SIGMOID);
    CU_ASSERT_EQUAL(o.classes, 0);
    CU_ASSERT_EQUAL(o.init, DNN_INIT_HE);
    CU_ASSERT_EQUAL(o.init_scale, 0.01);
    CU_ASSERT_EQUAL(o.rng, DNN_RNG_DEFAULT);
    CU_ASSERT_EQUAL(o.seed, 1);
    CU_ASSERT_EQUAL(o.lr, 0.0075);
    CU_ASSERT_EQUAL(o.iterations, 2500);
    CU_ASSERT_EQUAL(o.epochs, 0);
    CU_ASSERT_EQUAL(o.batch_size, 0);
    CU_ASSERT_EQUAL(o.precision, DNN_SINGLE);
    CU_ASSERT_EQUAL(o.print_every, 100);
    CU_ASSERT_STRING_EQUAL(o.test, "");
    CU_ASSERT_STRING_EQUAL(o.test_x, "test_x");
    CU_ASSERT_STRING_EQUAL(o.test_y, "test_y");
    CU_ASSERT_STRING_EQUAL(o.metrics, "");
    CU_ASSERT_STRING_EQUAL(o.checkpoint, "");
    CU_ASSERT_EQUAL(o.checkpoint_every, 0);
    CU_ASSERT_EQUAL(o.resume, 0);
    CU_ASSERT_EQUAL(o.deterministic, 0);
    CU_ASSERT_EQUAL(o.threads, 0);
    CU_ASSERT_EQUAL(o.quiet, 0);
    CU_ASSERT_EQUAL(o.verbose, 0);
    CU_ASSERT_EQUAL(o.help, 0);
    CU_ASSERT_STRING_EQUAL(o.config, "");
    CU_ASSERT_EQUAL(o.iterations_set, 0);
    CU_ASSERT_EQUAL(o.epochs_set, 0);
    /* an empty command line keeps them */
    dnn_options_t p;
    char msg[DNN_MSG_LEN];
    CU_ASSERT_EQUAL(parse(&p, msg, NULL), 0);
    CU_ASSERT_EQUAL(p.lr, 0.0075);
    CU_ASSERT_EQUAL(p.iterations, 2500);
}

/* Every option on the command line, each kind (string, enum, double, long, flag, list, optional double). */
static void test_cli_parse_every_option(void)
{
    dnn_options_t o;
    char msg[DNN_MSG_LEN];
    int rc = parse(&o, msg, "--data", "train.h5", "--x", "X", "--y", "Y", "--layout", "features-first", "--scale",
                   "0.00392156862745098", "--standardize", "--binary-threshold", "5", "--layers", "20,7,5",
                   "--hidden-activation", "tanh", "--leaky-slope", "0.2", "--output", "softmax", "--classes", "10",
                   "--init", "xavier", "--init-scale", "0.5", "--rng", "numpy", "--seed", "42", "--lr=0.1",
                   "--epochs", "3", "--batch-size", "64", "--precision", "double", "--print-every", "10", "--test",
                   "test.h5", "--test-x", "TX", "--test-y", "TY", "--metrics", "m.csv", "--checkpoint", "c.h5",
                   "--checkpoint-every", "5", "--resume", "--deterministic", "--threads", "2", "--quiet", NULL);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(o.data, "train.h5");
    CU_ASSERT_STRING_EQUAL(o.x, "X");
    CU_ASSERT_STRING_EQUAL(o.y, "Y");
    CU_ASSERT_EQUAL(o.layout, DNN_LAYOUT_FEATURES_FIRST);
    CU_ASSERT_EQUAL(o.scale, 0.00392156862745098);
    CU_ASSERT_EQUAL(o.standardize, 1);
    CU_ASSERT_EQUAL(o.binary_threshold, 5.0);
    CU_ASSERT_EQUAL(o.n_layers, 3);
    CU_ASSERT_EQUAL(o.layers[0], 20u);
    CU_ASSERT_EQUAL(o.layers[1], 7u);
    CU_ASSERT_EQUAL(o.layers[2], 5u);
    CU_ASSERT_EQUAL(o.hidden, DNN_ACT_TANH);
    CU_ASSERT_EQUAL(o.leaky_slope, 0.2);
    CU_ASSERT_EQUAL(o.output, DNN_ACT_SOFTMAX);
    CU_ASSERT_EQUAL(o.classes, 10);
    CU_ASSERT_EQUAL(o.init, DNN_INIT_XAVIER);
    CU_ASSERT_EQUAL(o.init_scale, 0.5);
    CU_ASSERT_EQUAL(o.rng, DNN_RNG_NUMPY);
    CU_ASSERT_EQUAL(o.seed, 42);
    CU_ASSERT_EQUAL(o.lr, 0.1);
    CU_ASSERT_EQUAL(o.epochs, 3);
    CU_ASSERT_EQUAL(o.epochs_set, 1);
    CU_ASSERT_EQUAL(o.iterations_set, 0);
    CU_ASSERT_EQUAL(o.batch_size, 64);
    CU_ASSERT_EQUAL(o.precision, DNN_DOUBLE);
    CU_ASSERT_EQUAL(o.print_every, 10);
    CU_ASSERT_STRING_EQUAL(o.test, "test.h5");
    CU_ASSERT_STRING_EQUAL(o.test_x, "TX");
    CU_ASSERT_STRING_EQUAL(o.test_y, "TY");
    CU_ASSERT_STRING_EQUAL(o.metrics, "m.csv");
    CU_ASSERT_STRING_EQUAL(o.checkpoint, "c.h5");
    CU_ASSERT_EQUAL(o.checkpoint_every, 5);
    CU_ASSERT_EQUAL(o.resume, 1);
    CU_ASSERT_EQUAL(o.deterministic, 1);
    CU_ASSERT_EQUAL(o.threads, 2);
    CU_ASSERT_EQUAL(o.quiet, 1);

    /* the remaining enum values, --iterations after --epochs, --verbose, --help, -h, an empty --layers */
    static const char *const hidden[] = {"sigmoid", "tanh", "relu", "leaky_relu", "linear"};
    for (int a = 0; a < 5; a++) {
        CU_ASSERT_EQUAL(parse(&o, msg, "--hidden-activation", hidden[a], NULL), 0);
        CU_ASSERT_EQUAL(o.hidden, a);
    }
    static const char *const inits[] = {"zeros", "normal", "sqrt", "he", "xavier"};
    for (int a = 0; a < 5; a++) {
        CU_ASSERT_EQUAL(parse(&o, msg, "--init", inits[a], NULL), 0);
        CU_ASSERT_EQUAL(o.init, a);
    }
    CU_ASSERT_EQUAL(parse(&o, msg, "--output", "linear", "--layout", "examples-first", "--rng", "default", NULL), 0);
    CU_ASSERT_EQUAL(o.output, DNN_ACT_LINEAR);
    CU_ASSERT_EQUAL(o.layout, DNN_LAYOUT_EXAMPLES_FIRST);
    CU_ASSERT_EQUAL(o.rng, DNN_RNG_DEFAULT);
    CU_ASSERT_EQUAL(parse(&o, msg, "--epochs", "4", "--iterations", "77", "--verbose", "--help", NULL), 0);
    CU_ASSERT_EQUAL(o.iterations, 77);
    CU_ASSERT_EQUAL(o.iterations_set, 1);
    CU_ASSERT_EQUAL(o.epochs_set, 0);
    CU_ASSERT_EQUAL(o.verbose, 1);
    CU_ASSERT_EQUAL(o.help, 1);
    CU_ASSERT_EQUAL(parse(&o, msg, "-h", NULL), 0);
    CU_ASSERT_EQUAL(o.help, 1);
    CU_ASSERT_EQUAL(parse(&o, msg, "--layers", "8", "--layers", "", NULL), 0);
    CU_ASSERT_EQUAL(o.n_layers, 0); /* empty = logistic regression */
    CU_ASSERT_EQUAL(parse(&o, msg, "--layers", " 3 , 4 ", NULL), 0);
    CU_ASSERT_EQUAL(o.n_layers, 2);
    CU_ASSERT_EQUAL(o.layers[1], 4u);
    /* dnn_cli_set applies one key directly */
    dnn_cli_defaults(&o);
    CU_ASSERT_EQUAL(dnn_cli_set(&o, "lr", "0.25", msg), 0);
    CU_ASSERT_EQUAL(o.lr, 0.25);
    CU_ASSERT_EQUAL(dnn_cli_set(&o, "standardize", "yes", msg), 0);
    CU_ASSERT_EQUAL(o.standardize, 1);
    CU_ASSERT_EQUAL(dnn_cli_set(&o, "standardize", "off", msg), 0);
    CU_ASSERT_EQUAL(o.standardize, 0);
    CU_ASSERT_EQUAL(dnn_cli_set(&o, "no-such-key", "1", msg), DNN_EINVAL);
    CU_ASSERT(contains(msg, "no-such-key"));
}

/* A config file (comments, blanks, spacing variants); the command line wins wherever it is in argv. */
static void test_cli_config_file_and_precedence(void)
{
    const char *cfg = write_file("run.conf", "# training run\n"
                                             "\n"
                                             "data = cfg.h5\n"
                                             "   lr=0.1   \n"
                                             "seed = 7   # trailing comment\n"
                                             "\t layers = 20, 7,5\n"
                                             "hidden-activation = leaky_relu\n"
                                             "standardize = true\n"
                                             "iterations = 300\n"
                                             "binary-threshold = 5\n"
                                             "   # indented comment\n");
    char path[512];
    snprintf(path, sizeof path, "%s", cfg);
    dnn_options_t o;
    char msg[DNN_MSG_LEN];
    CU_ASSERT_EQUAL_FATAL(parse(&o, msg, "--config", path, "--lr", "0.5", NULL), 0);
    CU_ASSERT_STRING_EQUAL(o.data, "cfg.h5");
    CU_ASSERT_EQUAL(o.lr, 0.5); /* command line wins */
    CU_ASSERT_EQUAL(o.seed, 7);
    CU_ASSERT_EQUAL(o.n_layers, 3);
    CU_ASSERT_EQUAL(o.layers[0], 20u);
    CU_ASSERT_EQUAL(o.layers[2], 5u);
    CU_ASSERT_EQUAL(o.hidden, DNN_ACT_LEAKY_RELU);
    CU_ASSERT_EQUAL(o.standardize, 1);
    CU_ASSERT_EQUAL(o.iterations, 300);
    CU_ASSERT_EQUAL(o.binary_threshold, 5.0);
    CU_ASSERT_STRING_EQUAL(o.config, path);
    /* config after the option on the command line: the command line still wins */
    CU_ASSERT_EQUAL_FATAL(parse(&o, msg, "--seed", "9", "--layers", "4", "--config", path, NULL), 0);
    CU_ASSERT_EQUAL(o.seed, 9);
    CU_ASSERT_EQUAL(o.n_layers, 1);
    CU_ASSERT_EQUAL(o.layers[0], 4u);
    CU_ASSERT_EQUAL(o.lr, 0.1); /* from the file */
    char eq[600];
    snprintf(eq, sizeof eq, "--config=%s", path);
    CU_ASSERT_EQUAL_FATAL(parse(&o, msg, eq, "--epochs", "2", NULL), 0);
    CU_ASSERT_EQUAL(o.seed, 7);
    CU_ASSERT_EQUAL(o.epochs_set, 1); /* the command line's --epochs beats the file's iterations */
    CU_ASSERT_EQUAL(o.epochs, 2);
    /* text parser directly, no trailing newline */
    dnn_cli_defaults(&o);
    CU_ASSERT_EQUAL(dnn_cli_parse_config_text(&o, "output = linear\nscale = 2", "inline", msg), 0);
    CU_ASSERT_EQUAL(o.output, DNN_ACT_LINEAR);
    CU_ASSERT_EQUAL(o.scale, 2.0);
    /* a missing config file */
    CU_ASSERT_EQUAL(parse(&o, msg, "--config", "/nonexistent/dir/x.conf", NULL), DNN_EIO);
    CU_ASSERT(contains(msg, "/nonexistent/dir/x.conf"));
}

/* Each error is DNN_EINVAL with a message naming the key (and file:line) and the value. */
static void test_cli_errors_named(void)
{
    dnn_options_t o;
    char msg[DNN_MSG_LEN];
    CU_ASSERT_EQUAL(parse(&o, msg, "--bogus", "1", NULL), DNN_EINVAL);
    CU_ASSERT(contains(msg, "--bogus"));
    CU_ASSERT_EQUAL(parse(&o, msg, "--lr", "abc", NULL), DNN_EINVAL);
    CU_ASSERT(contains(msg, "lr"));
    CU_ASSERT(contains(msg, "abc"));
    CU_ASSERT_EQUAL(parse(&o, msg, "--iterations", "12x", NULL), DNN_EINVAL);
    CU_ASSERT(contains(msg, "iterations"));
    CU_ASSERT(contains(msg, "12x"));
    CU_ASSERT_EQUAL(parse(&o, msg, "--seed", "99999999999999999999999", NULL), DNN_EINVAL);
    CU_ASSERT(contains(msg, "seed"));
    CU_ASSERT_EQUAL(parse(&o, msg, "--lr", "", NULL), DNN_EINVAL);
    CU_ASSERT(contains(msg, "lr"));
    CU_ASSERT_EQUAL(parse(&o, msg, "--output", "softplus", NULL), DNN_EINVAL);
    CU_ASSERT(contains(msg, "output"));
    CU_ASSERT(contains(msg, "softplus"));
    CU_ASSERT_EQUAL(parse(&o, msg, "--precision", "half", NULL), DNN_EINVAL);
    CU_ASSERT(contains(msg, "precision"));
    CU_ASSERT(contains(msg, "half"));
    CU_ASSERT_EQUAL(parse(&o, msg, "--layers", "20,x", NULL), DNN_EINVAL);
    CU_ASSERT(contains(msg, "layers"));
    CU_ASSERT(contains(msg, "20,x"));
    CU_ASSERT_EQUAL(parse(&o, msg, "--layers", "20,,5", NULL), DNN_EINVAL);
    CU_ASSERT_EQUAL(parse(&o, msg, "--layers", "-3", NULL), DNN_EINVAL);
    CU_ASSERT_EQUAL(parse(&o, msg, "--lr", NULL), DNN_EINVAL); /* value missing */
    CU_ASSERT(contains(msg, "lr"));
    CU_ASSERT_EQUAL(parse(&o, msg, "stray", NULL), DNN_EINVAL);
    CU_ASSERT(contains(msg, "stray"));

    struct {
        const char *text, *needles[4];
    } cfg[] = {
        {"seed = 3\n\nbogus_key = 1\n", {":3", "bogus_key", NULL}},
        {"# ok\njust some words\n", {":2", "just some words", NULL}},
        {"lr = fast\n", {":1", "lr", "fast", NULL}},
        {"seed = 1\niterations = 1e3\n", {":2", "iterations", "1e3", NULL}},
        {"output = tanhh\n", {":1", "output", "tanhh", NULL}},
        {"standardize = maybe\n", {":1", "standardize", "maybe", NULL}},
        {"config = other.conf\n", {":1", "config", NULL}},
        {"= 5\n", {":1", NULL}},
    };
    for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++) {
        char name[64], path[512];
        snprintf(name, sizeof name, "bad%zu.conf", k);
        snprintf(path, sizeof path, "%s", write_file(name, cfg[k].text));
        int rc = parse(&o, msg, "--config", path, NULL);
        CU_ASSERT_EQUAL(rc, DNN_EINVAL);
        CU_ASSERT(contains(msg, path));
        for (int i = 0; cfg[k].needles[i]; i++)
            CU_ASSERT(contains(msg, cfg[k].needles[i]));
    }
}

/* Cross-option checks: the documented refusals, each naming the option and the value. */
static void test_cli_validate(void)
{
    dnn_options_t o;
    char msg[DNN_MSG_LEN];
    CU_ASSERT_EQUAL_FATAL(parse(&o, msg, "--data", "d.h5", NULL), 0);
    CU_ASSERT_EQUAL(dnn_cli_validate(&o, msg), 0);
    struct {
        const char *args[4], *needles[3];
    } bad[] = {
        {{"--lr", "-1", NULL}, {"--lr", "-1", NULL}},
        {{"--lr", "nan", NULL}, {"--lr", "nan", NULL}},
        {{"--lr", "0", NULL}, {"--lr", NULL}},
        {{"--lr", "inf", NULL}, {"--lr", NULL}},
        {{"--iterations", "0", NULL}, {"--iterations", "0", NULL}},
        {{"--epochs", "0", NULL}, {"--epochs", "0", NULL}},
        {{"--batch-size", "-5", NULL}, {"--batch-size", "-5", NULL}},
        {{"--print-every", "0", NULL}, {"--print-every", NULL}},
        {{"--output", "tanh", NULL}, {"--output", "tanh", NULL}},
        {{"--classes", "1", "--output", NULL}, {"--classes", NULL}},
        {{"--classes", "1", "--output", "softmax"}, {"--classes", ">= 2", NULL}}, /* one class: nothing to learn */
        {{"--classes", "3", NULL}, {"--classes", "softmax", NULL}},
        {{"--resume", NULL}, {"--resume", "--checkpoint", NULL}},
        {{"--quiet", "--verbose", NULL}, {"--quiet", "--verbose", NULL}},
        {{"--scale", "0", NULL}, {"--scale", NULL}},
        {{"--leaky-slope", "-0.1", NULL}, {"--leaky-slope", NULL}},
        {{"--seed", "-1", NULL}, {"--seed", NULL}},
        {{"--binary-threshold", "5", "--output", NULL}, {"--binary-threshold", NULL}},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        const char *a[6] = {NULL};
        int n = 0;
        for (int i = 0; i < 4 && bad[k].args[i]; i++)
            a[n++] = bad[k].args[i];
        if (n && strcmp(a[n - 1], "--output") == 0)
            a[n++] = "linear"; /* "--classes 1 --output linear", "--binary-threshold 5 --output linear" */
        int rc = parse(&o, msg, "--data", "d.h5", a[0], a[1], a[2], a[3], NULL);
        CU_ASSERT_EQUAL(rc, 0);
        rc = dnn_cli_validate(&o, msg);
        if (rc != DNN_EINVAL)
            fprintf(stderr, "\n  validate accepted %s %s %s\n", a[0], a[1] ? a[1] : "", a[2] ? a[2] : "");
        CU_ASSERT_EQUAL(rc, DNN_EINVAL);
        for (int i = 0; bad[k].needles[i]; i++)
            CU_ASSERT(contains(msg, bad[k].needles[i]));
    }
    /* --data is required */
    CU_ASSERT_EQUAL(parse(&o, msg, NULL), 0);
    CU_ASSERT_EQUAL(dnn_cli_validate(&o, msg), DNN_EINVAL);
    CU_ASSERT(contains(msg, "--data"));
    /* --layers 0 is refused (at parse time, naming the option and the value) */
    int rc = parse(&o, msg, "--data", "d.h5", "--layers", "0", NULL);
    if (rc == 0)
        rc = dnn_cli_validate(&o, msg);
    CU_ASSERT_EQUAL(rc, DNN_EINVAL);
    CU_ASSERT(contains(msg, "layers"));
    CU_ASSERT(contains(msg, "0"));
    rc = parse(&o, msg, "--data", "d.h5", "--layers", "16,0,4", NULL);
    if (rc == 0)
        rc = dnn_cli_validate(&o, msg);
    CU_ASSERT_EQUAL(rc, DNN_EINVAL);
}

/*
 * dnn_cli_parse may be called more than once in a process, with argv strings
 * in reused memory (a stack buffer in a loop).  GNU getopt keeps a pointer
 * into the previous argv unless it is reinitialized (optind = 0), so after
 * "-h" the next call would resume scanning inside the old, overwritten string.
 */
static void test_cli_parse_twice_reused_argv(void)
{
    char a0[32] = "dnn-train", a1[32] = "-h", a2[32] = "";
    char *argv1[] = {a0, a1, NULL};
    reset_getopt();
    dnn_options_t o;
    char msg[DNN_MSG_LEN] = "";
    dnn_cli_defaults(&o);
    CU_ASSERT_EQUAL_FATAL(dnn_cli_parse(&o, 2, argv1, msg), 0);
    CU_ASSERT_EQUAL(o.help, 1);
    strcpy(a1, "--lr");
    strcpy(a2, "0.5");
    char *argv2[] = {a0, a1, a2, NULL};
    dnn_cli_defaults(&o);
    msg[0] = 0;
    int rc = dnn_cli_parse(&o, 3, argv2, msg);
    if (rc)
        fprintf(stderr, "\n  second dnn_cli_parse(--lr 0.5) failed: %s\n", msg);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(o.lr, 0.5);
    CU_ASSERT_EQUAL(o.help, 0);
    reset_getopt(); /* a2 and friends go out of scope: drop getopt's pointer into them */
}

/* Field-by-field equality of everything the dump carries (strings by content). */
static int same_options(const dnn_options_t *a, const dnn_options_t *b)
{
    int ok = 1;
#define SAME_STR(f) ok &= strcmp(a->f, b->f) == 0
#define SAME_MEM(f) ok &= memcmp(&a->f, &b->f, sizeof a->f) == 0
    SAME_STR(data);
    SAME_STR(x);
    SAME_STR(y);
    SAME_MEM(layout);
    SAME_MEM(scale);
    SAME_MEM(standardize);
    ok &= (isnan(a->binary_threshold) && isnan(b->binary_threshold)) ||
          memcmp(&a->binary_threshold, &b->binary_threshold, sizeof(double)) == 0;
    SAME_MEM(n_layers);
    ok &= memcmp(a->layers, b->layers, (size_t)a->n_layers * sizeof a->layers[0]) == 0;
    SAME_MEM(hidden);
    SAME_MEM(leaky_slope);
    SAME_MEM(output);
    SAME_MEM(classes);
    SAME_MEM(init);
    SAME_MEM(init_scale);
    SAME_MEM(rng);
    SAME_MEM(seed);
    SAME_MEM(lr);
    SAME_MEM(epochs_set);
    if (a->epochs_set)
        SAME_MEM(epochs);
    else
        SAME_MEM(iterations);
    SAME_MEM(batch_size);
    SAME_MEM(precision);
    SAME_MEM(print_every);
    SAME_STR(test);
    SAME_STR(test_x);
    SAME_STR(test_y);
    SAME_STR(metrics);
    SAME_STR(checkpoint);
    SAME_MEM(checkpoint_every);
    SAME_MEM(deterministic);
    SAME_MEM(threads);
    SAME_MEM(quiet);
    SAME_MEM(verbose);
#undef SAME_STR
#undef SAME_MEM
    return ok;
}

/* dump -> FILE -> read back as a config file -> the same options, and the same dump. */
static void roundtrip(const dnn_options_t *o, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    dnn_cli_dump(o, f);
    fclose(f);
    dnn_options_t back;
    char msg[DNN_MSG_LEN] = "";
    dnn_cli_defaults(&back);
    int rc = dnn_cli_read_config(&back, path, msg);
    if (rc)
        fprintf(stderr, "\n  reading the dump back: %s\n", msg);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT(same_options(o, &back));
    size_t n1 = dnn_cli_dump_string(o, NULL, 0), n2 = dnn_cli_dump_string(&back, NULL, 0);
    char *s1 = malloc(n1 + 1), *s2 = malloc(n2 + 1);
    CU_ASSERT_FATAL(s1 && s2);
    CU_ASSERT_EQUAL(dnn_cli_dump_string(o, s1, n1 + 1), n1);
    dnn_cli_dump_string(&back, s2, n2 + 1);
    CU_ASSERT_STRING_EQUAL(s1, s2);
    CU_ASSERT_EQUAL(strlen(s1), n1);
    /* truncation behaves like snprintf: same return, NUL-terminated prefix */
    char small[16];
    CU_ASSERT_EQUAL(dnn_cli_dump_string(o, small, sizeof small), n1);
    CU_ASSERT_EQUAL(strlen(small), sizeof small - 1);
    CU_ASSERT_EQUAL(strncmp(small, s1, sizeof small - 1), 0);
    free(s1);
    free(s2);
}

static void test_cli_dump_roundtrip(void)
{
    dnn_options_t o;
    char msg[DNN_MSG_LEN];
    dnn_cli_defaults(&o);
    roundtrip(&o, "defaults.conf");
    CU_ASSERT_EQUAL_FATAL(
        parse(&o, msg, "--data", "/data/fmnist train.h5", "--x", "images", "--y", "labels", "--layout",
              "features-first", "--scale", "0.00392156862745098", "--standardize", "--layers", "256,128,3",
              "--hidden-activation", "leaky_relu", "--leaky-slope", "0.3", "--output", "softmax", "--classes", "10",
              "--init", "normal", "--init-scale", "0.1", "--rng", "numpy", "--seed", "123", "--lr", "0.1",
              "--epochs", "7", "--batch-size", "256", "--precision", "double", "--print-every", "3", "--test",
              "t.h5", "--test-x", "tx", "--test-y", "ty", "--metrics", "out.csv", "--checkpoint", "ck.h5",
              "--checkpoint-every", "50", "--deterministic", "--threads", "3", "--verbose", NULL),
        0);
    roundtrip(&o, "full.conf");
    /* values that need all 17 digits, and the binary threshold */
    CU_ASSERT_EQUAL_FATAL(parse(&o, msg, "--lr", "0.1234567890123456789", "--scale", "3.3333333333333335e-07",
                                "--binary-threshold", "0.30000000000000004", "--iterations", "12", NULL),
                          0);
    roundtrip(&o, "digits.conf");
}

/*
 * A file path holding '#' (legal on POSIX, e.g. "run#1.h5") must survive the
 * dump: the dump is documented as a valid config file for the same run.
 */
static void test_cli_dump_roundtrip_hash_in_path(void)
{
    dnn_options_t o;
    char msg[DNN_MSG_LEN];
    CU_ASSERT_EQUAL_FATAL(parse(&o, msg, "--data", "runs/run#1.h5", "--checkpoint", "ck#2.h5", NULL), 0);
    CU_ASSERT_STRING_EQUAL(o.data, "runs/run#1.h5");
    roundtrip(&o, "hash.conf");
}

/* --help text lists every option and its default. */
static void test_cli_usage_lists_options(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/usage.txt", tmpdir);
    FILE *f = fopen(path, "w+");
    CU_ASSERT_FATAL(f != NULL);
    dnn_cli_usage(f);
    long n = ftell(f);
    CU_ASSERT_FATAL(n > 0);
    char *buf = calloc((size_t)n + 1, 1);
    CU_ASSERT_FATAL(buf != NULL);
    rewind(f);
    CU_ASSERT_EQUAL(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    static const char *const names[] = {
        "--data", "--x", "--y", "--layout", "--scale", "--standardize", "--binary-threshold", "--layers",
        "--hidden-activation", "--leaky-slope", "--output", "--classes", "--init", "--init-scale", "--rng",
        "--seed", "--lr", "--iterations", "--epochs", "--batch-size", "--precision", "--print-every", "--test",
        "--test-x", "--test-y", "--metrics", "--checkpoint", "--checkpoint-every", "--resume", "--deterministic",
        "--threads", "--quiet", "--verbose", "--config", "--help", "0.0075", "2500"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CU_ASSERT(contains(buf, names[i]));
    free(buf);
}

/* ---- the option table's checkpoint rows (README, Adding a hyperparameter) ---- */

/* Set option `name` of o (defaults) to a valid value other than its default;
 * returns 0, or -1 when no candidate differs. */
static int set_other(dnn_options_t *o, const char *name, const char *choices)
{
    dnn_options_t def;
    char msg[DNN_MSG_LEN], d1[32768], d2[32768];
    dnn_cli_defaults(&def);
    dnn_cli_dump_string(&def, d1, sizeof d1);
    const char *cand[] = {"true", "0.375", "7"};
    char buf[64];
    for (int k = 0; k < 16; k++) {
        const char *v = NULL;
        if (choices) { /* the k-th choice */
            const char *c = choices;
            for (int j = 0; j < k && c; j++)
                c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL;
            if (!c)
                return -1;
            snprintf(buf, sizeof buf, "%.*s", (int)strcspn(c, ","), c);
            v = buf;
        } else if (k < 3) {
            v = cand[k];
        } else {
            return -1;
        }
        *o = def;
        if (dnn_cli_set(o, name, v, msg))
            continue;
        dnn_cli_dump_string(o, d2, sizeof d2);
        if (strcmp(d1, d2))
            return 0;
    }
    return -1;
}

/* A checkpoint of a tiny model whose stored hyperparameters are o's. */
static void write_ckpt(const dnn_options_t *o, const char *path)
{
    char msg[DNN_MSG_LEN] = "";
    size_t n[2] = {3, 1};
    dnn_model_t m;
    CU_ASSERT_FATAL(dnn_model_init(&m, DNN_SINGLE, 1, n, DNN_ACT_RELU, DNN_ACT_SIGMOID, 0.01, 4, msg) == 0);
    CU_ASSERT_FATAL(dnn_model_init_params(&m, DNN_INIT_HE, 0, DNN_RNG_DEFAULT, 1, msg) == 0);
    static dnn_ckpt_t c;
    static dnn_ckpt_attr_t a[128];
    int64_t it = 0;
    double cost = 0.5;
    memset(&c, 0, sizeof c);
    c.L = 1;
    c.n[0] = 3;
    c.n[1] = 1;
    c.hidden = DNN_ACT_RELU;
    c.output = DNN_ACT_SIGMOID;
    c.keep_prob = 1;
    c.nhist = 1;
    c.hist_iter = &it;
    c.hist_cost = &cost;
    c.attrs = a;
    c.nattrs = dnn_cli_ckpt_attrs(o, a, 128);
    CU_ASSERT(c.nattrs > 0 && c.nattrs < 128);
    int rc = dnn_checkpoint_write(path, &m, &c, msg);
    if (rc)
        fprintf(stderr, "\n  dnn_checkpoint_write: %s\n", msg);
    CU_ASSERT_FATAL(rc == 0);
    dnn_model_free(&m);
}

/* Every stored option, set to a value other than its default, reads back as written. */
static void test_cli_table_checkpoint_roundtrip(void)
{
    const char *name, *ckpt, *choices;
    int match, stored = 0;
    char path[512], msg[DNN_MSG_LEN] = "", want[32768], got[32768];
    static dnn_options_t o, back;
    static dnn_ckpt_attr_t a[128];
    snprintf(path, sizeof path, "%s/table.h5", tmpdir);
    for (size_t i = 0; (name = dnn_cli_option(i, &ckpt, &match, &choices)); i++) {
        if (!ckpt)
            continue;
        stored++;
        int ok = set_other(&o, name, choices) == 0;
        CU_ASSERT(ok);
        if (!ok) {
            fprintf(stderr, "\n  no non-default value for --%s\n", name);
            continue;
        }
        write_ckpt(&o, path);
        dnn_cli_defaults(&back);
        size_t n = dnn_cli_ckpt_attrs(&back, a, 128); /* the names and types to read */
        CU_ASSERT_FATAL(dnn_checkpoint_read_attrs(path, a, n, msg) == 0);
        for (size_t k = 0; k < n; k++)
            CU_ASSERT(a[k].present);
        CU_ASSERT_FATAL(dnn_cli_from_ckpt(&back, a, n, msg) == 0);
        dnn_cli_dump_string(&o, want, sizeof want);
        dnn_cli_dump_string(&back, got, sizeof got);
        CU_ASSERT_STRING_EQUAL(got, want);
        if (strcmp(got, want))
            fprintf(stderr, "\n  --%s (attribute %s) does not round-trip\n", name, ckpt);
    }
    CU_ASSERT(stored >= 20); /* the course's hyperparameters, the optimizer's, batch norm's */
}

/* Every must-match option refuses a checkpoint stored with another value, naming the option. */
static void test_cli_table_resume_refuses(void)
{
    const char *name, *ckpt, *choices;
    int match, nmatch = 0;
    char path[512], msg[DNN_MSG_LEN] = "", flag[128];
    static dnn_options_t o, def;
    snprintf(path, sizeof path, "%s/match.h5", tmpdir);
    dnn_cli_defaults(&def);
    for (size_t i = 0; (name = dnn_cli_option(i, &ckpt, &match, &choices)); i++) {
        if (!match)
            continue;
        nmatch++;
        CU_ASSERT_PTR_NOT_NULL(ckpt); /* a must-match option is stored */
        if (!ckpt || set_other(&o, name, choices))
            continue;
        write_ckpt(&o, path);
        CU_ASSERT_EQUAL(dnn_cli_resume_check(&o, path, msg), 0); /* the same options resume */
        msg[0] = 0;
        CU_ASSERT_EQUAL(dnn_cli_resume_check(&def, path, msg), DNN_EDATA);
        snprintf(flag, sizeof flag, "--%s ", name);
        CU_ASSERT(contains(msg, flag) && contains(msg, path));
        if (!contains(msg, flag))
            fprintf(stderr, "\n  --%s: '%s'\n", name, msg);
    }
    /* the options whose change would make a resumed run a different training */
    const char *must[] = {"precision", "scale", "standardize", "binary-threshold", "optimizer", "validation-split",
                          "batch-norm"};
    for (size_t k = 0; k < sizeof must / sizeof must[0]; k++) {
        int found = 0;
        for (size_t i = 0; (name = dnn_cli_option(i, &ckpt, &match, &choices)); i++)
            found |= !strcmp(name, must[k]) && match && ckpt;
        CU_ASSERT(found);
        if (!found)
            fprintf(stderr, "\n  --%s must be a stored must-match option\n", must[k]);
    }
    CU_ASSERT(nmatch >= 7);
    /* a stored option that need not match does not stop a resume */
    CU_ASSERT_FATAL(set_other(&o, "lr", NULL) == 0);
    write_ckpt(&o, path);
    CU_ASSERT_EQUAL(dnn_cli_resume_check(&def, path, msg), 0);
}

int main(void)
{
#define T(name) {#name, name}
    static const dnn_test_t tests[] = {
        T(test_cli_defaults),
        T(test_cli_parse_every_option),
        T(test_cli_parse_twice_reused_argv),
        T(test_cli_config_file_and_precedence),
        T(test_cli_errors_named),
        T(test_cli_validate),
        T(test_cli_dump_roundtrip),
        T(test_cli_dump_roundtrip_hash_in_path),
        T(test_cli_usage_lists_options),
        T(test_cli_table_checkpoint_roundtrip),
        T(test_cli_table_resume_refuses),
    };
#undef T
    return dnn_test_run("test_cli", suite_init, suite_clean, tests, sizeof tests / sizeof tests[0]);
}
