/*
 * test_dist.c - CUnit suite for the dist module.
 *
 * The shard plan is a pure function and is checked for every rank count from
 * 1 to 9 (and some large ones) against its contract in dist.h: contiguous
 * runs of whole DNN_CHUNK-example chunks that cover [0, m) exactly and differ
 * by at most one chunk.  The reductions are checked in whatever world this
 * runs in (ctest runs it as an MPI singleton; under mpiexec -n N the expected
 * values are computed for N), with rank-dependent inputs whose sums are known
 * in closed form.  ctest runs it twice: as a singleton (unit_dist) and under
 * `mpiexec -n 3` (unit_dist_np3, with DNN_TEST_RANKS=3, so that three
 * singletons started by a broken launcher cannot pass as one world of 3).
 */
#include "dnn/dist.h"

#include <CUnit/Basic.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/common.h"

static dnn_dist_t world;

/* Check the plan of m examples on `size` ranks; returns 1 when every property holds. */
static int check_plan(uint64_t m, int size)
{
    uint64_t prev_hi = 0, min_chunks = UINT64_MAX, max_chunks = 0, nonempty = 0;
    uint64_t chunks = (m + DNN_CHUNK - 1) / DNN_CHUNK;
    int ok = 1;
    for (int r = 0; r < size; r++) {
        uint64_t lo = UINT64_MAX, hi = UINT64_MAX;
        dnn_dist_shard(m, size, r, &lo, &hi);
        ok &= lo == prev_hi;                           /* contiguous, in rank order, from 0 */
        ok &= lo <= hi && hi <= m;                     /* a valid range inside [0, m) */
        ok &= lo % DNN_CHUNK == 0;                     /* starts on a chunk boundary */
        ok &= hi % DNN_CHUNK == 0 || hi == m;          /* ends on one, or at m */
        uint64_t c = (hi - lo + DNN_CHUNK - 1) / DNN_CHUNK; /* whole chunks held */
        min_chunks = c < min_chunks ? c : min_chunks;
        max_chunks = c > max_chunks ? c : max_chunks;
        nonempty += hi > lo;
        prev_hi = hi;
    }
    ok &= prev_hi == m;                  /* covers everything */
    ok &= max_chunks - min_chunks <= 1;  /* balanced to one chunk */
    ok &= nonempty == (chunks < (uint64_t)size ? chunks : (uint64_t)size);
    if (!ok)
        fprintf(stderr, "\n  shard plan m=%llu size=%d violates the contract\n", (unsigned long long)m, size);
    return ok;
}

static void test_dist_shard_contract(void)
{
    static const uint64_t ms[] = {0,   1,   2,    255,  256,  257,  511,  512,   513,  1000,
                                  1024, 2047, 2048, 2049, 2560, 60000, 65537, 100000, 1u << 20};
    for (size_t k = 0; k < sizeof ms / sizeof ms[0]; k++)
        for (int size = 1; size <= 9; size++)
            CU_ASSERT(check_plan(ms[k], size));
    /* many ranks, and sizes where 64-bit intermediate products matter */
    CU_ASSERT(check_plan(60000, 64));
    CU_ASSERT(check_plan(60000, 1000));
    CU_ASSERT(check_plan((1ull << 40) + 3, 7));
    CU_ASSERT(check_plan((1ull << 50) + 12345, 4096));
}

/* More ranks than chunks: the first chunks go one per rank, the other ranks are empty. */
static void test_dist_shard_more_ranks_than_chunks(void)
{
    uint64_t lo, hi, covered = 0;
    int nonempty = 0;
    for (int r = 0; r < 5; r++) { /* m = 300: two chunks [0,256) and [256,300) */
        dnn_dist_shard(300, 5, r, &lo, &hi);
        if (hi > lo) {
            nonempty++;
            CU_ASSERT(hi - lo == 256 || (lo == 256 && hi == 300));
            covered += hi - lo;
        }
    }
    CU_ASSERT_EQUAL(nonempty, 2);
    CU_ASSERT_EQUAL(covered, 300u);
    /* m = 1 on 4 ranks: exactly one rank holds [0, 1) */
    nonempty = 0;
    for (int r = 0; r < 4; r++) {
        dnn_dist_shard(1, 4, r, &lo, &hi);
        if (hi > lo) {
            nonempty++;
            CU_ASSERT_EQUAL(lo, 0u);
            CU_ASSERT_EQUAL(hi, 1u);
        } else {
            CU_ASSERT(lo == 0 || lo == 1);
        }
    }
    CU_ASSERT_EQUAL(nonempty, 1);
    /* m = 0: every rank is empty */
    for (int r = 0; r < 3; r++) {
        dnn_dist_shard(0, 3, r, &lo, &hi);
        CU_ASSERT_EQUAL(lo, 0u);
        CU_ASSERT_EQUAL(hi, 0u);
    }
    /* one rank holds everything */
    dnn_dist_shard(12345, 1, 0, &lo, &hi);
    CU_ASSERT_EQUAL(lo, 0u);
    CU_ASSERT_EQUAL(hi, 12345u);
}

/* Chunk boundaries do not depend on the rank count: every split point of N ranks is a multiple of DNN_CHUNK. */
static void test_dist_shard_boundaries_fixed(void)
{
    CU_ASSERT_EQUAL(DNN_CHUNK, 256);
    uint64_t lo, hi;
    /* 4 chunks on 2 ranks: [0,512) [512,1000); on 3 ranks: runs of 1 and 2 chunks */
    dnn_dist_shard(1000, 2, 0, &lo, &hi);
    CU_ASSERT(lo == 0 && hi == 512);
    dnn_dist_shard(1000, 2, 1, &lo, &hi);
    CU_ASSERT(lo == 512 && hi == 1000);
    uint64_t total = 0;
    for (int r = 0; r < 3; r++) {
        dnn_dist_shard(1000, 3, r, &lo, &hi);
        uint64_t c = (hi - lo + 255) / 256;
        CU_ASSERT(c == 1 || c == 2);
        total += hi - lo;
    }
    CU_ASSERT_EQUAL(total, 1000u);
}

static void test_dist_world(void)
{
    const char *want = getenv("DNN_TEST_RANKS"); /* the world size the launcher was asked for */
    if (want && *want)
        CU_ASSERT_EQUAL(world.size, atoi(want));
    CU_ASSERT(world.size >= 1);
    CU_ASSERT(world.rank >= 0 && world.rank < world.size);
    CU_ASSERT(world.local_size >= 1 && world.local_size <= world.size);
    CU_ASSERT(world.local_rank >= 0 && world.local_rank < world.local_size);
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    CU_ASSERT_EQUAL(size, world.size);
}

/*
 * 64-bit integer sums are exact: values near 2^62 / 64 and negatives; rank r
 * contributes (r + 1) * v, so the total is v * N (N + 1) / 2.  Singleton:
 * unchanged.
 */
static void test_dist_sum_i64_exact(void)
{
    static const int64_t v[6] = {1, -3, (int64_t)1 << 40, -((int64_t)1 << 52) + 7, INT64_MAX / 64, INT64_MIN / 64};
    int64_t x[6];
    int64_t N = world.size, tri = N * (N + 1) / 2;
    CU_ASSERT_FATAL(tri <= 64); /* the test values are sized for up to 10 ranks */
    for (int i = 0; i < 6; i++)
        x[i] = (world.rank + 1) * v[i];
    CU_ASSERT_EQUAL_FATAL(dnn_dist_sum_i64(x, 6), 0);
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(x[i], v[i] * tri);
    CU_ASSERT_EQUAL(dnn_dist_sum_i64(x, 0), 0); /* nothing to do */
}

/*
 * The shard plan and the sums together, in this world: every rank adds the
 * global indices of its own examples; the total is m (m - 1) / 2 and the
 * count m whatever N is, also when some ranks hold nothing (m = 300: two
 * chunks) and when the last chunk is partial.
 */
static void test_dist_shard_sums_cover(void)
{
    static const uint64_t ms[] = {1, 300, 1000, 2049};
    for (size_t k = 0; k < sizeof ms / sizeof ms[0]; k++) {
        uint64_t lo, hi;
        dnn_dist_shard(ms[k], world.size, world.rank, &lo, &hi);
        int64_t x[3] = {0, (int64_t)(hi - lo), hi > lo};
        for (uint64_t i = lo; i < hi; i++)
            x[0] += (int64_t)i;
        CU_ASSERT_EQUAL_FATAL(dnn_dist_sum_i64(x, 3), 0);
        int64_t m = (int64_t)ms[k], chunks = (m + DNN_CHUNK - 1) / DNN_CHUNK;
        CU_ASSERT_EQUAL(x[0], m * (m - 1) / 2);
        CU_ASSERT_EQUAL(x[1], m);
        CU_ASSERT_EQUAL(x[2], chunks < world.size ? chunks : world.size); /* ranks holding examples */
    }
}

/* Float and double sums and maxima with exactly representable results. */
static void test_dist_sum_and_max(void)
{
    double N = world.size, r = world.rank;
    double d[3] = {r + 0.5, -2.0 * (r + 1), 0.25};
    CU_ASSERT_EQUAL_FATAL(dnn_dist_sum_d(d, 3), 0);
    CU_ASSERT_EQUAL(d[0], N * N / 2);
    CU_ASSERT_EQUAL(d[1], -N * (N + 1));
    CU_ASSERT_EQUAL(d[2], 0.25 * N);
    float f[2] = {(float)(r + 1), 1.5f};
    CU_ASSERT_EQUAL_FATAL(dnn_dist_sum_real(f, 2, sizeof(float)), 0);
    CU_ASSERT_EQUAL(f[0], (float)(N * (N + 1) / 2));
    CU_ASSERT_EQUAL(f[1], (float)(1.5 * N));
    double g[2] = {r * r, -r};
    CU_ASSERT_EQUAL_FATAL(dnn_dist_sum_real(g, 2, sizeof(double)), 0);
    CU_ASSERT_EQUAL(g[0], (N - 1) * N * (2 * N - 1) / 6);
    CU_ASSERT_EQUAL(g[1], -(N - 1) * N / 2);
    double mx[3] = {r, -r, r == 0 ? 1e300 : -INFINITY};
    CU_ASSERT_EQUAL_FATAL(dnn_dist_max_d(mx, 3), 0);
    CU_ASSERT_EQUAL(mx[0], N - 1);
    CU_ASSERT_EQUAL(mx[1], 0.0);
    CU_ASSERT_EQUAL(mx[2], 1e300);
}

/* Non-blocking sums of slices started one by one (as the gradient buckets
 * are), moved on by the progress thread or by pokes, then waited for: every
 * slice holds the sum over the ranks, exactly (small integers in float), and
 * slots outside the slices are left alone.  The same table is reused. */
static void isum_case(dnn_progress_t mode)
{
    static dnn_dist_async_t tables[2]; /* large; one per mode (a table's thread keeps using it) */
    dnn_dist_async_t *ap = &tables[mode == DNN_PROGRESS_THREAD];
#define a (*ap)
    enum { N = 70000 };
    static float x[N];
    static int64_t k[64];
    double R = world.size, r = world.rank;
    CU_ASSERT_EQUAL_FATAL(dnn_dist_async_init(&a, &world, mode, 50), 0);
    CU_ASSERT_EQUAL(a.thread, mode == DNN_PROGRESS_THREAD); /* Open MPI here gives MPI_THREAD_SERIALIZED */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++)
            x[i] = (float)((i % 97) + r + round);
        for (int i = 0; i < 64; i++)
            k[i] = ((int64_t)1 << 50) + i * (int64_t)(r + 1);
        /* slices from the top down, as backward announces them; [0, 10) is not summed */
        CU_ASSERT_EQUAL(dnn_dist_isum(&a, x + 40000, N - 40000, DNN_SUM_FLOAT), 0);
        dnn_dist_poke(&a);
        CU_ASSERT_EQUAL(dnn_dist_isum(&a, k, 64, DNN_SUM_I64), 0);
        CU_ASSERT_EQUAL(dnn_dist_isum(&a, x + 10, 40000 - 10, DNN_SUM_FLOAT), 0);
        dnn_dist_poke(&a);
        CU_ASSERT_EQUAL_FATAL(dnn_dist_wait(&a), 0);
        int bad = 0;
        for (int i = 0; i < N; i++) {
            double want = i < 10 ? (i % 97) + r + round : R * ((i % 97) + round) + R * (R - 1) / 2;
            bad += x[i] != (float)want;
        }
        CU_ASSERT_EQUAL(bad, 0);
        for (int i = 0; i < 64; i++)
            bad += k[i] != (int64_t)world.size * ((int64_t)1 << 50) + i * (int64_t)(R * (R + 1) / 2);
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT_EQUAL(a.n, 0);
    }
#undef a
}

/* bfloat16: round to nearest even, NaN and Inf kept; a bf16 sum of small
 * integers over the ranks is exact (8 significant bits), and the op adds in
 * float32 then rounds (1 + 2^-8 per rank rounds back to 1 at each combine). */
static void test_dist_bf16(void)
{
    float in[8] = {1.0f, 1.00390625f, 1.01171875f, -3.0f, 65504.0f, INFINITY, NAN, 1e-40f}, out[8];
    uint16_t h[8];
    dnn_dist_to_bf16(h, in, 8);
    dnn_dist_from_bf16(out, h, 8);
    CU_ASSERT_EQUAL(h[0], 0x3f80);
    CU_ASSERT_EQUAL(out[1], 1.0f);          /* 1 + 2^-8: a tie, to even (1.0) */
    CU_ASSERT_EQUAL(out[2], 1.015625f);     /* 1 + 3 2^-8: a tie, to even (1 + 2^-6) */
    CU_ASSERT_EQUAL(out[3], -3.0f);
    CU_ASSERT_EQUAL(out[4], 65536.0f);      /* 65504 rounds up to 2^16 */
    CU_ASSERT(isinf(out[5]) && out[5] > 0);
    CU_ASSERT(isnan(out[6]));
    CU_ASSERT(out[7] > 0 && fabsf(out[7] - 1e-40f) <= 0x1p-134f); /* subnormal: half a bf16 step (2^-133) */
    /* NaNs whose payload is only in the 16 bits bf16 drops stay NaN (cutting them would give Inf) */
    static const uint32_t nan_bits[] = {0x7f800001u, 0xff800001u, 0x7f80ffffu, 0x7f808000u, 0x7fffffffu};
    for (size_t i = 0; i < sizeof nan_bits / sizeof nan_bits[0]; i++) {
        float v, back;
        uint16_t b;
        memcpy(&v, &nan_bits[i], sizeof v);
        dnn_dist_to_bf16(&b, &v, 1);
        dnn_dist_from_bf16(&back, &b, 1);
        if (!isnan(back))
            fprintf(stderr, "\n  the NaN 0x%08x became 0x%04x in bf16, not a NaN\n", (unsigned)nan_bits[i], b);
        CU_ASSERT(isnan(back));
    }
    static dnn_dist_async_t a;
    CU_ASSERT_EQUAL_FATAL(dnn_dist_async_init(&a, &world, DNN_PROGRESS_TEST, 50), 0);
    enum { N = 1000 };
    static uint16_t x[N];
    static float f[N];
    for (int i = 0; i < N; i++)
        f[i] = (float)(i % 7 + world.rank);
    dnn_dist_to_bf16(x, f, N);
    CU_ASSERT_EQUAL(dnn_dist_isum(&a, x, N, DNN_SUM_BF16), 0);
    CU_ASSERT_EQUAL_FATAL(dnn_dist_wait(&a), 0);
    dnn_dist_from_bf16(f, x, N);
    int bad = 0;
    double R = world.size;
    for (int i = 0; i < N; i++)
        bad += f[i] != (float)(R * (i % 7) + R * (R - 1) / 2);
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_dist_isum_thread(void) { isum_case(DNN_PROGRESS_THREAD); }
static void test_dist_isum_test(void) { isum_case(DNN_PROGRESS_TEST); }

/* Same hash everywhere -> 1; a rank-dependent hash -> 1 only when alone. */
static void test_dist_same_hash(void)
{
    CU_ASSERT_EQUAL(dnn_dist_same_hash(0x0123456789abcdefULL), 1);
    CU_ASSERT_EQUAL(dnn_dist_same_hash(0), 1);
    CU_ASSERT_EQUAL(dnn_dist_same_hash(UINT64_MAX), 1);
    CU_ASSERT_EQUAL(dnn_dist_same_hash(0x9e3779b97f4a7c15ULL * (uint64_t)(world.rank + 1)), world.size == 1);
    /* a difference only in the low bit is seen too */
    CU_ASSERT_EQUAL(dnn_dist_same_hash((uint64_t)(world.rank & 1)), world.size == 1);
}

/* Error agreement: success stays 0; one failing rank's code and message reach every rank. */
static void test_dist_agree(void)
{
    char msg[DNN_MSG_LEN] = "untouched";
    CU_ASSERT_EQUAL(dnn_dist_agree(&world, 0, msg), 0);
    CU_ASSERT_STRING_EQUAL(msg, "untouched");
    int last = world.size - 1;
    if (world.rank == last)
        snprintf(msg, sizeof msg, "dataset 'train_x' not found in 'x.h5'");
    else
        msg[0] = 0;
    int rc = dnn_dist_agree(&world, world.rank == last ? DNN_EDATA : 0, msg);
    CU_ASSERT_EQUAL(rc, DNN_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "dataset 'train_x' not found in 'x.h5'"));
    if (world.size == 1) {
        CU_ASSERT_STRING_EQUAL(msg, "dataset 'train_x' not found in 'x.h5'");
    } else {
        char prefix[32 + MPI_MAX_PROCESSOR_NAME];
        snprintf(prefix, sizeof prefix, "rank %d on %s: ", last, world.host); /* the failing rank's host */
        CU_ASSERT_EQUAL(strncmp(msg, prefix, strlen(prefix)), 0);
    }
    /* every rank failing: rank 0's code wins */
    snprintf(msg, sizeof msg, "failure on rank %d", world.rank);
    rc = dnn_dist_agree(&world, world.rank == 0 ? DNN_EIO : DNN_EDATA, msg);
    CU_ASSERT_EQUAL(rc, DNN_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "failure on rank 0"));
}

int main(int argc, char **argv)
{
#define T(name) {#name, name}
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        T(test_dist_shard_contract),
        T(test_dist_shard_more_ranks_than_chunks),
        T(test_dist_shard_boundaries_fixed),
        T(test_dist_world),
        T(test_dist_sum_i64_exact),
        T(test_dist_shard_sums_cover),
        T(test_dist_sum_and_max),
        T(test_dist_same_hash),
        T(test_dist_agree),
        T(test_dist_isum_thread),
        T(test_dist_isum_test),
        T(test_dist_bf16),
    };
#undef T
    if (dnn_dist_init(&world, &argc, &argv) != 0) {
        fprintf(stderr, "test_dist: MPI_Init failed\n");
        return 2;
    }
    int status = 2;
    if (CU_initialize_registry() != CUE_SUCCESS)
        goto done;
    CU_pSuite suite = CU_add_suite("test_dist", NULL, NULL);
    if (!suite)
        goto registry_error;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(suite, tests[i].name, tests[i].fn))
            goto registry_error;
    CU_basic_set_mode(world.rank == 0 ? CU_BRM_VERBOSE : CU_BRM_SILENT);
    if (CU_basic_run_tests() != CUE_SUCCESS)
        goto registry_error;
    /* every rank's failures count: the job fails if any rank saw one */
    int failures = (int)CU_get_number_of_failures(), total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (world.rank == 0 && total != failures)
        fprintf(stderr, "test_dist: %d assertion(s) failed on other ranks\n", total - failures);
    CU_cleanup_registry();
    status = total != 0;
    goto done;
registry_error:
    fprintf(stderr, "test_dist: CUnit error: %s\n", CU_get_error_msg());
    CU_cleanup_registry();
done:
    dnn_dist_finalize();
    return status;
}
