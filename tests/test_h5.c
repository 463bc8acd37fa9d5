/*
 * test_h5.c - CUnit suite for the h5 module (checksummed datasets) and the
 * output module (writability before a run).
 *
 * Layout facts are read back with the HDF5 C API, not with dnn's reader:
 * chunked, Fletcher32 in the pipeline, chunks of at most about 1 MiB.  A
 * checksum mismatch is made by changing one byte of a chunk in the file
 * (its offset from H5Dget_chunk_info_by_coord), so HDF5's own check must catch it.
 * Files live in a mkdtemp folder removed at the end.
 */
#define _GNU_SOURCE
#include "dnn/h5.h"
#include "dnn/output.h"

#include "dnn_test.h"
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static int suite_init(void)
{
    snprintf(tmpdir, sizeof tmpdir, "test_h5_XXXXXX");
    dnn_h5_quiet();
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void) { return dnn_test_rmtree(tmpdir); }

static void tpath(char *buf, const char *name) { snprintf(buf, 512, "%s/%s", tmpdir, name); }

/* Write one dataset into a new file; returns 0 on success. */
static int write_one(const char *path, const char *name, hid_t type, int rank, const hsize_t *dims, const void *v)
{
    char msg[DNN_MSG_LEN];
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    int rc = dnn_h5_write(f, path, name, type, rank, dims, v, msg);
    H5Fclose(f);
    return rc;
}

static int read_one(const char *path, const char *name, hid_t type, int rank, const hsize_t *dims, void *v,
                    unsigned flags, int *verified, char *msg)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    int rc = dnn_h5_read(f, path, name, type, rank, dims, v, flags, verified, msg);
    H5Fclose(f);
    return rc;
}

static void test_h5_round_trip_exact_and_checksummed(void)
{
    char path[512], msg[DNN_MSG_LEN] = "";
    tpath(path, "rt.h5");
    double v[6] = {1.5, -2.25, 1e-300, 3.0, 0x1.fffffffffffffp+1023, -0.0}, back[6] = {0};
    hsize_t dims[2] = {2, 3};
    CU_ASSERT_EQUAL(write_one(path, "A", H5T_NATIVE_DOUBLE, 2, dims, v), 0);
    int verified = -1;
    CU_ASSERT_EQUAL(read_one(path, "A", H5T_NATIVE_DOUBLE, 2, dims, back, DNN_H5_FINITE, &verified, msg), 0);
    CU_ASSERT_EQUAL(memcmp(v, back, sizeof v), 0);
    CU_ASSERT_EQUAL(verified, 1);
    /* the layout, seen by HDF5 itself */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, "A", H5P_DEFAULT);
    hid_t pl = H5Dget_create_plist(d);
    CU_ASSERT_EQUAL(H5Pget_layout(pl), H5D_CHUNKED);
    int n = H5Pget_nfilters(pl), fl = 0;
    for (int i = 0; i < n; i++) {
        unsigned flags, cd[8], fc;
        size_t ncd = 8;
        fl |= H5Pget_filter2(pl, (unsigned)i, &flags, &ncd, cd, 0, NULL, &fc) == H5Z_FILTER_FLETCHER32;
    }
    CU_ASSERT(fl);
    H5Pclose(pl);
    H5Dclose(d);
    H5Fclose(f);
}

/* A (3, 300000) float64: rows of 2.4 MB, chunks must still be <= 1 MiB. */
static void test_h5_chunks_bounded(void)
{
    char path[512], msg[DNN_MSG_LEN] = "";
    tpath(path, "big.h5");
    hsize_t dims[2] = {3, 300000};
    double *v = malloc(3 * 300000 * sizeof(double)), *back = malloc(3 * 300000 * sizeof(double));
    CU_ASSERT_FATAL(v && back);
    for (size_t i = 0; i < 900000; i++)
        v[i] = (double)i * 0.5 - 7;
    CU_ASSERT_EQUAL(write_one(path, "W", H5T_NATIVE_DOUBLE, 2, dims, v), 0);
    CU_ASSERT_EQUAL(read_one(path, "W", H5T_NATIVE_DOUBLE, 2, dims, back, 0, NULL, msg), 0);
    CU_ASSERT_EQUAL(memcmp(v, back, 900000 * sizeof(double)), 0);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, "W", H5P_DEFAULT);
    hid_t pl = H5Dget_create_plist(d);
    hsize_t ch[2] = {0, 0};
    CU_ASSERT_EQUAL(H5Pget_chunk(pl, 2, ch), 2);
    CU_ASSERT(ch[0] >= 1 && ch[1] >= 1 && ch[0] * ch[1] * 8 <= (1u << 20));
    CU_ASSERT(ch[0] * ch[1] * 8 > (1u << 19)); /* not needlessly small either */
    H5Pclose(pl);
    H5Dclose(d);
    H5Fclose(f);
    free(v);
    free(back);
}

static void test_h5_empty_dataset_checksummed(void)
{
    char path[512], msg[DNN_MSG_LEN] = "";
    tpath(path, "empty.h5");
    hsize_t dims[1] = {0};
    int64_t dummy = 7;
    CU_ASSERT_EQUAL(write_one(path, "h", H5T_NATIVE_INT64, 1, dims, &dummy), 0);
    int verified = 0;
    CU_ASSERT_EQUAL(read_one(path, "h", H5T_NATIVE_INT64, 1, dims, &dummy, 0, &verified, msg), 0);
    CU_ASSERT_EQUAL(verified, 1);
    CU_ASSERT_EQUAL(dummy, 7);
}

static void test_h5_shape_and_missing_named(void)
{
    char path[512], msg[DNN_MSG_LEN] = "";
    tpath(path, "shape.h5");
    float v[6] = {0};
    hsize_t dims[2] = {2, 3}, want[2] = {3, 2};
    CU_ASSERT_EQUAL(write_one(path, "W1", H5T_NATIVE_FLOAT, 2, dims, v), 0);
    CU_ASSERT_EQUAL(read_one(path, "W1", H5T_NATIVE_FLOAT, 2, want, v, 0, NULL, msg), DNN_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "'W1'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "(2, 3)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "(3, 2)"));
    CU_ASSERT_EQUAL(read_one(path, "W9", H5T_NATIVE_FLOAT, 2, dims, v, 0, NULL, msg), DNN_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "'W9' not found"));
    CU_ASSERT_EQUAL(read_one(path, "g/x", H5T_NATIVE_FLOAT, 2, dims, v, 0, NULL, msg), DNN_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "'g/x' not found"));
}

static void test_h5_nonfinite_index(void)
{
    char path[512], msg[DNN_MSG_LEN] = "";
    tpath(path, "inf.h5");
    float v[12] = {0};
    v[1 * 4 + 2] = -INFINITY; /* (1, 2) of (3, 4) */
    v[2 * 4 + 3] = NAN;
    hsize_t dims[2] = {3, 4};
    CU_ASSERT_EQUAL(write_one(path, "b2", H5T_NATIVE_FLOAT, 2, dims, v), 0);
    float back[12];
    CU_ASSERT_EQUAL(read_one(path, "b2", H5T_NATIVE_FLOAT, 2, dims, back, 0, NULL, msg), 0); /* no flag: read */
    CU_ASSERT_EQUAL(read_one(path, "b2", H5T_NATIVE_FLOAT, 2, dims, back, DNN_H5_FINITE, NULL, msg), DNN_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "'b2'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "-Inf at index (1, 2)"));
    double d1[3] = {0, 0, NAN}, b1[3];
    hsize_t n1 = 3;
    CU_ASSERT_EQUAL(write_one(path, "m", H5T_NATIVE_DOUBLE, 1, &n1, d1), 0);
    CU_ASSERT_EQUAL(read_one(path, "m", H5T_NATIVE_DOUBLE, 1, &n1, b1, DNN_H5_FINITE, NULL, msg), DNN_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "NaN at index (2,)"));
}

static void test_h5_changed_byte_refused(void)
{
    char path[512], msg[DNN_MSG_LEN] = "";
    tpath(path, "flip.h5");
    float v[40];
    for (int i = 0; i < 40; i++)
        v[i] = (float)i;
    hsize_t dims[2] = {8, 5};
    CU_ASSERT_EQUAL(write_one(path, "W2", H5T_NATIVE_FLOAT, 2, dims, v), 0);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, "W2", H5P_DEFAULT);
    hsize_t off[2] = {0, 0}, size = 0;
    haddr_t addr = 0;
    unsigned mask;
    CU_ASSERT_FATAL(H5Dget_chunk_info_by_coord(d, off, &mask, &addr, &size) >= 0 && size > 0);
    H5Dclose(d);
    H5Fclose(f);
    FILE *fp = fopen(path, "r+b");
    CU_ASSERT_FATAL(fp != NULL);
    fseek(fp, (long)addr + 4 * 7, SEEK_SET); /* the lowest byte of element 7: 7.0f becomes 7.0000005f */
    int c = fgetc(fp);
    fseek(fp, (long)addr + 4 * 7, SEEK_SET);
    fputc(c ^ 1, fp);
    fclose(fp);
    float back[40];
    CU_ASSERT_EQUAL(read_one(path, "W2", H5T_NATIVE_FLOAT, 2, dims, back, DNN_H5_FINITE, NULL, msg), DNN_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "'W2'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "checksum"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, path));
}

static void test_h5_unverified_listed(void)
{
    char path[512], list[64];
    tpath(path, "mixed.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    double v[2] = {1, 2};
    hsize_t n = 2;
    CU_ASSERT_EQUAL(dnn_h5_write(f, path, "ok", H5T_NATIVE_DOUBLE, 1, &n, v, NULL), 0);
    hid_t sp = H5Screate_simple(1, &n, NULL), g = H5Gcreate2(f, "grp", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t d = H5Dcreate2(g, "plain", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Gclose(g);
    H5Sclose(sp);
    int total = 0;
    CU_ASSERT_EQUAL(dnn_h5_unverified(f, list, sizeof list, &total), 1);
    CU_ASSERT_EQUAL(total, 2);
    CU_ASSERT_STRING_EQUAL(list, "grp/plain");
    H5Fclose(f);
}

static void test_output_check_reasons(void)
{
    char msg[DNN_MSG_LEN], path[512], file[512];
    CU_ASSERT_EQUAL(dnn_output_check("--metrics", "", msg), 0);
    snprintf(path, sizeof path, "%s/nosuch/m.csv", tmpdir);
    CU_ASSERT_EQUAL(dnn_output_check("--metrics", path, msg), DNN_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "--metrics"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "does not exist"));
    tpath(file, "afile");
    FILE *fp = fopen(file, "w");
    CU_ASSERT_FATAL(fp != NULL);
    fclose(fp);
    snprintf(path, sizeof path, "%s/ck.h5", file);
    CU_ASSERT_EQUAL(dnn_output_check("--checkpoint", path, msg), DNN_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "not a folder"));
    CU_ASSERT_EQUAL(dnn_output_check("--checkpoint", tmpdir, msg), DNN_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "is a folder"));
}

static void test_output_check_leaves_nothing(void)
{
    char msg[DNN_MSG_LEN], path[512], tmp[520];
    tpath(path, "out.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CU_ASSERT_EQUAL(dnn_output_check("--checkpoint", path, msg), 0);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    CU_ASSERT_NOT_EQUAL(access(tmp, F_OK), 0);
    /* an existing NAME.tmp (not ours) is tried for writing and kept, bytes and all */
    FILE *fp = fopen(tmp, "w");
    CU_ASSERT_FATAL(fp != NULL);
    fputs("keep me", fp);
    fclose(fp);
    CU_ASSERT_EQUAL(dnn_output_check("--checkpoint", path, msg), 0);
    struct stat st;
    CU_ASSERT_EQUAL(stat(tmp, &st), 0);
    CU_ASSERT_EQUAL(st.st_size, 7);
    unlink(tmp);
}

/* Links that lead nowhere, as files copied from another machine have them:
 * each refusal names the link, its target and the file. */
static void test_h5_links_elsewhere(void)
{
    char path[512], src[512], msg[DNN_MSG_LEN];
    tpath(path, "links.h5");
    tpath(src, "vsource.h5");
    /* a real source for the virtual dataset, removed afterwards */
    hid_t s = H5Fcreate(src, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n = 4;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(s, "src", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    double v[4] = {1, 2, 3, 4};
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    H5Fclose(s);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    CU_ASSERT(H5Lcreate_soft("/nowhere/x", f, "soft_x", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    CU_ASSERT(H5Lcreate_external("absent_file.h5", "/train_x", f, "ext_x", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    CU_ASSERT(H5Pset_virtual(dcpl, sp, "vsource.h5", "/src", sp) >= 0);
    d = H5Dcreate2(f, "virt_x", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CU_ASSERT(d >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    hid_t ds;
    /* with its source present, the virtual dataset opens */
    CU_ASSERT_EQUAL(dnn_h5_open_dataset(f, path, "virt_x", "dataset", &ds, msg), 0);
    if (ds >= 0)
        H5Dclose(ds);
    CU_ASSERT_EQUAL(remove(src), 0);
    CU_ASSERT_EQUAL(dnn_h5_open_dataset(f, path, "soft_x", "dataset", &ds, msg), DNN_EDATA);
    CU_ASSERT(strstr(msg, "soft_x") && strstr(msg, "soft link") && strstr(msg, "/nowhere/x") && strstr(msg, path));
    CU_ASSERT_EQUAL(dnn_h5_open_dataset(f, path, "ext_x", "dataset", &ds, msg), DNN_EDATA);
    CU_ASSERT(strstr(msg, "ext_x") && strstr(msg, "external link") && strstr(msg, "absent_file.h5") &&
              strstr(msg, "/train_x"));
    CU_ASSERT_EQUAL(dnn_h5_open_dataset(f, path, "virt_x", "dataset", &ds, msg), DNN_EDATA);
    CU_ASSERT(strstr(msg, "virt_x") && strstr(msg, "virtual") && strstr(msg, "vsource.h5") && strstr(msg, "/src"));
    CU_ASSERT_EQUAL(ds, -1);
    CU_ASSERT_EQUAL(dnn_h5_open_dataset(f, path, "no_such", "dataset", &ds, msg), DNN_EDATA);
    CU_ASSERT(strstr(msg, "no_such") && strstr(msg, "not found"));
    H5Fclose(f);
}

int main(void)
{
    static const dnn_test_t tests[] = {
        DNN_TEST(test_h5_round_trip_exact_and_checksummed),
        DNN_TEST(test_h5_links_elsewhere),
        DNN_TEST(test_h5_chunks_bounded),
        DNN_TEST(test_h5_empty_dataset_checksummed),
        DNN_TEST(test_h5_shape_and_missing_named),
        DNN_TEST(test_h5_nonfinite_index),
        DNN_TEST(test_h5_changed_byte_refused),
        DNN_TEST(test_h5_unverified_listed),
        DNN_TEST(test_output_check_reasons),
        DNN_TEST(test_output_check_leaves_nothing),
    };
    return dnn_test_run("h5", suite_init, suite_clean, tests, sizeof tests / sizeof tests[0]);
}
