/*
 * matrix_dot.h - internal to the matrix module: the kernels of the
 * evaluation products (src/matrix_dot.c), called by matrix.c's
 * dnn_matrix_dot_s/_d, which share the columns over the thread pool.
 */
#ifndef DNN_MATRIX_DOT_H
#define DNN_MATRIX_DOT_H

#include <stddef.h>

#define DOT_RI 4 /* rows and columns of C per register tile */
#define DOT_RJ 4

typedef struct {
    int dbl;
    size_t M, K, lda, ldb, ldc;
    const void *A, *B;
    void *C;
} dot_t;

/* Columns [j0, j1) of the product q (a dot_t *). */
void dnn_matrix_dot_part(void *q, size_t j0, size_t j1);

#endif
