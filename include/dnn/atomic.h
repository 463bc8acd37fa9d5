/*
 * atomic.h - every file dnn writes appears whole or not at all (README, What
 * happens when things go wrong).  Internal: not installed.
 *
 * A file NAME is written as NAME.tmp in the same folder; dnn_atomic_commit
 * flushes it, fsyncs it, closes it, renames it over NAME and fsyncs the
 * folder, so a crash or a full disk leaves either the previous NAME or the
 * new one.  On any failure NAME.tmp is removed and NAME is untouched.
 *
 *   dnn_atomic_t a;
 *   if (dnn_atomic_open(&a, "predictions", path, 1, msg)) return DNN_EIO;
 *   fprintf(a.f, ...);                      (or H5Fcreate(a.tmp, ...) ... H5Fclose with stdio = 0)
 *   return dnn_atomic_commit(&a, msg);      (dnn_atomic_abort(&a) to give up)
 */
#ifndef DNN_ATOMIC_H
#define DNN_ATOMIC_H

#include <stdio.h>

#define DNN_ATOMIC_PATH 4096 /* longest NAME, with its terminating zero */

typedef struct {
    const char *what;                /* what the file is, for messages: "checkpoint", "--onnx file" ... */
    char path[DNN_ATOMIC_PATH];      /* NAME */
    char tmp[DNN_ATOMIC_PATH + 4];   /* NAME.tmp */
    FILE *f;                         /* the stream on NAME.tmp (stdio = 1), or NULL */
} dnn_atomic_t;

/* Start writing path: with stdio, a->f is NAME.tmp opened for writing ("wb");
 * without, the caller creates a->tmp itself (HDF5) and closes it before the
 * commit.  Returns 0, or DNN_EINVAL (path too long) / DNN_EIO with a message
 * naming the file; nothing to clean up then. */
int dnn_atomic_open(dnn_atomic_t *a, const char *what, const char *path, int stdio, char *msg);

/* Flush, fsync and close NAME.tmp, rename it over NAME, fsync the folder.
 * Returns 0, or DNN_EIO with a message naming the file and the error (the
 * temp file is removed, NAME keeps its previous bytes). */
int dnn_atomic_commit(dnn_atomic_t *a, char *msg);

/* Give up: close the stream (if any) and remove NAME.tmp. */
void dnn_atomic_abort(dnn_atomic_t *a);

#endif
