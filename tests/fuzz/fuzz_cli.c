/*
 * fuzz_cli.c - libFuzzer target for dnn-train's option handling (src/cli.c).
 *
 * Every input is used twice:
 *   1. as a config file: a NUL-terminated copy goes to
 *      dnn_cli_parse_config_text, then dnn_cli_validate;
 *   2. as a command line: split at NUL and newline bytes into argv (argv[0] =
 *      "dnn-train", at most 64 words, each in its own malloc'ed block so that
 *      ASan sees any use after the call), then dnn_cli_parse and
 *      dnn_cli_validate on fresh defaults.
 * After a successful parse the configuration is dumped with
 * dnn_cli_dump_string, into an exact-size buffer and into a short one (which
 * must be truncated, never overrun).  When every string option is
 * representable in a config file (see representable()), the dump is parsed
 * again and must dump to the same text: cli.h promises that the dump "is a
 * valid config file".  A violation abort()s, so
 * libFuzzer records the input like a crash.
 *
 * A --config FILE on the command line makes dnn_cli_parse open FILE, so the
 * target runs in an empty directory (DNN_FUZZ_CWD, else a new one under /tmp)
 * and replaces '/' in every word: no file can be found, and no device or FIFO
 * can block a run.
 * Relies on: include/dnn/cli.h; built from src/cli.c, src/common.c and
 * src/activation.c (tests/fuzz/run_fuzz.sh).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnn/cli.h"

#define MAX_WORDS 64

static char cwd_dir[64];

static void leave_dir(void)
{
    if (cwd_dir[0])
        rmdir(cwd_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *given = getenv("DNN_FUZZ_CWD"); /* an empty directory chosen by run_fuzz.sh */
    if (given && *given) {
        if (chdir(given) != 0) {
            fprintf(stderr, "fuzz_cli: cannot enter DNN_FUZZ_CWD '%s'\n", given);
            abort();
        }
        return 0;
    }
    snprintf(cwd_dir, sizeof cwd_dir, "/tmp/dnn-fuzz-cwd-XXXXXX");
    if (!mkdtemp(cwd_dir) || chdir(cwd_dir) != 0) {
        fprintf(stderr, "fuzz_cli: cannot make an empty working directory\n");
        abort();
    }
    atexit(leave_dir);
    return 0;
}

/* Can `key = s` be read back as s?  Not with a newline, a leading or trailing
 * blank (trimmed), or a '#' that starts a comment: cli.c takes '#' as a
 * comment at the start of a value or after white space (runs/run#1.h5 is a
 * value, "a #b" is "a" and a comment). */
static int representable(const char *s)
{
    size_t n = strlen(s);
    if (strchr(s, '\n'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '#' && (i == 0 || isspace((unsigned char)s[i - 1])))
            return 0;
    return n == 0 || (!isspace((unsigned char)s[0]) && !isspace((unsigned char)s[n - 1]));
}

static int all_representable(const dnn_options_t *o)
{
    return representable(o->data) && representable(o->x) && representable(o->y) && representable(o->test) &&
           representable(o->test_x) && representable(o->test_y) && representable(o->metrics) &&
           representable(o->checkpoint);
}

static void check_dump(const dnn_options_t *o)
{
    char msg[DNN_MSG_LEN];
    size_t n = dnn_cli_dump_string(o, NULL, 0);
    char *a = malloc(n + 1);
    if (!a)
        return;
    size_t n2 = dnn_cli_dump_string(o, a, n + 1);
    if (n2 != n || strlen(a) != n) {
        fprintf(stderr, "fuzz_cli: dump length %zu, then %zu, strlen %zu\n", n, n2, strlen(a));
        abort();
    }
    /* a short buffer: truncated and NUL-terminated, never overrun */
    size_t k = n / 2 + 1;
    char *s = malloc(k);
    if (s) {
        dnn_cli_dump_string(o, s, k);
        if (strlen(s) >= k || memcmp(s, a, strlen(s)) != 0) {
            fprintf(stderr, "fuzz_cli: truncated dump is not a prefix of the full dump\n");
            abort();
        }
        free(s);
    }
    if (all_representable(o)) {
        dnn_options_t *b = malloc(sizeof *b);
        if (b) {
            dnn_cli_defaults(b);
            if (dnn_cli_parse_config_text(b, a, "dump", msg) != 0) {
                fprintf(stderr, "fuzz_cli: the dump does not parse back: %s\n--- dump:\n%s", msg, a);
                abort();
            }
            size_t m = dnn_cli_dump_string(b, NULL, 0);
            char *c = malloc(m + 1);
            if (c) {
                dnn_cli_dump_string(b, c, m + 1);
                if (m != n || strcmp(a, c) != 0) {
                    fprintf(stderr, "fuzz_cli: dump -> parse -> dump differs\n--- first:\n%s--- second:\n%s", a, c);
                    abort();
                }
                free(c);
            }
            free(b);
        }
    }
    free(a);
}

static void as_config(const uint8_t *data, size_t size)
{
    char msg[DNN_MSG_LEN];
    char *text = malloc(size + 1);
    dnn_options_t *o = malloc(sizeof *o);
    if (text && o) {
        memcpy(text, data, size);
        text[size] = 0;
        dnn_cli_defaults(o);
        if (dnn_cli_parse_config_text(o, text, "fuzz.cfg", msg) == 0) {
            dnn_cli_validate(o, msg);
            check_dump(o);
        }
    }
    free(text);
    free(o);
}

static void as_argv(const uint8_t *data, size_t size)
{
    char msg[DNN_MSG_LEN];
    char *argv[MAX_WORDS + 2];
    int argc = 0;
    argv[argc] = malloc(sizeof "dnn-train");
    if (!argv[argc])
        return;
    memcpy(argv[argc++], "dnn-train", sizeof "dnn-train");
    size_t i = 0; /* a separator at the very end does not start another (empty) word */
    while (i < size && argc < MAX_WORDS + 1) {
        size_t j = i;
        while (j < size && data[j] != 0 && data[j] != '\n')
            j++;
        char *w = malloc(j - i + 1);
        if (!w)
            break;
        for (size_t t = i; t < j; t++)
            w[t - i] = data[t] == '/' ? '_' : (char)data[t];
        w[j - i] = 0;
        argv[argc++] = w;
        i = j + 1;
    }
    argv[argc] = NULL;
    dnn_options_t *o = malloc(sizeof *o);
    if (o) {
        dnn_cli_defaults(o);
        if (dnn_cli_parse(o, argc, argv, msg) == 0) {
            dnn_cli_validate(o, msg);
            check_dump(o);
        }
        free(o);
    }
    for (int k = 0; k < argc; k++)
        free(argv[k]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_config(data, size);
    as_argv(data, size);
    return 0;
}
