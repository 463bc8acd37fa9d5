/*
 * test_checkpoint.c - CUnit suite for the checkpoint module.
 *
 * Round trips must be exact (memcmp of the parameter bytes, every attribute
 * equal).  The file layout of README, Checkpoints and dnn-predict is checked with the HDF5 C API, not
 * with dnn's reader, and damaged files (truncated, not HDF5, wrong version,
 * a missing W) are made here by copying and editing a good checkpoint.
 * Files live in a mkdtemp folder that is removed at the end.
 */
#define _GNU_SOURCE
#include "dnn/checkpoint.h"

#include "dnn_test.h"
#include <CUnit/Basic.h>
#include <errno.h>
#include <ftw.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static int suite_init(void)
{
    snprintf(tmpdir, sizeof tmpdir, "test_checkpoint_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void) { return dnn_test_rmtree(tmpdir); }

static void tpath(char *buf, const char *name) { snprintf(buf, 512, "%s/%s", tmpdir, name); }

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* Copy the first `keep` bytes of src (all when keep < 0) to dst; returns the size of src. */
static long copy_file(const char *src, const char *dst, long keep)
{
    FILE *in = fopen(src, "rb");
    CU_ASSERT_FATAL(in != NULL);
    fseek(in, 0, SEEK_END);
    long n = ftell(in);
    rewind(in);
    char *buf = malloc((size_t)n);
    CU_ASSERT_FATAL(buf != NULL);
    CU_ASSERT_FATAL(fread(buf, 1, (size_t)n, in) == (size_t)n);
    fclose(in);
    FILE *out = fopen(dst, "wb");
    CU_ASSERT_FATAL(out != NULL);
    long w = keep < 0 ? n : keep;
    CU_ASSERT_FATAL(fwrite(buf, 1, (size_t)w, out) == (size_t)w);
    fclose(out);
    free(buf);
    return n;
}

/* A model filled with distinct parameter values (numpy init, then biases set). */
static void make_model(dnn_model_t *m, dnn_precision_t prec, int L, const size_t *n, dnn_act_t hidden, dnn_act_t out)
{
    char msg[DNN_MSG_LEN];
    CU_ASSERT_FATAL(dnn_model_init(m, prec, L, n, hidden, out, 0.02, 4, msg) == 0);
    CU_ASSERT_FATAL(dnn_model_init_params(m, DNN_INIT_HE, 0, DNN_RNG_NUMPY, 1, msg) == 0);
    for (int l = 1; l <= L; l++)
        for (size_t i = 0; i < n[l]; i++) {
            double v = 0.1 * (double)l - 0.37 * (double)i + 1.0 / 3.0;
            if (prec == DNN_DOUBLE)
                ((double *)dnn_model_b(m, l))[i] = v;
            else
                ((float *)dnn_model_b(m, l))[i] = (float)v;
        }
}

/* Metadata with every field set to something other than its zero value. */
static void make_meta(dnn_ckpt_t *c, const dnn_model_t *m, int standardize, size_t nhist)
{
    memset(c, 0, sizeof *c);
    c->L = m->L;
    for (int l = 0; l <= m->L; l++)
        c->n[l] = m->n[l];
    c->hidden = m->hidden;
    c->output = m->output;
    c->leaky_slope = 0.02;
    c->precision = m->prec;
    c->iteration = 1234;
    c->epoch = 5;
    c->learning_rate = 0.0075;
    c->seed = 42;
    c->rng = DNN_RNG_NUMPY;
    c->batch_size = 64;
    c->deterministic = 1;
    c->scale = 1.0 / 255.0;
    c->standardize = standardize;
    c->binary_threshold = standardize ? 5.0 : NAN;
    if (standardize) {
        c->mean = malloc(m->n[0] * sizeof(double));
        c->std = malloc(m->n[0] * sizeof(double));
        for (size_t i = 0; i < m->n[0]; i++) {
            c->mean[i] = 0.1 * (double)i - 1.0 / 7.0;
            c->std[i] = 1.0 + (double)i / 3.0;
        }
    }
    c->nhist = nhist;
    if (nhist) {
        c->hist_iter = malloc(nhist * sizeof(int64_t));
        c->hist_cost = malloc(nhist * sizeof(double));
        for (size_t i = 0; i < nhist; i++) {
            c->hist_iter[i] = (int64_t)(i * 100);
            c->hist_cost[i] = 0.693 / (1.0 + (double)i) + 1e-17 * (double)i;
        }
    }
    snprintf(c->config, sizeof c->config, "data = train.h5\nlayers = 4,3\nlr = 0.0075\n");
}

static void free_meta(dnn_ckpt_t *c)
{
    free(c->mean);
    free(c->std);
    free(c->hist_iter);
    free(c->hist_cost);
}

/* Compare what the reader returns with what was written. */
static void check_meta(const dnn_ckpt_t *a, const dnn_ckpt_t *w)
{
    CU_ASSERT_EQUAL(a->L, w->L);
    for (int l = 0; l <= w->L; l++)
        CU_ASSERT_EQUAL(a->n[l], w->n[l]);
    if (w->L > 1)
        CU_ASSERT_EQUAL(a->hidden, w->hidden);
    CU_ASSERT_EQUAL(a->output, w->output);
    CU_ASSERT_EQUAL(a->leaky_slope, w->leaky_slope);
    CU_ASSERT_EQUAL(a->precision, w->precision);
    CU_ASSERT_EQUAL(a->iteration, w->iteration);
    CU_ASSERT_EQUAL(a->epoch, w->epoch);
    CU_ASSERT_EQUAL(a->learning_rate, w->learning_rate);
    CU_ASSERT_EQUAL(a->seed, w->seed);
    CU_ASSERT_EQUAL(a->rng, w->rng);
    CU_ASSERT_EQUAL(a->batch_size, w->batch_size);
    CU_ASSERT_EQUAL(a->deterministic, w->deterministic);
    CU_ASSERT_EQUAL(a->scale, w->scale);
    CU_ASSERT_EQUAL(a->standardize, w->standardize);
    if (isnan(w->binary_threshold)) {
        CU_ASSERT(isnan(a->binary_threshold));
    } else {
        CU_ASSERT_EQUAL(a->binary_threshold, w->binary_threshold);
    }
    if (w->standardize) {
        CU_ASSERT_FATAL(a->mean != NULL && a->std != NULL);
        CU_ASSERT(memcmp(a->mean, w->mean, w->n[0] * sizeof(double)) == 0);
        CU_ASSERT(memcmp(a->std, w->std, w->n[0] * sizeof(double)) == 0);
    }
    CU_ASSERT_EQUAL(a->nhist, w->nhist);
    if (w->nhist && a->nhist == w->nhist) {
        CU_ASSERT(memcmp(a->hist_iter, w->hist_iter, w->nhist * sizeof(int64_t)) == 0);
        CU_ASSERT(memcmp(a->hist_cost, w->hist_cost, w->nhist * sizeof(double)) == 0);
    }
    CU_ASSERT_STRING_EQUAL(a->config, w->config);
}

/* Write, read metadata, read parameters into a fresh model: exact. */
static void roundtrip(dnn_precision_t prec, int L, const size_t *n, dnn_act_t hidden, dnn_act_t out, int standardize,
                      size_t nhist, const char *name)
{
    char path[512], tmp[600], msg[DNN_MSG_LEN] = "";
    tpath(path, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    dnn_model_t m, r;
    dnn_ckpt_t w, c;
    make_model(&m, prec, L, n, hidden, out);
    make_meta(&w, &m, standardize, nhist);
    int rc = dnn_checkpoint_write(path, &m, &w, msg);
    if (rc)
        fprintf(stderr, "\n  dnn_checkpoint_write: %s\n", msg);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT(exists(path));
    CU_ASSERT(!exists(tmp)); /* the temporary was renamed */
    rc = dnn_checkpoint_read(path, &c, msg);
    if (rc)
        fprintf(stderr, "\n  dnn_checkpoint_read: %s\n", msg);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    check_meta(&c, &w);
    CU_ASSERT_FATAL(dnn_model_init(&r, (dnn_precision_t)c.precision, c.L, c.n, (dnn_act_t)c.hidden,
                                   (dnn_act_t)c.output, c.leaky_slope, 4, msg) == 0);
    CU_ASSERT_EQUAL_FATAL(r.nparams, m.nparams);
    memset(r.params, 0xa5, r.nparams * dnn_real_size(prec));
    CU_ASSERT_EQUAL_FATAL(dnn_checkpoint_read_params(path, &r, msg), 0);
    CU_ASSERT(memcmp(r.params, m.params, m.nparams * dnn_real_size(prec)) == 0);
    dnn_checkpoint_free(&c);
    dnn_checkpoint_free(&c); /* twice is harmless */
    dnn_checkpoint_free(NULL);
    free_meta(&w);
    dnn_model_free(&m);
    dnn_model_free(&r);
}

static void test_checkpoint_roundtrip_double(void)
{
    size_t n[4] = {5, 4, 3, 2};
    roundtrip(DNN_DOUBLE, 3, n, DNN_ACT_TANH, DNN_ACT_SOFTMAX, 1, 7, "double.h5");
}

static void test_checkpoint_roundtrip_single(void)
{
    size_t n[3] = {6, 3, 1};
    roundtrip(DNN_SINGLE, 2, n, DNN_ACT_LEAKY_RELU, DNN_ACT_SIGMOID, 0, 3, "single.h5");
}

static void test_checkpoint_roundtrip_logistic_no_history(void)
{
    size_t n[2] = {12, 1};
    roundtrip(DNN_SINGLE, 1, n, DNN_ACT_RELU, DNN_ACT_SIGMOID, 1, 0, "logreg.h5");
    size_t n2[3] = {3, 2, 2};
    roundtrip(DNN_DOUBLE, 2, n2, DNN_ACT_SIGMOID, DNN_ACT_LINEAR, 0, 1, "regress.h5");
}

/* Read a string attribute of the root group with the HDF5 API. */
static int root_str(hid_t f, const char *name, char *buf, size_t len)
{
    buf[0] = 0;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t t = H5Aget_type(a);
    int rc = -1;
    if (H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t) && H5Tget_size(t) < len) {
        hid_t mt = H5Tcopy(t);
        memset(buf, 0, len);
        rc = H5Aread(a, mt, buf) < 0 ? -1 : 0;
        H5Tclose(mt);
    }
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* The layout of README, Checkpoints and dnn-predict, read with the HDF5 C API: names, shapes, types, attributes. */
static void test_checkpoint_layout_contract(void)
{
    char path[512], msg[DNN_MSG_LEN];
    tpath(path, "layout.h5");
    size_t n[4] = {5, 4, 3, 2};
    dnn_model_t m;
    dnn_ckpt_t w;
    make_model(&m, DNN_SINGLE, 3, n, DNN_ACT_RELU, DNN_ACT_SIGMOID);
    make_meta(&w, &m, 1, 4);
    CU_ASSERT_EQUAL_FATAL(dnn_checkpoint_write(path, &m, &w, msg), 0);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    char s[256];
    CU_ASSERT_EQUAL(root_str(f, "format", s, sizeof s), 0);
    CU_ASSERT_STRING_EQUAL(s, "dnn-checkpoint");
    CU_ASSERT_EQUAL(root_str(f, "activations", s, sizeof s), 0);
    CU_ASSERT_STRING_EQUAL(s, "relu,relu,sigmoid");
    CU_ASSERT_EQUAL(root_str(f, "precision", s, sizeof s), 0);
    CU_ASSERT_STRING_EQUAL(s, "single");
    CU_ASSERT_EQUAL(root_str(f, "loss", s, sizeof s), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "binary"));
    int64_t v = 0, dims[8] = {0};
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    CU_ASSERT_FATAL(a >= 0);
    CU_ASSERT(H5Aread(a, H5T_NATIVE_INT64, &v) >= 0);
    CU_ASSERT_EQUAL(v, 1);
    H5Aclose(a);
    a = H5Aopen(f, "layer_dims", H5P_DEFAULT);
    CU_ASSERT_FATAL(a >= 0);
    hid_t sp = H5Aget_space(a);
    CU_ASSERT_EQUAL(H5Sget_simple_extent_npoints(sp), 4);
    H5Sclose(sp);
    CU_ASSERT(H5Aread(a, H5T_NATIVE_INT64, dims) >= 0);
    H5Aclose(a);
    for (int l = 0; l <= 3; l++)
        CU_ASSERT_EQUAL(dims[l], (int64_t)n[l]);
    a = H5Aopen(f, "iteration", H5P_DEFAULT);
    CU_ASSERT(a >= 0 && H5Aread(a, H5T_NATIVE_INT64, &v) >= 0 && v == 1234);
    H5Aclose(a);
    double scale = 0;
    a = H5Aopen(f, "scale", H5P_DEFAULT);
    CU_ASSERT(a >= 0 && H5Aread(a, H5T_NATIVE_DOUBLE, &scale) >= 0 && scale == 1.0 / 255.0);
    H5Aclose(a);
    /* W[l] (n[l], n[l-1]) and b[l] (n[l], 1) as float32, values equal to the model's */
    for (int l = 1; l <= 3; l++) {
        char name[8];
        for (int isb = 0; isb < 2; isb++) {
            snprintf(name, sizeof name, "%s%d", isb ? "b" : "W", l);
            hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
            CU_ASSERT_FATAL(d >= 0);
            hid_t t = H5Dget_type(d), ds = H5Dget_space(d);
            CU_ASSERT_EQUAL(H5Tget_class(t), H5T_FLOAT);
            CU_ASSERT_EQUAL(H5Tget_size(t), 4u);
            hsize_t dd[2] = {0, 0};
            CU_ASSERT_EQUAL(H5Sget_simple_extent_ndims(ds), 2);
            H5Sget_simple_extent_dims(ds, dd, NULL);
            CU_ASSERT_EQUAL(dd[0], n[l]);
            CU_ASSERT_EQUAL(dd[1], isb ? 1u : n[l - 1]);
            float buf[32];
            CU_ASSERT(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
            const void *want = isb ? dnn_model_b(&m, l) : dnn_model_W(&m, l);
            CU_ASSERT(memcmp(buf, want, (size_t)(dd[0] * dd[1]) * sizeof(float)) == 0);
            H5Tclose(t);
            H5Sclose(ds);
            H5Dclose(d);
        }
    }
    /* preprocessing and history datasets */
    static const char *const sets[] = {"preprocess/mean", "preprocess/std", "history/iteration", "history/cost"};
    static const hsize_t len[] = {5, 5, 4, 4};
    for (int k = 0; k < 4; k++) {
        hid_t d = H5Dopen2(f, sets[k], H5P_DEFAULT);
        CU_ASSERT_FATAL(d >= 0);
        hid_t ds = H5Dget_space(d);
        CU_ASSERT_EQUAL(H5Sget_simple_extent_npoints(ds), (hssize_t)len[k]);
        H5Sclose(ds);
        H5Dclose(d);
    }
    H5Fclose(f);
    free_meta(&w);
    dnn_model_free(&m);
}

/* Expect dnn_checkpoint_read to refuse path with one of two codes and a message naming it. */
static void expect_refused(const char *path, int code1, int code2, const char *needle)
{
    dnn_ckpt_t c;
    char msg[DNN_MSG_LEN] = "";
    int rc = dnn_checkpoint_read(path, &c, msg);
    CU_ASSERT(rc == code1 || rc == code2);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, path));
    if (needle)
        CU_ASSERT_PTR_NOT_NULL(strstr(msg, needle));
    if (!(rc == code1 || rc == code2) || !strstr(msg, path) || (needle && !strstr(msg, needle)))
        fprintf(stderr, "\n  read(%s): rc %d, message: %s\n", path, rc, msg);
    CU_ASSERT_PTR_NULL(c.mean); /* nothing left allocated on failure */
    CU_ASSERT_PTR_NULL(c.hist_cost);
    dnn_checkpoint_free(&c);
}

/* A good checkpoint to damage. */
static void good_checkpoint(const char *path, dnn_model_t *m)
{
    char msg[DNN_MSG_LEN];
    size_t n[4] = {5, 4, 3, 2};
    dnn_ckpt_t w;
    make_model(m, DNN_DOUBLE, 3, n, DNN_ACT_TANH, DNN_ACT_SOFTMAX);
    make_meta(&w, m, 1, 5);
    CU_ASSERT_EQUAL_FATAL(dnn_checkpoint_write(path, m, &w, msg), 0);
    free_meta(&w);
}

static void test_checkpoint_damaged_files_refused(void)
{
    char good[512], trunc[512], text[512], missing[512], msg[DNN_MSG_LEN];
    tpath(good, "good.h5");
    tpath(trunc, "truncated.h5");
    tpath(text, "text.h5");
    tpath(missing, "missing.h5");
    dnn_model_t m;
    good_checkpoint(good, &m);
    /* the first half of a checkpoint */
    long size = copy_file(good, trunc, -1);
    copy_file(good, trunc, size / 2);
    expect_refused(trunc, DNN_EIO, DNN_EDATA, NULL);
    CU_ASSERT(dnn_checkpoint_read_params(trunc, &m, msg) < 0);
    /* just the first 100 bytes (the superblock survives) */
    copy_file(good, trunc, 100);
    expect_refused(trunc, DNN_EIO, DNN_EDATA, NULL);
    /* a text file */
    FILE *t = fopen(text, "w");
    CU_ASSERT_FATAL(t != NULL);
    fputs("W1 = [[1, 2], [3, 4]]\n", t);
    fclose(t);
    expect_refused(text, DNN_EIO, DNN_EIO, "HDF5");
    CU_ASSERT_EQUAL(dnn_checkpoint_read_params(text, &m, msg), DNN_EIO);
    /* no file */
    expect_refused(missing, DNN_EIO, DNN_EIO, NULL);
    /* an empty file */
    t = fopen(text, "w");
    fclose(t);
    expect_refused(text, DNN_EIO, DNN_EIO, NULL);
    dnn_model_free(&m);
}

/* Edit a copy of a good checkpoint with the HDF5 API. */
static hid_t edit_copy(const char *good, const char *path)
{
    copy_file(good, path, -1);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    return f;
}

static void test_checkpoint_wrong_version_and_content(void)
{
    char good[512], path[512], msg[DNN_MSG_LEN];
    tpath(good, "good2.h5");
    dnn_model_t m;
    good_checkpoint(good, &m);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

    /* format_version = 2 */
    tpath(path, "v2.h5");
    hid_t f = edit_copy(good, path);
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    int64_t two = 2;
    CU_ASSERT_FATAL(a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &two) >= 0);
    H5Aclose(a);
    H5Fclose(f);
    expect_refused(path, DNN_EDATA, DNN_EDATA, "format_version 2");

    /* format = "something-else" */
    tpath(path, "fmt.h5");
    f = edit_copy(good, path);
    CU_ASSERT_FATAL(H5Adelete(f, "format") >= 0);
    hid_t st = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(st, 15);
    a = H5Acreate2(f, "format", st, sp, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(a >= 0 && H5Awrite(a, st, "something-else") >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(st);
    H5Fclose(f);
    expect_refused(path, DNN_EDATA, DNN_EDATA, "something-else");

    /* no format attribute at all (an ordinary HDF5 file) */
    tpath(path, "plain.h5");
    f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    H5Fclose(f);
    expect_refused(path, DNN_EDATA, DNN_EDATA, "dnn-checkpoint");

    /* W2 missing */
    tpath(path, "now2.h5");
    f = edit_copy(good, path);
    CU_ASSERT_FATAL(H5Ldelete(f, "W2", H5P_DEFAULT) >= 0);
    H5Fclose(f);
    expect_refused(path, DNN_EDATA, DNN_EDATA, "W2");
    CU_ASSERT_EQUAL(dnn_checkpoint_read_params(path, &m, msg), DNN_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "W2"));

    /* b3 with the wrong shape */
    tpath(path, "b3.h5");
    f = edit_copy(good, path);
    CU_ASSERT_FATAL(H5Ldelete(f, "b3", H5P_DEFAULT) >= 0);
    hsize_t bd[2] = {3, 1};
    double z[3] = {0, 0, 0};
    sp = H5Screate_simple(2, bd, NULL);
    hid_t d = H5Dcreate2(f, "b3", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0 && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, z) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    expect_refused(path, DNN_EDATA, DNN_EDATA, "b3");

    /* parameters into a model of another shape */
    dnn_model_t other;
    size_t n[4] = {5, 4, 3, 3};
    CU_ASSERT_FATAL(dnn_model_init(&other, DNN_DOUBLE, 3, n, DNN_ACT_TANH, DNN_ACT_SOFTMAX, 0.01, 2, msg) == 0);
    msg[0] = 0;
    CU_ASSERT_EQUAL(dnn_checkpoint_read_params(good, &other, msg), DNN_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, good));
    dnn_model_free(&other);
    dnn_model_free(&m);
}

/*
 * A file whose format_version attribute is missing is refused, and the
 * message says so rather than quoting a version number the file does not
 * hold (the reader must not print a value it never read).
 */
static void test_checkpoint_missing_version_named(void)
{
    char good[512], path[512];
    tpath(good, "good3.h5");
    tpath(path, "noversion.h5");
    dnn_model_t m;
    good_checkpoint(good, &m);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = edit_copy(good, path);
    CU_ASSERT_FATAL(H5Adelete(f, "format_version") >= 0);
    H5Fclose(f);
    dnn_ckpt_t c;
    char msg[DNN_MSG_LEN] = "";
    CU_ASSERT_EQUAL(dnn_checkpoint_read(path, &c, msg), DNN_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "format_version"));
    if (strstr(msg, "has format_version "))
        fprintf(stderr, "\n  missing format_version reported as: %s\n", msg);
    CU_ASSERT_PTR_NULL(strstr(msg, "has format_version "));
    dnn_model_free(&m);
}

/*
 * Atomic write: NAME is replaced, NAME.tmp never stays behind; when the
 * write fails (NAME.tmp cannot be created, or NAME cannot be replaced) the
 * previous NAME is kept and the error names the file.
 */
static void test_checkpoint_atomic_replace(void)
{
    char path[512], tmp[600], msg[DNN_MSG_LEN];
    tpath(path, "atomic.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    size_t n[3] = {3, 2, 1};
    dnn_model_t m;
    dnn_ckpt_t w, c;
    make_model(&m, DNN_DOUBLE, 2, n, DNN_ACT_RELU, DNN_ACT_SIGMOID);
    make_meta(&w, &m, 0, 2);
    w.iteration = 10;
    CU_ASSERT_EQUAL_FATAL(dnn_checkpoint_write(path, &m, &w, msg), 0);
    CU_ASSERT(!exists(tmp));
    struct stat st1, st2;
    CU_ASSERT_FATAL(stat(path, &st1) == 0);
    /* second write replaces the file (a new inode: rename, not rewrite in place) */
    w.iteration = 20;
    ((double *)m.params)[0] += 1.0;
    CU_ASSERT_EQUAL_FATAL(dnn_checkpoint_write(path, &m, &w, msg), 0);
    CU_ASSERT(!exists(tmp));
    CU_ASSERT_FATAL(stat(path, &st2) == 0);
    CU_ASSERT(st1.st_ino != st2.st_ino);
    CU_ASSERT_EQUAL_FATAL(dnn_checkpoint_read(path, &c, msg), 0);
    CU_ASSERT_EQUAL(c.iteration, 20);
    dnn_checkpoint_free(&c);

    /* NAME.tmp cannot be created (a directory is in the way): NAME is kept */
    CU_ASSERT_FATAL(mkdir(tmp, 0700) == 0);
    w.iteration = 30;
    msg[0] = 0;
    CU_ASSERT_EQUAL(dnn_checkpoint_write(path, &m, &w, msg), DNN_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, path));
    CU_ASSERT_FATAL(rmdir(tmp) == 0);
    CU_ASSERT_EQUAL_FATAL(dnn_checkpoint_read(path, &c, msg), 0);
    CU_ASSERT_EQUAL(c.iteration, 20);
    dnn_checkpoint_free(&c);

    /* NAME is a non-empty directory, so rename fails: the temporary is removed */
    char dirname_[512], inner[600];
    tpath(dirname_, "isdir.h5");
    snprintf(inner, sizeof inner, "%s/keep", dirname_);
    CU_ASSERT_FATAL(mkdir(dirname_, 0700) == 0);
    FILE *k = fopen(inner, "w");
    CU_ASSERT_FATAL(k != NULL);
    fclose(k);
    char dtmp[600];
    snprintf(dtmp, sizeof dtmp, "%s.tmp", dirname_);
    msg[0] = 0;
    CU_ASSERT_EQUAL(dnn_checkpoint_write(dirname_, &m, &w, msg), DNN_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, dirname_));
    CU_ASSERT(!exists(dtmp));
    CU_ASSERT(exists(inner));

    /* a folder that does not exist */
    char nodir[512];
    tpath(nodir, "no/such/dir/ck.h5");
    msg[0] = 0;
    CU_ASSERT_EQUAL(dnn_checkpoint_write(nodir, &m, &w, msg), DNN_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "no/such/dir/ck.h5"));
    free_meta(&w);
    dnn_model_free(&m);
}

int main(void)
{
#define T(name) {#name, name}
    static const dnn_test_t tests[] = {
        T(test_checkpoint_roundtrip_double),
        T(test_checkpoint_roundtrip_single),
        T(test_checkpoint_roundtrip_logistic_no_history),
        T(test_checkpoint_layout_contract),
        T(test_checkpoint_damaged_files_refused),
        T(test_checkpoint_wrong_version_and_content),
        T(test_checkpoint_missing_version_named),
        T(test_checkpoint_atomic_replace),
    };
#undef T
    return dnn_test_run("test_checkpoint", suite_init, suite_clean, tests, sizeof tests / sizeof tests[0]);
}
