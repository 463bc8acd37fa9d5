/*
 * h5out.h - atomic HDF5 output for the dataset tools.
 *
 * A file is written as NAME.tmp and renamed over NAME only after every
 * dataset is written, flushed, closed and fsync'ed (dnn/atomic.h), so a
 * failed or killed run never leaves a truncated NAME behind.  Datasets are contiguous and
 * row-major, as h5py writes numpy arrays.
 */
#ifndef DNN_DATASETS_H5OUT_H
#define DNN_DATASETS_H5OUT_H

#include <hdf5.h>

#include "dnn/atomic.h"

typedef struct {
    hid_t file;       /* open handle on a.tmp, or H5I_INVALID_HID */
    dnn_atomic_t a;   /* the final name and its temp file; a.tmp[0] == 0 once released */
} h5out_t;

/*
 * Create path.tmp (truncating any stale one) with HDF5's error printing
 * silenced.  Returns 0, or DNN_EIO / DNN_ENOMEM with a message in msg
 * (DNN_MSG_LEN bytes) naming the file.  On failure o needs no cleanup.
 */
int h5out_open(h5out_t *o, const char *path, char *msg);

/*
 * Write one dataset `name` of `rank` dimensions `dims` from data in memory
 * type mem_type, stored as file_type.  Returns 0 or DNN_EIO with a message
 * naming the file and dataset.
 */
int h5out_write(h5out_t *o, const char *name, hid_t mem_type, hid_t file_type, int rank,
                const hsize_t *dims, const void *data, char *msg);

/*
 * Flush and close path.tmp, fsync it, rename it over path and release o.
 * Returns 0 or DNN_EIO (the tmp file is removed and o released either way).
 */
int h5out_commit(h5out_t *o, char *msg);

/*
 * Close and remove path.tmp and release o.  Safe on an already released o
 * and on a zero-initialized one (h5out_t o = {0}).
 */
void h5out_discard(h5out_t *o);

#endif
