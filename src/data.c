/*
 * data.c - HDF5 reading of a shard of examples, label checks, preprocessing.
 *
 * HDF5's own error stack is silenced; every failure becomes one message that
 * names the file, the dataset and the value.  Reads select a hyperslab of
 * examples, so a rank never holds more than its own shard (plus one transpose
 * buffer for features-first files during load).
 */
#include "dnn/data.h"

#include "dnn/exact.h"
#include "dnn/h5.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_OPAQUE: return "opaque";
    case H5T_VLEN: return "variable-length";
    case H5T_REFERENCE: return "reference";
    case H5T_BITFIELD: return "bitfield";
    case H5T_TIME: return "time";
    default: return "non-numeric";
    }
}

static int open_file(const char *file, hid_t *f, char *msg)
{
    dnn_h5_quiet();
    if (access(file, R_OK) != 0)
        return dnn_fail(msg, DNN_EIO, "cannot open '%s': %s", file, strerror(errno));
    htri_t is = H5Fis_hdf5(file);
    if (is <= 0)
        return dnn_fail(msg, DNN_EIO, "'%s' is not an HDF5 file (or it is truncated)", file);
    *f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*f < 0)
        return dnn_fail(msg, DNN_EIO, "cannot open HDF5 file '%s' (truncated or damaged?)", file);
    return 0;
}

/* Open a numeric dataset and read its dims (rank <= 8). */
static int open_numeric(hid_t f, const char *file, const char *name, const char *role, hid_t *ds, int *rank,
                        hsize_t *dims, char *msg)
{
    if (!name || !*name)
        return dnn_fail(msg, DNN_EINVAL, "no dataset name given for %s in '%s'", role, file);
    char what[64];
    snprintf(what, sizeof what, "%s dataset", role);
    int orc = dnn_h5_open_dataset(f, file, name, what, ds, msg);
    if (orc)
        return orc;
    hid_t t = H5Dget_type(*ds), sp = H5Dget_space(*ds);
    H5T_class_t c = H5Tget_class(t);
    if (c == H5T_ENUM) { /* numpy bool, as h5py writes it: an enum of int8 {FALSE = 0, TRUE = 1} */
        hid_t base = H5Tget_super(t);
        if (H5Tget_class(base) == H5T_INTEGER)
            c = H5T_INTEGER; /* HDF5 converts an enum to a number by its members' values */
        H5Tclose(base);
    }
    int r = H5Sget_simple_extent_ndims(sp);
    H5Tclose(t);
    int rc = 0;
    if (c != H5T_INTEGER && c != H5T_FLOAT)
        rc = dnn_fail(msg, DNN_EDATA, "dataset '%s' in '%s' holds %s values; %s must be integers, floats or booleans",
                      name, file, class_name(c), role);
    else if (r < 1 || r > 8)
        rc = dnn_fail(msg, DNN_EDATA, "dataset '%s' in '%s' has rank %d; %s needs rank 1 to 8", name, file, r, role);
    else if (!(rc = dnn_h5_filters_check(*ds, file, name, msg)))
        H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    *rank = r;
    if (rc) {
        H5Dclose(*ds);
        *ds = -1;
    }
    return rc;
}

int dnn_data_probe(const char *file, const char *xname, const char *yname, int features_first,
                   dnn_data_shape_t *s, char *msg)
{
    hid_t f = -1, dx = -1, dy = -1;
    hsize_t xd[8], yd[8];
    int xr = 0, yr = 0, rc;
    char shp[128];
    memset(s, 0, sizeof *s);
    if ((rc = open_file(file, &f, msg)))
        return rc;
    if ((rc = open_numeric(f, file, xname, "X", &dx, &xr, xd, msg)))
        goto done;
    s->x_features_first = features_first;
    if (features_first) {
        if (xr != 2) {
            dnn_h5_dims(shp, sizeof shp, xr, xd);
            rc = dnn_fail(msg, DNN_EDATA, "X '%s' in '%s' has shape %s; --layout features-first needs (n_x, m)", xname,
                          file, shp);
            goto done;
        }
        s->n_x = xd[0];
        s->m = xd[1];
    } else {
        s->m = xd[0];
        s->n_x = 1;
        for (int i = 1; i < xr; i++)
            if (dnn_size_mul(&s->n_x, s->n_x, xd[i])) {
                rc = dnn_fail(msg, DNN_ENOMEM, "X '%s' in '%s': feature count overflows", xname, file);
                goto done;
            }
    }
    if (s->m == 0) {
        rc = dnn_fail(msg, DNN_EDATA, "X '%s' in '%s' has m = 0 examples", xname, file);
        goto done;
    }
    if (s->n_x == 0) {
        rc = dnn_fail(msg, DNN_EDATA, "X '%s' in '%s' has 0 features per example", xname, file);
        goto done;
    }
    if (!yname) {
        s->n_y = 0;
        goto done;
    }
    if ((rc = open_numeric(f, file, yname, "Y", &dy, &yr, yd, msg)))
        goto done;
    dnn_h5_dims(shp, sizeof shp, yr, yd);
    if (yr == 1 && yd[0] == s->m) {
        s->n_y = 1;
    } else if (yr == 2 && yd[0] == s->m && !(features_first && yd[1] == s->m)) {
        s->n_y = yd[1];
    } else if (yr == 2 && yd[1] == s->m) {
        s->n_y = yd[0];
        s->y_transposed = 1;
    } else {
        unsigned long long ym = yr == 2 && yd[0] == 1 ? yd[1] : yd[0];
        rc = dnn_fail(msg, DNN_EDATA,
                      "X '%s' in '%s' has %llu examples but Y '%s' has shape %s (%llu examples); Y must be (m,), "
                      "(m, 1), (1, m) or (m, n_y) with m = %llu",
                      xname, file, (unsigned long long)s->m, yname, shp, ym, (unsigned long long)s->m);
        goto done;
    }
    if (s->n_y == 0)
        rc = dnn_fail(msg, DNN_EDATA, "Y '%s' in '%s' has shape %s: no label columns", yname, file, shp);
done:
    if (dy >= 0)
        H5Dclose(dy);
    if (dx >= 0)
        H5Dclose(dx);
    if (f >= 0)
        H5Fclose(f);
    return rc;
}

/* Read rows [lo, hi) of the first axis (or columns when by_col, rank 2) into out. */
static int read_block(hid_t ds, const char *file, const char *name, int by_col, uint64_t lo, uint64_t hi,
                      hid_t memtype, void *out, char *msg)
{
    hid_t sp = H5Dget_space(ds);
    int r = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[8], start[8] = {0}, count[8];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    hsize_t total = 1;
    for (int i = 0; i < r; i++) {
        count[i] = dims[i];
        total *= dims[i];
    }
    int ax = by_col ? 1 : 0;
    start[ax] = lo;
    count[ax] = hi - lo;
    total = total / dims[ax] * (hi - lo);
    int rc = 0;
    if (total == 0)
        goto done;
    if (H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL) < 0) {
        rc = dnn_fail(msg, DNN_EIO, "cannot select examples %llu..%llu of '%s' in '%s'", (unsigned long long)lo,
                      (unsigned long long)hi, name, file);
        goto done;
    }
    hid_t ms = H5Screate_simple(1, &total, NULL);
    herr_t e = H5Dread(ds, memtype, ms, sp, H5P_DEFAULT, out);
    if (e < 0 && (rc = dnn_h5_read_error(file, name, msg)) != DNN_EDATA) /* DNN_EDATA: a checksum mismatch */
        rc = dnn_fail(msg, DNN_EIO, "cannot read examples %llu..%llu of '%s' in '%s' (damaged file?)",
                      (unsigned long long)lo, (unsigned long long)hi, name, file);
    H5Sclose(ms);
done:
    H5Sclose(sp);
    return rc;
}

/* (rows, cols) row-major in tmp -> column-major (rows x cols) in out, i.e. a transpose. */
static void transpose(void *out, const void *in, size_t rows, size_t cols, size_t es)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            memcpy((char *)out + (j * rows + i) * es, (const char *)in + (i * cols + j) * es, es);
}

int dnn_data_read(dnn_data_t *d, const char *file, const char *xname, const char *yname,
                  const dnn_data_shape_t *s, dnn_precision_t prec, uint64_t lo, uint64_t hi,
                  double scale, char *msg)
{
    memset(d, 0, sizeof *d);
    d->prec = prec;
    d->shape = *s;
    d->lo = lo;
    d->hi = hi;
    size_t es = dnn_real_size(prec), mloc = hi - lo, nx_elems, ny_elems;
    hid_t f = -1, ds = -1, mt = prec == DNN_DOUBLE ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
    void *tmp = NULL;
    int rc;
    if (dnn_size_mul(&nx_elems, s->n_x, mloc) || dnn_size_mul(&ny_elems, s->n_y, mloc))
        return dnn_fail(msg, DNN_ENOMEM, "'%s': shard of %zu examples is too large", file, mloc);
    d->X = dnn_alloc(nx_elems, es);
    d->Y = yname ? dnn_alloc(ny_elems, es) : NULL;
    if (!d->X || (yname && !d->Y)) {
        rc = dnn_fail(msg, DNN_ENOMEM, "cannot allocate %zu MiB for %zu examples of '%s' in '%s'",
                      (nx_elems * es) >> 20, mloc, xname, file);
        goto fail;
    }
    if ((rc = open_file(file, &f, msg)))
        goto fail;
    if ((rc = dnn_h5_open_dataset(f, file, xname, "dataset", &ds, msg))) {
        goto fail;
    }
    if (s->x_features_first) {
        tmp = dnn_alloc(nx_elems, es);
        if (!tmp) {
            rc = dnn_fail(msg, DNN_ENOMEM, "out of memory reading '%s' in '%s'", xname, file);
            goto fail;
        }
        if ((rc = read_block(ds, file, xname, 1, lo, hi, mt, tmp, msg)))
            goto fail;
        transpose(d->X, tmp, s->n_x, mloc, es);
        free(tmp);
        tmp = NULL;
    } else if ((rc = read_block(ds, file, xname, 0, lo, hi, mt, d->X, msg)))
        goto fail;
    H5Dclose(ds);
    ds = -1;
    if (scale != 1.0) {
        if (prec == DNN_DOUBLE)
            for (size_t i = 0; i < nx_elems; i++)
                ((double *)d->X)[i] *= scale;
        else
            for (size_t i = 0; i < nx_elems; i++)
                ((float *)d->X)[i] = (float)(((float *)d->X)[i] * scale);
    }
    if (yname) {
        if ((rc = dnn_h5_open_dataset(f, file, yname, "dataset", &ds, msg))) {
            goto fail;
        }
        if (s->y_transposed && s->n_y > 1) {
            tmp = dnn_alloc(ny_elems, es);
            if (!tmp) {
                rc = dnn_fail(msg, DNN_ENOMEM, "out of memory reading '%s' in '%s'", yname, file);
                goto fail;
            }
            if ((rc = read_block(ds, file, yname, 1, lo, hi, mt, tmp, msg)))
                goto fail;
            transpose(d->Y, tmp, s->n_y, mloc, es);
        } else if ((rc = read_block(ds, file, yname, s->y_transposed, lo, hi, mt, d->Y, msg)))
            goto fail;
    }
    rc = 0;
fail:
    free(tmp);
    if (ds >= 0)
        H5Dclose(ds);
    if (f >= 0)
        H5Fclose(f);
    if (rc)
        dnn_data_free(d);
    return rc;
}

void dnn_data_free(dnn_data_t *d)
{
    if (!d)
        return;
    free(d->X);
    free(d->Y);
    d->X = d->Y = NULL;
}

uint64_t dnn_data_find_nonfinite(const dnn_data_t *d, size_t *feature)
{
    size_t n = d->shape.n_x, mloc = d->hi - d->lo;
    for (size_t j = 0; j < mloc; j++)
        for (size_t i = 0; i < n; i++)
            if (!isfinite(dnn_real_at(d->prec, d->X, j * n + i))) {
                *feature = i;
                return d->lo + j;
            }
    return UINT64_MAX;
}

void dnn_data_threshold(dnn_data_t *d, double t)
{
    size_t k = d->shape.n_y * (d->hi - d->lo);
    for (size_t i = 0; i < k; i++) {
        if (d->prec == DNN_DOUBLE)
            ((double *)d->Y)[i] = !(((double *)d->Y)[i] >= 0) ? NAN : ((double *)d->Y)[i] >= t;
        else
            ((float *)d->Y)[i] = !(((float *)d->Y)[i] >= 0) ? NAN : ((float *)d->Y)[i] >= t;
    }
}

uint64_t dnn_data_check_labels(const dnn_data_t *d, int kind, long classes, double *bad)
{
    size_t n = d->shape.n_y, mloc = d->hi - d->lo;
    for (size_t j = 0; j < mloc; j++)
        for (size_t i = 0; i < n; i++) {
            double y = dnn_real_at(d->prec, d->Y, j * n + i);
            int ok = kind == 0   ? (y == 0 || y == 1 || !(y >= 0)) /* NaN or negative: unlabelled */
                     : kind == 1 ? (y >= 0 && y < (double)classes && y == floor(y))
                                 : isfinite(y);
            if (!ok) {
                *bad = y;
                return d->lo + j;
            }
        }
    return UINT64_MAX;
}

double dnn_data_max_label(const dnn_data_t *d)
{
    double mx = -INFINITY;
    size_t k = d->shape.n_y * (d->hi - d->lo);
    for (size_t i = 0; i < k; i++)
        if (dnn_real_at(d->prec, d->Y, i) > mx)
            mx = dnn_real_at(d->prec, d->Y, i);
    return mx;
}

void dnn_data_feature_sums(const dnn_data_t *d, const double *mean, double *out)
{
    dnn_data_feature_sums_range(d, 0, d->hi - d->lo, mean, out);
}

void dnn_data_feature_sums_range(const dnn_data_t *d, size_t j0, size_t j1, const double *mean, double *out)
{
    size_t n = d->shape.n_x;
    for (size_t j = j0; j < j1; j++)
        for (size_t i = 0; i < n; i++) {
            double x = dnn_real_at(d->prec, d->X, j * n + i);
            out[i] += mean ? (x - mean[i]) * (x - mean[i]) : x;
        }
}

void dnn_data_standardize(dnn_data_t *d, const double *mean, const double *std)
{
    size_t n = d->shape.n_x, mloc = d->hi - d->lo;
    for (size_t j = 0; j < mloc; j++)
        for (size_t i = 0; i < n; i++) {
            if (d->prec == DNN_DOUBLE) {
                double *x = (double *)d->X + j * n + i;
                *x = (*x - mean[i]) / std[i];
            } else {
                float *x = (float *)d->X + j * n + i;
                *x = (float)((*x - mean[i]) / std[i]);
            }
        }
}

/* ---- the dev set held out of the training file (README, Extensions) ---- */

int dnn_data_held_out(uint64_t seed, uint64_t g, double fraction)
{
    uint64_t z = (seed ^ 0xd1b54a32d192ed03ull) * 0x9e3779b97f4a7c15ull + g;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-53 < fraction;
}

uint64_t dnn_data_split_count(uint64_t m, uint64_t seed, double fraction)
{
    uint64_t mt = 0;
    for (uint64_t g = 0; g < m; g++)
        mt += !dnn_data_held_out(seed, g, fraction);
    return mt;
}

void dnn_data_split_range(uint64_t m, uint64_t seed, double fraction, uint64_t tlo, uint64_t thi, int first,
                          uint64_t *lo, uint64_t *hi)
{
    *lo = first ? 0 : m;
    *hi = m;
    for (uint64_t g = 0, t = 0; g < m; g++) {
        if (dnn_data_held_out(seed, g, fraction))
            continue;
        if (t == tlo && !first)
            *lo = g;
        if (t == thi)
            *hi = g;
        t++;
    }
}

int dnn_data_split_dev(dnn_data_t *t, dnn_data_t *v, uint64_t seed, double fraction, uint64_t tlo, uint64_t thi,
                       char *msg)
{
    size_t nx = t->shape.n_x, ny = t->shape.n_y, es = dnn_real_size(t->prec), cols = t->hi - t->lo;
    size_t keep = thi - tlo, nv = cols - keep;
    *v = *t;
    v->X = dnn_alloc(nx * (nv ? nv : 1), es);
    v->Y = dnn_alloc(ny * (nv ? nv : 1), es);
    if (!v->X || !v->Y) {
        dnn_data_free(v);
        return dnn_fail(msg, DNN_ENOMEM, "out of memory for the dev set (--validation-split)");
    }
    size_t jt = 0, jv = 0;
    for (size_t c = 0; c < cols; c++) {
        int out = dnn_data_held_out(seed, t->lo + c, fraction);
        char *dx = out ? (char *)v->X + jv * nx * es : (char *)t->X + jt * nx * es;
        char *dy = out ? (char *)v->Y + jv * ny * es : (char *)t->Y + jt * ny * es;
        if (out || jt != c) { /* distinct columns of equal size: no overlap */
            memcpy(dx, (char *)t->X + c * nx * es, nx * es);
            memcpy(dy, (char *)t->Y + c * ny * es, ny * es);
        }
        out ? jv++ : jt++;
    }
    v->lo = 0;
    v->hi = nv;
    t->lo = tlo;
    t->hi = thi;
    return 0;
}

/* ---- --standardize statistics over the global training set ---- */

/* One pass: per-feature sums of every global chunk, added exactly, summed over ranks. */
static int moment_pass(const dnn_data_t *d, const dnn_data_stats_t *s, const double *mean, double *out,
                       double *part, int64_t *acc, char *msg)
{
    size_t nx = d->shape.n_x, mloc = d->hi - d->lo;
    int bad = 0;
    memset(acc, 0, 2 * nx * sizeof(int64_t));
    for (size_t j = 0; j < mloc; j += s->chunk) {
        memset(part, 0, nx * sizeof(double));
        dnn_data_feature_sums_range(d, j, mloc - j < s->chunk ? mloc : j + s->chunk, mean, part);
        bad |= dnn_exact_accumulate_max(acc, acc + nx, part, nx, sizeof(double), s->exact_max);
    }
    int rc = bad ? dnn_fail(msg, DNN_EDATA, "--standardize: %s has values too large to sum exactly (a chunk sum of %zu "
                            "examples is beyond %g, the bound for exact sums of this many chunks); use --scale first",
                            s->what, s->chunk, s->exact_max) : 0;
    if ((rc = s->reduce(s->ctx, rc, msg, acc, 2 * nx)))
        return rc;
    for (size_t i = 0; i < nx; i++)
        out[i] = dnn_exact_value(acc[i], acc[nx + i]) / (double)s->m;
    return 0;
}

int dnn_data_moments(const dnn_data_t *d, const dnn_data_stats_t *s, double *mean, double *std, char *msg)
{
    size_t nx = d->shape.n_x;
    double *part = malloc(nx * sizeof(double));
    int64_t *acc = calloc(2 * nx, sizeof(int64_t));
    int rc = part && acc ? 0 : dnn_fail(msg, DNN_ENOMEM, "out of memory for --standardize");
    if ((rc = s->reduce(s->ctx, rc, msg, NULL, 0)) == 0 && (rc = moment_pass(d, s, NULL, mean, part, acc, msg)) == 0 &&
        (rc = moment_pass(d, s, mean, std, part, acc, msg)) == 0)
        for (size_t i = 0; i < nx; i++) {
            std[i] = sqrt(std[i]);
            if (!(std[i] > 1e-12)) /* a constant feature: leave it centred, unscaled */
                std[i] = 1.0;
        }
    free(part);
    free(acc);
    return rc;
}
