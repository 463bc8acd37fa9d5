/*
 * atomic.c - the one place where dnn replaces a file (README, What happens
 * when things go wrong).
 * Relies on POSIX rename() replacing the target atomically within one file
 * system: the temp file sits in the target's folder for that reason.  The
 * bytes of a text or stdio file are collected in memory and written with
 * write(2), so every step (and its errno) is this file's own.
 */
#include "dnn/atomic.h"

#include "dnn/common.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int dnn_atomic_open(dnn_atomic_t *a, const char *what, const char *path, int stdio, char *msg)
{
    memset(a, 0, sizeof *a);
    a->what = what;
    size_t n = strlen(path);
    if (n >= sizeof a->path)
        return dnn_fail(msg, DNN_EINVAL, "%s '%.200s...': the path is too long", what, path);
    memcpy(a->path, path, n + 1);
    memcpy(a->tmp, path, n);
    memcpy(a->tmp + n, ".tmp", 5);
    a->made = !stdio; /* the caller creates tmp itself */
    if (stdio && !(a->f = open_memstream(&a->buf, &a->len)))
        return dnn_fail(msg, DNN_ENOMEM, "out of memory for %s '%s'", what, path);
    return 0;
}

void dnn_atomic_abort(dnn_atomic_t *a)
{
    if (a->f)
        fclose(a->f);
    a->f = NULL;
    free(a->buf);
    a->buf = NULL;
    if (a->made)
        unlink(a->tmp);
    a->made = 0;
}

/* fsync of a file or folder by name; 0, or the errno. */
static int sync_path(const char *path, int folder)
{
    int fd = open(path, (folder ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int err = fsync(fd) != 0 ? errno : 0;
    if (close(fd) != 0 && !err)
        err = errno;
    return err;
}

/* Create tmp and write buf to it, fsync, close; 0, or the errno and its step in *step. */
static int write_tmp(dnn_atomic_t *a, const char *buf, size_t len, const char **step)
{
    *step = "create";
    int fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return errno;
    a->made = 1;
    *step = "write";
    int err = 0;
    for (size_t done = 0; done < len && !err;) {
        ssize_t w = write(fd, buf + done, len - done);
        if (w > 0)
            done += (size_t)w;
        else if (w < 0 && errno != EINTR)
            err = errno;
        else if (w == 0)
            err = EIO;
    }
    if (!err && fsync(fd) != 0) {
        err = errno;
        *step = "sync";
    }
    if (close(fd) != 0 && !err)
        err = errno;
    return err;
}

/* tmp is complete and synced unless err (the errno of step): rename it over
 * path and fsync the folder, or remove it and report. */
static int finish(dnn_atomic_t *a, int err, const char *step, char *msg)
{
    if (!err && rename(a->tmp, a->path) != 0) {
        err = errno;
        step = "rename";
    }
    if (err) {
        int kept = access(a->path, F_OK) == 0;
        int rc = dnn_fail(msg, DNN_EIO, "cannot %s %s '%s': %s%s%s%s", step, a->what, a->tmp, strerror(err),
                          kept ? "; the previous '" : "", kept ? a->path : "", kept ? "' is kept" : "");
        dnn_atomic_abort(a);
        return rc;
    }
    a->made = 0;
    dnn_atomic_abort(a); /* frees the buffer; tmp is now path */
    char dir[DNN_ATOMIC_PATH];
    memcpy(dir, a->path, sizeof dir);
    sync_path(dirname(dir), 1); /* makes the rename itself durable; best effort (the file is in place) */
    return 0;
}

int dnn_atomic_commit(dnn_atomic_t *a, char *msg)
{
    if (!a->f) /* the caller wrote and closed tmp */
        return finish(a, sync_path(a->tmp, 0), "sync", msg);
    int bad = ferror(a->f); /* the stream's bytes go to tmp now */
    bad |= fclose(a->f) != 0;
    a->f = NULL;
    const char *step = "collect";
    int err = bad ? ENOMEM : write_tmp(a, a->buf, a->len, &step);
    return finish(a, err, step, msg);
}

int dnn_atomic_save(const char *what, const char *path, const void *buf, size_t len, char *msg)
{
    dnn_atomic_t a;
    int rc = dnn_atomic_open(&a, what, path, 0, msg);
    if (rc)
        return rc;
    a.made = 0; /* write_tmp creates it */
    const char *step;
    int err = write_tmp(&a, buf, len, &step);
    return finish(&a, err, step, msg);
}
