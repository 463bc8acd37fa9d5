/*
 * h5.c - checksummed dataset writing, verified reading, filter diagnosis.
 *
 * Relies on HDF5's Fletcher32 filter (always built in; h5py decodes it
 * without being asked) and on HDF5 pushing the filter's own description,
 * "data error detected by Fletcher32 checksum", onto the error stack when a
 * chunk does not match: that is how a mismatch is told from other failures.
 */
#include "dnn/h5.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CHUNK_BYTES ((hsize_t)1 << 20)
#define MAX_RANK 8

void dnn_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

void dnn_h5_dims(char *buf, size_t len, int rank, const hsize_t *d)
{
    size_t n = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < rank && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%llu", i ? ", " : "", (unsigned long long)d[i]);
    if (n < len)
        snprintf(buf + n, len - n, "%s)", rank == 1 ? "," : "");
}

/* Chunks of at most about CHUNK_BYTES, whole rows where a row fits. */
static void chunk_dims(hsize_t *chunk, int rank, const hsize_t *dims, size_t es)
{
    hsize_t inner = es;
    for (int i = rank - 1; i >= 0; i--) {
        hsize_t d = dims[i] ? dims[i] : 1, fit = CHUNK_BYTES / inner;
        chunk[i] = d < fit ? d : (fit ? fit : 1);
        inner *= chunk[i];
    }
}

int dnn_h5_write(hid_t loc, const char *file, const char *name, hid_t type, int rank, const hsize_t *dims,
                 const void *v, char *msg)
{
    return dnn_h5_write_as(loc, file, name, type, type, rank, dims, v, msg);
}

int dnn_h5_write_as(hid_t loc, const char *file, const char *name, hid_t mem_type, hid_t file_type, int rank,
                    const hsize_t *dims, const void *v, char *msg)
{
    hsize_t chunk[MAX_RANK], maxd[MAX_RANK], n = 1;
    if (rank < 1 || rank > MAX_RANK)
        return dnn_fail(msg, DNN_EINVAL, "dataset '%s' for '%s': rank %d out of range", name, file, rank);
    for (int i = 0; i < rank; i++) {
        maxd[i] = dims[i] ? dims[i] : H5S_UNLIMITED; /* chunk dims must fit in the maximum */
        n *= dims[i];
    }
    chunk_dims(chunk, rank, dims, H5Tget_size(file_type));
    hid_t sp = H5Screate_simple(rank, dims, maxd), pl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
    int ok = sp >= 0 && pl >= 0 && H5Pset_chunk(pl, rank, chunk) >= 0 && H5Pset_fletcher32(pl) >= 0;
    if (ok)
        d = H5Dcreate2(loc, name, file_type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    ok = ok && d >= 0 && (n == 0 || H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    if (d >= 0 && H5Dclose(d) < 0)
        ok = 0;
    if (pl >= 0)
        H5Pclose(pl);
    if (sp >= 0)
        H5Sclose(sp);
    return ok ? 0 : dnn_fail(msg, DNN_EIO, "cannot write dataset '%s' to '%s'", name, file);
}

int dnn_h5_has_checksum(hid_t ds)
{
    hid_t pl = H5Dget_create_plist(ds);
    if (pl < 0)
        return 0;
    int n = H5Pget_nfilters(pl), found = 0;
    for (int i = 0; i < n && !found; i++) {
        unsigned flags, cd[8], fc;
        size_t ncd = 8;
        found = H5Pget_filter2(pl, (unsigned)i, &flags, &ncd, cd, 0, NULL, &fc) == H5Z_FILTER_FLETCHER32;
    }
    H5Pclose(pl);
    return found;
}

/* Names of the registered third-party filters h5py users meet most. */
static const char *known_filter(H5Z_filter_t id)
{
    switch (id) {
    case 307: return "bzip2";
    case 32000: return "lzf";
    case 32001: return "blosc";
    case 32004: return "lz4";
    case 32008: return "bitshuffle";
    case 32013: return "zfp";
    case 32015: return "zstd";
    case 32017: return "sz";
    default: return NULL;
    }
}

int dnn_h5_filters_check(hid_t ds, const char *file, const char *name, char *msg)
{
    hid_t pl = H5Dget_create_plist(ds);
    if (pl < 0)
        return dnn_fail(msg, DNN_EIO, "dataset '%s' in '%s': cannot read its storage properties (damaged file?)",
                        name, file);
    int n = H5Pget_nfilters(pl), rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        unsigned flags, cd[8], fc = 0;
        size_t ncd = 8;
        char fname[80] = "";
        H5Z_filter_t id = H5Pget_filter2(pl, (unsigned)i, &flags, &ncd, cd, sizeof fname, fname, &fc);
        if (id < 0) {
            rc = dnn_fail(msg, DNN_EIO, "dataset '%s' in '%s': cannot read its filter pipeline (damaged file?)",
                          name, file);
            break;
        }
        unsigned info = 0;
        if (H5Zfilter_avail(id) > 0 && H5Zget_filter_info(id, &info) >= 0 && (info & H5Z_FILTER_CONFIG_DECODE_ENABLED))
            continue;
        fname[sizeof fname - 1] = 0;
        const char *known = known_filter(id);
        const char *shown = fname[0] ? fname : known ? known : "unnamed";
        rc = dnn_fail(msg, DNN_EDATA, "dataset '%s' in '%s' is stored with the HDF5 filter '%s' (id %d), which this "
                      "HDF5 library cannot decode; rewrite it uncompressed or with gzip (h5py: compression='gzip')",
                      name, file, shown, (int)id);
    }
    H5Pclose(pl);
    return rc;
}

static herr_t find_checksum_error(unsigned n, const H5E_error2_t *e, void *data)
{
    (void)n;
    if (e->desc && strstr(e->desc, "Fletcher32"))
        *(int *)data = 1;
    return 0;
}

int dnn_h5_read_error(const char *file, const char *name, char *msg)
{
    int checksum = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, find_checksum_error, &checksum);
    if (checksum)
        return dnn_fail(msg, DNN_EDATA, "dataset '%s' in '%s' fails its Fletcher32 checksum: its bytes changed after "
                        "they were written (disk or copy error, or an edit of the file's bytes); refused", name, file);
    return dnn_fail(msg, DNN_EIO, "cannot read dataset '%s' in '%s' (truncated or damaged file?)", name, file);
}

/* The first NaN/Inf of n values, or n. */
static hsize_t first_nonfinite(hid_t memtype, const void *v, hsize_t n, double *val)
{
    int dbl = H5Tequal(memtype, H5T_NATIVE_DOUBLE) > 0;
    for (hsize_t i = 0; i < n; i++) {
        double x = dnn_real_at(dbl ? DNN_DOUBLE : DNN_SINGLE, v, i);
        if (!isfinite(x)) {
            *val = x;
            return i;
        }
    }
    return n;
}

static int check_finite(hid_t memtype, const void *v, int rank, const hsize_t *dims, const char *file,
                        const char *name, char *msg)
{
    hsize_t n = 1, idx[MAX_RANK];
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    double val = 0;
    hsize_t at = first_nonfinite(memtype, v, n, &val);
    if (at == n)
        return 0;
    for (int i = rank - 1; i >= 0; i--) {
        idx[i] = dims[i] ? at % dims[i] : 0;
        at = dims[i] ? at / dims[i] : 0;
    }
    char where[160];
    dnn_h5_dims(where, sizeof where, rank, idx);
    return dnn_fail(msg, DNN_EDATA, "dataset '%s' in '%s' holds %s at index %s: parameters must be finite "
                    "(the file was edited or damaged); refused", name, file, isnan(val) ? "NaN" : val > 0 ? "Inf" : "-Inf",
                    where);
}

/*
 * A damaged chunk index (its B-tree nodes carry no checksum in the 1.8 format)
 * can claim chunks of gigabytes, which HDF5 would allocate before reading: the
 * chunk shape and every stored chunk's size must fit the dataset's own data.
 */
static int chunks_plausible(hid_t d, const char *file, const char *name, int rank, const hsize_t *dims, char *msg)
{
    hid_t pl = H5Dget_create_plist(d), t = H5Dget_type(d), sp = H5Dget_space(d);
    hsize_t ch[MAX_RANK], raw = t >= 0 ? H5Tget_size(t) : 0, total = raw, n = 0;
    int rc = 0;
    if (pl >= 0 && H5Pget_layout(pl) == H5D_CHUNKED) {
        int ok = H5Pget_chunk(pl, rank, ch) == rank && raw > 0;
        for (int i = 0; ok && i < rank; i++) {
            ok = ch[i] >= 1 && ch[i] <= (dims[i] ? dims[i] : 1);
            raw *= ok ? ch[i] : 1;
            total *= dims[i];
        }
        hsize_t most = raw + raw / 8 + 4096; /* the largest stored chunk: raw data, checksum, a filter's overhead */
        ok = ok && (total == 0 || H5Dget_num_chunks(d, sp, &n) >= 0);
        for (hsize_t i = 0; ok && i < n; i++) {
            hsize_t off[MAX_RANK], size = 0;
            haddr_t addr;
            unsigned mask;
            ok = H5Dget_chunk_info(d, sp, i, off, &mask, &addr, &size) >= 0 && size <= most;
        }
        if (!ok)
            rc = dnn_fail(msg, DNN_EDATA, "dataset '%s' in '%s' has a damaged chunk index (chunks larger than its "
                          "data); refused", name, file);
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    if (pl >= 0)
        H5Pclose(pl);
    return rc;
}

int dnn_h5_read(hid_t loc, const char *file, const char *name, hid_t memtype, int rank, const hsize_t *dims,
                void *v, unsigned flags, int *verified, char *msg)
{
    if (verified)
        *verified = 0;
    if (rank < 1 || rank > MAX_RANK)
        return dnn_fail(msg, DNN_EINVAL, "dataset '%s' in '%s': rank %d out of range", name, file, rank);
    hid_t d;
    int orc = dnn_h5_open_dataset(loc, file, name, "dataset", &d, msg);
    if (orc)
        return orc;
    hid_t sp = H5Dget_space(d);
    hsize_t have[MAX_RANK];
    int r = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1, rc = 0;
    int same = r == rank && H5Sget_simple_extent_dims(sp, have, NULL) == r;
    for (int i = 0; same && i < rank; i++)
        same = have[i] == dims[i];
    if (sp >= 0)
        H5Sclose(sp);
    if (!same) {
        char want[160], got[160] = "unreadable";
        dnn_h5_dims(want, sizeof want, rank, dims);
        if (r >= 1 && r <= MAX_RANK)
            dnn_h5_dims(got, sizeof got, r, have);
        rc = dnn_fail(msg, DNN_EDATA, "dataset '%s' in '%s' has shape %s, expected %s", name, file, got, want);
        goto done;
    }
    if ((rc = dnn_h5_filters_check(d, file, name, msg)) || (rc = chunks_plausible(d, file, name, rank, dims, msg)))
        goto done;
    if (H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        rc = dnn_h5_read_error(file, name, msg);
        goto done;
    }
    if (verified)
        *verified = dnn_h5_has_checksum(d);
    if (flags & DNN_H5_FINITE)
        rc = check_finite(memtype, v, rank, dims, file, name, msg);
done:
    H5Dclose(d);
    return rc;
}

typedef struct {
    char *buf;
    size_t len, used;
    int count, total, cut;
} unverified_t;

static herr_t visit_one(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    unverified_t *u = data;
    if (info->type != H5L_TYPE_HARD)
        return 0;
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0)
        return 0;
    if (H5Iget_type(o) == H5I_DATASET) {
        u->total++;
        if (!dnn_h5_has_checksum(o)) {
            u->count++;
            if (u->used + strlen(name) + 8 < u->len)
                u->used += (size_t)snprintf(u->buf + u->used, u->len - u->used, "%s%s", u->count > 1 ? ", " : "",
                                            name);
            else if (!u->cut && u->used + 6 < u->len) {
                u->used += (size_t)snprintf(u->buf + u->used, u->len - u->used, ", ...");
                u->cut = 1;
            }
        }
    }
    H5Oclose(o);
    return 0;
}

int dnn_h5_unverified(hid_t f, char *buf, size_t len, int *total)
{
    unverified_t u = {buf, len, 0, 0, 0, 0};
    if (len)
        buf[0] = 0;
    herr_t e = H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, visit_one, &u);
    if (total)
        *total = u.total;
    return e < 0 ? -1 : u.count;
}

/* Why link `name` in loc, which exists, does not lead to a readable dataset
 * (a soft or external link whose target is missing), or 0 when it does. */
static int dangling(hid_t loc, const char *file, const char *name, const char *what, char *msg)
{
    H5L_info_t li;
    if (H5Lget_info(loc, name, &li, H5P_DEFAULT) < 0)
        return 0;
    char val[1024] = "";
    if (li.type == H5L_TYPE_SOFT && li.u.val_size < sizeof val && H5Lget_val(loc, name, val, sizeof val, H5P_DEFAULT) >= 0 &&
        H5Oexists_by_name(loc, name, H5P_DEFAULT) <= 0)
        return dnn_fail(msg, DNN_EDATA, "%s '%s' in '%s' is a soft link to '%s', which does not exist in that file", what,
                        name, file, val);
    if (li.type == H5L_TYPE_EXTERNAL && li.u.val_size < sizeof val &&
        H5Lget_val(loc, name, val, sizeof val, H5P_DEFAULT) >= 0) {
        const char *efile = NULL, *eobj = NULL;
        unsigned fl;
        if (H5Lunpack_elink_val(val, li.u.val_size, &fl, &efile, &eobj) >= 0 && H5Oexists_by_name(loc, name, H5P_DEFAULT) <= 0)
            return dnn_fail(msg, DNN_EDATA, "%s '%s' in '%s' is an external link to '%s' in file '%s', which cannot be "
                            "opened (missing file or object; a relative file is looked up beside '%s' and in "
                            "HDF5_EXT_PREFIX)", what, name, file, eobj, efile, file);
    }
    return 0;
}

/* A virtual dataset's sources are all there: HDF5 would read a missing one as
 * fill values, silently. */
static int virtual_sources(hid_t ds, const char *file, const char *name, const char *what, char *msg)
{
    hid_t pl = H5Dget_create_plist(ds);
    if (pl < 0)
        return 0;
    int rc = 0;
    size_t n = 0;
    if (H5Pget_layout(pl) == H5D_VIRTUAL && H5Pget_virtual_count(pl, &n) >= 0) {
        for (size_t i = 0; i < n && !rc; i++) {
            char src[1024] = "", dset[1024] = "";
            H5Pget_virtual_filename(pl, i, src, sizeof src);
            H5Pget_virtual_dsetname(pl, i, dset, sizeof dset);
            hid_t f = strcmp(src, ".") ? -1 : H5Iget_file_id(ds);
            if (f < 0) {
                H5E_BEGIN_TRY { f = H5Fopen(src, H5F_ACC_RDONLY, H5P_DEFAULT); } H5E_END_TRY;
                if (f < 0) { /* relative names are looked up beside the file */
                    char near[2048];
                    const char *slash = strrchr(file, '/');
                    if (src[0] != '/' && slash) {
                        snprintf(near, sizeof near, "%.*s/%s", (int)(slash - file), file, src);
                        H5E_BEGIN_TRY { f = H5Fopen(near, H5F_ACC_RDONLY, H5P_DEFAULT); } H5E_END_TRY;
                    }
                }
            }
            if (f < 0)
                rc = dnn_fail(msg, DNN_EDATA, "%s '%s' in '%s' is a virtual dataset whose source file '%s' (dataset "
                              "'%s') cannot be opened: HDF5 would read it as fill values", what, name, file, src, dset);
            else {
                if (H5Lexists(f, dset, H5P_DEFAULT) <= 0)
                    rc = dnn_fail(msg, DNN_EDATA, "%s '%s' in '%s' is a virtual dataset whose source dataset '%s' is "
                                  "missing from '%s': HDF5 would read it as fill values", what, name, file, dset, src);
                H5Fclose(f);
            }
        }
    }
    H5Pclose(pl);
    return rc;
}

int dnn_h5_open_dataset(hid_t loc, const char *file, const char *name, const char *what, hid_t *ds, char *msg)
{
    *ds = -1;
    int rc;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return dnn_fail(msg, DNN_EDATA, "%s '%s' not found in '%s'", what, name, file);
    if ((rc = dangling(loc, file, name, what, msg)))
        return rc;
    if ((*ds = H5Dopen2(loc, name, H5P_DEFAULT)) < 0)
        return dnn_fail(msg, DNN_EDATA, "%s '%s' in '%s' cannot be opened as a dataset", what, name, file);
    if ((rc = virtual_sources(*ds, file, name, what, msg))) {
        H5Dclose(*ds);
        *ds = -1;
    }
    return rc;
}
