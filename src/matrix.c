/*
 * matrix.c - BLAS wrappers.  The one place that calls ?gemm (DESIGN §1).
 *
 * Threading is done here, not inside OpenBLAS: OpenBLAS runs single-threaded
 * and a product big enough to share is cut along its larger dimension (rows
 * or columns of C) into parts, one ?gemm call each, which the threads of a
 * small persistent pool claim from a shared counter (so a helper that is late,
 * preempted on a busy machine, only means the others take its parts).  Measured on this project's shapes,
 * OpenBLAS's own threads leave some products (dW[1] = A[0] dZ[1]^T of
 * 784x256x1024, dA of 256x1024x128) at one-thread speed; the parts run them
 * on every core.  The cut depends only on the product's shape, never on the
 * thread count (a cut changes OpenBLAS's blocking, hence the last bits), so
 * results are bitwise the same for any number of threads.
 * Sizes arrive as size_t and are narrowed to BLAS's int after the range check
 * done once at model set-up (dnn_model_init refuses dimensions above INT_MAX).
 */
#include "dnn/matrix.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define MAX_THREADS 64
#define MAX_PARTS 8
#define PART_MIN 96               /* rows or columns per part, at least */
#define SPLIT_MIN_FLOPS 4000000.0 /* smaller products are one part */
#define SPIN 20000                /* polls before a waiting helper sleeps */

typedef struct {
    int dbl, ta, tb;
    size_t M, N, K, lda, ldb, ldc;
    double alpha, beta;
    const void *A, *B;
    void *C;
} job_t;

static job_t jobs[MAX_PARTS]; /* slots past the round's parts hold empty jobs */
static pthread_t helpers[MAX_THREADS];
static int nthreads = 1, started = 1;
static atomic_uint generation;
static atomic_int next_part, parts_done; /* claims and completions of the round's MAX_PARTS slots */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_flag pool_busy = ATOMIC_FLAG_INIT; /* one caller at a time owns jobs[] and the pool */
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

static void run(const job_t *j)
{
    if (j->M == 0 || j->N == 0)
        return;
    if (j->dbl)
        cblas_dgemm(CblasColMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, (int)j->M,
                    (int)j->N, (int)j->K, j->alpha, j->A, (int)j->lda, j->B, (int)j->ldb, j->beta, j->C, (int)j->ldc);
    else
        cblas_sgemm(CblasColMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, (int)j->M,
                    (int)j->N, (int)j->K, (float)j->alpha, j->A, (int)j->lda, j->B, (int)j->ldb, (float)j->beta, j->C,
                    (int)j->ldc);
}

/* Run unclaimed slots of the current round until none is left.  A claim is
 * only made on a round whose jobs are written (they are written before
 * next_part is reset), and the round ends only when every slot is done. */
static void claim_parts(void)
{
    int p;
    while ((p = atomic_fetch_add_explicit(&next_part, 1, memory_order_acq_rel)) < MAX_PARTS) {
        run(&jobs[p]);
        atomic_fetch_add_explicit(&parts_done, 1, memory_order_release);
    }
}

static void *helper(void *arg)
{
    int id = (int)(long)arg;
    unsigned seen = atomic_load(&generation);
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&generation, memory_order_acquire) == seen) {
            if (++spins < SPIN) {
                __builtin_ia32_pause();
                continue;
            }
            pthread_mutex_lock(&mu);
            while (atomic_load(&generation) == seen)
                pthread_cond_wait(&wake, &mu);
            pthread_mutex_unlock(&mu);
        }
        seen = atomic_load(&generation);
        if (id >= nthreads) /* parked by a lower thread count */
            continue;
        claim_parts();
    }
    return NULL;
}

/* Cut job j into parts by its shape alone (rows of C when M is the larger
 * side, else columns), run them on the pool and wait. */
static void dispatch(const job_t *j)
{
    double flops = 2.0 * (double)j->M * (double)j->N * (double)j->K;
    int by_rows = j->M >= j->N;
    size_t len = by_rows ? j->M : j->N, align = by_rows ? 32 : 16;
    int P = 1;
    while (P < MAX_PARTS && len / (size_t)(2 * P) >= PART_MIN)
        P *= 2; /* a power of two shares evenly over 2, 4, 8 threads */
    if (P == 1 || flops < SPLIT_MIN_FLOPS) {
        run(j);
        return;
    }
    size_t es = j->dbl ? 8 : 4;
    /* Concurrent callers (dnn_net_predict from several threads): the one that
     * gets the pool uses it; the others run the same parts in turn from their
     * own stack, so every caller gets the same bits. */
    job_t local[MAX_PARTS], *parts = local;
    int pool = nthreads > 1 && !atomic_flag_test_and_set_explicit(&pool_busy, memory_order_acquire);
    if (pool)
        parts = jobs;
    for (int t = 0; t < P; t++) {
        size_t a = (len * (size_t)t / (size_t)P) / align * align;
        size_t b = t + 1 == P ? len : (len * (size_t)(t + 1) / (size_t)P) / align * align;
        job_t *p = &parts[t];
        *p = *j;
        if (by_rows) { /* rows [a, b) of C and of op(A) */
            p->M = b - a;
            p->A = (const char *)j->A + (j->ta ? a * j->lda : a) * es;
            p->C = (char *)j->C + a * es;
        } else { /* columns [a, b) of C and of op(B) */
            p->N = b - a;
            p->B = (const char *)j->B + (j->tb ? a : a * j->ldb) * es;
            p->C = (char *)j->C + a * j->ldc * es;
        }
    }
    if (!pool) {
        for (int t = 0; t < P; t++)
            run(&parts[t]);
        return;
    }
    for (int t = P; t < MAX_PARTS; t++)
        jobs[t].M = jobs[t].N = 0; /* empty: run() returns at once */
    atomic_store_explicit(&parts_done, 0, memory_order_relaxed);
    atomic_store_explicit(&next_part, 0, memory_order_release);
    pthread_mutex_lock(&mu);
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&mu);
    claim_parts();
    while (atomic_load_explicit(&parts_done, memory_order_acquire) < MAX_PARTS)
        __builtin_ia32_pause();
    atomic_flag_clear_explicit(&pool_busy, memory_order_release);
}

void dnn_matrix_gemm_s(int ta, int tb, size_t M, size_t N, size_t K, float alpha,
                       const float *A, size_t lda, const float *B, size_t ldb, float beta,
                       float *C, size_t ldc)
{
    job_t j = {0, ta, tb, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C};
    dispatch(&j);
}

void dnn_matrix_gemm_d(int ta, int tb, size_t M, size_t N, size_t K, double alpha,
                       const double *A, size_t lda, const double *B, size_t ldb, double beta,
                       double *C, size_t ldc)
{
    job_t j = {1, ta, tb, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C};
    dispatch(&j);
}

int dnn_matrix_set_threads(int n)
{
    if (n < 1)
        n = 1;
    if (n > MAX_THREADS)
        n = MAX_THREADS;
    openblas_set_num_threads(1);
    while (started < n) { /* helpers live until the process ends */
        if (pthread_create(&helpers[started], NULL, helper, (void *)(long)started) != 0)
            break;
        started++;
    }
    nthreads = n < started ? n : started;
    return nthreads;
}

int dnn_matrix_threads(void) { return nthreads; }
