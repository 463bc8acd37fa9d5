/*
 * atomic.c - the one place where dnn replaces a file (README, What happens
 * when things go wrong).
 * Relies on POSIX rename() replacing the target atomically within one file
 * system: the temp file sits in the target's folder for that reason.
 */
#include "dnn/atomic.h"

#include "dnn/common.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <unistd.h>

int dnn_atomic_open(dnn_atomic_t *a, const char *what, const char *path, int stdio, char *msg)
{
    a->what = what;
    a->f = NULL;
    a->tmp[0] = 0;
    size_t n = strlen(path);
    if (n >= sizeof a->path)
        return dnn_fail(msg, DNN_EINVAL, "%s '%.200s...': the path is too long", what, path);
    memcpy(a->path, path, n + 1);
    memcpy(a->tmp, path, n);
    memcpy(a->tmp + n, ".tmp", 5);
    if (!stdio)
        return 0;
    a->f = fopen(a->tmp, "wb");
    if (!a->f) {
        int rc = dnn_fail(msg, DNN_EIO, "cannot create %s '%s': %s", what, a->tmp, strerror(errno));
        a->tmp[0] = 0; /* nothing to remove */
        return rc;
    }
    return 0;
}

void dnn_atomic_abort(dnn_atomic_t *a)
{
    if (a->f)
        fclose(a->f);
    a->f = NULL;
    if (a->tmp[0])
        unlink(a->tmp);
    a->tmp[0] = 0;
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

/* Flush, fsync and close the temp file; 0, or the errno of the first failure and its step in *step. */
static int sync_tmp(dnn_atomic_t *a, const char **step)
{
    *step = "sync";
    if (!a->f)
        return sync_path(a->tmp, 0);
    *step = "write";
    int err = ferror(a->f) ? EIO : fflush(a->f) != 0 ? errno : 0; /* EIO: a write that failed earlier */
    if (!err && fsync(fileno(a->f)) != 0) {
        err = errno;
        *step = "sync";
    }
    if (fclose(a->f) != 0 && !err) {
        err = errno;
        *step = "write";
    }
    a->f = NULL;
    return err;
}

int dnn_atomic_commit(dnn_atomic_t *a, char *msg)
{
    const char *step;
    int err = sync_tmp(a, &step);
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
    a->tmp[0] = 0;
    char dir[DNN_ATOMIC_PATH];
    memcpy(dir, a->path, sizeof dir);
    sync_path(dirname(dir), 1); /* makes the rename itself durable; best effort (the file is in place) */
    return 0;
}
