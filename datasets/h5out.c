/*
 * h5out.c - write an HDF5 file under NAME.tmp, then put it in place with
 * dnn's one atomic-file helper (dnn/atomic.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "h5out.h"

#include "dnn/common.h"
#include "dnn/h5.h"

#include <errno.h>
#include <string.h>

int h5out_open(h5out_t *o, const char *path, char *msg)
{
    o->file = H5I_INVALID_HID;
    int rc = dnn_atomic_open(&o->a, "HDF5 file", path, 0, msg);
    if (rc)
        return rc;
    /* Our messages replace HDF5's multi-line error stack dumps. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    errno = 0;
    o->file = H5Fcreate(o->a.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (o->file < 0) {
        rc = dnn_fail(msg, DNN_EIO, "cannot create HDF5 file '%s' (for '%s'): %s", o->a.tmp,
                      path, errno ? strerror(errno) : "HDF5 error");
        dnn_atomic_abort(&o->a);
        return rc;
    }
    return 0;
}

int h5out_write(h5out_t *o, const char *name, hid_t mem_type, hid_t file_type, int rank,
                const hsize_t *dims, const void *data, char *msg)
{
    /* chunked with a Fletcher32 checksum, like every dataset dnn writes (dnn/h5.h) */
    return dnn_h5_write_as(o->file, o->a.tmp, name, mem_type, file_type, rank, dims, data, msg);
}

int h5out_commit(h5out_t *o, char *msg)
{
    int rc;
    if (H5Fflush(o->file, H5F_SCOPE_GLOBAL) < 0) {
        rc = dnn_fail(msg, DNN_EIO, "cannot flush HDF5 file '%s'", o->a.tmp);
        h5out_discard(o);
        return rc;
    }
    herr_t closed = H5Fclose(o->file);
    o->file = H5I_INVALID_HID;
    if (closed < 0) {
        rc = dnn_fail(msg, DNN_EIO, "cannot close HDF5 file '%s'", o->a.tmp);
        h5out_discard(o);
        return rc;
    }
    return dnn_atomic_commit(&o->a, msg); /* fsync, rename, fsync the folder; releases o either way */
}

void h5out_discard(h5out_t *o)
{
    if (!o->a.tmp[0]) /* never opened, or already released */
        return;
    if (o->file >= 0)
        H5Fclose(o->file);
    o->file = H5I_INVALID_HID;
    dnn_atomic_abort(&o->a);
}
