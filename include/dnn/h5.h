/*
 * h5.h - the one way dnn writes and reads an HDF5 dataset (README, What happens when things go wrong).
 *
 * Every dataset dnn writes (checkpoints, best checkpoints, optimizer state,
 * prediction files, the data sets of datasets/) goes through dnn_h5_write: chunked, with HDF5's Fletcher32
 * checksum filter on every chunk.  HDF5 verifies the checksum whenever a chunk
 * is read -- by dnn or by plain h5py, which applies the filter transparently --
 * and dnn_h5_read turns a mismatch into a message naming the file and the
 * dataset.  Files written before the checksums (contiguous datasets) still
 * read; dnn_h5_unverified lists their datasets for a one-line note.
 * HDF5's own diagnostic stack is never printed: dnn_h5_quiet turns it off and
 * failures become dnn messages (common.h).
 */
#ifndef DNN_H5_H
#define DNN_H5_H

#include <hdf5.h>
#include <stddef.h>

#include "dnn/common.h"

/* A shape or an index as h5py prints it: "(3, 5)", "(7,)". */
void dnn_h5_dims(char *buf, size_t len, int rank, const hsize_t *d);

/* Turn off HDF5's automatic error printing (idempotent; call before any HDF5 use). */
void dnn_h5_quiet(void);

/*
 * Create dataset NAME (a path relative to loc; its groups must exist) of
 * element type `type` (a native type: H5T_NATIVE_FLOAT, _DOUBLE, _INT64, ...)
 * and shape dims[0..rank-1] (row-major, as h5py shows it), and write v.
 * Chunks of about 1 MiB, each with a Fletcher32 checksum; an empty dataset is
 * chunked too (extendible), so it carries the filter like the others.
 * file is the file's name for the message.  Returns 0 or DNN_EIO.
 */
int dnn_h5_write(hid_t loc, const char *file, const char *name, hid_t type, int rank, const hsize_t *dims,
                 const void *v, char *msg);

/* The same, stored as file_type (e.g. H5T_STD_U8LE) from values of mem_type. */
int dnn_h5_write_as(hid_t loc, const char *file, const char *name, hid_t mem_type, hid_t file_type, int rank,
                    const hsize_t *dims, const void *v, char *msg);

/* Flags of dnn_h5_read. */
#define DNN_H5_FINITE 1u /* refuse a NaN or Inf, naming the dataset and the index */

/*
 * Read all of dataset NAME (relative to loc) into v, converted to memtype,
 * after checking that its shape is exactly dims[0..rank-1] (rank <= 8) and
 * that every filter it uses is available.  HDF5 verifies a Fletcher32
 * checksum on read; a mismatch is refused as changed after writing.  With
 * DNN_H5_FINITE (memtype H5T_NATIVE_FLOAT or _DOUBLE) the first NaN/Inf is
 * refused with its index, e.g. "(3, 5)".  *verified, when not NULL, is set to
 * 1 when the dataset carries a checksum, else 0.  Every message names the
 * dataset and file.  Returns 0, DNN_EDATA (missing, shape, checksum, value)
 * or DNN_EIO (unreadable).
 */
int dnn_h5_read(hid_t loc, const char *file, const char *name, hid_t memtype, int rank, const hsize_t *dims,
                void *v, unsigned flags, int *verified, char *msg);

/*
 * Open dataset NAME of loc in FILE.  Refused, with a message that names
 * `what` (e.g. "dataset", "X dataset"), the dataset, the file and the
 * cause: a missing link; a soft link to a missing object; an external link
 * whose file or object is missing (named, with where it was looked for); a
 * virtual dataset with a missing source (HDF5 would read fill values).
 * Returns 0 with *ds open, or DNN_EDATA with *ds = -1.
 */
int dnn_h5_open_dataset(hid_t loc, const char *file, const char *name, const char *what, hid_t *ds, char *msg);

/* 1 when dataset ds carries a Fletcher32 checksum, 0 when not. */
int dnn_h5_has_checksum(hid_t ds);

/*
 * Every filter of open dataset ds is available in this HDF5 (decoding).
 * Otherwise DNN_EDATA with a message naming dataset, file, the filter's name
 * as stored (h5py's "lzf") and its id (32000), and what to do.
 */
int dnn_h5_filters_check(hid_t ds, const char *file, const char *name, char *msg);

/*
 * Explain a failed H5Dread of dataset NAME in FILE: call it at once after the
 * failing call, before any other HDF5 call (they clear the error stack).
 * A Fletcher32 mismatch gives DNN_EDATA ("fails its checksum ..."), anything
 * else DNN_EIO ("cannot read ... damaged file?").
 */
int dnn_h5_read_error(const char *file, const char *name, char *msg);

/*
 * The datasets of an open file that carry no checksum, as "W1, b1, ..." in buf
 * (truncated with "..." to len); returns their number (0: every dataset is
 * verified), or -1 when the file cannot be walked.  *total gets the number of
 * datasets (may be NULL).
 */
int dnn_h5_unverified(hid_t f, char *buf, size_t len, int *total);

#endif
