/*
 * dist.c - MPI helpers.  Reductions are plain MPI_Allreduce calls; the
 * Counts above INT_MAX / 2 are sent in pieces.
 */
#include "dnn/dist.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "dnn/common.h"

int dnn_dist_init(dnn_dist_t *d, int *argc, char ***argv)
{
    /* FUNNELED: BLAS helper threads (matrix.c) exist, only this thread calls MPI */
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return DNN_EMPI;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &d->local_rank);
    MPI_Comm_size(node, &d->local_size);
    MPI_Comm_free(&node);
    int len = 0;
    if (MPI_Get_processor_name(d->host, &len) != MPI_SUCCESS || len <= 0)
        snprintf(d->host, sizeof d->host, "?");
    d->host[sizeof d->host - 1] = 0;
    return 0;
}

void dnn_dist_finalize(void)
{
    MPI_Finalize();
}

void dnn_dist_shard(uint64_t m, int size, int r, uint64_t *lo, uint64_t *hi)
{
    uint64_t chunks = (m + DNN_CHUNK - 1) / DNN_CHUNK;
    uint64_t c0 = chunks * (uint64_t)r / (uint64_t)size, c1 = chunks * (uint64_t)(r + 1) / (uint64_t)size;
    *lo = c0 * DNN_CHUNK < m ? c0 * DNN_CHUNK : m;
    *hi = c1 * DNN_CHUNK < m ? c1 * DNN_CHUNK : m;
}

int dnn_dist_agree(const dnn_dist_t *d, int rc, char *msg)
{
    int mine[2] = {rc ? -d->rank : -d->size, rc ? 1 : 0}, got[2];
    MPI_Allreduce(mine, got, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD); /* -min(rank), any failed */
    int first = -got[0], failed = 0;
    if (first == d->size)
        return 0;
    int one = rc ? 1 : 0;
    MPI_Allreduce(&one, &failed, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    char buf[DNN_MSG_LEN];
    int code = rc;
    if (d->rank == first) {
        if (d->size > 1 && failed < d->size) /* name the rank only when it is not everyone's problem */
            snprintf(buf, sizeof buf, "rank %d on %s: %s", d->rank, d->host, msg);
        else
            snprintf(buf, sizeof buf, "%s", msg);
    }
    MPI_Bcast(buf, DNN_MSG_LEN, MPI_CHAR, first, MPI_COMM_WORLD);
    MPI_Bcast(&code, 1, MPI_INT, first, MPI_COMM_WORLD);
    memcpy(msg, buf, DNN_MSG_LEN);
    msg[DNN_MSG_LEN - 1] = 0;
    return code;
}

void dnn_dist_abort(const dnn_dist_t *d, const char *prog, int code, const char *msg)
{
    if (d && d->size > 1)
        fprintf(stderr, "%s: rank %d on %s: %s\n", prog, d->rank, d->host, msg);
    else
        fprintf(stderr, "%s: %s\n", prog, msg);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
    for (;;) /* MPI_Abort does not return */
        ;
}

static int sum_pieces(void *x, size_t n, size_t es, MPI_Datatype t, MPI_Op op)
{
    char *p = x;
    while (n > 0) {
        int k = n > (size_t)INT_MAX / 2 ? INT_MAX / 2 : (int)n;
        if (MPI_Allreduce(MPI_IN_PLACE, p, k, t, op, MPI_COMM_WORLD) != MPI_SUCCESS)
            return DNN_EMPI;
        p += (size_t)k * es;
        n -= (size_t)k;
    }
    return 0;
}

int dnn_dist_sum_d(double *x, size_t n) { return sum_pieces(x, n, 8, MPI_DOUBLE, MPI_SUM); }

int dnn_dist_sum_real(void *x, size_t n, size_t es)
{
    return sum_pieces(x, n, es, es == 8 ? MPI_DOUBLE : MPI_FLOAT, MPI_SUM);
}

int dnn_dist_max_d(double *x, size_t n) { return sum_pieces(x, n, 8, MPI_DOUBLE, MPI_MAX); }

int dnn_dist_sum_i64(int64_t *x, size_t n) { return sum_pieces(x, n, 8, MPI_INT64_T, MPI_SUM); }

int dnn_dist_same_hash(uint64_t h)
{
    uint64_t v[2] = {h, ~h};
    MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return v[0] == h && v[1] == ~h;
}
