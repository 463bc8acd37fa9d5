/*
 * atomic.h - every file dnn writes appears whole or not at all (README, What
 * happens when things go wrong).  Internal: not installed.
 *
 * A file NAME is written as NAME.tmp in the same folder; dnn_atomic_commit
 * fsyncs it, closes it, renames it over NAME and fsyncs the folder, so a
 * crash or a full disk leaves either the previous NAME or the new one.  On
 * any failure NAME.tmp is removed and NAME is untouched.
 *
 *   dnn_atomic_t a;                          a text file:
 *   if (dnn_atomic_open(&a, "--output file", path, 1, msg)) return ...;
 *   fprintf(a.f, ...);                       (a memory stream: written out at the commit)
 *   return dnn_atomic_commit(&a, msg);       (dnn_atomic_abort(&a) to give up)
 *
 * An HDF5 file: dnn_atomic_open(..., 0, msg), H5Fcreate(a.tmp) ... H5Fclose,
 * then dnn_atomic_commit.  A buffer: dnn_atomic_save.
 */
#ifndef DNN_ATOMIC_H
#define DNN_ATOMIC_H

#include <stdio.h>

#define DNN_ATOMIC_PATH 4096 /* longest NAME, with its terminating zero */

typedef struct {
    const char *what;              /* what the file is, for messages: "checkpoint", "--onnx file" ... */
    char path[DNN_ATOMIC_PATH];    /* NAME */
    char tmp[DNN_ATOMIC_PATH + 4]; /* NAME.tmp */
    FILE *f;                       /* stdio: the memory stream the caller writes to, else NULL */
    char *buf;                     /* the memory stream's bytes */
    size_t len;
    int made;                      /* tmp may exist: remove it on failure */
} dnn_atomic_t;

/* Start writing path.  With stdio, a->f is a memory stream for the file's
 * bytes; without, the caller creates a->tmp itself (HDF5) and closes it
 * before the commit.  Returns 0, or DNN_EINVAL (path too long) / DNN_ENOMEM
 * with a message naming the file; nothing to clean up then. */
int dnn_atomic_open(dnn_atomic_t *a, const char *what, const char *path, int stdio, char *msg);

/* (stdio: write the stream's bytes to NAME.tmp,) fsync and close NAME.tmp,
 * rename it over NAME, fsync the folder.  Returns 0, or DNN_EIO with a
 * message naming the file, the step and the error (the temp file is removed,
 * NAME keeps its previous bytes).  a is released either way. */
int dnn_atomic_commit(dnn_atomic_t *a, char *msg);

/* Give up: release a and remove NAME.tmp. */
void dnn_atomic_abort(dnn_atomic_t *a);

/* The whole file from one buffer: open, write, commit. */
int dnn_atomic_save(const char *what, const char *path, const void *buf, size_t len, char *msg);

#endif
