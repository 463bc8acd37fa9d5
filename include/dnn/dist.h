/*
 * dist.h - MPI: shard plan, reductions, error agreement and abort.
 *
 * Examples are split into fixed global chunks of DNN_CHUNK examples; rank r
 * holds a contiguous run of whole chunks, the runs differing by at most one
 * chunk.  Chunk boundaries depend only on the global index, never on the rank
 * count, which is what makes --deterministic results independent of N.
 */
#ifndef DNN_DIST_H
#define DNN_DIST_H

#include <mpi.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define DNN_CHUNK 256

typedef struct {
    int rank, size;
    int local_rank, local_size; /* ranks on this node */
    char host[MPI_MAX_PROCESSOR_NAME]; /* this node's name, for messages */
    int serialized;                    /* MPI takes calls from any thread, one at a time */
} dnn_dist_t;

/* MPI_Init (unless the caller has initialized MPI) and rank/size/node-local info.  Returns 0 or DNN_EMPI. */
int dnn_dist_init(dnn_dist_t *d, int *argc, char ***argv);

/* MPI_Finalize. */
void dnn_dist_finalize(void);

/* Global example range [lo, hi) of rank r for m examples on `size` ranks. */
void dnn_dist_shard(uint64_t m, int size, int r, uint64_t *lo, uint64_t *hi);

/*
 * Agree on an error after a set-up phase that every rank runs: rc is this
 * rank's result (0 or a DNN_E* code).  Returns 0 when every rank succeeded;
 * otherwise the lowest failing rank's message is copied into msg on every
 * rank (prefixed with "rank R on HOST: " when only some ranks failed) and its
 * code is returned.
 */
int dnn_dist_agree(const dnn_dist_t *d, int rc, char *msg);

/* Log "prog: [rank R on HOST: ]message" to stderr and MPI_Abort the whole job. */
_Noreturn void dnn_dist_abort(const dnn_dist_t *d, const char *prog, int code, const char *msg);

/* Sum n doubles in place over all ranks. */
int dnn_dist_sum_d(double *x, size_t n);

/* Sum n reals (float or double by elem size es) in place over all ranks. */
int dnn_dist_sum_real(void *x, size_t n, size_t es);

/* Max of n doubles in place. */
int dnn_dist_max_d(double *x, size_t n);

/* Sum of n 64-bit integers in place (exact, so independent of the order). */
int dnn_dist_sum_i64(int64_t *x, size_t n);

/*
 * Column exchange (--deterministic mini-batch, README "Data-parallel training
 * and determinism"): records of a fixed byte size, scount[r] of them from
 * send + sdispl[r] records to rank r, rcount[r] from rank r into recv +
 * rdispl[r] records (one MPI_Alltoallv).  The record type is made once.
 */
typedef struct {
    MPI_Datatype rec;
    int made;
} dnn_dist_exchange_t;

/* Returns 0 or DNN_EMPI (bytes above INT_MAX included). */
int dnn_dist_exchange_init(dnn_dist_exchange_t *x, size_t bytes);
int dnn_dist_exchange(const dnn_dist_exchange_t *x, const void *send, const int *scount, const int *sdispl, void *recv,
                      const int *rcount, const int *rdispl);
void dnn_dist_exchange_free(dnn_dist_exchange_t *x);

/* 1 when every rank holds the same 64-bit hash, else 0 (one tiny allreduce). */
int dnn_dist_same_hash(uint64_t h);

/*
 * Non-blocking in-place sums of slices of the step's buffers (the gradient
 * buckets, README, Data-parallel training and determinism): each started as soon as its slice is final, all
 * completed before the update.  Open MPI moves a non-blocking collective on
 * only inside MPI calls (over TCP nothing happens in the background), so
 * something must call it while backward computes:
 *   DNN_PROGRESS_TEST    the owner calls dnn_dist_poke (MPI_Testall) between
 *                        its products;
 *   DNN_PROGRESS_THREAD  a thread calls MPI_Testall every poll_us
 *                        microseconds while sums are in flight (and sleeps
 *                        otherwise); dnn_dist_poke does nothing.
 * Fixed size, nothing allocated per step; when the table is full,
 * dnn_dist_isum first waits for what is in flight.
 */
#define DNN_DIST_MAX_INFLIGHT 1100

/* DNN_SUM_BF16: x is uint16_t bfloat16 (the top half of a float32); two
 * values are added in float32 and the sum rounded to bfloat16 (to nearest,
 * ties to even) each time Open MPI combines two ranks' parts. */
typedef enum { DNN_SUM_FLOAT, DNN_SUM_DOUBLE, DNN_SUM_I64, DNN_SUM_BF16 } dnn_sum_type_t;
typedef enum { DNN_PROGRESS_THREAD = 0, DNN_PROGRESS_TEST } dnn_progress_t;

typedef struct {
    dnn_progress_t mode;
    int thread;   /* the progress thread runs */
    long poll_us; /* its interval */
    int n;        /* requests in flight */
    int active;   /* the thread should poll */
    int quit;     /* the thread should end (dnn_dist_async_free) */
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    MPI_Op bf16_sum; /* made by dnn_dist_async_init */
    MPI_Request req[DNN_DIST_MAX_INFLIGHT];
} dnn_dist_async_t;

/* Set up a table (and, for DNN_PROGRESS_THREAD, its thread; without
 * MPI_THREAD_SERIALIZED support it falls back to DNN_PROGRESS_TEST).
 * The table must stay at the same address.  Returns 0, DNN_EMPI or DNN_ENOMEM. */
int dnn_dist_async_init(dnn_dist_async_t *a, const dnn_dist_t *d, dnn_progress_t mode, long poll_us);

/* Start the sum over all ranks of x[0..n) in place.  Returns 0 or DNN_EMPI. */
int dnn_dist_isum(dnn_dist_async_t *a, void *x, size_t n, dnn_sum_type_t t);

/* DNN_PROGRESS_TEST: let the sums in flight progress (MPI_Testall); cheap,
 * call it between products. */
void dnn_dist_poke(dnn_dist_async_t *a);

/* Wait for every sum in flight.  Returns 0 or DNN_EMPI. */
int dnn_dist_wait(dnn_dist_async_t *a);

/* End the progress thread and free the table's MPI operation (after dnn_dist_wait). */
void dnn_dist_async_free(dnn_dist_async_t *a);

/* float32 <-> bfloat16 (round to nearest even; NaN stays NaN, Inf stays Inf). */
void dnn_dist_to_bf16(uint16_t *dst, const float *src, size_t n);
void dnn_dist_from_bf16(float *dst, const uint16_t *src, size_t n);

#endif
