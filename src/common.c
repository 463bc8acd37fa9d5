/*
 * common.c - error text, checked allocation and message formatting.
 */
#include "dnn/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

const char *dnn_strerror(int code)
{
    switch (code) {
    case DNN_OK: return "success";
    case DNN_EINVAL: return "invalid argument";
    case DNN_ENOMEM: return "out of memory or size overflow";
    case DNN_EIO: return "input/output error";
    case DNN_EDATA: return "bad data";
    case DNN_EMPI: return "MPI error";
    case DNN_EDIVERGE: return "training diverged";
    default: return "unknown error";
    }
}

void *dnn_alloc(size_t n, size_t size)
{
    size_t bytes;
    if (dnn_size_mul(&bytes, n, size) != 0 || bytes > SIZE_MAX - 63)
        return NULL;
    /* 64-byte alignment keeps BLAS panels and vector loops on cache lines. */
    bytes = (bytes + 63) & ~(size_t)63;
    if (bytes == 0)
        bytes = 64;
    return aligned_alloc(64, bytes);
}

int dnn_fail(char *msg, int code, const char *fmt, ...)
{
    if (msg) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, DNN_MSG_LEN, fmt, ap);
        va_end(ap);
    }
    return code;
}
