/*
 * dist.c - MPI helpers.  Reductions are plain MPI_Allreduce calls; the
 * Counts above INT_MAX / 2 are sent in pieces.
 */
#include "dnn/dist.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dnn/common.h"

int dnn_dist_init(dnn_dist_t *d, int *argc, char ***argv)
{
    /* SERIALIZED: BLAS helper threads (matrix.c) never call MPI; the progress
     * thread below calls it only under the mutex that the main thread holds
     * for its own calls while sums are in flight, so calls never overlap. */
    int provided, initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) /* by the caller (a test running a program twice): keep its level */
        MPI_Query_thread(&provided);
    else if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return DNN_EMPI;
    d->serialized = provided >= MPI_THREAD_SERIALIZED;
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

int dnn_dist_exchange_init(dnn_dist_exchange_t *x, size_t bytes)
{
    x->made = 0;
    if (bytes == 0 || bytes > INT_MAX || MPI_Type_contiguous((int)bytes, MPI_BYTE, &x->rec) != MPI_SUCCESS)
        return DNN_EMPI;
    if (MPI_Type_commit(&x->rec) != MPI_SUCCESS) {
        MPI_Type_free(&x->rec);
        return DNN_EMPI;
    }
    x->made = 1;
    return 0;
}

int dnn_dist_exchange(const dnn_dist_exchange_t *x, const void *send, const int *scount, const int *sdispl, void *recv,
                      const int *rcount, const int *rdispl)
{
    return MPI_Alltoallv(send, scount, sdispl, x->rec, recv, rcount, rdispl, x->rec, MPI_COMM_WORLD) == MPI_SUCCESS
               ? 0
               : DNN_EMPI;
}

void dnn_dist_exchange_free(dnn_dist_exchange_t *x)
{
    if (x->made)
        MPI_Type_free(&x->rec);
    x->made = 0;
}

int dnn_dist_same_hash(uint64_t h)
{
    uint64_t v[2] = {h, ~h};
    MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return v[0] == h && v[1] == ~h;
}

/* ---- non-blocking sums and their progress ---- */

static MPI_Datatype sum_type(dnn_sum_type_t t)
{
    return t == DNN_SUM_DOUBLE ? MPI_DOUBLE : t == DNN_SUM_I64 ? MPI_INT64_T : t == DNN_SUM_BF16 ? MPI_UINT16_T : MPI_FLOAT;
}

static inline float bf16_value(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t bf16_round(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40); /* a quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1);          /* to nearest, ties to even (overflow rounds to Inf) */
    return (uint16_t)(u >> 16);
}

void dnn_dist_to_bf16(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = bf16_round(src[i]);
}

void dnn_dist_from_bf16(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = bf16_value(src[i]);
}

static void bf16_sum(void *in, void *inout, int *len, MPI_Datatype *type)
{
    (void)type;
    const uint16_t *a = in;
    uint16_t *b = inout;
    for (int i = 0; i < *len; i++)
        b[i] = bf16_round(bf16_value(a[i]) + bf16_value(b[i]));
}

/* The progress thread: while a table has sums in flight it calls
 * MPI_Testall every poll_us microseconds, under the table's mutex; otherwise
 * it sleeps on the condition variable. */
static void *progress_main(void *arg)
{
    dnn_dist_async_t *a = arg;
    struct timespec nap = {0, a->poll_us * 1000L};
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->active && !a->quit)
            pthread_cond_wait(&a->cv, &a->mu);
        if (a->quit)
            break;
        int done = 0;
        MPI_Testall(a->n, a->req, &done, MPI_STATUSES_IGNORE);
        if (done)
            a->active = 0; /* all complete: park until the next sum starts */
        pthread_mutex_unlock(&a->mu);
        nanosleep(&nap, NULL);
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int dnn_dist_async_init(dnn_dist_async_t *a, const dnn_dist_t *d, dnn_progress_t mode, long poll_us)
{
    memset(a, 0, sizeof *a);
    a->mode = mode;
    a->poll_us = poll_us > 0 && poll_us < 1000000 ? poll_us : 50;
    if (MPI_Op_create(bf16_sum, 1, &a->bf16_sum) != MPI_SUCCESS)
        return DNN_EMPI;
    if (mode != DNN_PROGRESS_THREAD)
        return 0;
    if (!d->serialized) { /* the MPI library cannot take calls from two threads */
        a->mode = DNN_PROGRESS_TEST;
        return 0;
    }
    if (pthread_mutex_init(&a->mu, NULL) || pthread_cond_init(&a->cv, NULL))
        return DNN_ENOMEM;
    if (pthread_create(&a->tid, NULL, progress_main, a)) {
        a->mode = DNN_PROGRESS_TEST;
        return 0;
    }
    a->thread = 1; /* parked on the condition variable until dnn_dist_async_free */
    return 0;
}

int dnn_dist_isum(dnn_dist_async_t *a, void *x, size_t n, dnn_sum_type_t t)
{
    size_t es = t == DNN_SUM_BF16 ? 2 : t == DNN_SUM_FLOAT ? 4 : 8;
    MPI_Op op = t == DNN_SUM_BF16 ? a->bf16_sum : MPI_SUM;
    char *p = x;
    int rc = 0;
    if (a->thread)
        pthread_mutex_lock(&a->mu);
    while (n > 0 && !rc) {
        int k = n > (size_t)INT_MAX / 2 ? INT_MAX / 2 : (int)n;
        if (a->n == DNN_DIST_MAX_INFLIGHT) { /* full: finish what is in flight first */
            rc = MPI_Waitall(a->n, a->req, MPI_STATUSES_IGNORE) == MPI_SUCCESS ? 0 : DNN_EMPI;
            a->n = 0;
        }
        if (!rc && MPI_Iallreduce(MPI_IN_PLACE, p, k, sum_type(t), op, MPI_COMM_WORLD, &a->req[a->n]) != MPI_SUCCESS)
            rc = DNN_EMPI;
        if (!rc)
            a->n++;
        p += (size_t)k * es;
        n -= (size_t)k;
    }
    if (a->thread) {
        a->active = a->n > 0;
        pthread_cond_signal(&a->cv);
        pthread_mutex_unlock(&a->mu);
    }
    return rc;
}

void dnn_dist_poke(dnn_dist_async_t *a)
{
    int done;
    if (a->mode == DNN_PROGRESS_TEST && a->n > 0)
        MPI_Testall(a->n, a->req, &done, MPI_STATUSES_IGNORE);
}

int dnn_dist_wait(dnn_dist_async_t *a)
{
    if (a->thread)
        pthread_mutex_lock(&a->mu);
    int rc = a->n > 0 ? MPI_Waitall(a->n, a->req, MPI_STATUSES_IGNORE) : MPI_SUCCESS;
    a->n = 0;
    if (a->thread) {
        a->active = 0;
        pthread_mutex_unlock(&a->mu);
    }
    return rc == MPI_SUCCESS ? 0 : DNN_EMPI;
}

void dnn_dist_async_free(dnn_dist_async_t *a)
{
    if (a->thread) {
        pthread_mutex_lock(&a->mu);
        a->quit = 1;
        pthread_cond_signal(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->tid, NULL);
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cv);
        a->thread = 0;
    }
    MPI_Op_free(&a->bf16_sum);
}
