/*
 * fsync_shim.c - an LD_PRELOAD library (tests only) that records what a
 * process does to the files whose path contains a given text, and can make
 * fsync fail on them.
 *
 *   LD_PRELOAD=libdnn_fsync_shim.so DNN_SHIM_LOG=FILE [DNN_SHIM_MATCH=TEXT]
 *     [DNN_SHIM_FAIL_FSYNC=K] [DNN_SHIM_FSYNC_ERRNO=N] program ...
 *
 * DNN_SHIM_MATCH (default ".tmp") picks the files: every open, creat or
 * openat of a path containing it, and of any directory (O_DIRECTORY), is
 * tracked by its file descriptor (fopen too: then only its open, fsync and
 * rename are seen, stdio writes and closes inside libc).  One line per event is appended to
 * DNN_SHIM_LOG, "PID EVENT PATH [DETAIL]":
 *   open PATH            write PATH BYTES        (write, pwrite, writev, pwritev)
 *   fsync PATH [= ERR]   fdatasync PATH [= ERR]  close PATH
 *   fsync-dir PATH       rename OLD NEW          unlink PATH
 * (rename and unlink are logged when either path contains the text.)
 * With DNN_SHIM_FAIL_FSYNC=K the K-th fsync or fdatasync of a tracked file
 * (not a directory), counted from 1 in this process, and every later one,
 * return -1 with errno DNN_SHIM_FSYNC_ERRNO (default EIO) without syncing.
 * With DNN_SHIM_SHORT_WRITE=N a write(2) to a tracked file writes at most
 * N bytes, and every other one returns -1 with errno EINTR first.
 * Without DNN_SHIM_LOG nothing is logged and nothing fails.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FD 4096
#define PATH_LEN 512

typedef struct {
    char path[PATH_LEN];
    int dir;
} tracked_t;

static tracked_t table[MAX_FD];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long fsyncs; /* fsync/fdatasync calls on tracked files */

#define REAL(ret, name, ...)                                        \
    static ret (*real_##name)(__VA_ARGS__);                          \
    static ret (*get_##name(void))(__VA_ARGS__)                      \
    {                                                                \
        if (!real_##name)                                            \
            *(void **)&real_##name = dlsym(RTLD_NEXT, #name);        \
        return real_##name;                                          \
    }

REAL(int, open, const char *, int, ...)
REAL(int, openat, int, const char *, int, ...)
REAL(ssize_t, write, int, const void *, size_t)
REAL(ssize_t, pwrite, int, const void *, size_t, off_t)
REAL(ssize_t, writev, int, const struct iovec *, int)
REAL(ssize_t, pwritev, int, const struct iovec *, int, off_t)
REAL(int, fsync, int)
REAL(int, fdatasync, int)
REAL(int, close, int)
REAL(int, rename, const char *, const char *)
REAL(int, renameat, int, const char *, int, const char *)
REAL(int, renameat2, int, const char *, int, const char *, unsigned)
REAL(int, unlink, const char *)
REAL(int, unlinkat, int, const char *, int)
REAL(FILE *, fopen, const char *, const char *)

static const char *match_text(void)
{
    const char *m = getenv("DNN_SHIM_MATCH");
    return m && *m ? m : ".tmp";
}

static int active(void)
{
    const char *l = getenv("DNN_SHIM_LOG");
    return l && *l;
}

static int matches(const char *path)
{
    return path && active() && strstr(path, match_text()) != NULL;
}

/* Append one line to the log; errno is preserved for the caller. */
static void shim_log(const char *fmt, ...)
{
    if (!active())
        return;
    int saved = errno;
    char line[2 * PATH_LEN + 64];
    int n = snprintf(line, sizeof line, "%ld ", (long)getpid());
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    int fd = get_open()(getenv("DNN_SHIM_LOG"), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (get_write()(fd, line, (size_t)n) < 0) { /* nothing to do: the test sees the gap */
        }
        get_close()(fd);
    }
    errno = saved;
}

static void track(int fd, const char *path, int flags)
{
    if (fd < 0 || fd >= MAX_FD || !path || !active())
        return;
    int dir = (flags & O_DIRECTORY) != 0;
    if (!dir && !matches(path))
        return;
    pthread_mutex_lock(&lock);
    snprintf(table[fd].path, PATH_LEN, "%s", path);
    table[fd].dir = dir;
    pthread_mutex_unlock(&lock);
    if (!dir)
        shim_log("open %s", path);
}

/* Copies the tracked path of fd into out; returns 0 when fd is not tracked, 1 for a file, 2 for a directory. */
static int tracked(int fd, char *out)
{
    if (fd < 0 || fd >= MAX_FD)
        return 0;
    pthread_mutex_lock(&lock);
    int kind = table[fd].path[0] ? 1 + table[fd].dir : 0;
    if (kind)
        memcpy(out, table[fd].path, PATH_LEN);
    pthread_mutex_unlock(&lock);
    return kind;
}

static void log_write(int fd, ssize_t r)
{
    char p[PATH_LEN];
    if (r >= 0 && tracked(fd, p) == 1)
        shim_log("write %s %zd", p, r);
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | __O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    int fd = get_open()(path, flags, mode);
    track(fd, path, flags);
    return fd;
}

/* On LP64 glibc the *64 functions are the same as the plain ones. */
int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int __open_2(const char *path, int flags)
{
    return open(path, flags);
}

int __open64_2(const char *path, int flags)
{
    return open(path, flags);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    int fd = get_openat()(dirfd, path, flags, mode);
    track(fd, path, flags);
    return fd;
}

int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

/* stdio's own open, write and close are internal to libc (not seen here): a
 * file opened with fopen is tracked so that its fsync and rename are logged. */
FILE *fopen(const char *path, const char *mode)
{
    FILE *f = get_fopen()(path, mode);
    if (f)
        track(fileno(f), path, 0);
    return f;
}

FILE *fopen64(const char *path, const char *mode) __attribute__((alias("fopen")));

int creat(const char *path, mode_t mode)
{
    return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode) __attribute__((alias("creat")));

/* DNN_SHIM_SHORT_WRITE=N: a write(2) to a tracked file takes at most N bytes,
 * and every other call is interrupted first (-1, EINTR, nothing written),
 * as a signal or a full pipe can make any write short. */
static size_t short_write(int fd, size_t n, int *interrupt)
{
    static long calls;
    const char *s = getenv("DNN_SHIM_SHORT_WRITE");
    char p[PATH_LEN];
    *interrupt = 0;
    if (!s || atol(s) <= 0 || tracked(fd, p) != 1)
        return n;
    pthread_mutex_lock(&lock);
    *interrupt = calls++ % 2 == 0;
    pthread_mutex_unlock(&lock);
    return n < (size_t)atol(s) ? n : (size_t)atol(s);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    int interrupt;
    n = short_write(fd, n, &interrupt);
    if (interrupt) {
        shim_log("write-eintr");
        errno = EINTR;
        return -1;
    }
    ssize_t r = get_write()(fd, buf, n);
    log_write(fd, r);
    return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    ssize_t r = get_pwrite()(fd, buf, n, off);
    log_write(fd, r);
    return r;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) __attribute__((alias("pwrite")));

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    ssize_t r = get_writev()(fd, iov, cnt);
    log_write(fd, r);
    return r;
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    ssize_t r = get_pwritev()(fd, iov, cnt, off);
    log_write(fd, r);
    return r;
}

/* The shared part of fsync and fdatasync: log, and fail from the K-th call on when asked. */
static int sync_common(int fd, const char *what, int (*real)(int))
{
    char p[PATH_LEN];
    int kind = tracked(fd, p);
    if (kind == 2) {
        int r = real(fd);
        shim_log("%s-dir %s", what, p);
        return r;
    }
    if (kind == 0)
        return real(fd);
    pthread_mutex_lock(&lock);
    long k = ++fsyncs;
    pthread_mutex_unlock(&lock);
    const char *f = getenv("DNN_SHIM_FAIL_FSYNC");
    long from = f && *f ? strtol(f, NULL, 10) : 0;
    if (from > 0 && k >= from) {
        const char *e = getenv("DNN_SHIM_FSYNC_ERRNO");
        int err = e && *e ? atoi(e) : EIO;
        shim_log("%s %s = %s", what, p, strerror(err));
        errno = err;
        return -1;
    }
    int r = real(fd);
    shim_log("%s %s", what, p);
    return r;
}

int fsync(int fd)
{
    return sync_common(fd, "fsync", get_fsync());
}

int fdatasync(int fd)
{
    return sync_common(fd, "fdatasync", get_fdatasync());
}

int close(int fd)
{
    char p[PATH_LEN];
    int kind = tracked(fd, p);
    if (kind) {
        pthread_mutex_lock(&lock);
        table[fd].path[0] = 0;
        pthread_mutex_unlock(&lock);
    }
    int r = get_close()(fd);
    if (kind == 1)
        shim_log("close %s", p);
    return r;
}

int rename(const char *a, const char *b)
{
    int r = get_rename()(a, b);
    if (r == 0 && (matches(a) || matches(b)))
        shim_log("rename %s %s", a, b);
    return r;
}

int renameat(int da, const char *a, int db, const char *b)
{
    int r = get_renameat()(da, a, db, b);
    if (r == 0 && (matches(a) || matches(b)))
        shim_log("rename %s %s", a, b);
    return r;
}

int renameat2(int da, const char *a, int db, const char *b, unsigned fl)
{
    int r = get_renameat2()(da, a, db, b, fl);
    if (r == 0 && (matches(a) || matches(b)))
        shim_log("rename %s %s", a, b);
    return r;
}

int unlink(const char *path)
{
    int r = get_unlink()(path);
    if (matches(path))
        shim_log("unlink %s%s", path, r == 0 ? "" : " = failed");
    return r;
}

int unlinkat(int dirfd, const char *path, int flags)
{
    int r = get_unlinkat()(dirfd, path, flags);
    if (matches(path))
        shim_log("unlink %s%s", path, r == 0 ? "" : " = failed");
    return r;
}
