/*
 * cli.c - option table, command line, config file, help and config dump.
 *
 * Each option is one row: name, kind, where it is stored, default, help.
 * The command line, config keys and the dump all come from this table, so a
 * config file and the equivalent command line cannot drift apart.
 */
#include "dnn/cli.h"

#include "dnn/bn.h"
#include "dnn/checkpoint.h"
#include "dnn/optim.h"
#include "dnn/report.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_STR, K_LONG, K_DBL, K_FLAG, K_ENUM, K_LAYERS, K_OPTDBL } kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    size_t off, size; /* field and, for strings, its capacity */
    const char *def;
    const char *choices; /* K_ENUM: comma-separated names in enum order */
    const char *metavar;
    const char *help;
    int group;
    const char *ckpt; /* the checkpoint attribute that stores it ("group/name" in a group), or NULL */
    int match;        /* MATCH: --resume refuses a checkpoint stored with another value */
} opt_t;

#define MATCH 1

#define F(field) offsetof(dnn_options_t, field), sizeof(((dnn_options_t *)0)->field)

enum { G_DATA, G_MODEL, G_TRAIN, G_OPTIM, G_DEV, G_OUT, G_RUN };
static const char *const group_names[] = {"Data", "Model", "Training",
                                          "Optimizer, regularization and learning-rate decay (course 2)",
                                          "Dev set and early stopping", "Output and checkpoints", "Run"};

static const opt_t opts[] = {
    {"data", K_STR, F(data), "", NULL, "FILE", "HDF5 file holding the training set", G_DATA, NULL, 0},
    {"x", K_STR, F(x), "train_x", NULL, "NAME", "dataset of inputs X", G_DATA, NULL, 0},
    {"y", K_STR, F(y), "train_y", NULL, "NAME", "dataset of labels Y", G_DATA, NULL, 0},
    {"layout", K_ENUM, F(layout), "examples-first", "examples-first,features-first", "L",
     "examples-first: X is (m, d1, d2, ...) as h5py writes numpy arrays; features-first: X is (n_x, m)", G_DATA, NULL, 0},
    {"scale", K_DBL, F(scale), "1", NULL, "S", "multiply X by S (1/255 = 0.00392156862745098 for 8-bit pixels)", G_DATA, "scale", MATCH},
    {"standardize", K_FLAG, F(standardize), "false", NULL, NULL,
     "subtract the per-feature mean and divide by the std, over the whole training set", G_DATA, "standardize", MATCH},
    {"binary-threshold", K_OPTDBL, F(binary_threshold), "", NULL, "T",
     "sigmoid output: label = (y >= T), e.g. 5 to split 10 classes in two", G_DATA, "binary_threshold", MATCH},
    {"test", K_STR, F(test), "", NULL, "FILE", "HDF5 file holding a test set (evaluated at each print and the end)", G_DATA, NULL, 0},
    {"test-x", K_STR, F(test_x), "test_x", NULL, "NAME", "test inputs", G_DATA, NULL, 0},
    {"test-y", K_STR, F(test_y), "test_y", NULL, "NAME", "test labels", G_DATA, NULL, 0},

    {"layers", K_LAYERS, offsetof(dnn_options_t, layers), 0, "", NULL, "N1,N2,...",
     "hidden layer sizes; empty = logistic regression (one neuron)", G_MODEL, NULL, 0},
    {"hidden-activation", K_ENUM, F(hidden), "relu", "sigmoid,tanh,relu,leaky_relu,linear", "G",
     "activation of the hidden layers", G_MODEL, NULL, 0},
    {"leaky-slope", K_DBL, F(leaky_slope), "0.01", NULL, "A", "slope of leaky_relu for z < 0", G_MODEL, "leaky_slope", 0},
    {"output", K_ENUM, F(output), "sigmoid", "sigmoid,tanh,relu,leaky_relu,linear,softmax", "G",
     "output layer: sigmoid (binary cross-entropy), softmax (categorical cross-entropy), linear (squared error)",
     G_MODEL, NULL, 0},
    {"classes", K_LONG, F(classes), "0", NULL, "K", "softmax classes (0 = largest label + 1)", G_MODEL, NULL, 0},
    {"init", K_ENUM, F(init), "he", "zeros,normal,sqrt,he,xavier", "I",
     "weights: zeros, normal (randn*scale), sqrt (randn/sqrt(n[l-1])), he (randn*sqrt(2/n[l-1])), xavier "
     "(randn*sqrt(1/n[l-1])); biases start at 0", G_MODEL, NULL, 0},
    {"init-scale", K_DBL, F(init_scale), "0.01", NULL, "S", "scale for --init normal", G_MODEL, NULL, 0},
    {"rng", K_ENUM, F(rng), "default", "default,numpy", "R",
     "numpy: initial weights bit-identical to np.random.seed(S); np.random.randn(n[l], n[l-1])", G_MODEL, "rng", 0},
    {"seed", K_LONG, F(seed), "1", NULL, "S", "random seed (init and mini-batch shuffles)", G_MODEL, "seed", 0},
    {"shuffle-seed", K_LONG, F(shuffle_seed), "-1", NULL, "S",
     "seed of the mini-batch order (-1 = --seed); with --rng numpy epoch e = 1, 2, ... uses "
     "np.random.seed(S + e); np.random.permutation(m), the course's random_mini_batches", G_MODEL, NULL, 0},
    {"precision", K_ENUM, F(precision), "single", "single,double,bf16", "P",
     "float32 (sgemm), float64 (dgemm), or bf16: float32 parameters and sums, the large products on bfloat16 "
     "operands (oneDNN; needs a CPU with AVX512_BF16)", G_MODEL, "precision", MATCH},

    {"init-from", K_STR, F(init_from), "", NULL, "CKPT",
     "transfer learning: start from a trained checkpoint; its leading layers whose shapes match (or the first "
     "--transfer-layers) take its W, b, the rest --init; its input preprocessing is kept", G_MODEL, NULL, 0},
    {"transfer-layers", K_LONG, F(transfer_layers), "0", NULL, "K",
     "take exactly layers 1..K from --init-from (0 = every leading layer whose shape matches)", G_MODEL, NULL, 0},
    {"freeze", K_LONG, F(freeze), "0", NULL, "K",
     "never update layers 1..K (transferred by --init-from); their outputs are computed once and the steps run "
     "layers K+1..L only (without --keep-prob)", G_MODEL, NULL, 0},
    {"batch-norm", K_FLAG, F(batch_norm), "false", NULL, NULL,
     "batch normalization of every hidden layer (not the output): z_norm = (z - mu) / sqrt(var + E) over the step's "
     "batch on all ranks, A = g(gamma z_norm + beta); b[l] is dropped, gamma starts at 1 and beta at 0; evaluation "
     "and prediction use the running mean and var (README, Batch normalization)", G_MODEL, "batch_norm", MATCH},
    {"bn-momentum", K_DBL, F(bn_momentum), "0.9", NULL, "B",
     "--batch-norm: after each step running = B running + (1-B) batch, for the mean and the (biased) var; "
     "0 <= B < 1 (PyTorch's momentum is 1-B)", G_MODEL, "bn_momentum", 0},
    {"bn-epsilon", K_DBL, F(bn_epsilon), "1e-5", NULL, "E", "--batch-norm: the E of sqrt(var + E); E > 0", G_MODEL, "bn_epsilon", 0},

    {"lr", K_DBL, F(lr), "0.0075", NULL, "A", "learning rate alpha", G_TRAIN, "learning_rate", 0},
    {"iterations", K_LONG, F(iterations), "2500", NULL, "N", "gradient-descent steps in the whole run", G_TRAIN, NULL, 0},
    {"epochs", K_LONG, F(epochs), "0", NULL, "N", "passes over the data instead of --iterations", G_TRAIN, NULL, 0},
    {"batch-size", K_LONG, F(batch_size), "0", NULL, "B", "examples per step over all ranks; 0 = full batch", G_TRAIN, "batch_size", 0},
    {"deterministic", K_FLAG, F(deterministic), "false", NULL, NULL,
     "bitwise-identical results for any number of ranks and threads, also across a resume on another N "
     "(mini-batch: each group of 64 batch positions summed on one rank, the groups added exactly as fixed point)",
     G_TRAIN, "deterministic", 0},

    {"optimizer", K_ENUM, F(optimizer), "gd", "gd,momentum,rmsprop,adam,adamw", "O",
     "update rule: gd (W -= lr dW), momentum, rmsprop, adam, adamw (adam + decoupled --weight-decay)", G_OPTIM, "optimizer/name", MATCH},
    {"beta1", K_DBL, F(beta1), "0.9", NULL, "B1", "momentum and adam: v = B1 v + (1-B1) dW; 0 <= B1 < 1", G_OPTIM, "optimizer/beta1", 0},
    {"beta2", K_DBL, F(beta2), "0.999", NULL, "B2", "rmsprop and adam: s = B2 s + (1-B2) dW^2; 0 <= B2 < 1", G_OPTIM, "optimizer/beta2", 0},
    {"epsilon", K_DBL, F(epsilon), "1e-8", NULL, "E", "rmsprop and adam: W -= lr v / (sqrt(s) + E)", G_OPTIM, "optimizer/epsilon", 0},
    {"weight-decay", K_DBL, F(weight_decay), "0", NULL, "WD", "adamw only: after the adam step W -= lr WD W (not b)",
     G_OPTIM, "optimizer/weight_decay", 0},
    {"l2", K_DBL, F(l2), "0", NULL, "LAMBDA",
     "L2 regularization (the course's lambd): J += (LAMBDA/2m) sum ||W[l]||^2, dW += (LAMBDA/m) W", G_OPTIM, "l2", 0},
    {"keep-prob", K_DBL, F(keep_prob), "1", NULL, "P",
     "inverted dropout on the hidden layers while training: keep each unit with probability P, 0 < P <= 1; 1 = off",
     G_OPTIM, "keep_prob", 0},
    {"clip-norm", K_DBL, F(clip_norm), "0", NULL, "C",
     "scale the gradient by C/||g|| when its 2-norm over all dW, db exceeds C; 0 = off", G_OPTIM, "clip_norm", 0},
    {"lr-decay", K_ENUM, F(lr_decay), "none", "none,inverse,exponential,step,cosine", "D",
     "learning-rate decay by epoch: inverse lr/(1+R epoch), exponential lr R^epoch, step lr/(1+R floor(epoch/E)), "
     "cosine lr (1+cos(pi k/total))/2", G_OPTIM, "lr_decay", 0},
    {"decay-rate", K_DBL, F(decay_rate), "1", NULL, "R", "the R of --lr-decay", G_OPTIM, "decay_rate", 0},
    {"decay-every", K_LONG, F(decay_every), "1", NULL, "E", "the E of --lr-decay step, in epochs", G_OPTIM, "decay_every", 0},

    {"validation-split", K_DBL, F(validation_split), "0", NULL, "F",
     "hold out a fraction F of the training examples as a dev set (chosen by a hash of seed and index)", G_DEV, "validation_split", MATCH},
    {"validation", K_STR, F(validation), "", NULL, "FILE", "HDF5 file holding a dev set instead", G_DEV, NULL, 0},
    {"validation-x", K_STR, F(validation_x), "val_x", NULL, "NAME", "dev-set inputs", G_DEV, NULL, 0},
    {"validation-y", K_STR, F(validation_y), "val_y", NULL, "NAME", "dev-set labels", G_DEV, NULL, 0},
    {"early-stopping", K_LONG, F(early_stopping), "0", NULL, "K",
     "stop when the dev-set cost has not improved for K records; 0 = off", G_DEV, NULL, 0},
    {"report", K_STR, F(report), "", NULL, "FILE",
     "at the end, the error analysis of the dev set (.md or .json): confusion matrix, precision, recall, F1 "
     "per class and averaged, as dnn-predict --report", G_DEV, NULL, 0},
    {"best-checkpoint", K_STR, F(best_checkpoint), "", NULL, "FILE.h5",
     "write the parameters with the best dev-set cost here (atomically, when it improves)", G_DEV, NULL, 0},

    {"print-every", K_LONG, F(print_every), "100", NULL, "K", "record and print the cost every K iterations", G_OUT, NULL, 0},
    {"metrics", K_STR, F(metrics), "", NULL, "FILE.csv", "write the recorded costs and accuracies as CSV", G_OUT, NULL, 0},
    {"checkpoint", K_STR, F(checkpoint), "", NULL, "FILE.h5", "HDF5 checkpoint, written atomically at the end", G_OUT, NULL, 0},
    {"checkpoint-every", K_LONG, F(checkpoint_every), "0", NULL, "K", "also write the checkpoint every K iterations", G_OUT, NULL, 0},
    {"resume", K_FLAG, F(resume), "false", NULL, NULL, "continue from --checkpoint (any number of ranks)", G_OUT, NULL, 0},

    {"gradient-check", K_FLAG, F(gradient_check), "false", NULL, NULL,
     "check backprop of the configured network (with --l2 and fixed --keep-prob masks) against central "
     "differences (epsilon 1e-7) on the first 64 examples, in double, and exit: "
     "0 when the course's difference is below 1e-7, else 1",
     G_RUN, NULL, 0},
    {"threads", K_LONG, F(threads), "0", NULL, "T", "BLAS threads per rank (0 = cores / ranks on the node)", G_RUN, NULL, 0},
    {"comm-overlap", K_ENUM, F(comm_overlap), "thread", "thread,test,off", "MODE",
     "several ranks: sum gradient buckets over the ranks while backward runs, moved on by a progress thread "
     "(thread) or by MPI_Test calls between products (test); off = one allreduce after backward (bitwise the same with --deterministic)",
     G_RUN, NULL, 0},
    {"comm-precision", K_ENUM, F(comm_precision), "float32", "float32,bf16", "P",
     "several ranks: bf16 sends the gradient sums as bfloat16 (half the bytes; added in float32, rounded to bf16 "
     "at each combine, about 3 significant digits); only for float32 sums: --batch-size > 0, no --deterministic, "
     "not --precision double", G_RUN, NULL, 0},
    {"quiet", K_FLAG, F(quiet), "false", NULL, NULL, "print only the final line and errors", G_RUN, NULL, 0},
    {"verbose", K_FLAG, F(verbose), "false", NULL, NULL, "print set-up details", G_RUN, NULL, 0},
    {"config", K_STR, F(config), "", NULL, "FILE", "read options from FILE (key = value); the command line wins", G_RUN, NULL, 0},
    {"help", K_FLAG, F(help), "false", NULL, NULL, "show this help", G_RUN, NULL, 0},
};
#define NOPTS (sizeof opts / sizeof opts[0])

static const opt_t *find(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(opts[i].name, name) == 0)
            return &opts[i];
    return NULL;
}

static int parse_long(const char *s, long *v)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *v = x;
    return 0;
}

static int parse_double(const char *s, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno == ERANGE || end == s || *end)
        return -1;
    *v = x;
    return 0;
}

static int parse_layers(dnn_options_t *o, const char *s, const char *key, char *msg)
{
    o->n_layers = 0;
    const char *p = s;
    while (*p == ' ')
        p++;
    if (!*p)
        return 0;
    for (;;) {
        char *end;
        errno = 0;
        if (!isdigit((unsigned char)*p))
            return dnn_fail(msg, DNN_EINVAL, "%s: '%s' is not a comma-separated list of layer sizes", key, s);
        unsigned long long v = strtoull(p, &end, 10);
        if (errno)
            return dnn_fail(msg, DNN_EINVAL, "%s: layer size in '%s' is too large", key, s);
        if (v == 0)
            return dnn_fail(msg, DNN_EINVAL, "%s: layer sizes must be >= 1, got 0 in '%s'", key, s);
        if (v > INT_MAX) /* named as typed, with the course's name of the layer */
            return dnn_fail(msg, DNN_EINVAL, "%s %s: layer size %llu is larger than BLAS can index (at most %d) "
                            "[n[%d] = %llu]", key, s, v, INT_MAX, o->n_layers + 1, v);
        if (o->n_layers >= DNN_MAX_LAYERS - 1)
            return dnn_fail(msg, DNN_EINVAL, "%s: at most %d hidden layers", key, DNN_MAX_LAYERS - 1);
        o->layers[o->n_layers++] = (size_t)v;
        p = end;
        while (*p == ' ')
            p++;
        if (!*p)
            return 0;
        if (*p != ',')
            return dnn_fail(msg, DNN_EINVAL, "%s: '%s' is not a comma-separated list of layer sizes", key, s);
        p++;
        while (*p == ' ')
            p++;
    }
}

static int set(dnn_options_t *o, const opt_t *op, const char *value, const char *where, char *msg)
{
    char key[DNN_PATH_MAX + 300];
    snprintf(key, sizeof key, "%s%s%s", where ? where : "--", where ? ": " : "", op->name);
    void *field = (char *)o + op->off;
    switch (op->kind) {
    case K_STR:
        if (strlen(value) >= op->size)
            return dnn_fail(msg, DNN_EINVAL, "%s: value is too long (%zu characters)", key, strlen(value));
        strcpy(field, value);
        return 0;
    case K_LONG:
        if (parse_long(value, field))
            return dnn_fail(msg, DNN_EINVAL, "%s: '%s' is not an integer", key, value);
        if (strcmp(op->name, "iterations") == 0)
            o->iterations_set = 1, o->epochs_set = 0;
        if (strcmp(op->name, "epochs") == 0)
            o->epochs_set = 1, o->iterations_set = 0;
        return 0;
    case K_DBL:
        if (parse_double(value, field))
            return dnn_fail(msg, DNN_EINVAL, "%s: '%s' is not a number", key, value);
        return 0;
    case K_OPTDBL:
        if (!*value) {
            *(double *)field = NAN;
            return 0;
        }
        if (parse_double(value, field))
            return dnn_fail(msg, DNN_EINVAL, "%s: '%s' is not a number", key, value);
        return 0;
    case K_FLAG:
        if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes") || !strcmp(value, "on"))
            *(int *)field = 1;
        else if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no") || !strcmp(value, "off"))
            *(int *)field = 0;
        else
            return dnn_fail(msg, DNN_EINVAL, "%s: '%s' is not true or false", key, value);
        return 0;
    case K_ENUM: {
        const char *c = op->choices;
        for (int i = 0; *c; i++) {
            size_t len = strcspn(c, ",");
            if (strlen(value) == len && strncmp(c, value, len) == 0) {
                *(int *)field = i;
                return 0;
            }
            c += len + (c[len] == ',');
        }
        return dnn_fail(msg, DNN_EINVAL, "%s: unknown value '%s' (choose one of: %s)", key, value, op->choices);
    }
    case K_LAYERS:
        return parse_layers(o, value, key, msg);
    }
    return DNN_EINVAL;
}

void dnn_cli_defaults(dnn_options_t *o)
{
    memset(o, 0, sizeof *o);
    char msg[DNN_MSG_LEN];
    for (size_t i = 0; i < NOPTS; i++)
        set(o, &opts[i], opts[i].def ? opts[i].def : "", NULL, msg);
    o->iterations_set = o->epochs_set = 0;
}

int dnn_cli_set(dnn_options_t *o, const char *key, const char *value, char *msg)
{
    const opt_t *op = find(key);
    if (!op)
        return dnn_fail(msg, DNN_EINVAL, "unknown option '%s'", key);
    return set(o, op, value, NULL, msg);
}

int dnn_cli_parse_config_text(dnn_options_t *o, const char *text, const char *name, char *msg)
{
    int lineno = 0;
    const char *p = text;
    char line[DNN_PATH_MAX + 256];
    while (*p) {
        size_t len = strcspn(p, "\n");
        lineno++;
        if (len >= sizeof line)
            return dnn_fail(msg, DNN_EINVAL, "%s:%d: line is too long", name, lineno);
        memcpy(line, p, len);
        line[len] = 0;
        p += len + (p[len] == '\n');
        /* '#' starts a comment at the start of a line or after white space, so a
         * value such as runs/run#1.h5 survives a dump and re-read */
        for (char *h = line; *h; h++)
            if (*h == '#' && (h == line || isspace((unsigned char)h[-1]))) {
                *h = 0;
                break;
            }
        char *s = line, *e;
        while (isspace((unsigned char)*s))
            s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
            *--e = 0;
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq)
            return dnn_fail(msg, DNN_EINVAL, "%s:%d: expected 'key = value', got '%s'", name, lineno, s);
        char *k = s, *ke = eq, *v = eq + 1;
        while (ke > k && isspace((unsigned char)ke[-1]))
            ke--;
        *ke = 0;
        while (isspace((unsigned char)*v))
            v++;
        const opt_t *op = find(k);
        if (!op || !strcmp(k, "config") || !strcmp(k, "help"))
            return dnn_fail(msg, DNN_EINVAL, "%s:%d: unknown key '%s'", name, lineno, k);
        char where[DNN_PATH_MAX + 32];
        snprintf(where, sizeof where, "%s:%d", name, lineno);
        int rc = set(o, op, v, where, msg);
        if (rc)
            return rc;
    }
    return 0;
}

int dnn_cli_read_config(dnn_options_t *o, const char *path, char *msg)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return dnn_fail(msg, DNN_EIO, "--config: cannot open '%s': %s", path, strerror(errno));
    char *buf = malloc(1 << 20);
    if (!buf) {
        fclose(f);
        return dnn_fail(msg, DNN_ENOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    int big = !feof(f), err = ferror(f);
    fclose(f);
    buf[n] = 0;
    int rc;
    if (err)
        rc = dnn_fail(msg, DNN_EIO, "--config: cannot read '%s'", path);
    else if (big)
        rc = dnn_fail(msg, DNN_EINVAL, "--config: '%s' is larger than 1 MiB", path);
    else if (memchr(buf, 0, n))
        rc = dnn_fail(msg, DNN_EINVAL, "--config: '%s' is not a text file (it contains NUL bytes)", path);
    else
        rc = dnn_cli_parse_config_text(o, buf, path, msg);
    free(buf);
    return rc;
}

int dnn_cli_parse(dnn_options_t *o, int argc, char **argv, char *msg)
{
    struct option lo[NOPTS + 1];
    for (size_t i = 0; i < NOPTS; i++) {
        lo[i].name = opts[i].name;
        lo[i].has_arg = opts[i].kind == K_FLAG ? no_argument : required_argument;
        lo[i].flag = NULL;
        lo[i].val = 1000 + (int)i;
    }
    memset(&lo[NOPTS], 0, sizeof lo[0]);
    /* Pass 1 finds --config (also abbreviated, as getopt_long allows) and
     * applies the file; pass 2 applies the command line, which therefore wins. */
    int c, idx;
    optind = 0; /* 0, not 1: glibc's getopt then forgets any earlier argv */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", lo, &idx)) != -1) {
        if (c >= 1000 && strcmp(opts[c - 1000].name, "config") == 0) {
            int rc = dnn_cli_read_config(o, optarg, msg);
            if (rc)
                return rc;
            if (strlen(optarg) >= sizeof o->config)
                return dnn_fail(msg, DNN_EINVAL, "--config: path is too long");
            strcpy(o->config, optarg);
        }
    }
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", lo, &idx)) != -1) {
        if (c == 'h') {
            o->help = 1;
            continue;
        }
        if (c == '?' || c == ':') {
            if (optopt >= 1000 && optopt < 1000 + (int)NOPTS)
                return dnn_fail(msg, DNN_EINVAL, "option --%s needs a value", opts[optopt - 1000].name);
            if (optopt > 0 && optopt < 256) /* a short option, possibly inside a bundle like -qh */
                return dnn_fail(msg, DNN_EINVAL, "unknown option '-%c' (options are long, like --quiet; see --help)",
                                optopt);
            const char *bad = optind > 0 && optind <= argc ? argv[optind - 1] : NULL;
            return dnn_fail(msg, DNN_EINVAL, "unknown or ambiguous option '%s' (see --help)", bad ? bad : "?");
        }
        const opt_t *op = &opts[c - 1000];
        int rc = set(o, op, op->kind == K_FLAG ? "true" : optarg, NULL, msg);
        if (rc)
            return rc;
    }
    if (optind < argc)
        return dnn_fail(msg, DNN_EINVAL, "unexpected argument '%s' (options start with --; see --help)", argv[optind]);
    return 0;
}

static size_t dump_value(const dnn_options_t *o, const opt_t *op, char *buf, size_t len)
{
    const void *field = (const char *)o + op->off;
    switch (op->kind) {
    case K_STR: return (size_t)snprintf(buf, len, "%s", (const char *)field);
    case K_LONG: return (size_t)snprintf(buf, len, "%ld", *(const long *)field);
    case K_DBL: return (size_t)snprintf(buf, len, "%.17g", *(const double *)field);
    case K_OPTDBL:
        return isnan(*(const double *)field) ? (buf && len ? (buf[0] = 0, 0) : 0)
                                              : (size_t)snprintf(buf, len, "%.17g", *(const double *)field);
    case K_FLAG: return (size_t)snprintf(buf, len, "%s", *(const int *)field ? "true" : "false");
    case K_ENUM: {
        const char *c = op->choices;
        for (int i = 0; i < *(const int *)field && *c; i++)
            c += strcspn(c, ",") + 1;
        return (size_t)snprintf(buf, len, "%.*s", (int)strcspn(c, ","), c);
    }
    case K_LAYERS: {
        size_t n = 0;
        if (len)
            buf[0] = 0;
        for (int i = 0; i < o->n_layers; i++)
            n += (size_t)snprintf(buf ? buf + (n < len ? n : len) : NULL, n < len ? len - n : 0, "%s%zu",
                                  i ? "," : "", o->layers[i]);
        return n;
    }
    }
    return 0;
}

size_t dnn_cli_dump_string(const dnn_options_t *o, char *buf, size_t len)
{
    size_t n = 0;
    char val[DNN_PATH_MAX + 64];
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_t *op = &opts[i];
        if (!strcmp(op->name, "config") || !strcmp(op->name, "help") || !strcmp(op->name, "resume"))
            continue;
        if ((!strcmp(op->name, "iterations") && o->epochs_set) || (!strcmp(op->name, "epochs") && !o->epochs_set))
            continue;
        dump_value(o, op, val, sizeof val);
        n += (size_t)snprintf(buf ? buf + (n < len ? n : len) : NULL, n < len ? len - n : 0, "%s = %s\n", op->name, val);
    }
    return n;
}

void dnn_cli_dump(const dnn_options_t *o, FILE *f)
{
    size_t n = dnn_cli_dump_string(o, NULL, 0);
    char *buf = malloc(n + 1);
    if (!buf)
        return;
    dnn_cli_dump_string(o, buf, n + 1);
    fputs(buf, f);
    free(buf);
}

void dnn_cli_usage(FILE *f)
{
    fprintf(f,
            "Usage: dnn-train --data FILE [options]\n"
            "       mpirun -np N dnn-train --data FILE [options]\n\n"
            "Trains a fully connected network (logistic regression, shallow or deep) by\n"
            "gradient descent, data-parallel over MPI ranks. Notation as in the course:\n"
            "examples are columns, W[l] is (n[l], n[l-1]), the cost J is printed every\n"
            "--print-every iterations, and the last line is `final iterations=... cost=...`.\n");
    for (int g = G_DATA; g <= G_RUN; g++) {
        fprintf(f, "\n%s:\n", group_names[g]);
        for (size_t i = 0; i < NOPTS; i++) {
            const opt_t *op = &opts[i];
            if (op->group != g)
                continue;
            char head[96];
            if (op->kind == K_ENUM)
                snprintf(head, sizeof head, "--%s %s", op->name, op->choices);
            else
                snprintf(head, sizeof head, "--%s%s%s", op->name, op->metavar ? " " : "",
                         op->metavar ? op->metavar : "");
            for (char *c = head; *c; c++)
                if (op->kind == K_ENUM && *c == ',')
                    *c = '|';
            fprintf(f, "  %-36s %s", head, op->help);
            if (op->def && *op->def && op->kind != K_FLAG)
                fprintf(f, " [%s]", op->def);
            fputc('\n', f);
        }
    }
    fprintf(f,
            "\nA config file holds the same keys as `key = value` lines (# starts a comment);\n"
            "options given on the command line win.\n"
            "\nExamples:\n"
            "  # logistic regression, then one tanh hidden layer of 4 units, on the planar set\n"
            "  dnn-planar planar.h5\n"
            "  dnn-train --data planar.h5 --x X --y Y --lr 1.2 --iterations 10000\n"
            "  dnn-train --data planar.h5 --x X --y Y --layers 4 --hidden-activation tanh \\\n"
            "            --init normal --lr 1.2 --iterations 10000\n\n"
            "  # a deep network on Fashion-MNIST (10 classes), 2 ranks, checkpointed\n"
            "  dnn-fashion-mnist fmnist.h5\n"
            "  mpirun -np 2 dnn-train --data fmnist.h5 --scale 0.00392156862745098 --layers 256,128 \\\n"
            "            --output softmax --lr 0.1 --batch-size 256 --epochs 10 --test fmnist.h5 \\\n"
            "            --metrics fmnist.csv --checkpoint fmnist-ckpt.h5\n\n"
            "  # transfer learning: a new output layer on the two trained hidden layers, kept frozen\n"
            "  dnn-train --data new-task.h5 --layers 256,128 --output softmax --init-from fmnist-ckpt.h5 \\\n"
            "            --freeze 2 --validation-split 0.1 --report dev-errors.md --checkpoint new-ckpt.h5\n\n"
            "  # on a cluster: Slurm batch job with resume and requeue on preemption\n"
            "  DNN_ARGS='--data /scratch/fmnist.h5 --layers 256,128 --output softmax --epochs 50' \\\n"
            "      sbatch --nodes 2 --ntasks-per-node 8 launch/slurm/dnn-train.sbatch\n\n"
            "Exit status: 0 done; 1 error (message on stderr); 75 stopped by SIGTERM, SIGINT or\n"
            "SIGUSR1 after writing the checkpoint (run again with --resume).\n");
}

/* ---- the checkpoint's stored hyperparameters (README, Adding a hyperparameter) ---- */

static dnn_attr_type_t attr_type(const opt_t *op)
{
    return op->kind == K_LONG || op->kind == K_FLAG ? DNN_ATTR_I64 : op->kind == K_ENUM ? DNN_ATTR_STR : DNN_ATTR_F64;
}

size_t dnn_cli_ckpt_attrs(const dnn_options_t *o, dnn_ckpt_attr_t *a, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < NOPTS && n < cap; i++) {
        const opt_t *op = &opts[i];
        if (!op->ckpt)
            continue;
        const void *field = (const char *)o + op->off;
        dnn_ckpt_attr_t *t = &a[n++];
        memset(t, 0, sizeof *t);
        t->name = op->ckpt;
        t->type = attr_type(op);
        if (op->kind == K_LONG)
            t->i = *(const long *)field;
        else if (op->kind == K_FLAG)
            t->i = *(const int *)field;
        else if (op->kind == K_ENUM)
            dump_value(o, op, t->s, sizeof t->s);
        else
            t->d = *(const double *)field;
    }
    return n;
}

/* The stored value of a (read from a checkpoint) into o; 0, or DNN_EDATA for an unknown name. */
static int from_attr(dnn_options_t *o, const opt_t *op, const dnn_ckpt_attr_t *a, char *msg)
{
    void *field = (char *)o + op->off;
    if (op->kind == K_LONG)
        *(long *)field = (long)a->i;
    else if (op->kind == K_FLAG)
        *(int *)field = a->i != 0;
    else if (op->kind == K_ENUM)
        return set(o, op, a->s, "checkpoint attribute", msg) ? DNN_EDATA : 0;
    else
        *(double *)field = a->d;
    return 0;
}

int dnn_cli_from_ckpt(dnn_options_t *o, const dnn_ckpt_attr_t *a, size_t n, char *msg)
{
    for (size_t i = 0, k = 0; i < NOPTS && k < n; i++) {
        if (!opts[i].ckpt)
            continue;
        int rc = a[k].present && !strcmp(a[k].name, opts[i].ckpt) ? from_attr(o, &opts[i], &a[k], msg) : 0;
        k++;
        if (rc)
            return rc;
    }
    return 0;
}

int dnn_cli_resume_check(const dnn_options_t *o, const char *path, char *msg)
{
    dnn_ckpt_attr_t a[NOPTS];
    size_t n = dnn_cli_ckpt_attrs(o, a, NOPTS);
    dnn_options_t *st = malloc(sizeof *st); /* the options the checkpoint was trained with */
    if (!st)
        return dnn_fail(msg, DNN_ENOMEM, "out of memory");
    dnn_cli_defaults(st); /* an attribute an older file lacks has its default's meaning */
    int rc = dnn_checkpoint_read_attrs(path, a, n, msg);
    if (!rc)
        rc = dnn_cli_from_ckpt(st, a, n, msg);
    for (size_t i = 0; i < NOPTS && !rc; i++) {
        const opt_t *op = &opts[i];
        char want[DNN_PATH_MAX + 64], had[DNN_PATH_MAX + 64];
        if (!op->match)
            continue;
        dump_value(o, op, want, sizeof want);
        dump_value(st, op, had, sizeof had);
        if (strcmp(want, had))
            rc = dnn_fail(msg, DNN_EDATA, "checkpoint '%s' was trained with --%s %s; this run asks for --%s %s "
                          "(--resume continues the same training)", path, op->name, had[0] ? had : "(not given)",
                          op->name, want[0] ? want : "(not given)");
    }
    free(st);
    return rc;
}

const char *dnn_cli_option(size_t i, const char **ckpt, int *match, const char **choices)
{
    if (i >= NOPTS)
        return NULL;
    *ckpt = opts[i].ckpt;
    *match = opts[i].match;
    *choices = opts[i].kind == K_ENUM ? opts[i].choices : NULL;
    return opts[i].name;
}
