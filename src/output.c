/*
 * output.c - writability of the files a run will write, tried before it starts.
 * Relies on open(O_CREAT | O_EXCL): the try creates a file the way the writers
 * do (NAME.tmp, then renamed) and never truncates anything that exists.
 */
#include "dnn/output.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Why nothing can be created in folder, for the common errors; NULL for the others. */
static const char *reason(int err, const char *folder, char *buf, size_t len)
{
    const char *fmt;
    switch (err) {
    case ENOENT: fmt = "the folder '%s' does not exist"; break;
    case ENOTDIR: fmt = "'%s' is not a folder (it, or a folder above it, is a file)"; break;
    case EROFS: fmt = "the folder '%s' is on a read-only file system"; break;
    case EACCES:
    case EPERM: fmt = "no permission to create files in the folder '%s'"; break;
    case ENOSPC:
    case EDQUOT: fmt = "the folder '%s' is on a full file system"; break;
    default: return NULL;
    }
    snprintf(buf, len, fmt, folder);
    return buf;
}

int dnn_output_check(const char *option, const char *path, char *msg)
{
    if (!path || !*path)
        return 0;
    char tmp[4200], dir[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return dnn_fail(msg, DNN_EIO, "%s '%.200s...': the path is too long", option, path);
    snprintf(dir, sizeof dir, "%s", path);
    const char *folder = dirname(dir);
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return dnn_fail(msg, DNN_EIO, "%s '%s' is a folder; give a file name", option, path);
        if (access(path, W_OK) != 0)
            return dnn_fail(msg, DNN_EIO, "%s '%s' exists and cannot be replaced: %s", option, path, strerror(errno));
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), made = fd >= 0;
    if (fd < 0 && errno == EEXIST) /* a leftover temp file: it must at least be writable */
        fd = open(tmp, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        char buf[4400];
        if (reason(err, folder, buf, sizeof buf))
            return dnn_fail(msg, DNN_EIO, "%s '%s': cannot write there: %s", option, path, buf);
        return dnn_fail(msg, DNN_EIO, "%s '%s': cannot create '%s': %s", option, path, tmp, strerror(err));
    }
    close(fd);
    if (made && unlink(tmp) != 0)
        return dnn_fail(msg, DNN_EIO, "%s '%s': cannot remove the test file '%s': %s", option, path, tmp,
                        strerror(errno));
    return 0;
}
