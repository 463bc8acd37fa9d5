/*
 * fuzz_ckpt.c - libFuzzer target for the checkpoint reader (src/checkpoint.c,
 * src/h5.c): every input is an HDF5 file image, opened in memory with the
 * core driver (H5Pset_fapl_core without a backing store, H5Pset_file_image),
 * so no input touches the disk.  The reader then runs as dnn-train --resume
 * and dnn-predict run it:
 *   1. dnn_checkpoint_read_h5 (attributes, shapes, /preprocess, /history);
 *   2. when it accepts the file and the model is small (at most MAX_PARAMS
 *      parameters: the fuzzer must not spend its time allocating), the model
 *      is initialized from the checkpoint and dnn_checkpoint_read_params_h5
 *      and, for the optimizer it names, dnn_checkpoint_read_optim_h5 read
 *      into it.
 * Invariants (a violation abort()s, so libFuzzer records the input like a
 * crash): every refusal leaves a message of one line, non-empty and
 * NUL-terminated; an accepted checkpoint has 1..DNN_MAX_LAYERS layers of at
 * least one unit; accepted parameters and moments are finite.
 * Only images in HDF5's 1.10 format (superblock version 3 at offset 0), the
 * one dnn writes, are tried: there every piece of metadata carries a checksum
 * that HDF5 verifies before decoding it.  In the older formats it does not,
 * and HDF5 1.10.8's own decoder is not memory-safe on damaged metadata (this
 * target found a heap-use-after-free in H5O__msg_iterate_real under H5Aexists
 * and multi-terabyte allocations in H5C_protect within a minute): those are
 * bugs of libhdf5, not of the reader, and would stop every run.
 *
 * An input that is not an HDF5 image is a recipe (see build_recipe): its
 * bytes choose, attribute by attribute and dataset by dataset, whether each
 * part of a checkpoint is absent, right, of another type, of another shape
 * (strings fixed or variable-length, arrays of any length), which values it
 * holds (NaN and Inf included), whether it is checksummed and compressed, and
 * which bytes of its stored data change afterwards.  The file is built with
 * HDF5 in memory and its image read back like any other: the reader's logic
 * is explored in depth without feeding HDF5 damaged metadata.
 * Seeds: tests/fuzz/corpus_ckpt/ (small checkpoints written by dnn-train:
 * gd single precision, adam with --standardize, momentum softmax double;
 * and recipes).  Built by run_fuzz.sh with clang.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/checkpoint.h"
#include "dnn/optim.h"

#define MAX_PARAMS 100000

static void check_msg(int rc, const char *msg, const char *what)
{
    if (!rc)
        return;
    size_t n = strnlen(msg, DNN_MSG_LEN);
    if (n == 0 || n == DNN_MSG_LEN || strchr(msg, '\n')) {
        fprintf(stderr, "fuzz_ckpt: %s refused the input (rc %d) without a one-line message: '%.*s'\n", what, rc,
                (int)(n < 200 ? n : 200), msg);
        abort();
    }
}

static void check_finite(const void *p, size_t n, int prec, const char *what)
{
    for (size_t i = 0; p && i < n; i++) {
        double x = prec == DNN_DOUBLE ? ((const double *)p)[i] : (double)((const float *)p)[i];
        if (!isfinite(x)) {
            fprintf(stderr, "fuzz_ckpt: %s accepted a non-finite value at %zu\n", what, i);
            abort();
        }
    }
}

static size_t param_count(const dnn_ckpt_t *c)
{
    size_t P = 0;
    for (int l = 1; l <= c->L; l++) {
        if (c->n[l] > MAX_PARAMS || c->n[l - 1] > MAX_PARAMS)
            return SIZE_MAX;
        P += c->n[l] * c->n[l - 1] + c->n[l];
        if (P > MAX_PARAMS)
            return SIZE_MAX;
    }
    return P;
}

static void read_model(hid_t f, const dnn_ckpt_t *c)
{
    char msg[DNN_MSG_LEN] = "";
    dnn_model_t m;
    memset(&m, 0, sizeof m);
    if (param_count(c) == SIZE_MAX ||
        dnn_model_init(&m, (dnn_precision_t)c->precision, c->L, c->n, (dnn_act_t)c->hidden, (dnn_act_t)c->output,
                       c->leaky_slope, 1, msg))
        return;
    int rc = dnn_checkpoint_read_params_h5(f, "fuzz.h5", &m, msg);
    check_msg(rc, msg, "dnn_checkpoint_read_params_h5");
    if (!rc)
        check_finite(m.params, m.nparams, m.prec, "dnn_checkpoint_read_params_h5");
    int kind = c->has_optim ? dnn_optim_kind(c->optim_name) : -1;
    dnn_optim_t o;
    memset(&o, 0, sizeof o);
    if (!rc && kind >= 0 &&
        !dnn_optim_init(&o, (dnn_opt_kind_t)kind, m.prec, m.nparams, 0.9, 0.999, 1e-8, 0, msg)) {
        rc = dnn_checkpoint_read_optim_h5(f, "fuzz.h5", &m, &o, msg);
        check_msg(rc, msg, "dnn_checkpoint_read_optim_h5");
        if (!rc) {
            check_finite(o.v, o.v ? o.n : 0, o.prec, "dnn_checkpoint_read_optim_h5 (v)");
            check_finite(o.s, o.s ? o.n : 0, o.prec, "dnn_checkpoint_read_optim_h5 (s)");
        }
        dnn_optim_free(&o);
    }
    dnn_model_free(&m);
}

/* ---- recipes ---- */

typedef struct {
    const uint8_t *p;
    size_t n, i;
} bytes_t;

static unsigned take(bytes_t *b) { return b->i < b->n ? b->p[b->i++] : 1u; } /* 1: "as dnn writes it" */

static double take_double(bytes_t *b)
{
    static const double special[8] = {0, -0.0, 1, -1e300, 1e-310, NAN, INFINITY, -INFINITY};
    unsigned k = take(b);
    return k < 16 ? special[k % 8] : ((double)k - 128.0) / 16.0;
}

static hid_t space(int rank, const hsize_t *d) { return rank ? H5Screate_simple(rank, d, NULL) : H5Screate(H5S_SCALAR); }

static void put_attr(hid_t o, const char *name, hid_t type, int rank, const hsize_t *d, const void *v)
{
    hid_t sp = space(rank, d), a = H5Acreate2(o, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        H5Awrite(a, type, v);
        H5Aclose(a);
    }
    H5Sclose(sp);
}

static void put_str(hid_t o, const char *name, const char *v, int vlen)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, vlen ? H5T_VARIABLE : strlen(v) + 1);
    put_attr(o, name, t, 0, NULL, vlen ? (const void *)&v : v);
    H5Tclose(t);
}

/* One attribute: absent, right, a string for a number (or back), an array, a fuzzed value. */
static void recipe_attr(bytes_t *b, hid_t o, const char *name, const char *str, double num, int is_int)
{
    static const char *const words[] = {"dnn-checkpoint", "relu,sigmoid", "relu,relu,softmax", "single", "double",
                                        "numpy", "adam", "momentum", "cosine", "", "tanh,tanh,tanh,linear", "x,"};
    unsigned k = take(b) % 6;
    hsize_t d[1] = {1 + take(b) % 4};
    int64_t iv[4] = {(int64_t)num, (int64_t)take(b) - 2, (int64_t)take(b) << 40, -1};
    double dv[4] = {num, take_double(b), 0, 1};
    if (k == 0)
        return;
    if (k == 1 && str)
        put_str(o, name, str, 0);
    else if (k == 1 || k == 4)
        put_attr(o, name, is_int ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, k == 4, d, is_int ? (void *)iv : (void *)dv);
    else if (k == 2)
        put_str(o, name, words[take(b) % 12], take(b) & 1);
    else if (k == 3)
        put_attr(o, name, is_int ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, 0, NULL, is_int ? (void *)dv : (void *)iv);
    else
        put_attr(o, name, take(b) & 1 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, 0, NULL, take(b) & 1 ? (void *)iv : (void *)dv);
}

/* One dataset of shape (r, c) (c = 0: rank 1): absent, right or another shape or type, with fuzzed values. */
static void recipe_dset(bytes_t *b, hid_t f, const char *name, hsize_t r, hsize_t c, int dbl)
{
    unsigned k = take(b) % 8;
    if (k == 0)
        return;
    hsize_t d[2] = {r, c ? c : 1};
    if (k == 2)
        d[take(b) & 1] += 1 + take(b) % 3;
    int rank = c ? 2 : 1, n = (int)(d[0] * d[1]);
    if (k == 3)
        rank = 3 - rank;
    double v[64];
    for (int i = 0; i < n && i < 64; i++)
        v[i] = take_double(b);
    hid_t type = k == 4 ? H5T_NATIVE_INT32 : k == 5 ? H5T_NATIVE_FLOAT : dbl ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
    unsigned how = take(b);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE), sp = H5Screate_simple(rank, d, NULL);
    if (how & 1) {
        hsize_t ch[2] = {d[0] ? 1 + (how >> 2) % d[0] : 1, d[1]};
        H5Pset_chunk(pl, rank, ch);
        H5Pset_fletcher32(pl);
        if (how & 2)
            H5Pset_deflate(pl, 1);
    }
    hid_t lc = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lc, 1);
    hid_t ds = n <= 64 ? H5Dcreate2(f, name, type, sp, lc, pl, H5P_DEFAULT) : -1;
    if (ds >= 0) {
        H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        H5Dclose(ds);
    }
    H5Pclose(lc);
    H5Sclose(sp);
    H5Pclose(pl);
}

/* A checkpoint of L <= 3 layers of <= 4 units, built from the recipe's bytes. */
static void build_recipe(bytes_t *b, hid_t f)
{
    int L = 1 + (int)(take(b) % 3), dbl = take(b) & 1;
    int64_t n[DNN_MAX_LAYERS + 1];
    for (int l = 0; l <= L; l++)
        n[l] = 1 + take(b) % 4;
    hsize_t nd[1] = {(hsize_t)L + 1};
    unsigned k = take(b) % 4;
    if (k == 1)
        put_attr(f, "layer_dims", H5T_NATIVE_INT64, 1, nd, n);
    else if (k == 2) {
        nd[0] = take(b) % 12;
        int64_t bad[12] = {4, 0, -3, 1LL << 40, 2, 2, 2, 2, 2, 2, 2, 2};
        if (nd[0])
            put_attr(f, "layer_dims", H5T_NATIVE_INT64, 1, nd, bad);
    } else if (k == 3)
        put_str(f, "layer_dims", "4,3,1", take(b) & 1);
    recipe_attr(b, f, "format", "dnn-checkpoint", 0, 0);
    recipe_attr(b, f, "format_version", NULL, 1, 1);
    recipe_attr(b, f, "activations", L == 1 ? "sigmoid" : L == 2 ? "relu,sigmoid" : "relu,relu,softmax", 0, 0);
    recipe_attr(b, f, "precision", dbl ? "double" : "single", 0, 0);
    static const char *const ints[] = {"iteration", "epoch", "seed", "standardize", "batch_size", "deterministic",
                                       "decay_every", "best_iteration", "records_since_best"};
    static const char *const dbls[] = {"learning_rate", "scale", "leaky_slope", "binary_threshold", "l2",
                                       "keep_prob", "clip_norm", "decay_rate", "validation_split", "best_val_cost"};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        recipe_attr(b, f, ints[i], NULL, i == 3 ? (take(b) & 1) : 3, 1);
    for (size_t i = 0; i < sizeof dbls / sizeof *dbls; i++)
        recipe_attr(b, f, dbls[i], NULL, 0.5, 0);
    recipe_attr(b, f, "rng", "numpy", 0, 0);
    recipe_attr(b, f, "lr_decay", "cosine", 0, 0);
    recipe_attr(b, f, "config", "lr = 0.1", 0, 0);
    char name[64];
    for (int l = 1; l <= L; l++) {
        snprintf(name, sizeof name, "W%d", l);
        recipe_dset(b, f, name, (hsize_t)n[l], (hsize_t)n[l - 1], dbl);
        snprintf(name, sizeof name, "b%d", l);
        recipe_dset(b, f, name, (hsize_t)n[l], 1, dbl);
    }
    recipe_dset(b, f, "preprocess/mean", (hsize_t)n[0], 0, 1);
    recipe_dset(b, f, "preprocess/std", (hsize_t)n[0], 0, 1);
    hsize_t h = take(b) % 5;
    recipe_dset(b, f, "history/iteration", h, 0, 1);
    recipe_dset(b, f, "history/cost", h, 0, 1);
    if (take(b) & 1) {
        hid_t g = H5Gcreate2(f, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        recipe_attr(b, g, "name", "adam", 0, 0);
        recipe_attr(b, g, "t", NULL, 2, 1);
        recipe_attr(b, g, "beta1", NULL, 0.9, 0);
        H5Gclose(g);
        for (int l = 1; l <= L; l++)
            for (int m = 0; m < 4; m++) {
                snprintf(name, sizeof name, "optimizer/%s/d%s%d", m & 1 ? "s" : "v", m & 2 ? "b" : "W", l);
                recipe_dset(b, f, name, (hsize_t)n[l], m & 2 ? 1 : (hsize_t)n[l - 1], dbl);
            }
    }
}

/* Change bytes of the stored data (chunks or contiguous blocks) in the image, as a disk or copy error would. */
static herr_t damage_one(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    bytes_t *b = ((void **)data)[0];
    uint8_t *img = ((void **)data)[1];
    size_t len = *(size_t *)((void **)data)[2];
    if (info->type != H5L_TYPE_HARD || take(b) % 4 != 0)
        return 0;
    hid_t d = H5Oopen(g, name, H5P_DEFAULT);
    if (d < 0)
        return 0;
    haddr_t at = HADDR_UNDEF;
    hsize_t size = 0, off[4] = {0, 0, 0, 0};
    unsigned mask;
    if (H5Iget_type(d) == H5I_DATASET) {
        at = H5Dget_offset(d);
        size = H5Dget_storage_size(d);
        if (at == HADDR_UNDEF)
            H5Dget_chunk_info_by_coord(d, off, &mask, &at, &size);
    }
    H5Oclose(d);
    if (at != HADDR_UNDEF && size > 0 && at + size <= len)
        img[at + take(b) % size] ^= (uint8_t)(1u << (take(b) % 8));
    return 0;
}

/* Build the recipe in memory; returns its image (malloc'ed) and length, or NULL. */
static uint8_t *recipe_image(const uint8_t *data, size_t size, size_t *len)
{
    bytes_t b = {data, size, 0};
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 65536, 0);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110);
    hid_t f = H5Fcreate("recipe.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0)
        return NULL;
    build_recipe(&b, f);
    H5Fflush(f, H5F_SCOPE_GLOBAL);
    ssize_t n = H5Fget_file_image(f, NULL, 0);
    uint8_t *img = n > 0 ? malloc((size_t)n) : NULL;
    if (img && H5Fget_file_image(f, img, (size_t)n) != n) {
        free(img);
        img = NULL;
    }
    *len = (size_t)(n > 0 ? n : 0);
    if (img) {
        void *ctx[3] = {&b, img, len};
        H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, damage_one, ctx);
    }
    H5Fclose(f);
    return img;
}

/* ---- the reader on an image ---- */

static void read_image(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    dnn_h5_quiet();
    if (size >= 8 && memcmp(data, sig, 8) == 0) {
        if (size >= 64 && data[8] == 3)
            read_image(data, size);
        return 0;
    }
    size_t len = 0;
    uint8_t *img = recipe_image(data, size, &len);
    if (img)
        read_image(img, len);
    free(img);
    return 0;
}

static void read_image(const uint8_t *data, size_t size)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_core(fapl, 65536, 0) < 0 || H5Pset_file_image(fapl, (void *)data, size) < 0) {
        fprintf(stderr, "fuzz_ckpt: cannot set up the core driver\n");
        abort();
    }
    hid_t f = H5Fopen("fuzz.h5", H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0)
        return;
    static dnn_ckpt_t c; /* large (the config text) */
    char msg[DNN_MSG_LEN] = "";
    int rc = dnn_checkpoint_read_h5(f, "fuzz.h5", &c, msg);
    check_msg(rc, msg, "dnn_checkpoint_read_h5");
    if (!rc) {
        if (c.L < 1 || c.L > DNN_MAX_LAYERS) {
            fprintf(stderr, "fuzz_ckpt: accepted L = %d\n", c.L);
            abort();
        }
        for (int l = 0; l <= c.L; l++)
            if (c.n[l] < 1) {
                fprintf(stderr, "fuzz_ckpt: accepted n[%d] = 0\n", l);
                abort();
            }
        if (c.standardize) {
            check_finite(c.mean, c.n[0], DNN_DOUBLE, "dnn_checkpoint_read_h5 (mean)");
            check_finite(c.std, c.n[0], DNN_DOUBLE, "dnn_checkpoint_read_h5 (std)");
        }
        read_model(f, &c);
        dnn_checkpoint_free(&c);
    }
    H5Fclose(f);
}
