/*
 * test_train.c - dnn_train_main as a library call: it keeps no state between
 * runs, so the same command run several times in one process writes the
 * same parameters, bit for bit, even with a different run in between.
 * MPI is initialized here once (dnn_train_main then leaves it alone).
 */
#define _GNU_SOURCE
#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/train.h"
#include "dnn_test.h"

static char dir[64];

/* A small binary set: 300 examples of 6 features, label = (x0 + x1 > 0). */
static int make_data(const char *path)
{
    enum { M = 300, N = 6 };
    static float X[M][N];
    static uint8_t y[M];
    uint64_t s = 42;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            X[i][j] = (float)((double)(s >> 11) * 0x1p-53 * 4 - 2);
        }
        y[i] = X[i][0] + X[i][1] > 0;
    }
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dx[2] = {M, N}, dy[1] = {M};
    hid_t sx = H5Screate_simple(2, dx, NULL), sy = H5Screate_simple(1, dy, NULL);
    hid_t a = H5Dcreate2(f, "train_x", H5T_NATIVE_FLOAT, sx, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t b = H5Dcreate2(f, "train_y", H5T_NATIVE_UINT8, sy, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int e = H5Dwrite(a, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, X) < 0 ||
            H5Dwrite(b, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) < 0;
    H5Dclose(a);
    H5Dclose(b);
    H5Sclose(sx);
    H5Sclose(sy);
    H5Fclose(f);
    return e;
}

static int init(void)
{
    snprintf(dir, sizeof dir, "/tmp/dnn-test-train-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    char path[128];
    snprintf(path, sizeof path, "%s/d.h5", dir);
    return make_data(path);
}

static int clean(void) { return dnn_test_rmtree(dir); }

/* Every W/b of a checkpoint as bytes (float32), concatenated; *n bytes. */
static unsigned char *params_of(const char *ckpt, size_t *n)
{
    unsigned char *out = NULL;
    *n = 0;
    hid_t f = H5Fopen(ckpt, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return NULL;
    for (int l = 1; l <= 3; l++)
        for (int w = 0; w < 2; w++) {
            char name[8];
            snprintf(name, sizeof name, "%c%d", w ? 'b' : 'W', l);
            hid_t d = H5Dopen2(f, name, H5P_DEFAULT), sp = H5Dget_space(d);
            size_t k = (size_t)H5Sget_simple_extent_npoints(sp) * sizeof(float);
            out = realloc(out, *n + k);
            H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out + *n);
            *n += k;
            H5Sclose(sp);
            H5Dclose(d);
        }
    H5Fclose(f);
    return out;
}

/* Run dnn-train with the given extra options, writing checkpoint `name`; returns its exit status. */
static int train(const char *name, const char *opts)
{
    char data[128], ck[128], met[128], line[1024];
    snprintf(data, sizeof data, "%s/d.h5", dir);
    snprintf(ck, sizeof ck, "%s/%s.h5", dir, name);
    snprintf(met, sizeof met, "%s/%s.csv", dir, name);
    snprintf(line, sizeof line, "dnn-train --data %s --checkpoint %s --metrics %s --quiet --layers 5,3 %s", data, ck,
             met, opts);
    char *argv[64];
    int argc = 0;
    for (char *save, *t = strtok_r(line, " ", &save); t && argc < 63; t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    argv[argc] = NULL;
    return dnn_train_main(argc, argv);
}

static void expect_same(const char *a, const char *b, int same)
{
    char pa[128], pb[128];
    snprintf(pa, sizeof pa, "%s/%s.h5", dir, a);
    snprintf(pb, sizeof pb, "%s/%s.h5", dir, b);
    size_t na, nb;
    unsigned char *x = params_of(pa, &na), *y = params_of(pb, &nb);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT_EQUAL(na, nb);
    CU_ASSERT_EQUAL(na, (6 * 5 + 5 + 5 * 3 + 3 + 3 * 1 + 1) * sizeof(float));
    if (na == nb)
        CU_ASSERT_EQUAL(memcmp(x, y, na) == 0, same);
    free(x);
    free(y);
}

/* Mini-batch with the course-2 state (Adam moments, dropout, a dev set, the
 * history, standardization) three times, another run in between. */
static void test_runs_three_times(void)
{
    const char *a = "--batch-size 32 --optimizer adam --lr 0.01 --keep-prob 0.9 --l2 0.01 --lr-decay inverse "
                    "--validation-split 0.2 --standardize --epochs 4 --print-every 5";
    CU_ASSERT_EQUAL(train("a1", a), 0);
    CU_ASSERT_EQUAL(train("a2", a), 0);
    CU_ASSERT_EQUAL(train("b", "--lr 0.1 --iterations 20 --seed 9"), 0);
    CU_ASSERT_EQUAL(train("a3", a), 0);
    expect_same("a1", "a2", 1);
    expect_same("a1", "a3", 1);
    expect_same("a1", "b", 0); /* the comparison can tell runs apart */
}

/* A run that fails (an agreed error) returns 1 and leaves the next run intact. */
static void test_failure_then_run(void)
{
    const char *a = "--lr 0.05 --iterations 30 --print-every 10";
    CU_ASSERT_EQUAL(train("f1", a), 0);
    CU_ASSERT_EQUAL(train("bad", "--lr 0.05 --iterations 30 --x no_such_dataset"), 1);
    CU_ASSERT_EQUAL(train("f2", a), 0);
    expect_same("f1", "f2", 1);
    /* a full-batch run resumed in-process continues where the first stopped */
    CU_ASSERT_EQUAL(train("r", "--lr 0.05 --iterations 15 --print-every 10"), 0);
    CU_ASSERT_EQUAL(train("r", "--lr 0.05 --iterations 30 --print-every 10 --resume"), 0);
    expect_same("f1", "r", 1);
}

int main(int argc, char **argv)
{
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
        return 2;
    const dnn_test_t tests[] = {DNN_TEST(test_runs_three_times), DNN_TEST(test_failure_then_run)};
    int rc = dnn_test_run("train", init, clean, tests, sizeof tests / sizeof tests[0]);
    MPI_Finalize();
    return rc;
}
