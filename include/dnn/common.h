/*
 * common.h - error codes, precision tags and size helpers shared by every module.
 *
 * Library functions return 0 on success or a negative DNN_E* code; the details
 * (file, dataset, value) go into a caller-supplied message buffer of
 * DNN_MSG_LEN bytes.  Only the programs decide to stop.
 */
#ifndef DNN_COMMON_H
#define DNN_COMMON_H

#include <stddef.h>
#include <stdint.h>

enum {
    DNN_OK = 0,
    DNN_EINVAL = -1,  /* bad argument or option value */
    DNN_ENOMEM = -2,  /* allocation failed or size overflow */
    DNN_EIO = -3,     /* file missing, unreadable, not HDF5, write failed */
    DNN_EDATA = -4,   /* data content wrong: shape, labels, NaN */
    DNN_EMPI = -5,    /* an MPI call failed */
    DNN_EDIVERGE = -6 /* cost or gradient became NaN/Inf */
};

#define DNN_MSG_LEN 1024

/* bf16: float32 storage and sums, bfloat16 operands of the large products (README, Data-parallel training and determinism). */
typedef enum { DNN_SINGLE = 0, DNN_DOUBLE = 1, DNN_BF16 = 2 } dnn_precision_t;

/* The --precision / checkpoint name: "single", "double", "bf16". */
static inline const char *dnn_precision_name(int p)
{
    return p == DNN_DOUBLE ? "double" : p == DNN_BF16 ? "bf16" : "single";
}

/* Text for an error code ("invalid argument", ...). */
const char *dnn_strerror(int code);

/* Bytes per element of a precision. */
static inline size_t dnn_real_size(dnn_precision_t p) { return p == DNN_DOUBLE ? 8 : 4; }

/* Element i of a buffer of reals in precision p (float for single and bf16), as a double. */
static inline double dnn_real_at(dnn_precision_t p, const void *v, size_t i)
{
    return p == DNN_DOUBLE ? ((const double *)v)[i] : (double)((const float *)v)[i];
}

/* *out = a * b; returns 0, or DNN_ENOMEM when the product overflows size_t. */
static inline int dnn_size_mul(size_t *out, size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a)
        return DNN_ENOMEM;
    *out = a * b;
    return 0;
}

/* *out = a + b; returns 0, or DNN_ENOMEM on overflow. */
static inline int dnn_size_add(size_t *out, size_t a, size_t b)
{
    if (b > SIZE_MAX - a)
        return DNN_ENOMEM;
    *out = a + b;
    return 0;
}

/* A block for n*size bytes, free()d with free: 64-byte aligned and rounded up
 * to whole 64-byte lines (at least one, also for 0 bytes), so a vector loop
 * may touch the rest of its last line.  NULL when out of memory or when
 * n*size, or its rounding, does not fit in a size_t. */
void *dnn_alloc(size_t n, size_t size);

/* printf into msg (DNN_MSG_LEN) and return code; for one-line error returns. */
int dnn_fail(char *msg, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
