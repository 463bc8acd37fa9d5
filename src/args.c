/*
 * args.c - the command-line loop of dnn-predict and dnn-export (args.h).
 */
#include "dnn/args.h"

#include <stdio.h>

int dnn_args_next(const char *prog, int argc, char **argv, const struct option *lo)
{
    opterr = 0; /* the messages are ours */
    int c = getopt_long(argc, argv, "h", lo, NULL);
    if (c == '?' || c == ':') {
        fprintf(stderr, "%s: unknown option or missing value: '%s' (see --help)\n", prog, argv[optind - 1]);
        return '?';
    }
    if (c == -1 && optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", prog, argv[optind]);
        return '?';
    }
    return c;
}
