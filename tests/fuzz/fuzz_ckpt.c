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
 * Seeds: tests/fuzz/corpus_ckpt/ (small checkpoints written by dnn-train:
 * gd single precision, adam with --standardize, momentum softmax double).
 * Built by run_fuzz.sh with clang.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (size < 64 || memcmp(data, sig, 8) != 0 || data[8] != 3)
        return 0;
    dnn_h5_quiet();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_core(fapl, 65536, 0) < 0 || H5Pset_file_image(fapl, (void *)data, size) < 0) {
        fprintf(stderr, "fuzz_ckpt: cannot set up the core driver\n");
        abort();
    }
    hid_t f = H5Fopen("fuzz.h5", H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0)
        return 0;
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
    return 0;
}
