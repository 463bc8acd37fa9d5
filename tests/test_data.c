/*
 * test_data.c - CUnit suite for the data module (HDF5 shard reader, label
 * checks, preprocessing).
 *
 * Every input file is written here with the HDF5 C API into a mkdtemp folder
 * (removed at the end), with contents given by simple formulas, so the
 * expected matrices are known exactly.  Error cases check the return code and
 * that the message names the file and the dataset.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#include "dnn/data.h"
#include "dnn/exact.h"

#include "dnn_test.h"
#include <CUnit/Basic.h>
#include <ftw.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

static int suite_init(void)
{
    snprintf(tmpdir, sizeof tmpdir, "test_data_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void) { return dnn_test_rmtree(tmpdir); }

/* Full path of a file in the temporary folder (static buffer per slot). */
static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static hid_t create(const char *name)
{
    hid_t f = H5Fcreate(tpath(name), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    return f;
}

/* Write dataset `name` of file type ftype from memory of type mtype. */
static void put(hid_t f, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims, const void *v)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    CU_ASSERT_FATAL(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
}

static double at(const dnn_data_t *d, const void *p, size_t i)
{
    return d->prec == DNN_DOUBLE ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

/*
 * uint8 images (m=5, 4, 3) become n_x = 12 features per example, in C order,
 * times --scale 1/255; Y uint8 (5,).  Tolerance: double 4e-16 absolute (the
 * values are <= 1: two roundings), float 6e-8.
 */
static void test_data_uint8_images_scaled(void)
{
    enum { m = 5, r = 4, c = 3 };
    unsigned char X[m][r][c], Y[m];
    for (int j = 0; j < m; j++) {
        Y[j] = (unsigned char)(j % 2);
        for (int a = 0; a < r; a++)
            for (int b = 0; b < c; b++)
                X[j][a][b] = (unsigned char)((j * 37 + a * 11 + b * 5 + 200) % 256);
    }
    hid_t f = create("u8.h5");
    hsize_t xd[3] = {m, r, c}, yd[1] = {m};
    put(f, "train_x", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 3, xd, X);
    put(f, "train_y", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 1, yd, Y);
    H5Fclose(f);
    char msg[DNN_MSG_LEN];
    dnn_data_shape_t s;
    CU_ASSERT_EQUAL_FATAL(dnn_data_probe(tpath("u8.h5"), "train_x", "train_y", 0, &s, msg), 0);
    CU_ASSERT_EQUAL(s.m, (uint64_t)m);
    CU_ASSERT_EQUAL(s.n_x, (size_t)(r * c));
    CU_ASSERT_EQUAL(s.n_y, 1u);
    CU_ASSERT_EQUAL(s.y_transposed, 0);
    CU_ASSERT_EQUAL(s.x_features_first, 0);
    const double scale = 1.0 / 255.0;
    for (int prec = 0; prec < 2; prec++) {
        dnn_data_t d;
        CU_ASSERT_EQUAL_FATAL(
            dnn_data_read(&d, tpath("u8.h5"), "train_x", "train_y", &s, (dnn_precision_t)prec, 0, m, scale, msg), 0);
        CU_ASSERT_EQUAL(d.lo, 0u);
        CU_ASSERT_EQUAL(d.hi, (uint64_t)m);
        double tol = prec == DNN_DOUBLE ? 4e-16 : 6e-8;
        for (int j = 0; j < m; j++) {
            for (int a = 0; a < r; a++)
                for (int b = 0; b < c; b++)
                    CU_ASSERT_DOUBLE_EQUAL(at(&d, d.X, (size_t)j * 12 + (size_t)(a * c + b)), X[j][a][b] / 255.0, tol);
            CU_ASSERT_EQUAL(at(&d, d.Y, (size_t)j), (double)Y[j]);
        }
        dnn_data_free(&d);
    }
    /* scale 1 keeps the raw values exactly */
    dnn_data_t d;
    CU_ASSERT_EQUAL_FATAL(dnn_data_read(&d, tpath("u8.h5"), "train_x", "train_y", &s, DNN_SINGLE, 0, m, 1.0, msg), 0);
    CU_ASSERT_EQUAL(at(&d, d.X, 0), (double)X[0][0][0]);
    CU_ASSERT_EQUAL(at(&d, d.X, 59), (double)X[4][3][2]);
    dnn_data_free(&d);
}

/* int16 X (with the extremes) and int32 Y; float64 X and float32 Y: exact conversions. */
static void test_data_int16_and_float64(void)
{
    short X[4][2] = {{-32768, 32767}, {0, -1}, {12345, -12345}, {7, 8}};
    int Y[4] = {3, 0, 2, 1};
    double Xd[3][2] = {{0.1, -2.5}, {1e10, 3.0}, {-0.0, 1.0 / 3.0}};
    float Yf[3] = {0.5f, -1.25f, 4.0f};
    hid_t f = create("ints.h5");
    hsize_t xd[2] = {4, 2}, yd[1] = {4}, xd2[2] = {3, 2}, yd2[1] = {3};
    put(f, "x16", H5T_STD_I16LE, H5T_NATIVE_SHORT, 2, xd, X);
    put(f, "y32", H5T_STD_I32BE, H5T_NATIVE_INT, 1, yd, Y); /* big-endian on disk, too */
    put(f, "x64", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, xd2, Xd);
    put(f, "y32f", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, yd2, Yf);
    H5Fclose(f);
    char msg[DNN_MSG_LEN];
    dnn_data_shape_t s;
    CU_ASSERT_EQUAL_FATAL(dnn_data_probe(tpath("ints.h5"), "x16", "y32", 0, &s, msg), 0);
    CU_ASSERT_EQUAL(s.m, 4u);
    CU_ASSERT_EQUAL(s.n_x, 2u);
    for (int prec = 0; prec < 2; prec++) {
        dnn_data_t d;
        CU_ASSERT_EQUAL_FATAL(dnn_data_read(&d, tpath("ints.h5"), "x16", "y32", &s, (dnn_precision_t)prec, 0, 4, 1.0,
                                            msg), 0);
        for (int j = 0; j < 4; j++) {
            CU_ASSERT_EQUAL(at(&d, d.X, (size_t)j * 2), (double)X[j][0]);
            CU_ASSERT_EQUAL(at(&d, d.X, (size_t)j * 2 + 1), (double)X[j][1]);
            CU_ASSERT_EQUAL(at(&d, d.Y, (size_t)j), (double)Y[j]);
        }
        dnn_data_free(&d);
    }
    CU_ASSERT_EQUAL_FATAL(dnn_data_probe(tpath("ints.h5"), "x64", "y32f", 0, &s, msg), 0);
    for (int prec = 0; prec < 2; prec++) {
        dnn_data_t d;
        CU_ASSERT_EQUAL_FATAL(dnn_data_read(&d, tpath("ints.h5"), "x64", "y32f", &s, (dnn_precision_t)prec, 0, 3, 1.0,
                                            msg), 0);
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < 2; i++) {
                double want = prec == DNN_DOUBLE ? Xd[j][i] : (double)(float)Xd[j][i];
                CU_ASSERT_EQUAL(at(&d, d.X, (size_t)j * 2 + (size_t)i), want);
            }
        for (int j = 0; j < 3; j++)
            CU_ASSERT_EQUAL(at(&d, d.Y, (size_t)j), (double)Yf[j]);
        dnn_data_free(&d);
    }
}

/*
 * features-first: X (n_x=3, m=6) with X[i][j] = 10 i + j; reading [1, 5)
 * gives the column-major (3 x 4) block of examples 1..4.  Y (1, 6).
 */
static void test_data_features_first(void)
{
    double X[3][6], Y[1][6];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 6; j++)
            X[i][j] = 10.0 * i + j;
    for (int j = 0; j < 6; j++)
        Y[0][j] = j % 2;
    hid_t f = create("ff.h5");
    hsize_t xd[2] = {3, 6}, yd[2] = {1, 6};
    put(f, "X", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, xd, X);
    put(f, "Y", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, yd, Y);
    H5Fclose(f);
    char msg[DNN_MSG_LEN];
    dnn_data_shape_t s;
    CU_ASSERT_EQUAL_FATAL(dnn_data_probe(tpath("ff.h5"), "X", "Y", 1, &s, msg), 0);
    CU_ASSERT_EQUAL(s.m, 6u);
    CU_ASSERT_EQUAL(s.n_x, 3u);
    CU_ASSERT_EQUAL(s.n_y, 1u);
    CU_ASSERT_EQUAL(s.x_features_first, 1);
    CU_ASSERT_EQUAL(s.y_transposed, 1);
    for (int prec = 0; prec < 2; prec++) {
        dnn_data_t d;
        CU_ASSERT_EQUAL_FATAL(dnn_data_read(&d, tpath("ff.h5"), "X", "Y", &s, (dnn_precision_t)prec, 1, 5, 1.0, msg), 0);
        for (int j = 0; j < 4; j++) {
            for (int i = 0; i < 3; i++)
                CU_ASSERT_EQUAL(at(&d, d.X, (size_t)(j * 3 + i)), X[i][j + 1]);
            CU_ASSERT_EQUAL(at(&d, d.Y, (size_t)j), Y[0][j + 1]);
        }
        dnn_data_free(&d);
    }
    /* the same file read examples-first sees m = 3 examples of 6 features */
    CU_ASSERT_EQUAL_FATAL(dnn_data_probe(tpath("ff.h5"), "X", NULL, 0, &s, msg), 0);
    CU_ASSERT_EQUAL(s.m, 3u);
    CU_ASSERT_EQUAL(s.n_x, 6u);
    /* features-first needs rank 2 */
    double X3[2][2][2] = {{{0}}};
    hsize_t d3[3] = {2, 2, 2};
    f = create("ff3.h5");
    put(f, "X", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, d3, X3);
    H5Fclose(f);
    msg[0] = 0;
    CU_ASSERT_EQUAL(dnn_data_probe(tpath("ff3.h5"), "X", NULL, 1, &s, msg), DNN_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, tpath("ff3.h5")));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "'X'"));
}

/*
 * Y as (m,), (m, 1), (1, m), (m, 2) and (2, m), m = 4: n_y, the transposed
 * flag and the column-major (n_y x cols) values of examples [1, 3).
 */
static void test_data_y_shapes(void)
{
    enum { m = 4 };
    double X[m][2];
    for (int j = 0; j < m; j++)
        X[j][0] = j, X[j][1] = -j;
    double y1[m], ym1[m][1], y1m[1][m], ym2[m][2], y2m[2][m];
    for (int j = 0; j < m; j++) {
        y1[j] = ym1[j][0] = y1m[0][j] = 1.0 + j;
        ym2[j][0] = y2m[0][j] = 10.0 + j;
        ym2[j][1] = y2m[1][j] = 20.0 + j;
    }
    hid_t f = create("ys.h5");
    hsize_t xd[2] = {m, 2}, d1[1] = {m}, dm1[2] = {m, 1}, d1m[2] = {1, m}, dm2[2] = {m, 2}, d2m[2] = {2, m};
    put(f, "X", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, xd, X);
    put(f, "y_m", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, d1, y1);
    put(f, "y_m1", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dm1, ym1);
    put(f, "y_1m", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d1m, y1m);
    put(f, "y_m2", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dm2, ym2);
    put(f, "y_2m", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d2m, y2m);
    H5Fclose(f);
    struct {
        const char *name;
        size_t n_y;
        int transposed;
    } cases[] = {{"y_m", 1, 0}, {"y_m1", 1, 0}, {"y_1m", 1, 1}, {"y_m2", 2, 0}, {"y_2m", 2, 1}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char msg[DNN_MSG_LEN];
        dnn_data_shape_t s;
        int rc = dnn_data_probe(tpath("ys.h5"), "X", cases[k].name, 0, &s, msg);
        CU_ASSERT_EQUAL(rc, 0);
        if (rc) {
            fprintf(stderr, "\n  %s: %s\n", cases[k].name, msg);
            continue;
        }
        CU_ASSERT_EQUAL(s.n_y, cases[k].n_y);
        CU_ASSERT_EQUAL(s.y_transposed, cases[k].transposed);
        for (int prec = 0; prec < 2; prec++) {
            dnn_data_t d;
            CU_ASSERT_EQUAL_FATAL(
                dnn_data_read(&d, tpath("ys.h5"), "X", cases[k].name, &s, (dnn_precision_t)prec, 1, 3, 1.0, msg), 0);
            for (int j = 0; j < 2; j++) {
                int g = j + 1;
                if (cases[k].n_y == 1) {
                    CU_ASSERT_EQUAL(at(&d, d.Y, (size_t)j), 1.0 + g);
                } else {
                    CU_ASSERT_EQUAL(at(&d, d.Y, (size_t)j * 2), 10.0 + g);
                    CU_ASSERT_EQUAL(at(&d, d.Y, (size_t)j * 2 + 1), 20.0 + g);
                }
                CU_ASSERT_EQUAL(at(&d, d.X, (size_t)j * 2), (double)g);
                CU_ASSERT_EQUAL(at(&d, d.X, (size_t)j * 2 + 1), (double)-g);
            }
            dnn_data_free(&d);
        }
    }
}

/*
 * A hyperslab [lo, hi) returns exactly those examples: X[j][i] = 100 j + i,
 * Y[j] = j, m = 10; ranges [3,7), [0,1), [9,10) and the empty [4,4).
 */
static void test_data_hyperslab_range(void)
{
    enum { m = 10, nx = 3 };
    double X[m][nx];
    long long Y[m];
    for (int j = 0; j < m; j++) {
        Y[j] = j;
        for (int i = 0; i < nx; i++)
            X[j][i] = 100.0 * j + i;
    }
    hid_t f = create("slab.h5");
    hsize_t xd[2] = {m, nx}, yd[1] = {m};
    put(f, "train_x", H5T_IEEE_F32LE, H5T_NATIVE_DOUBLE, 2, xd, X);
    put(f, "train_y", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, yd, Y);
    H5Fclose(f);
    char msg[DNN_MSG_LEN];
    dnn_data_shape_t s;
    CU_ASSERT_EQUAL_FATAL(dnn_data_probe(tpath("slab.h5"), "train_x", "train_y", 0, &s, msg), 0);
    static const uint64_t ranges[][2] = {{3, 7}, {0, 1}, {9, 10}, {4, 4}, {0, 10}};
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        uint64_t lo = ranges[k][0], hi = ranges[k][1];
        for (int prec = 0; prec < 2; prec++) {
            dnn_data_t d;
            int rc = dnn_data_read(&d, tpath("slab.h5"), "train_x", "train_y", &s, (dnn_precision_t)prec, lo, hi,
                                   1.0, msg);
            CU_ASSERT_EQUAL_FATAL(rc, 0);
            CU_ASSERT_EQUAL(d.lo, lo);
            CU_ASSERT_EQUAL(d.hi, hi);
            for (uint64_t j = 0; j < hi - lo; j++) {
                for (int i = 0; i < nx; i++)
                    CU_ASSERT_EQUAL(at(&d, d.X, j * nx + (uint64_t)i), 100.0 * (double)(lo + j) + i);
                CU_ASSERT_EQUAL(at(&d, d.Y, j), (double)(lo + j));
            }
            dnn_data_free(&d);
        }
    }
    /* no labels: Y stays NULL */
    dnn_data_t d;
    CU_ASSERT_EQUAL_FATAL(dnn_data_probe(tpath("slab.h5"), "train_x", NULL, 0, &s, msg), 0);
    CU_ASSERT_EQUAL(s.n_y, 0u);
    CU_ASSERT_EQUAL_FATAL(dnn_data_read(&d, tpath("slab.h5"), "train_x", NULL, &s, DNN_SINGLE, 2, 4, 2.0, msg), 0);
    CU_ASSERT_PTR_NULL(d.Y);
    CU_ASSERT_EQUAL(at(&d, d.X, 0), 400.0);
    CU_ASSERT_EQUAL(at(&d, d.X, 5), 2.0 * 302.0);
    dnn_data_free(&d);
    dnn_data_free(&d); /* twice is harmless */
    dnn_data_free(NULL);
}

/* Each error: the code, and a message naming the file and (when relevant) the dataset. */
static void expect_probe_error(const char *file, const char *x, const char *y, int ff, int code,
                               const char *const *needles)
{
    char msg[DNN_MSG_LEN] = "";
    dnn_data_shape_t s;
    int rc = dnn_data_probe(file, x, y, ff, &s, msg);
    CU_ASSERT_EQUAL(rc, code);
    int all = 1;
    for (const char *const *n = needles; *n; n++) {
        int found = strstr(msg, *n) != NULL;
        CU_ASSERT(found);
        all &= found;
    }
    if (rc != code || !all)
        fprintf(stderr, "\n  probe(%s, %s, %s): rc %d (expected %d), message: %s\n", file, x, y ? y : "NULL", rc,
                code, msg);
}

static void test_data_errors_named(void)
{
    double X[5][3] = {{0}}, Y4[4] = {0}, Y5[5] = {0};
    hsize_t xd[2] = {5, 3}, y4[1] = {4}, y5[1] = {5}, x0[2] = {0, 3}, y3d[3] = {5, 1, 1};
    hid_t f = create("bad.h5");
    put(f, "X", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, xd, X);
    put(f, "Y4", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, y4, Y4);
    put(f, "Y5", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, y5, Y5);
    put(f, "Y3d", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, y3d, Y5);
    put(f, "X0", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, x0, X);
    /* a string dataset of 5 names */
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 6);
    char names[5][6] = {"alpha", "beta", "gamma", "delta", "eps"};
    put(f, "S", st, st, 1, y5, names);
    H5Tclose(st);
    H5Gclose(H5Gcreate2(f, "grp", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Fclose(f);
    const char *bad = tpath("bad.h5");
    char badc[512];
    snprintf(badc, sizeof badc, "%s", bad);

    /* missing file */
    const char *missing = tpath("does_not_exist.h5");
    char missc[512];
    snprintf(missc, sizeof missc, "%s", missing);
    expect_probe_error(missc, "X", "Y5", 0, DNN_EIO, (const char *const[]){missc, NULL});
    /* a text file is not HDF5 */
    char txt[512];
    snprintf(txt, sizeof txt, "%s", tpath("notes.h5"));
    FILE *t = fopen(txt, "w");
    CU_ASSERT_FATAL(t != NULL);
    fputs("this is not an HDF5 file\n1,2,3\n", t);
    fclose(t);
    expect_probe_error(txt, "X", "Y5", 0, DNN_EIO, (const char *const[]){txt, NULL});
    /* missing datasets */
    expect_probe_error(badc, "nope_x", "Y5", 0, DNN_EDATA, (const char *const[]){badc, "nope_x", NULL});
    expect_probe_error(badc, "X", "nope_y", 0, DNN_EDATA, (const char *const[]){badc, "nope_y", NULL});
    /* a group is not a numeric dataset */
    expect_probe_error(badc, "grp", "Y5", 0, DNN_EDATA, (const char *const[]){badc, "grp", NULL});
    /* strings */
    expect_probe_error(badc, "S", "Y5", 0, DNN_EDATA, (const char *const[]){badc, "'S'", "string", NULL});
    expect_probe_error(badc, "X", "S", 0, DNN_EDATA, (const char *const[]){badc, "'S'", "string", NULL});
    /* X has 5 examples, Y 4 */
    expect_probe_error(badc, "X", "Y4", 0, DNN_EDATA, (const char *const[]){badc, "'X'", "'Y4'", "5", "4", NULL});
    expect_probe_error(badc, "X", "Y3d", 0, DNN_EDATA, (const char *const[]){badc, "'Y3d'", NULL});
    /* m = 0 */
    expect_probe_error(badc, "X0", NULL, 0, DNN_EDATA, (const char *const[]){badc, "'X0'", "0", NULL});

    /* dnn_data_read with a dataset missing (shape taken from a good probe) */
    char msg[DNN_MSG_LEN] = "";
    dnn_data_shape_t s;
    dnn_data_t d;
    CU_ASSERT_EQUAL_FATAL(dnn_data_probe(badc, "X", "Y5", 0, &s, msg), 0);
    CU_ASSERT_EQUAL(dnn_data_read(&d, badc, "gone", "Y5", &s, DNN_SINGLE, 0, 5, 1.0, msg), DNN_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "gone"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, badc));
    CU_ASSERT_PTR_NULL(d.X); /* freed on failure */
    msg[0] = 0;
    CU_ASSERT_EQUAL(dnn_data_read(&d, badc, "X", "gone_y", &s, DNN_SINGLE, 0, 5, 1.0, msg), DNN_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "gone_y"));
    CU_ASSERT_PTR_NULL(d.X);
    msg[0] = 0;
    CU_ASSERT_EQUAL(dnn_data_read(&d, missc, "X", "Y5", &s, DNN_SINGLE, 0, 5, 1.0, msg), DNN_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, missc));
}

/*
 * Non-finite X: NaN at example 7 feature 2, +Inf at example 8 feature 0.
 * The reported index is global (shard offset included).
 */
static void test_data_nonfinite_global_index(void)
{
    enum { m = 10, nx = 4 };
    double X[m][nx], Y[m] = {0};
    for (int j = 0; j < m; j++)
        for (int i = 0; i < nx; i++)
            X[j][i] = j + 0.25 * i;
    X[7][2] = NAN;
    X[8][0] = INFINITY;
    hid_t f = create("nan.h5");
    hsize_t xd[2] = {m, nx}, yd[1] = {m};
    put(f, "X", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, xd, X);
    put(f, "Y", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, yd, Y);
    H5Fclose(f);
    char msg[DNN_MSG_LEN];
    dnn_data_shape_t s;
    CU_ASSERT_EQUAL_FATAL(dnn_data_probe(tpath("nan.h5"), "X", "Y", 0, &s, msg), 0);
    static const struct {
        uint64_t lo, hi, want;
        size_t feature;
    } cases[] = {{5, 10, 7, 2}, {0, 10, 7, 2}, {8, 10, 8, 0}, {0, 7, UINT64_MAX, 0}, {9, 10, UINT64_MAX, 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int prec = 0; prec < 2; prec++) {
            dnn_data_t d;
            CU_ASSERT_EQUAL_FATAL(dnn_data_read(&d, tpath("nan.h5"), "X", "Y", &s, (dnn_precision_t)prec, cases[k].lo,
                                                cases[k].hi, 1.0, msg), 0);
            size_t feat = 999;
            uint64_t got = dnn_data_find_nonfinite(&d, &feat);
            CU_ASSERT_EQUAL(got, cases[k].want);
            if (cases[k].want != UINT64_MAX)
                CU_ASSERT_EQUAL(feat, cases[k].feature);
            dnn_data_free(&d);
        }
}

/* Label checks, threshold and max label on a shard [1, 7) of Y = 0,1,1,2,0,1.5,-1. */
static void test_data_labels(void)
{
    enum { m = 7 };
    double X[m] = {0}, Y[m] = {0, 1, 1, 2, 0, 1.5, -1}, Yn[m] = {0, 1, 0, NAN, 1, 1, 0};
    hid_t f = create("lab.h5");
    hsize_t d1[2] = {m, 1}, yd[1] = {m};
    put(f, "X", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d1, X);
    put(f, "Y", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, yd, Y);
    put(f, "Yn", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, yd, Yn);
    H5Fclose(f);
    char msg[DNN_MSG_LEN];
    dnn_data_shape_t s;
    dnn_data_t d;
    CU_ASSERT_EQUAL_FATAL(dnn_data_probe(tpath("lab.h5"), "X", "Y", 0, &s, msg), 0);
    for (int prec = 0; prec < 2; prec++) {
        CU_ASSERT_EQUAL_FATAL(dnn_data_read(&d, tpath("lab.h5"), "X", "Y", &s, (dnn_precision_t)prec, 1, 5, 1.0, msg),
                              0);
        double bad = 0;
        /* [1,5) = 1,1,2,0: binary fails at global index 3 (value 2) */
        CU_ASSERT_EQUAL(dnn_data_check_labels(&d, 0, 0, &bad), 3u);
        CU_ASSERT_EQUAL(bad, 2.0);
        CU_ASSERT_EQUAL(dnn_data_check_labels(&d, 1, 3, &bad), UINT64_MAX);
        CU_ASSERT_EQUAL(dnn_data_check_labels(&d, 1, 2, &bad), 3u);
        CU_ASSERT_EQUAL(dnn_data_check_labels(&d, 2, 0, &bad), UINT64_MAX);
        CU_ASSERT_EQUAL(dnn_data_max_label(&d), 2.0);
        dnn_data_threshold(&d, 1.0); /* y >= 1 -> 1,1,1,0 */
        CU_ASSERT_EQUAL(at(&d, d.Y, 0), 1.0);
        CU_ASSERT_EQUAL(at(&d, d.Y, 2), 1.0);
        CU_ASSERT_EQUAL(at(&d, d.Y, 3), 0.0);
        CU_ASSERT_EQUAL(dnn_data_check_labels(&d, 0, 0, &bad), UINT64_MAX);
        dnn_data_free(&d);
        /* [4,7) = 0, 1.5, -1: not an integer class at 5, negative at 6 */
        CU_ASSERT_EQUAL_FATAL(dnn_data_read(&d, tpath("lab.h5"), "X", "Y", &s, (dnn_precision_t)prec, 4, 7, 1.0, msg),
                              0);
        CU_ASSERT_EQUAL(dnn_data_check_labels(&d, 1, 10, &bad), 5u);
        CU_ASSERT_EQUAL(bad, 1.5);
        CU_ASSERT_EQUAL(dnn_data_check_labels(&d, 2, 0, &bad), UINT64_MAX);
        dnn_data_threshold(&d, 1.5); /* 0, 1, unlabelled (-1 stays unlabelled, as NaN) */
        CU_ASSERT_EQUAL(at(&d, d.Y, 0), 0.0);
        CU_ASSERT_EQUAL(at(&d, d.Y, 1), 1.0);
        CU_ASSERT(isnan(at(&d, d.Y, 2)));
        CU_ASSERT_EQUAL(dnn_data_check_labels(&d, 0, 0, &bad), UINT64_MAX);
        dnn_data_free(&d);
        CU_ASSERT_EQUAL_FATAL(dnn_data_read(&d, tpath("lab.h5"), "X", "Y", &s, (dnn_precision_t)prec, 6, 7, 1.0, msg),
                              0);
        CU_ASSERT_EQUAL(dnn_data_check_labels(&d, 1, 10, &bad), 6u);
        CU_ASSERT_EQUAL(bad, -1.0);
        dnn_data_free(&d);
        /* NaN label: kind 2 (finite regression targets) reports it */
        CU_ASSERT_EQUAL_FATAL(dnn_data_read(&d, tpath("lab.h5"), "X", "Yn", &s, (dnn_precision_t)prec, 0, 7, 1.0, msg),
                              0);
        CU_ASSERT_EQUAL(dnn_data_check_labels(&d, 2, 0, &bad), 3u);
        CU_ASSERT(isnan(bad));
        /* binary labels: NaN is an unlabelled entry (README, Multi-task outputs) */
        CU_ASSERT_EQUAL(dnn_data_check_labels(&d, 0, 0, &bad), UINT64_MAX);
        dnn_data_free(&d);
    }
}

/*
 * Standardization over two shards [0,3) and [3,6) as ranks would do it:
 * per-feature sums add up to the global sums; mean = (3.5, 15), population
 * variance = (17.5/6, 25); afterwards each feature has mean 0 and std 1.
 * Tolerance 1e-14 (double), 1e-6 (float).
 */
static void test_data_standardize(void)
{
    enum { m = 6, nx = 2 };
    double X[m][nx] = {{1, 10}, {2, 10}, {3, 10}, {4, 20}, {5, 20}, {6, 20}}, Y[m] = {0};
    hid_t f = create("std.h5");
    hsize_t xd[2] = {m, nx}, yd[1] = {m};
    put(f, "X", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, xd, X);
    put(f, "Y", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, yd, Y);
    H5Fclose(f);
    char msg[DNN_MSG_LEN];
    dnn_data_shape_t s;
    CU_ASSERT_EQUAL_FATAL(dnn_data_probe(tpath("std.h5"), "X", "Y", 0, &s, msg), 0);
    for (int prec = 0; prec < 2; prec++) {
        dnn_data_t a, b;
        CU_ASSERT_EQUAL_FATAL(dnn_data_read(&a, tpath("std.h5"), "X", "Y", &s, (dnn_precision_t)prec, 0, 3, 1.0, msg), 0);
        CU_ASSERT_EQUAL_FATAL(dnn_data_read(&b, tpath("std.h5"), "X", "Y", &s, (dnn_precision_t)prec, 3, 6, 1.0, msg), 0);
        double sum[nx] = {0}, sq[nx] = {0}, mean[nx], sd[nx];
        dnn_data_feature_sums(&a, NULL, sum);
        dnn_data_feature_sums(&b, NULL, sum);
        CU_ASSERT_EQUAL(sum[0], 21.0);
        CU_ASSERT_EQUAL(sum[1], 90.0);
        for (int i = 0; i < nx; i++)
            mean[i] = sum[i] / m;
        dnn_data_feature_sums(&a, mean, sq);
        dnn_data_feature_sums(&b, mean, sq);
        CU_ASSERT_DOUBLE_EQUAL(sq[0], 17.5, 1e-14);
        CU_ASSERT_DOUBLE_EQUAL(sq[1], 150.0, 1e-14);
        for (int i = 0; i < nx; i++)
            sd[i] = sqrt(sq[i] / m);
        CU_ASSERT_DOUBLE_EQUAL(sd[1], 5.0, 1e-15);
        dnn_data_standardize(&a, mean, sd);
        dnn_data_standardize(&b, mean, sd);
        double tol = prec == DNN_DOUBLE ? 1e-14 : 1e-6;
        double s1[nx] = {0}, s2[nx] = {0};
        for (int j = 0; j < m; j++)
            for (int i = 0; i < nx; i++) {
                double v = j < 3 ? at(&a, a.X, (size_t)(j * nx + i)) : at(&b, b.X, (size_t)((j - 3) * nx + i));
                CU_ASSERT_DOUBLE_EQUAL(v, (X[j][i] - mean[i]) / sd[i], tol);
                s1[i] += v;
                s2[i] += v * v;
            }
        for (int i = 0; i < nx; i++) {
            CU_ASSERT_DOUBLE_EQUAL(s1[i] / m, 0.0, tol);
            CU_ASSERT_DOUBLE_EQUAL(s2[i] / m, 1.0, tol);
        }
        /* feature 1 is exactly -1 / +1 */
        CU_ASSERT_DOUBLE_EQUAL(at(&a, a.X, 1), -1.0, tol);
        CU_ASSERT_DOUBLE_EQUAL(at(&b, b.X, 1), 1.0, tol);
        dnn_data_free(&a);
        dnn_data_free(&b);
    }
}

/* ---- the --validation-split dev set and the --standardize statistics (data.c) ---- */

/* A slab of examples [lo, hi) in double: X column g = (g, -g, 7), Y = g. */
static void make_slab(dnn_data_t *d, uint64_t lo, uint64_t hi)
{
    size_t cols = (size_t)(hi - lo);
    memset(d, 0, sizeof *d);
    d->prec = DNN_DOUBLE;
    d->shape.m = hi;
    d->shape.n_x = 3;
    d->shape.n_y = 1;
    d->lo = lo;
    d->hi = hi;
    d->X = malloc((cols ? cols : 1) * 3 * sizeof(double));
    d->Y = malloc((cols ? cols : 1) * sizeof(double));
    double *X = d->X, *Y = d->Y;
    for (size_t c = 0; c < cols; c++) {
        X[3 * c] = (double)(lo + c);
        X[3 * c + 1] = -(double)(lo + c);
        X[3 * c + 2] = 7;
        Y[c] = (double)(lo + c);
    }
}

/* The held-out set is a function of (seed, index) alone, of about the asked size. */
static void test_data_split_fraction(void)
{
    const uint64_t m = 20000;
    for (int k = 0; k < 3; k++) {
        double F = k == 0 ? 0.0 : k == 1 ? 0.1 : 0.5;
        uint64_t held = 0, held_other_seed = 0, same = 0;
        for (uint64_t g = 0; g < m; g++) {
            int h = dnn_data_held_out(3, g, F);
            held += h;
            held_other_seed += dnn_data_held_out(4, g, F);
            same += h == dnn_data_held_out(3, g, F);
        }
        CU_ASSERT_EQUAL(same, m);
        CU_ASSERT_EQUAL(dnn_data_split_count(m, 3, F), m - held);
        CU_ASSERT(fabs((double)held - F * m) < 4 * sqrt(F * (1 - F) * m) + 1e-9);
        CU_ASSERT(fabs((double)held_other_seed - F * m) < 4 * sqrt(F * (1 - F) * m) + 1e-9);
    }
    /* another seed holds out other examples; a larger file keeps the choices of the smaller */
    int differ = 0;
    for (uint64_t g = 0; g < 1000; g++)
        differ |= dnn_data_held_out(3, g, 0.3) != dnn_data_held_out(4, g, 0.3);
    CU_ASSERT(differ);
    uint64_t small = 1000 - dnn_data_split_count(1000, 3, 0.3), big = 0;
    for (uint64_t g = 0; g < 1000; g++)
        big += dnn_data_held_out(3, g, 0.3);
    CU_ASSERT_EQUAL(small, big);
}

/* For 1..4 ranks the file ranges tile [0, m), each holding exactly its training examples. */
static void test_data_split_ranges_tile(void)
{
    const uint64_t m = 1003, seed = 11;
    const double F = 0.25;
    uint64_t mt = dnn_data_split_count(m, seed, F);
    for (int N = 1; N <= 4; N++) {
        uint64_t prev_hi = 0;
        for (int r = 0; r < N; r++) {
            uint64_t tlo = mt * (uint64_t)r / (uint64_t)N, thi = mt * (uint64_t)(r + 1) / (uint64_t)N, lo, hi;
            dnn_data_split_range(m, seed, F, tlo, thi, r == 0, &lo, &hi);
            CU_ASSERT_EQUAL(lo, prev_hi); /* contiguous, no overlap */
            uint64_t t_before = 0, t_in = 0;
            for (uint64_t g = 0; g < m; g++) {
                int train = !dnn_data_held_out(seed, g, F);
                t_before += train && g < lo;
                t_in += train && g >= lo && g < hi;
            }
            CU_ASSERT_EQUAL(t_before, tlo);
            CU_ASSERT_EQUAL(t_in, thi - tlo);
            prev_hi = hi;
        }
        CU_ASSERT_EQUAL(prev_hi, m);
    }
}

/* The held-out columns move to the dev set in order; the training columns close up. */
static void test_data_split_dev_columns(void)
{
    char msg[DNN_MSG_LEN] = "";
    const uint64_t m = 300, seed = 5;
    const double F = 0.3;
    uint64_t mt = dnn_data_split_count(m, seed, F), tlo = mt / 3, thi = 2 * mt / 3, lo, hi;
    dnn_data_split_range(m, seed, F, tlo, thi, 0, &lo, &hi);
    dnn_data_t t, v;
    make_slab(&t, lo, hi);
    CU_ASSERT_EQUAL_FATAL(dnn_data_split_dev(&t, &v, seed, F, tlo, thi, msg), 0);
    CU_ASSERT_EQUAL(t.lo, tlo);
    CU_ASSERT_EQUAL(t.hi, thi);
    CU_ASSERT_EQUAL(v.lo, 0);
    const double *tX = t.X, *tY = t.Y, *vX = v.X, *vY = v.Y;
    size_t jt = 0, jv = 0, bad = 0;
    for (uint64_t g = lo; g < hi; g++) {
        if (dnn_data_held_out(seed, g, F)) {
            bad += vX[3 * jv] != (double)g || vX[3 * jv + 1] != -(double)g || vX[3 * jv + 2] != 7 || vY[jv] != (double)g;
            jv++;
        } else {
            bad += tX[3 * jt] != (double)g || tX[3 * jt + 1] != -(double)g || tY[jt] != (double)g;
            jt++;
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(jt, thi - tlo);
    CU_ASSERT_EQUAL(v.hi, jv);
    CU_ASSERT(jv > 0);
    dnn_data_free(&t);
    dnn_data_free(&v);
}

typedef struct {
    int calls, failed;
} reduce_log_t;

/* One rank: agreeing is returning rc, the sum over ranks is the sum itself. */
static int reduce_one(void *ctx, int rc, char *msg, int64_t *acc, size_t n)
{
    (void)msg, (void)acc, (void)n;
    reduce_log_t *l = ctx;
    l->calls++;
    l->failed += rc != 0;
    return rc;
}

/* Mean and std against a two-pass sum in long double; a constant feature keeps std 1. */
static void test_data_moments(void)
{
    char msg[DNN_MSG_LEN] = "";
    const uint64_t m = 1000;
    dnn_data_t d;
    make_slab(&d, 0, m);
    double *X = d.X;
    for (uint64_t c = 0; c < m; c++) /* feature 0: a skewed spread; 1: -g; 2: constant 7 */
        X[3 * c] = 0.001 * (double)(c * c % 997) + 0.5;
    reduce_log_t log = {0, 0};
    dnn_data_stats_t st = {m, 256, dnn_exact_limit(4), "X 'x' in 'f.h5'", reduce_one, &log};
    double mean[3], sd[3];
    CU_ASSERT_EQUAL_FATAL(dnn_data_moments(&d, &st, mean, sd, msg), 0);
    CU_ASSERT_EQUAL(log.calls, 3); /* the allocations, then one sum per pass */
    for (int i = 0; i < 3; i++) {
        long double s = 0, q = 0;
        for (uint64_t c = 0; c < m; c++)
            s += X[3 * c + i];
        long double mu = s / m;
        for (uint64_t c = 0; c < m; c++)
            q += (X[3 * c + i] - mu) * (X[3 * c + i] - mu);
        double want_sd = i == 2 ? 1.0 : (double)sqrtl(q / m);
        CU_ASSERT(fabs(mean[i] - (double)mu) <= 1e-12 * fabs((double)mu) + 1e-15);
        CU_ASSERT(fabs(sd[i] - want_sd) <= 1e-12 * want_sd);
    }
    /* a value beyond the fixed-point bound: refused, the failure goes through the agreement */
    X[3 * 5] = 1e300;
    log.calls = log.failed = 0;
    CU_ASSERT_EQUAL(dnn_data_moments(&d, &st, mean, sd, msg), DNN_EDATA);
    CU_ASSERT_EQUAL(log.failed, 1);
    CU_ASSERT(strstr(msg, "X 'x' in 'f.h5'") && strstr(msg, "--standardize"));
    dnn_data_free(&d);
}

int main(void)
{
#define T(name) {#name, name}
    static const dnn_test_t tests[] = {
        T(test_data_uint8_images_scaled),
        T(test_data_int16_and_float64),
        T(test_data_features_first),
        T(test_data_y_shapes),
        T(test_data_hyperslab_range),
        T(test_data_errors_named),
        T(test_data_nonfinite_global_index),
        T(test_data_labels),
        T(test_data_standardize),
        T(test_data_split_fraction),
        T(test_data_split_ranges_tile),
        T(test_data_split_dev_columns),
        T(test_data_moments),
    };
#undef T
    return dnn_test_run("test_data", suite_init, suite_clean, tests, sizeof tests / sizeof tests[0]);
}
