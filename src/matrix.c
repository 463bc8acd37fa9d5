/*
 * matrix.c - BLAS wrappers.  The one place that calls ?gemm (README, The course's models, as dnn-train command lines), and
 * the entry points of the evaluation products (dnn_matrix_dot_s/_d, whose
 * kernels are in matrix_dot.c; README, Batch invariance).
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
 *
 * bf16 (README, Data-parallel training and determinism): oneDNN's matmul with bf16 operands and float32 output,
 * cut into the same parts, each part one single-threaded primitive (oneDNN is
 * built on OpenMP here; every thread that runs a part sets its own OpenMP team
 * size to 1), so bf16 results are bitwise the same for any thread count too.
 * A column-major C (M x N) is oneDNN's row-major C^T (N x M), so a product is
 * asked for as C^T = op(B)^T op(A)^T, which reads dnn's buffers in place.
 * A primitive is created once per part shape (dnn_matrix_bf16_prepare at
 * set-up, or at the first product of a shape not prepared) and kept for the
 * life of the process; each thread has its own stream, memory objects and
 * scratchpad for it.  The pool also runs element-wise work in parts
 * (dnn_matrix_parallel).
 */
#include "dnn/matrix.h"

#include "matrix_dot.h"

#include <cblas.h>
#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 64
#define MAX_PARTS 8
#define PART_MIN 96               /* rows or columns per part, at least */
#define PART_MIN_2 64             /* ... when the product is cut in two (batch 64: the 128 x 64 layer-2 products) */
#define SPLIT_MIN_FLOPS 4000000.0 /* smaller products are one part */
#define SPIN 20000                /* polls before a waiting helper sleeps */
#define MAX_PRIMS 2048            /* bf16 primitives (part shapes) kept */

enum { K_SGEMM = 0, K_DGEMM, K_BF16, K_FOR };

typedef struct {
    int kind, ta, tb;
    size_t M, N, K, lda, ldb, ldc;
    double alpha, beta;
    const void *A, *B;
    void *C;
    void (*fn)(void *, size_t, size_t); /* K_FOR: fn(ctx = C, lo = M, hi = N) */
} job_t;

static void run_bf16(const job_t *j);

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
    if (j->kind == K_FOR) {
        if (j->N > j->M)
            j->fn(j->C, j->M, j->N);
        return;
    }
    if (j->M == 0 || j->N == 0)
        return;
    if (j->kind == K_BF16)
        run_bf16(j);
    else if (j->kind == K_DGEMM)
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

/* Run parts[0..P) (P <= MAX_PARTS) on the pool and wait.  Concurrent callers
 * (dnn_net_predict from several threads): the one that gets the pool uses it;
 * the others run the same parts in turn themselves, so every caller gets the
 * same bits. */
static void run_parts(const job_t *parts, int P)
{
    int pool = P > 1 && nthreads > 1 && !atomic_flag_test_and_set_explicit(&pool_busy, memory_order_acquire);
    if (!pool) {
        for (int t = 0; t < P; t++)
            run(&parts[t]);
        return;
    }
    for (int t = 0; t < MAX_PARTS; t++)
        jobs[t] = parts[t < P ? t : 0];
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

/* Cut job j into parts by its shape alone (rows of C when M is the larger
 * side, else columns); returns the number of parts. */
static int cut(const job_t *j, job_t *parts)
{
    double flops = 2.0 * (double)j->M * (double)j->N * (double)j->K;
    int by_rows = j->M >= j->N;
    size_t len = by_rows ? j->M : j->N, align = by_rows ? 32 : 16;
    int P = 1;
    while (P < MAX_PARTS && len / (size_t)(2 * P) >= (P == 1 ? PART_MIN_2 : PART_MIN))
        P *= 2; /* a power of two shares evenly over 2, 4, 8 threads */
    if (flops < SPLIT_MIN_FLOPS)
        P = 1;
    size_t es = j->kind == K_DGEMM ? 8 : 4, esab = j->kind == K_BF16 ? 2 : es;
    for (int t = 0; t < P; t++) {
        size_t a = (len * (size_t)t / (size_t)P) / align * align;
        size_t b = t + 1 == P ? len : (len * (size_t)(t + 1) / (size_t)P) / align * align;
        job_t *p = &parts[t];
        *p = *j;
        if (by_rows) { /* rows [a, b) of C and of op(A) */
            p->M = b - a;
            p->A = (const char *)j->A + (j->ta ? a * j->lda : a) * esab;
            p->C = (char *)j->C + a * es;
        } else { /* columns [a, b) of C and of op(B) */
            p->N = b - a;
            p->B = (const char *)j->B + (j->tb ? a : a * j->ldb) * esab;
            p->C = (char *)j->C + a * j->ldc * es;
        }
    }
    return P;
}

static void dispatch(const job_t *j)
{
    job_t parts[MAX_PARTS];
    int P = cut(j, parts);
    if (P == 1)
        run(j);
    else
        run_parts(parts, P);
}

void dnn_matrix_parallel(void (*fn)(void *ctx, size_t lo, size_t hi), void *ctx, size_t n, size_t grain)
{
    job_t parts[MAX_PARTS];
    size_t align = grain >= 16 ? 16 : 1;
    int P = 1;
    while (P < MAX_PARTS && n / (size_t)(2 * P) >= (grain ? grain : 1))
        P *= 2;
    for (int t = 0; t < P; t++) {
        parts[t] = (job_t){.kind = K_FOR, .fn = fn, .C = ctx};
        parts[t].M = n * (size_t)t / (size_t)P / align * align;
        parts[t].N = t + 1 == P ? n : n * (size_t)(t + 1) / (size_t)P / align * align;
    }
    run_parts(parts, P);
}

void dnn_matrix_gemm_s(int ta, int tb, size_t M, size_t N, size_t K, float alpha,
                       const float *A, size_t lda, const float *B, size_t ldb, float beta,
                       float *C, size_t ldc)
{
    job_t j = {K_SGEMM, ta, tb, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C, NULL};
    dispatch(&j);
}

void dnn_matrix_gemm_d(int ta, int tb, size_t M, size_t N, size_t K, double alpha,
                       const double *A, size_t lda, const double *B, size_t ldb, double beta,
                       double *C, size_t ldc)
{
    job_t j = {K_DGEMM, ta, tb, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C, NULL};
    dispatch(&j);
}

void dnn_matrix_gemm_bf16(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const uint16_t *A,
                          size_t lda, const uint16_t *B, size_t ldb, float beta, float *C, size_t ldc)
{
    job_t j = {K_BF16, ta, tb, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C, NULL};
    dispatch(&j);
}

/* ---- evaluation products (README, Batch invariance): matrix_dot.c's
 * fixed-order dot products, columns shared over the pool ---- */

static void dot_run(dot_t *q, size_t N)
{
    if (q->M == 0 || N == 0)
        return;
    double flops = 2.0 * (double)q->M * (double)N * (double)q->K;
    if (flops < SPLIT_MIN_FLOPS || nthreads == 1)
        dnn_matrix_dot_part(q, 0, N);
    else
        dnn_matrix_parallel(dnn_matrix_dot_part, q, N, 16);
}

void dnn_matrix_dot_s(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb, float *C,
                      size_t ldc)
{
    dot_t q = {0, M, K, lda, ldb, ldc, A, B, C};
    dot_run(&q, N);
}

void dnn_matrix_dot_d(size_t M, size_t N, size_t K, const double *A, size_t lda, const double *B, size_t ldb,
                      double *C, size_t ldc)
{
    dot_t q = {1, M, K, lda, ldb, ldc, A, B, C};
    dot_run(&q, N);
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

/* ---- bf16 through oneDNN ---- */

typedef struct {
    int ta, tb;
    size_t M, N, K, lda, ldb, ldc;
    float alpha, beta;
    dnnl_primitive_t prim;
    dnnl_primitive_desc_t pd; /* its memory descriptors: src = op(B)^T, weights = op(A)^T, dst = C^T, scratchpad */
} prim_t;

static prim_t prims[MAX_PRIMS];
static atomic_int nprims; /* prims[0..nprims) are complete */
static pthread_mutex_t prim_mu = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t engine;
static pthread_once_t bf16_once = PTHREAD_ONCE_INIT;
static int bf16_state; /* 1 usable, else a DNN_E* code */
static char bf16_why[DNN_MSG_LEN];
static _Thread_local dnnl_stream_t tl_stream;
static _Thread_local dnnl_memory_t tl_mem[MAX_PRIMS][4];

/* This thread's OpenMP team size to 1, once: oneDNN's parallel regions then
 * run inline in the pool thread that runs the part. */
static void omp_single(void)
{
    static _Thread_local int done;
    if (done)
        return;
    void (*set)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    if (set)
        set(1);
    done = 1;
}

static void bf16_setup(void)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if ((isa & dnnl_cpu_isa_avx512_core_bf16) != dnnl_cpu_isa_avx512_core_bf16) {
        bf16_state = DNN_EINVAL;
        snprintf(bf16_why, sizeof bf16_why, "--precision bf16 needs a CPU with AVX512_BF16 instructions, which oneDNN "
                 "does not find here (effective ISA 0x%x); it would run emulated and slower than float32: use "
                 "--precision single", (unsigned)isa);
        return;
    }
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) {
        bf16_state = DNN_EINVAL;
        snprintf(bf16_why, sizeof bf16_why, "--precision bf16: oneDNN could not create its CPU engine");
        return;
    }
    bf16_state = 1;
}

int dnn_matrix_bf16_init(char *msg)
{
    pthread_once(&bf16_once, bf16_setup);
    if (bf16_state == 1)
        return 0;
    return dnn_fail(msg, bf16_state, "%s", bf16_why);
}

static int same_key(const prim_t *p, const job_t *j)
{
    return p->ta == j->ta && p->tb == j->tb && p->M == j->M && p->N == j->N && p->K == j->K && p->lda == j->lda &&
           p->ldb == j->ldb && p->ldc == j->ldc && p->alpha == (float)j->alpha && p->beta == (float)j->beta;
}

/* Describe and create the primitive of part j into p; 0 or -1. */
static int create_prim(prim_t *p, const job_t *j)
{
    dnnl_dim_t M = (dnnl_dim_t)j->M, N = (dnnl_dim_t)j->N, K = (dnnl_dim_t)j->K;
    dnnl_dim_t lda = (dnnl_dim_t)j->lda, ldb = (dnnl_dim_t)j->ldb, ldc = (dnnl_dim_t)j->ldc;
    /* C^T (N x M, row stride ldc) = op(B)^T (N x K) op(A)^T (K x M) */
    dnnl_dims_t sd = {N, K}, ss = {j->tb ? 1 : ldb, j->tb ? ldb : 1};
    dnnl_dims_t wd = {K, M}, ws = {j->ta ? 1 : lda, j->ta ? lda : 1};
    dnnl_dims_t dd = {N, M}, ds = {ldc, 1};
    dnnl_memory_desc_t md[3];
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int ok = dnnl_memory_desc_init_by_strides(&md[0], 2, sd, dnnl_bf16, ss) == dnnl_success &&
             dnnl_memory_desc_init_by_strides(&md[1], 2, wd, dnnl_bf16, ws) == dnnl_success &&
             dnnl_memory_desc_init_by_strides(&md[2], 2, dd, dnnl_f32, ds) == dnnl_success &&
             dnnl_matmul_desc_init(&desc, &md[0], &md[1], NULL, &md[2]) == dnnl_success &&
             dnnl_primitive_attr_create(&attr) == dnnl_success &&
             dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success;
    float alpha = (float)j->alpha;
    if (ok && alpha != 1)
        ok = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha) == dnnl_success;
    if (ok && j->beta != 0)
        ok = dnnl_post_ops_create(&po) == dnnl_success && dnnl_post_ops_append_sum(po, (float)j->beta) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    ok = ok && dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL) == dnnl_success;
    ok = ok && dnnl_primitive_create(&p->prim, pd) == dnnl_success;
    if (ok)
        p->pd = pd; /* kept: the memory objects of each thread are made from its descriptors */
    else if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (po)
        dnnl_post_ops_destroy(po);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (!ok)
        return -1;
    p->ta = j->ta, p->tb = j->tb, p->M = j->M, p->N = j->N, p->K = j->K;
    p->lda = j->lda, p->ldb = j->ldb, p->ldc = j->ldc, p->alpha = alpha, p->beta = (float)j->beta;
    return 0;
}

/* The primitive of part j: found, or created (under the lock); -1 when it cannot be. */
static int find_prim(const job_t *j)
{
    int n = atomic_load_explicit(&nprims, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (same_key(&prims[i], j))
            return i;
    omp_single(); /* oneDNN sizes a primitive for the creating thread's team */
    pthread_mutex_lock(&prim_mu);
    int i, total = atomic_load(&nprims);
    for (i = 0; i < total && !same_key(&prims[i], j); i++)
        ;
    if (i == total) {
        if (total == MAX_PRIMS || create_prim(&prims[total], j))
            i = -1;
        else
            atomic_store_explicit(&nprims, total + 1, memory_order_release);
    }
    pthread_mutex_unlock(&prim_mu);
    return i;
}

static _Noreturn void bf16_fatal(const char *what, const job_t *j)
{
    fprintf(stderr, "dnn: oneDNN bf16 matmul %zux%zux%zu (%s): %s\n", j->M, j->N, j->K, j->ta ? "T" : "N", what);
    abort();
}

static void run_bf16(const job_t *j)
{
    int i = find_prim(j);
    if (i < 0)
        bf16_fatal("cannot create the primitive", j);
    omp_single();
    dnnl_memory_t *mem = tl_mem[i];
    if (!tl_stream && dnnl_stream_create(&tl_stream, engine, dnnl_stream_default_flags) != dnnl_success)
        bf16_fatal("cannot create a stream", j);
    static const dnnl_query_t q[4] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md,
                                      dnnl_query_scratchpad_md};
    if (!mem[0]) /* this thread's memory objects for this primitive, once */
        for (int k = 0; k < 4; k++)
            if (dnnl_memory_create(&mem[k], dnnl_primitive_desc_query_md(prims[i].pd, q[k], 0), engine,
                                   k == 3 ? DNNL_MEMORY_ALLOCATE : DNNL_MEMORY_NONE))
                bf16_fatal("cannot create its memory objects", j);
    dnnl_memory_set_data_handle(mem[0], (void *)j->B);
    dnnl_memory_set_data_handle(mem[1], (void *)j->A);
    dnnl_memory_set_data_handle(mem[2], j->C);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, mem[0]}, {DNNL_ARG_WEIGHTS, mem[1]}, {DNNL_ARG_DST, mem[2]},
                               {DNNL_ARG_SCRATCHPAD, mem[3]}};
    if (dnnl_primitive_execute(prims[i].prim, tl_stream, 4, args) != dnnl_success ||
        dnnl_stream_wait(tl_stream) != dnnl_success)
        bf16_fatal("execution failed", j);
}

int dnn_matrix_bf16_prepare(int ta, int tb, size_t M, size_t N, size_t K, size_t lda, size_t ldb, size_t ldc,
                            float beta, char *msg)
{
    static char base[1]; /* only the part shapes are used, not the addresses */
    int rc = dnn_matrix_bf16_init(msg);
    if (rc)
        return rc;
    job_t j = {K_BF16, ta, tb, M, N, K, lda, ldb, ldc, 1, beta, base, base, base, NULL}, parts[MAX_PARTS];
    int P = cut(&j, parts);
    for (int t = 0; t < P; t++)
        if (parts[t].M && parts[t].N && find_prim(&parts[t]) < 0)
            return dnn_fail(msg, DNN_EINVAL, "--precision bf16: oneDNN cannot create a bf16 matmul of %zu x %zu x %zu",
                            parts[t].M, parts[t].N, K);
    return 0;
}

/* Round to nearest even; NaN stays NaN (quiet). */
void dnn_matrix_to_bf16(uint16_t *restrict dst, const float *restrict src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = dnn_bf16_round(src[i]);
}
