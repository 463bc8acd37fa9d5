/*
 * checkpoint.c - atomic HDF5 checkpoint writing (atomic.h) and validated reading.
 */
#include "dnn/checkpoint.h"

#include "dnn/atomic.h"
#include "dnn/bn.h"
#include "dnn/h5.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int attr_write(hid_t obj, const char *name, hid_t type, hsize_t n, const void *v)
{
    if (H5Aexists(obj, name) > 0) /* a stored hyperparameter of the table, written first */
        return 0;
    hid_t sp = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, type, v);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    return e < 0 ? -1 : 0;
}

static int attr_str(hid_t obj, const char *name, const char *s)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(s) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    int e = attr_write(obj, name, t, 0, s);
    H5Tclose(t);
    return e;
}

static int attr_i64(hid_t o, const char *name, int64_t v) { return attr_write(o, name, H5T_NATIVE_INT64, 0, &v); }
static int attr_f64(hid_t o, const char *name, double v) { return attr_write(o, name, H5T_NATIVE_DOUBLE, 0, &v); }

/* Every dataset of a checkpoint goes through here: chunked, Fletcher32 per chunk (h5.h). */
static int dset_write(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims, const void *v)
{
    return dnn_h5_write(loc, "checkpoint", name, type, rank, dims, v, NULL);
}

static void activations_string(const dnn_ckpt_t *c, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (int l = 1; l <= c->L && n < len; l++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", l > 1 ? "," : "",
                              dnn_act_name((dnn_act_t)(l < c->L ? c->hidden : c->output)));
}

/* --batch-norm (README, Batch normalization): hidden layer l stores beta[l] (in b[l]'s
 * slot) as /betaL and gamma[l] as /gammaL, its running statistics as /bn/meanL, /bn/varL. */
static const char *bias_name(int bn, int l, int L) { return bn && l < L ? "beta" : "b"; }
static int write_bn(hid_t f, const dnn_model_t *m);
static int read_bn(hid_t f, const char *path, dnn_model_t *m, char *msg);
/* The group of "group/name" (created when missing), or loc itself; *base the name in it. */
static hid_t attr_group(hid_t loc, const char *name, const char **base, int create)
{
    const char *slash = strchr(name, '/');
    *base = slash ? slash + 1 : name;
    if (!slash)
        return loc;
    char g[64];
    snprintf(g, sizeof g, "%.*s", (int)(slash - name), name);
    if (H5Lexists(loc, g, H5P_DEFAULT) > 0)
        return H5Gopen2(loc, g, H5P_DEFAULT);
    return create ? H5Gcreate2(loc, g, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
}

/* The stored hyperparameters (the option table's), before every other attribute. */
static int write_attrs(hid_t f, const dnn_ckpt_t *c)
{
    int e = 0;
    for (size_t i = 0; i < c->nattrs && !e; i++) {
        const dnn_ckpt_attr_t *a = &c->attrs[i];
        const char *base;
        hid_t g = attr_group(f, a->name, &base, 1);
        if (g < 0)
            return -1;
        e = a->type == DNN_ATTR_I64 ? attr_i64(g, base, a->i)
            : a->type == DNN_ATTR_F64 ? attr_f64(g, base, a->d) : attr_str(g, base, a->s);
        if (g != f)
            H5Gclose(g);
    }
    return e;
}

static int write_course2(hid_t f, const dnn_model_t *m, const dnn_ckpt_t *c);

/* The root attributes of README, Checkpoints and dnn-predict (course 1); returns non-zero when one could not be written. */
static int write_root_attrs(hid_t f, const dnn_model_t *m, const dnn_ckpt_t *c)
{
    char acts[DNN_MAX_LAYERS * 12];
    int64_t dims[DNN_MAX_LAYERS + 1];
    int e = 0;
    for (int l = 0; l <= m->L; l++)
        dims[l] = (int64_t)m->n[l];
    activations_string(c, acts, sizeof acts);
    e |= attr_str(f, "format", "dnn-checkpoint");
    e |= attr_i64(f, "format_version", DNN_CKPT_VERSION);
    e |= attr_write(f, "layer_dims", H5T_NATIVE_INT64, (hsize_t)m->L + 1, dims);
    e |= attr_str(f, "activations", acts);
    e |= attr_str(f, "loss", dnn_loss_name(m->loss));
    e |= attr_str(f, "precision", dnn_precision_name(m->prec));
    e |= attr_i64(f, "iteration", c->iteration);
    e |= attr_i64(f, "epoch", c->epoch);
    e |= attr_f64(f, "learning_rate", c->learning_rate);
    e |= attr_i64(f, "seed", c->seed);
    e |= attr_str(f, "rng", c->rng == DNN_RNG_NUMPY ? "numpy" : "default");
    e |= attr_i64(f, "batch_size", c->batch_size);
    e |= attr_i64(f, "deterministic", c->deterministic);
    if (c->deterministic_groups > 0)
        e |= attr_i64(f, "deterministic_groups", c->deterministic_groups);
    e |= attr_f64(f, "leaky_slope", c->leaky_slope);
    e |= attr_f64(f, "scale", c->scale);
    e |= attr_i64(f, "standardize", c->standardize);
    e |= attr_f64(f, "binary_threshold", c->binary_threshold);
    e |= attr_str(f, "config", c->config);
    return e;
}

int dnn_checkpoint_write(const char *path, const dnn_model_t *m, const dnn_ckpt_t *c, char *msg)
{
    dnn_atomic_t a;
    int rc = dnn_atomic_open(&a, "checkpoint", path, 0, msg);
    if (rc)
        return rc;
    dnn_h5_quiet();
    /* in the 1.10 format every piece of metadata (superblock, object headers with the attributes, chunk
     * indexes) carries a checksum of its own; HDF5 verifies them on open and read */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110);
    hid_t f = H5Fcreate(a.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl), g = -1;
    H5Pclose(fapl);
    if (f < 0) {
        int err = errno;
        dnn_atomic_abort(&a);
        return dnn_fail(msg, DNN_EIO, "cannot create checkpoint '%s.tmp': %s; the previous checkpoint '%s' is kept",
                        path, err ? strerror(err) : "HDF5 error", path);
    }
    hid_t rt = m->prec == DNN_DOUBLE ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
    int e = 0;
    char name[32];
    for (int l = 1; l <= m->L; l++) {
        hsize_t wd[2] = {m->n[l], m->n[l - 1]}, bd[2] = {m->n[l], 1};
        snprintf(name, sizeof name, "W%d", l);
        e |= dset_write(f, name, rt, 2, wd, dnn_model_W(m, l));
        snprintf(name, sizeof name, "%s%d", bias_name(m->bn, l, m->L), l);
        e |= dset_write(f, name, rt, 2, bd, dnn_model_b(m, l));
    }
    e |= write_bn(f, m);
    e |= write_attrs(f, c);
    e |= write_root_attrs(f, m, c);
    if (c->standardize) {
        hsize_t d = m->n[0];
        g = H5Gcreate2(f, "preprocess", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        e |= g < 0 || dset_write(g, "mean", H5T_NATIVE_DOUBLE, 1, &d, c->mean) ||
             dset_write(g, "std", H5T_NATIVE_DOUBLE, 1, &d, c->std);
        if (g >= 0)
            H5Gclose(g);
    }
    {
        hsize_t d = c->nhist;
        g = H5Gcreate2(f, "history", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        e |= g < 0 || dset_write(g, "iteration", H5T_NATIVE_INT64, 1, &d, c->hist_iter) ||
             dset_write(g, "cost", H5T_NATIVE_DOUBLE, 1, &d, c->hist_cost);
        if (g >= 0)
            H5Gclose(g);
    }
    e |= write_course2(f, m, c);
    if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0)
        e = 1;
    if (H5Fclose(f) < 0)
        e = 1;
    if (e) {
        dnn_atomic_abort(&a);
        return dnn_fail(msg, DNN_EIO, "cannot write checkpoint '%s.tmp' (disk full or no permission?); the previous "
                        "checkpoint '%s' is kept", path, path);
    }
    return dnn_atomic_commit(&a, msg);
}

static int attr_read(hid_t f, const char *name, hid_t type, void *v)
{
    if (H5Aexists(f, name) <= 0)
        return -1;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t sp = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    herr_t e = n == 1 ? H5Aread(a, type, v) : -1;
    H5Aclose(a);
    return e < 0 ? -1 : 0;
}

/* A string attribute, fixed-length (as dnn writes) or variable-length (as h5py writes a str). */
static int attr_read_str(hid_t f, const char *name, char *buf, size_t len)
{
    buf[0] = 0;
    if (H5Aexists(f, name) <= 0)
        return -1;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    int rc = -1;
    if (H5Tget_class(t) == H5T_STRING && H5Sget_simple_extent_npoints(sp) == 1) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        if (H5Tis_variable_str(t)) {
            char *v = NULL;
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t));
            if (H5Aread(a, mt, &v) >= 0 && v) {
                snprintf(buf, len, "%s", v);
                rc = 0;
            }
            if (v)
                H5free_memory(v);
        } else {
            size_t sz = H5Tget_size(t);
            char *tmp = calloc(sz + 2, 1);
            H5Tset_size(mt, sz + 1); /* room for the terminator, whatever the stored padding */
            if (tmp && H5Aread(a, mt, tmp) >= 0) {
                snprintf(buf, len, "%s", tmp);
                rc = 0;
            }
            free(tmp);
        }
        H5Tclose(mt);
    }
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* Check a dataset's shape; returns 0 or -1. */
static int dset_shape(hid_t f, const char *name, int rank, const hsize_t *want)
{
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0)
        return -1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t sp = H5Dget_space(d);
    hsize_t dims[4];
    int r = H5Sget_simple_extent_ndims(sp);
    int ok = r == rank && r <= 4;
    if (ok) {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        for (int i = 0; i < r; i++)
            ok &= dims[i] == want[i];
    }
    H5Sclose(sp);
    H5Dclose(d);
    return ok ? 0 : -1;
}

/* A dataset of the checkpoint, verified (checksum, shape, finiteness: h5.h). */
static int dset_read(hid_t f, const char *path, const char *name, hid_t type, int rank, const hsize_t *dims, void *v,
                     unsigned flags, char *msg)
{
    return dnn_h5_read(f, path, name, type, rank, dims, v, flags, NULL, msg);
}

static int open_ckpt(const char *path, hid_t *f, char *msg)
{
    dnn_h5_quiet();
    if (access(path, R_OK) != 0)
        return dnn_fail(msg, DNN_EIO, "cannot open checkpoint '%s': %s", path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0 || (*f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return dnn_fail(msg, DNN_EIO, "checkpoint '%s' is not a readable HDF5 file (truncated or damaged?)", path);
    return 0;
}

static void read_course2(hid_t f, dnn_ckpt_t *c);

/* format, format_version, layer_dims and activations: what the rest is checked against. */
static int read_layers(hid_t f, const char *path, dnn_ckpt_t *c, char *msg)
{
    char s[256], acts[DNN_MAX_LAYERS * 12];
    int64_t v = 0, dims[DNN_MAX_LAYERS + 1];
    const int rc = DNN_EDATA;
    if (attr_read_str(f, "format", s, sizeof s) || strcmp(s, "dnn-checkpoint"))
        return dnn_fail(msg, rc, "'%s' is not a dnn checkpoint (attribute format is '%s', expected 'dnn-checkpoint')",
                        path, s);
    if (attr_read(f, "format_version", H5T_NATIVE_INT64, &v))
        return dnn_fail(msg, rc, "checkpoint '%s' has no format_version attribute (damaged or not written by dnn)",
                        path);
    if (v != DNN_CKPT_VERSION)
        return dnn_fail(msg, rc, "checkpoint '%s' has format_version %lld; this dnn reads version %d", path,
                        (long long)v, DNN_CKPT_VERSION);
    hid_t a = H5Aexists(f, "layer_dims") > 0 ? H5Aopen(f, "layer_dims", H5P_DEFAULT) : -1;
    if (a < 0)
        return dnn_fail(msg, rc, "checkpoint '%s' has no layer_dims attribute", path);
    hid_t sp = H5Aget_space(a);
    hssize_t nd = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    int bad = nd < 2 || nd > DNN_MAX_LAYERS + 1 || H5Aread(a, H5T_NATIVE_INT64, dims) < 0;
    H5Aclose(a);
    if (bad)
        return dnn_fail(msg, rc, "checkpoint '%s': layer_dims has %lld entries, expected 2..%d", path, (long long)nd,
                        DNN_MAX_LAYERS + 1);
    c->L = (int)nd - 1;
    for (int l = 0; l <= c->L; l++) {
        if (dims[l] < 1)
            return dnn_fail(msg, rc, "checkpoint '%s': layer_dims[%d] = %lld", path, l, (long long)dims[l]);
        c->n[l] = (size_t)dims[l];
    }
    if (attr_read_str(f, "activations", acts, sizeof acts))
        return dnn_fail(msg, rc, "checkpoint '%s' has no activations attribute", path);
    char *save, *tok = strtok_r(acts, ",", &save);
    for (int l = 1; l <= c->L; l++, tok = strtok_r(NULL, ",", &save)) {
        dnn_act_t g;
        if (!tok || dnn_act_parse(tok, &g))
            return dnn_fail(msg, rc, "checkpoint '%s': activations attribute does not list %d valid names", path, c->L);
        if (l < c->L)
            c->hidden = g;
        else
            c->output = g;
    }
    if (c->L == 1)
        c->hidden = DNN_ACT_RELU;
    return 0;
}

/* The run's settings: precision, counters, hyperparameters, preprocessing flags. */
static int read_settings(hid_t f, const char *path, dnn_ckpt_t *c, char *msg)
{
    char s[256];
    if (attr_read_str(f, "precision", s, sizeof s) || (strcmp(s, "single") && strcmp(s, "double") && strcmp(s, "bf16")))
        return dnn_fail(msg, DNN_EDATA, "checkpoint '%s': precision attribute is '%s', expected single, double or bf16",
                        path, s);
    c->precision = strcmp(s, "double") == 0 ? DNN_DOUBLE : strcmp(s, "bf16") == 0 ? DNN_BF16 : DNN_SINGLE;
    int64_t det = 0, stdz = 0;
    if (attr_read(f, "iteration", H5T_NATIVE_INT64, &c->iteration) ||
        attr_read(f, "epoch", H5T_NATIVE_INT64, &c->epoch) ||
        attr_read(f, "learning_rate", H5T_NATIVE_DOUBLE, &c->learning_rate) ||
        attr_read(f, "seed", H5T_NATIVE_INT64, &c->seed) || attr_read(f, "scale", H5T_NATIVE_DOUBLE, &c->scale) ||
        attr_read(f, "standardize", H5T_NATIVE_INT64, &stdz))
        return dnn_fail(msg, DNN_EDATA, "checkpoint '%s' lacks one of the attributes iteration, epoch, learning_rate, "
                        "seed, scale, standardize", path);
    c->standardize = (int)stdz;
    c->batch_size = 0;
    attr_read(f, "batch_size", H5T_NATIVE_INT64, &c->batch_size);
    attr_read(f, "deterministic", H5T_NATIVE_INT64, &det);
    c->deterministic = (int)det;
    c->deterministic_groups = 0;
    attr_read(f, "deterministic_groups", H5T_NATIVE_INT64, &c->deterministic_groups);
    c->leaky_slope = 0.01;
    attr_read(f, "leaky_slope", H5T_NATIVE_DOUBLE, &c->leaky_slope);
    c->binary_threshold = NAN;
    attr_read(f, "binary_threshold", H5T_NATIVE_DOUBLE, &c->binary_threshold);
    c->rng = attr_read_str(f, "rng", s, sizeof s) == 0 && strcmp(s, "numpy") == 0 ? DNN_RNG_NUMPY : DNN_RNG_DEFAULT;
    attr_read_str(f, "config", c->config, sizeof c->config);
    read_course2(f, c);
    return 0;
}

/* Shapes of every W/b, then /preprocess and /history, read and verified. */
static int read_arrays(hid_t f, const char *path, dnn_ckpt_t *c, char *msg)
{
    for (int l = 1; l <= c->L; l++) {
        char name[32];
        hsize_t wd[2] = {c->n[l], c->n[l - 1]}, bd[2] = {c->n[l], 1};
        snprintf(name, sizeof name, "W%d", l);
        if (dset_shape(f, name, 2, wd))
            return dnn_fail(msg, DNN_EDATA, "checkpoint '%s': W%d missing or not of shape (%zu, %zu) as layer_dims "
                            "says", path, l, c->n[l], c->n[l - 1]);
        snprintf(name, sizeof name, "%s%d", bias_name(c->batch_norm, l, c->L), l);
        if (dset_shape(f, name, 2, bd))
            return dnn_fail(msg, DNN_EDATA, "checkpoint '%s': %s missing or not of shape (%zu, 1)", path, name, c->n[l]);
    }
    int rc;
    if (c->standardize) {
        hsize_t d = c->n[0];
        c->mean = malloc(d * sizeof(double));
        c->std = malloc(d * sizeof(double));
        if (!c->mean || !c->std)
            return dnn_fail(msg, DNN_ENOMEM, "checkpoint '%s': out of memory for /preprocess (n_x = %zu)", path,
                            c->n[0]);
        if ((rc = dset_read(f, path, "preprocess/mean", H5T_NATIVE_DOUBLE, 1, &d, c->mean, DNN_H5_FINITE, msg)) ||
            (rc = dset_read(f, path, "preprocess/std", H5T_NATIVE_DOUBLE, 1, &d, c->std, DNN_H5_FINITE, msg)))
            return rc;
    }
    if (H5Lexists(f, "history", H5P_DEFAULT) > 0 && H5Lexists(f, "history/cost", H5P_DEFAULT) > 0) {
        hid_t d = H5Dopen2(f, "history/cost", H5P_DEFAULT), hs = d >= 0 ? H5Dget_space(d) : -1;
        hssize_t n = hs >= 0 ? H5Sget_simple_extent_npoints(hs) : -1;
        if (hs >= 0)
            H5Sclose(hs);
        if (d >= 0)
            H5Dclose(d);
        if (n < 0)
            return dnn_fail(msg, DNN_EDATA, "checkpoint '%s': /history/cost is unreadable", path);
        hsize_t hn = (hsize_t)n;
        c->nhist = (size_t)n;
        c->hist_iter = malloc((hn + 1) * sizeof(int64_t));
        c->hist_cost = malloc((hn + 1) * sizeof(double));
        if (!c->hist_iter || !c->hist_cost)
            return dnn_fail(msg, DNN_ENOMEM, "checkpoint '%s': out of memory for /history", path);
        if ((rc = dset_read(f, path, "history/iteration", H5T_NATIVE_INT64, 1, &hn, c->hist_iter, 0, msg)) ||
            (rc = dset_read(f, path, "history/cost", H5T_NATIVE_DOUBLE, 1, &hn, c->hist_cost, 0, msg)))
            return rc;
    }
    return 0;
}

int dnn_checkpoint_read_h5(hid_t f, const char *path, dnn_ckpt_t *c, char *msg)
{
    memset(c, 0, sizeof *c);
    dnn_h5_quiet();
    int rc = read_layers(f, path, c, msg);
    if (!rc)
        rc = read_settings(f, path, c, msg);
    if (!rc)
        rc = read_arrays(f, path, c, msg);
    if (rc) {
        dnn_checkpoint_free(c);
        return rc;
    }
    char list[200];
    int total = 0, n = dnn_h5_unverified(f, list, sizeof list, &total);
    if (n > 0 && n == total)
        snprintf(c->note, sizeof c->note, "note: checkpoint '%s' carries no checksums (written by an older dnn); "
                 "its data is read unverified", path);
    else if (n > 0)
        snprintf(c->note, sizeof c->note, "note: in checkpoint '%s', %d dataset%s without a checksum (rewritten "
                 "with h5py?) %s read unverified: %s", path, n, n > 1 ? "s" : "", n > 1 ? "are" : "is", list);
    return 0;
}

int dnn_checkpoint_read(const char *path, dnn_ckpt_t *c, char *msg)
{
    hid_t f = -1;
    memset(c, 0, sizeof *c);
    int rc = open_ckpt(path, &f, msg);
    if (rc)
        return rc;
    rc = dnn_checkpoint_read_h5(f, path, c, msg);
    H5Fclose(f);
    return rc;
}

int dnn_checkpoint_read_params_h5(hid_t f, const char *path, dnn_model_t *m, char *msg)
{
    hid_t rt = m->prec == DNN_DOUBLE ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
    int rc = 0;
    for (int l = 1; l <= m->L && !rc; l++) {
        char name[32];
        hsize_t wd[2] = {m->n[l], m->n[l - 1]}, bd[2] = {m->n[l], 1};
        snprintf(name, sizeof name, "W%d", l);
        rc = dset_read(f, path, name, rt, 2, wd, dnn_model_W(m, l), DNN_H5_FINITE, msg);
        snprintf(name, sizeof name, "%s%d", bias_name(m->bn, l, m->L), l);
        if (!rc)
            rc = dset_read(f, path, name, rt, 2, bd, dnn_model_b(m, l), DNN_H5_FINITE, msg);
    }
    return rc ? rc : read_bn(f, path, m, msg);
}

int dnn_checkpoint_read_params(const char *path, dnn_model_t *m, char *msg)
{
    hid_t f = -1;
    int rc = open_ckpt(path, &f, msg);
    if (rc)
        return rc;
    rc = dnn_checkpoint_read_params_h5(f, path, m, msg);
    H5Fclose(f);
    return rc;
}

void dnn_checkpoint_free(dnn_ckpt_t *c)
{
    if (!c)
        return;
    free(c->mean);
    free(c->std);
    free(c->hist_iter);
    free(c->hist_cost);
    c->mean = c->std = NULL;
    c->hist_iter = NULL;
    c->hist_cost = NULL;
    c->nhist = 0;
}

/* ---- course 2: optimizer state and hyperparameters (README, Course 2: optimizers, regularization, schedules, dev sets) ---- */

/* The moment buffer `which` ("v" or "s") of o as /optimizer/WHICH/dW1 ... /dbL. */
static int write_moment(hid_t opt, const char *which, const dnn_model_t *m, const void *buf)
{
    hid_t g = H5Gcreate2(opt, which, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return -1;
    hid_t rt = m->prec == DNN_DOUBLE ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
    size_t es = dnn_real_size(m->prec);
    int e = 0;
    char name[32];
    for (int l = 1; l <= m->L; l++) {
        hsize_t wd[2] = {m->n[l], m->n[l - 1]}, bd[2] = {m->n[l], 1};
        snprintf(name, sizeof name, "dW%d", l);
        e |= dset_write(g, name, rt, 2, wd, (const char *)buf + m->off_W[l] * es);
        snprintf(name, sizeof name, "d%s%d", bias_name(m->bn, l, m->L), l);
        e |= dset_write(g, name, rt, 2, bd, (const char *)buf + m->off_b[l] * es);
        if (m->bn && l < m->L) {
            snprintf(name, sizeof name, "dgamma%d", l);
            e |= dset_write(g, name, rt, 2, bd, (const char *)buf + m->off_g[l] * es);
        }
    }
    H5Gclose(g);
    return e;
}

static int write_course2(hid_t f, const dnn_model_t *m, const dnn_ckpt_t *c)
{
    int e = 0;
    e |= attr_f64(f, "l2", c->l2);
    e |= attr_f64(f, "keep_prob", c->keep_prob);
    e |= attr_f64(f, "clip_norm", c->clip_norm);
    e |= attr_str(f, "lr_decay", dnn_optim_decay_name((dnn_decay_t)c->lr_decay));
    e |= attr_f64(f, "decay_rate", c->decay_rate);
    e |= attr_i64(f, "decay_every", c->decay_every);
    e |= attr_f64(f, "validation_split", c->validation_split);
    e |= attr_f64(f, "best_val_cost", c->best_val_cost);
    e |= attr_i64(f, "best_iteration", c->best_iteration);
    e |= attr_i64(f, "records_since_best", c->records_since_best);
    e |= attr_i64(f, "batch_norm", m->bn);
    e |= attr_f64(f, "bn_momentum", m->bn ? m->bn_momentum : c->bn_momentum);
    e |= attr_f64(f, "bn_epsilon", m->bn ? m->bn_eps : c->bn_epsilon);
    const dnn_optim_t *o = c->optim;
    if (!o)
        return e;
    const char *base;
    hid_t g = attr_group(f, "optimizer/name", &base, 1); /* the table may have made it */
    if (g < 0)
        return -1;
    e |= attr_str(g, "name", dnn_optim_name(o->kind));
    e |= attr_f64(g, "beta1", o->beta1);
    e |= attr_f64(g, "beta2", o->beta2);
    e |= attr_f64(g, "epsilon", o->epsilon);
    e |= attr_f64(g, "weight_decay", o->weight_decay);
    e |= attr_i64(g, "t", o->t);
    if (o->v)
        e |= write_moment(g, "v", m, o->v);
    if (o->s)
        e |= write_moment(g, "s", m, o->s);
    H5Gclose(g);
    return e;
}

/* Attributes of course 2; absent ones (an older file) keep the course-1 meaning. */
static void read_course2(hid_t f, dnn_ckpt_t *c)
{
    char s[64];
    c->keep_prob = 1;
    c->decay_rate = 1;
    c->decay_every = 1;
    c->best_val_cost = NAN;
    c->best_iteration = -1;
    attr_read(f, "l2", H5T_NATIVE_DOUBLE, &c->l2);
    attr_read(f, "keep_prob", H5T_NATIVE_DOUBLE, &c->keep_prob);
    attr_read(f, "clip_norm", H5T_NATIVE_DOUBLE, &c->clip_norm);
    attr_read(f, "decay_rate", H5T_NATIVE_DOUBLE, &c->decay_rate);
    attr_read(f, "decay_every", H5T_NATIVE_INT64, &c->decay_every);
    attr_read(f, "validation_split", H5T_NATIVE_DOUBLE, &c->validation_split);
    attr_read(f, "best_val_cost", H5T_NATIVE_DOUBLE, &c->best_val_cost);
    attr_read(f, "best_iteration", H5T_NATIVE_INT64, &c->best_iteration);
    attr_read(f, "records_since_best", H5T_NATIVE_INT64, &c->records_since_best);
    int64_t bn = 0;
    c->bn_momentum = 0.9;
    c->bn_epsilon = 1e-5;
    attr_read(f, "batch_norm", H5T_NATIVE_INT64, &bn);
    attr_read(f, "bn_momentum", H5T_NATIVE_DOUBLE, &c->bn_momentum);
    attr_read(f, "bn_epsilon", H5T_NATIVE_DOUBLE, &c->bn_epsilon);
    c->batch_norm = bn != 0;
    c->lr_decay = DNN_DECAY_NONE;
    if (attr_read_str(f, "lr_decay", s, sizeof s) == 0)
        for (int d = 0; d <= DNN_DECAY_COSINE; d++)
            if (strcmp(s, dnn_optim_decay_name((dnn_decay_t)d)) == 0)
                c->lr_decay = d;
    snprintf(c->optim_name, sizeof c->optim_name, "gd");
    c->has_optim = H5Lexists(f, "optimizer", H5P_DEFAULT) > 0;
    if (!c->has_optim)
        return;
    hid_t g = H5Gopen2(f, "optimizer", H5P_DEFAULT);
    if (g < 0)
        return;
    attr_read_str(g, "name", c->optim_name, sizeof c->optim_name);
    attr_read(g, "beta1", H5T_NATIVE_DOUBLE, &c->beta1);
    attr_read(g, "beta2", H5T_NATIVE_DOUBLE, &c->beta2);
    attr_read(g, "epsilon", H5T_NATIVE_DOUBLE, &c->epsilon);
    attr_read(g, "weight_decay", H5T_NATIVE_DOUBLE, &c->weight_decay);
    attr_read(g, "t", H5T_NATIVE_INT64, &c->t);
    H5Gclose(g);
}

/* The moments `which` of o, verified like the parameters: checksum, shape, finite (named). */
static int read_moment(hid_t f, const char *path, const char *which, const dnn_model_t *m, void *buf, char *msg)
{
    hid_t rt = m->prec == DNN_DOUBLE ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
    size_t es = dnn_real_size(m->prec);
    char name[64];
    int rc = 0;
    for (int l = 1; l <= m->L && !rc; l++) {
        hsize_t wd[2] = {m->n[l], m->n[l - 1]}, bd[2] = {m->n[l], 1};
        snprintf(name, sizeof name, "optimizer/%s/dW%d", which, l);
        rc = dset_read(f, path, name, rt, 2, wd, (char *)buf + m->off_W[l] * es, DNN_H5_FINITE, msg);
        snprintf(name, sizeof name, "optimizer/%s/d%s%d", which, bias_name(m->bn, l, m->L), l);
        if (!rc)
            rc = dset_read(f, path, name, rt, 2, bd, (char *)buf + m->off_b[l] * es, DNN_H5_FINITE, msg);
        snprintf(name, sizeof name, "optimizer/%s/dgamma%d", which, l);
        if (!rc && m->bn && l < m->L)
            rc = dset_read(f, path, name, rt, 2, bd, (char *)buf + m->off_g[l] * es, DNN_H5_FINITE, msg);
    }
    return rc;
}

int dnn_checkpoint_read_optim_h5(hid_t f, const char *path, const dnn_model_t *m, dnn_optim_t *o, char *msg)
{
    int rc = 0;
    o->t = 0;
    if (H5Lexists(f, "optimizer", H5P_DEFAULT) > 0) {
        hid_t g = H5Gopen2(f, "optimizer", H5P_DEFAULT);
        if (g >= 0) {
            attr_read(g, "t", H5T_NATIVE_INT64, &o->t);
            H5Gclose(g);
        }
    }
    if (!rc && o->v)
        rc = read_moment(f, path, "v", m, o->v, msg);
    if (!rc && o->s)
        rc = read_moment(f, path, "s", m, o->s, msg);
    return rc;
}

int dnn_checkpoint_read_optim(const char *path, const dnn_model_t *m, dnn_optim_t *o, char *msg)
{
    hid_t f = -1;
    int rc = open_ckpt(path, &f, msg);
    if (rc)
        return rc;
    rc = dnn_checkpoint_read_optim_h5(f, path, m, o, msg);
    H5Fclose(f);
    return rc;
}

/* ---- --batch-norm: gamma and the running statistics ---- */

static int write_bn(hid_t f, const dnn_model_t *m)
{
    if (!m->bn)
        return 0;
    hid_t rt = m->prec == DNN_DOUBLE ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
    hid_t g = H5Gcreate2(f, "bn", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int e = g < 0;
    char name[32];
    for (int l = 1; l < m->L && !e; l++) {
        hsize_t d[2] = {m->n[l], 1};
        snprintf(name, sizeof name, "gamma%d", l);
        e |= dset_write(f, name, rt, 2, d, dnn_bn_gamma(m, l));
        snprintf(name, sizeof name, "mean%d", l);
        e |= dset_write(g, name, rt, 2, d, dnn_bn_mean(m, l));
        snprintf(name, sizeof name, "var%d", l);
        e |= dset_write(g, name, rt, 2, d, dnn_bn_var(m, l));
    }
    if (g >= 0)
        H5Gclose(g);
    return e;
}

static int read_bn(hid_t f, const char *path, dnn_model_t *m, char *msg)
{
    hid_t rt = m->prec == DNN_DOUBLE ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
    int rc = 0;
    char name[32];
    for (int l = 1; l < m->L && m->bn && !rc; l++) {
        hsize_t d[2] = {m->n[l], 1};
        snprintf(name, sizeof name, "gamma%d", l);
        rc = dset_read(f, path, name, rt, 2, d, dnn_bn_gamma(m, l), DNN_H5_FINITE, msg);
        snprintf(name, sizeof name, "bn/mean%d", l);
        if (!rc)
            rc = dset_read(f, path, name, rt, 2, d, dnn_bn_mean(m, l), DNN_H5_FINITE, msg);
        snprintf(name, sizeof name, "bn/var%d", l);
        if (!rc)
            rc = dset_read(f, path, name, rt, 2, d, dnn_bn_var(m, l), DNN_H5_FINITE, msg);
    }
    return rc;
}

int dnn_checkpoint_read_attrs(const char *path, dnn_ckpt_attr_t *a, size_t n, char *msg)
{
    hid_t f = -1;
    int rc = open_ckpt(path, &f, msg);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const char *base;
        hid_t g = attr_group(f, a[i].name, &base, 0);
        a[i].present = 0;
        if (g < 0)
            continue;
        if (a[i].type == DNN_ATTR_I64)
            a[i].present = attr_read(g, base, H5T_NATIVE_INT64, &a[i].i) == 0;
        else if (a[i].type == DNN_ATTR_F64)
            a[i].present = attr_read(g, base, H5T_NATIVE_DOUBLE, &a[i].d) == 0;
        else
            a[i].present = attr_read_str(g, base, a[i].s, sizeof a[i].s) == 0;
        if (g != f)
            H5Gclose(g);
    }
    H5Fclose(f);
    return 0;
}
