/*
 * output.h - proving, before a run starts, that the files it will write can be
 * written (README, What happens when things go wrong), so that a typo in a path costs seconds, not the run.
 */
#ifndef DNN_OUTPUT_H
#define DNN_OUTPUT_H

#include "dnn/common.h"

/*
 * Check that PATH, the value of OPTION (e.g. "--checkpoint"), can be written:
 * PATH is not a folder, is writable when it exists, and PATH.tmp can be
 * created in its folder (and is removed again; a PATH.tmp that already
 * exists is opened for writing and left alone).  An empty PATH (option not
 * given) is fine.  Not collective: a distributed program calls it on rank 0
 * and agrees on the result.  On failure the message names the option, the
 * path and the reason ("--metrics 'runs/m.csv': folder 'runs' does not
 * exist").  Returns 0 or DNN_EIO.
 */
int dnn_output_check(const char *option, const char *path, char *msg);

#endif
