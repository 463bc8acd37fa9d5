/*
 * sgemm_gflops.c - OpenBLAS sgemm throughput at the shapes dnn-train uses.
 *
 * Part of the benchmark harness (tests/bench/bench.py), not of ctest.  Gives
 * the ceiling that dnn-train's own GFLOP/s is compared against.  Two kinds of
 * measurement, each the median of --reps repetitions after one warm-up:
 *
 *   shape  one cblas_sgemm call, column-major, C (M x N) = op(A) op(B),
 *          FLOPs = 2*M*N*K.
 *   epoch  the exact sequence of products of one full-batch dnn-train epoch
 *          (src/model.c): for every block of --block columns of an
 *          (n[0] x m) input, Z[l] = W[l] A[l-1] as gemm(T,N) for l = 1..L,
 *          then dW[l]^T += A[l-1] dZ[l]^T as gemm(N,T) for l = L..1 and
 *          dA[l-1] = W[l]^T dZ[l] as gemm(N,N) for l = L..2.
 *          FLOPs = 2*m*(3*S - n[1]*n[0]), S = sum_l n[l]*n[l-1].
 *          No activations, no loss: only the BLAS part of an epoch.
 *
 * Usage: sgemm_gflops [--threads T] [--reps R] [--dims 784,256,128,1]
 *                     [--m 60000] [--block 1024] [--shape M,N,K,TA,TB]...
 * TA, TB are N or T.  Without --shape a default list (the block shapes of
 * the 784-256-128-1 network) is measured.  One line per measurement:
 *   sgemm kind=shape threads=2 M=256 N=1024 K=784 op=TN reps=7 ms=... gflops=...
 *   sgemm kind=epoch threads=2 dims=784,256,128,1 m=60000 block=1024 reps=7 ms=... gflops=...
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void openblas_set_num_threads(int num_threads);

#define MAX_SHAPES 64
#define MAX_LAYERS 16

typedef struct {
    int M, N, K;
    char ta, tb;
} shape_t;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static float *alloc_fill(size_t n, unsigned seed)
{
    float *p = malloc(n * sizeof *p);
    if (!p) {
        fprintf(stderr, "sgemm_gflops: out of memory (%zu floats)\n", n);
        exit(1);
    }
    /* small values in [-0.5, 0.5): no overflow, no denormals */
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
    return p;
}

static void one_shape(shape_t s, int threads, int reps)
{
    size_t M = (size_t)s.M, N = (size_t)s.N, K = (size_t)s.K;
    float *A = alloc_fill(M * K, 1), *B = alloc_fill(K * N, 2), *C = alloc_fill(M * N, 3);
    int lda = s.ta == 'T' ? s.K : s.M, ldb = s.tb == 'T' ? s.N : s.K;
    enum CBLAS_TRANSPOSE ta = s.ta == 'T' ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = s.tb == 'T' ? CblasTrans : CblasNoTrans;
    /* repeat each timed sample until it lasts >= 20 ms, so tiny shapes are measurable */
    int inner = 1;
    for (;;) {
        double t = now();
        for (int i = 0; i < inner; i++)
            cblas_sgemm(CblasColMajor, ta, tb, s.M, s.N, s.K, 1.0f, A, lda, B, ldb, 0.0f, C, s.M);
        if (now() - t >= 0.02 || inner >= (1 << 20))
            break;
        inner *= 2;
    }
    double *ms = malloc((size_t)reps * sizeof *ms);
    for (int r = 0; r < reps; r++) {
        double t = now();
        for (int i = 0; i < inner; i++)
            cblas_sgemm(CblasColMajor, ta, tb, s.M, s.N, s.K, 1.0f, A, lda, B, ldb, 0.0f, C, s.M);
        ms[r] = (now() - t) * 1e3 / inner;
    }
    double med = median(ms, reps);
    printf("sgemm kind=shape threads=%d M=%d N=%d K=%d op=%c%c reps=%d ms=%.4f gflops=%.2f\n", threads, s.M,
           s.N, s.K, s.ta, s.tb, reps, med, 2.0 * M * N * K / (med * 1e6));
    fflush(stdout);
    free(ms);
    free(A);
    free(B);
    free(C);
}

/* The products of one full-batch epoch of dnn-train, as in src/model.c. */
static void one_epoch(const int *n, int L, size_t m, size_t block, int threads, int reps)
{
    float *W[MAX_LAYERS + 1], *G[MAX_LAYERS + 1], *A[MAX_LAYERS + 1];
    size_t nmax = 0;
    for (int l = 1; l <= L; l++) {
        W[l] = alloc_fill((size_t)n[l] * n[l - 1], 10 + l); /* row-major (n[l], n[l-1]) */
        G[l] = alloc_fill((size_t)n[l] * n[l - 1], 20 + l);
        A[l] = alloc_fill((size_t)n[l] * block, 30 + l); /* (n[l], block) */
        if ((size_t)n[l] > nmax)
            nmax = (size_t)n[l];
    }
    float *X = alloc_fill((size_t)n[0] * m, 4); /* (n[0], m), the whole input as dnn holds it */
    float *dZ[2] = {alloc_fill(nmax * block, 5), alloc_fill(nmax * block, 6)};
    double S = 0;
    for (int l = 1; l <= L; l++)
        S += (double)n[l] * n[l - 1];
    double flops = 2.0 * (double)m * (3.0 * S - (double)n[1] * n[0]);
    double *ms = malloc((size_t)(reps + 1) * sizeof *ms);
    for (int r = 0; r <= reps; r++) { /* r == 0 is the warm-up */
        double t = now();
        for (size_t off = 0; off < m; off += block) {
            int cols = (int)(m - off < block ? m - off : block);
            const float *Aprev = X + off * (size_t)n[0];
            for (int l = 1; l <= L; l++) {
                cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, n[l], cols, n[l - 1], 1.0f, W[l], n[l - 1],
                            Aprev, n[l - 1], 0.0f, A[l], n[l]);
                Aprev = A[l];
            }
            int cur = 0;
            for (int l = L; l >= 1; l--) {
                const float *Ap = l > 1 ? A[l - 1] : X + off * (size_t)n[0];
                cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, n[l - 1], n[l], cols, 1.0f, Ap, n[l - 1],
                            dZ[cur], n[l], 1.0f, G[l], n[l - 1]);
                if (l == 1)
                    break;
                cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n[l - 1], cols, n[l], 1.0f, W[l], n[l - 1],
                            dZ[cur], n[l], 0.0f, dZ[cur ^ 1], n[l - 1]);
                /* keep values bounded: dZ is reused, not grown */
                cur ^= 1;
            }
        }
        ms[r] = (now() - t) * 1e3;
    }
    double med = median(ms + 1, reps);
    printf("sgemm kind=epoch threads=%d dims=", threads);
    for (int l = 0; l <= L; l++)
        printf(l ? ",%d" : "%d", n[l]);
    printf(" m=%zu block=%zu reps=%d ms=%.3f gflops=%.2f\n", m, block, reps, med, flops / (med * 1e6));
    fflush(stdout);
    free(ms);
    free(X);
    free(dZ[0]);
    free(dZ[1]);
    for (int l = 1; l <= L; l++) {
        free(W[l]);
        free(G[l]);
        free(A[l]);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: sgemm_gflops [--threads T] [--reps R] [--dims 784,256,128,1] [--m 60000]\n"
                    "                    [--block 1024] [--no-epoch] [--shape M,N,K,TA,TB]...\n");
    exit(1);
}

int main(int argc, char **argv)
{
    int threads = 1, reps = 7, L = 0, n[MAX_LAYERS + 1], nshapes = 0, epoch = 1;
    size_t m = 60000, block = 1024;
    shape_t shapes[MAX_SHAPES];
    const char *dims = "784,256,128,1";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-epoch")) {
            epoch = 0;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--threads"))
            threads = atoi(v);
        else if (!strcmp(a, "--reps"))
            reps = atoi(v);
        else if (!strcmp(a, "--dims"))
            dims = v;
        else if (!strcmp(a, "--m"))
            m = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--block"))
            block = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--shape")) {
            shape_t s;
            if (nshapes == MAX_SHAPES || sscanf(v, "%d,%d,%d,%c,%c", &s.M, &s.N, &s.K, &s.ta, &s.tb) != 5 ||
                s.M < 1 || s.N < 1 || s.K < 1 || (s.ta != 'N' && s.ta != 'T') || (s.tb != 'N' && s.tb != 'T'))
                usage();
            shapes[nshapes++] = s;
        } else
            usage();
    }
    if (threads < 1 || reps < 1 || m < 1 || block < 1)
        usage();
    char buf[256];
    snprintf(buf, sizeof buf, "%s", dims);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (L > MAX_LAYERS || atoi(tok) < 1)
            usage();
        n[L++] = atoi(tok);
    }
    L--; /* n[0..L] */
    if (L < 1)
        usage();
    openblas_set_num_threads(threads);
    if (nshapes == 0) { /* the per-block products of the given network, block columns */
        int b = (int)block;
        for (int l = 1; l <= L; l++)
            shapes[nshapes++] = (shape_t){n[l], b, n[l - 1], 'T', 'N'};
        for (int l = L; l >= 1; l--) {
            shapes[nshapes++] = (shape_t){n[l - 1], n[l], b, 'N', 'T'};
            if (l > 1)
                shapes[nshapes++] = (shape_t){n[l - 1], b, n[l], 'N', 'N'};
        }
    }
    for (int i = 0; i < nshapes; i++)
        one_shape(shapes[i], threads, reps);
    if (epoch)
        one_epoch(n, L, m, block, threads, reps);
    return 0;
}
