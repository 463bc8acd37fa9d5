/*
 * args.h - the command-line loop of dnn-predict and dnn-export (getopt_long
 * with dnn's messages).  Internal: not installed.
 */
#ifndef DNN_ARGS_H
#define DNN_ARGS_H

#include <getopt.h>

/*
 * The next option of argv among lo (and -h): its value as getopt_long gives
 * it (optarg set), or -1 once every argument is read.  An unknown option, a
 * missing value or an argument that is no option is reported on stderr as
 * "PROG: ... 'ARG' (see --help)" and gives '?': the program then exits 1.
 */
int dnn_args_next(const char *prog, int argc, char **argv, const struct option *lo);

#endif
