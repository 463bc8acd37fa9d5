/*
 * h5out.c - write an HDF5 file under NAME.tmp, then rename it into place.
 *
 * Relies on rename(2) replacing the target atomically within one file
 * system; the tmp file sits next to the target for that reason.
 */
#define _POSIX_C_SOURCE 200809L
#include "h5out.h"

#include "dnn/common.h"
#include "dnn/h5.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void release(h5out_t *o)
{
    free(o->path);
    free(o->tmp);
    o->path = o->tmp = NULL;
    o->file = H5I_INVALID_HID;
}

int h5out_open(h5out_t *o, const char *path, char *msg)
{
    size_t n = strlen(path);
    o->file = H5I_INVALID_HID;
    o->path = malloc(n + 1);
    o->tmp = malloc(n + 5);
    if (!o->path || !o->tmp) {
        release(o);
        return dnn_fail(msg, DNN_ENOMEM, "out of memory for file name '%s'", path);
    }
    memcpy(o->path, path, n + 1);
    memcpy(o->tmp, path, n);
    memcpy(o->tmp + n, ".tmp", 5);

    /* Our messages replace HDF5's multi-line error stack dumps. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    errno = 0;
    o->file = H5Fcreate(o->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (o->file < 0) {
        int rc = dnn_fail(msg, DNN_EIO, "cannot create HDF5 file '%s' (for '%s'): %s", o->tmp,
                          path, errno ? strerror(errno) : "HDF5 error");
        release(o);
        return rc;
    }
    return 0;
}

int h5out_write(h5out_t *o, const char *name, hid_t mem_type, hid_t file_type, int rank,
                const hsize_t *dims, const void *data, char *msg)
{
    /* chunked with a Fletcher32 checksum, like every dataset dnn writes (dnn/h5.h) */
    return dnn_h5_write_as(o->file, o->tmp, name, mem_type, file_type, rank, dims, data, msg);
}

int h5out_commit(h5out_t *o, char *msg)
{
    int rc = 0, fd;

    if (H5Fflush(o->file, H5F_SCOPE_GLOBAL) < 0) {
        rc = dnn_fail(msg, DNN_EIO, "cannot flush HDF5 file '%s'", o->tmp);
        goto fail;
    }
    herr_t closed = H5Fclose(o->file);
    o->file = H5I_INVALID_HID;
    if (closed < 0) {
        rc = dnn_fail(msg, DNN_EIO, "cannot close HDF5 file '%s'", o->tmp);
        goto fail;
    }
    /* HDF5 has closed its descriptor; reopen to push the data to disk. */
    fd = open(o->tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        rc = dnn_fail(msg, DNN_EIO, "cannot sync '%s': %s", o->tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto fail;
    }
    close(fd);
    if (rename(o->tmp, o->path) != 0) {
        rc = dnn_fail(msg, DNN_EIO, "cannot rename '%s' to '%s': %s", o->tmp, o->path,
                      strerror(errno));
        goto fail;
    }
    release(o);
    return 0;
fail:
    h5out_discard(o);
    return rc;
}

void h5out_discard(h5out_t *o)
{
    if (!o->tmp) /* never opened, or already released */
        return;
    if (o->file >= 0)
        H5Fclose(o->file);
    if (o->tmp)
        remove(o->tmp);
    release(o);
}
