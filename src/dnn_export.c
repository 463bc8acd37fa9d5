/*
 * dnn_export.c - dnn-export: a dnn-train checkpoint as an ONNX model (README, Installing).
 *
 * The graph (opset 13, IR version 7) takes X (m, n_x) raw float32 features,
 * m a dynamic dimension, and computes what dnn-predict calls probabilities:
 *   [Mul by the scale] [Sub the mean, Div by the std]      the stored preprocessing
 *   Gemm(A, W[l], b[l], transB = 1) = A W[l]^T + b[l]        each layer, row-major A (m, n[l-1])
 *   Sigmoid | Tanh | Relu | LeakyRelu(alpha) | (none: linear) | Softmax(axis = 1)
 * and with --batch-norm, on each hidden layer (README, Batch normalization):
 *   Gemm(A, W[l], transB = 1), BatchNormalization(gamma[l], beta[l], the
 *   running mean[l] and var[l], epsilon), then the activation
 * ending in P (m, n[L]).  W and b are the checkpoint's (float64 ones rounded to
 * float32); the model's metadata properties record layer_dims, activations,
 * leaky_slope, scale, standardize, precision, iteration, the dnn version and
 * the SHA-256 of the checkpoint file.  Encoded with protobuf-c from the schema
 * subset src/onnx.proto; written atomically (atomic.h).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnn/args.h"
#include "dnn/atomic.h"
#include "dnn/bn.h"
#include "dnn/net.h"
#include "dnn/output.h"
#include "onnx.pb-c.h"

#define PROG "dnn-export"
#define OPSET 13
#define IR_VERSION 7 /* the IR of opset 13 */
#define MAX_NODES (3 * DNN_MAX_LAYERS + 4)
#define MAX_INITS (6 * DNN_MAX_LAYERS + 4)
#define MAX_META 16

#ifndef DNN_VERSION
#define DNN_VERSION "unknown"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: dnn-export --model CKPT.h5 --onnx OUT.onnx\n\n"
            "Writes a dnn-train checkpoint as an ONNX model (opset 13) for ONNX runtimes. Its input X is\n"
            "(m, n_x) raw float32 features with a dynamic batch size m; its output P (m, n[L]) is what\n"
            "dnn-predict prints: the stored preprocessing (--scale, or --standardize's mean and std) is\n"
            "part of the graph, then one Gemm and one activation node per layer (a checkpoint trained with\n"
            "--batch-norm adds a BatchNormalization node with the running mean and var after each hidden Gemm).\n\n"
            "  --model FILE      checkpoint written by dnn-train --checkpoint\n"
            "  --onnx FILE       the ONNX model to write (replaced atomically)\n"
            "  --help            this text\n\n"
            "The model's metadata properties hold layer_dims, activations, leaky_slope, scale, standardize,\n"
            "precision, iteration, dnn_version and source_sha256 (the SHA-256 of the checkpoint file).\n\n"
            "Examples:\n"
            "  dnn-export --model fmnist-ckpt.h5 --onnx fmnist.onnx\n"
            "  python3 -c 'import onnx; onnx.checker.check_model(onnx.load(\"fmnist.onnx\"), full_check=True)'\n");
}

/* ---- SHA-256 (FIPS 180-4) of the checkpoint file ---- */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
    0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
    0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
    0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64], s[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++)
        w[i] = w[i - 16] + (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 7] +
               (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10));
    memcpy(s, h, sizeof s);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = s[7] + (ROR(s[4], 6) ^ ROR(s[4], 11) ^ ROR(s[4], 25)) + ((s[4] & s[5]) ^ (~s[4] & s[6])) + K256[i] + w[i];
        uint32_t t2 = (ROR(s[0], 2) ^ ROR(s[0], 13) ^ ROR(s[0], 22)) + ((s[0] & s[1]) ^ (s[0] & s[2]) ^ (s[1] & s[2]));
        memmove(s + 1, s, 7 * sizeof s[0]);
        s[4] += t1;
        s[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        h[i] += s[i];
}

/* hex: 65 bytes.  Returns 0 or DNN_EIO. */
static int sha256_file(const char *path, char *hex, char *msg)
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    unsigned char buf[128];
    uint64_t total = 0;
    size_t n;
    FILE *f = fopen(path, "rb");
    if (!f)
        return dnn_fail(msg, DNN_EIO, "cannot open checkpoint '%s': %s", path, strerror(errno));
    while ((n = fread(buf, 1, 64, f)) == 64) {
        sha256_block(h, buf);
        total += 64;
    }
    int err = ferror(f);
    fclose(f);
    if (err)
        return dnn_fail(msg, DNN_EIO, "cannot read checkpoint '%s'", path);
    total += n;
    memset(buf + n, 0, sizeof buf - n);
    buf[n] = 0x80;
    size_t len = n + 9 <= 64 ? 64 : 128;
    for (int i = 0; i < 8; i++)
        buf[len - 1 - i] = (unsigned char)((total * 8) >> (8 * i));
    sha256_block(h, buf);
    if (len == 128)
        sha256_block(h, buf + 64);
    for (int i = 0; i < 8; i++)
        snprintf(hex + 8 * i, 9, "%08x", h[i]);
    return 0;
}

/* ---- the model under construction (fixed-size arrays: L <= DNN_MAX_LAYERS) ---- */

typedef struct {
    Onnx__NodeProto node[MAX_NODES], *nodes[MAX_NODES];
    char *in[MAX_NODES][5], *out[MAX_NODES][1], nname[MAX_NODES][32];
    Onnx__AttributeProto attr[MAX_NODES], *attrs[MAX_NODES][1];
    Onnx__TensorProto init[MAX_INITS], *inits[MAX_INITS];
    int64_t idims[MAX_INITS][2];
    char names[MAX_NODES + MAX_INITS][32];
    int nnode, ninit, nnames;
    Onnx__StringStringEntryProto meta[MAX_META], *metas[MAX_META];
    char metaval[MAX_META][DNN_MAX_LAYERS * 21 + 64]; /* fits layer_dims of the deepest net */
    int nmeta;
    Onnx__ValueInfoProto io[2], *ios[2];
    Onnx__TypeProto type[2];
    Onnx__TypeProto__Tensor tensor[2];
    Onnx__TensorShapeProto shape[2];
    Onnx__TensorShapeProto__Dimension dim[2][2], *dims[2][2];
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset, *opsets[1];
    Onnx__ModelProto model;
} onnx_t;

static char *name(onnx_t *o, const char *fmt, int l)
{
    char *s = o->names[o->nnames++];
    snprintf(s, sizeof o->names[0], fmt, l);
    return s;
}

/* An initializer of n floats (taken over: freed with the model) and shape dims[0..nd). */
static void add_init(onnx_t *o, const char *tname, float *data, size_t n, int nd, size_t d0, size_t d1)
{
    Onnx__TensorProto *t = &o->init[o->ninit];
    onnx__tensor_proto__init(t);
    t->name = (char *)tname;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    o->idims[o->ninit][0] = (int64_t)d0;
    o->idims[o->ninit][1] = (int64_t)d1;
    t->n_dims = (size_t)nd;
    t->dims = o->idims[o->ninit];
    t->n_float_data = n;
    t->float_data = data;
    o->inits[o->ninit] = t;
    o->ninit++;
}

/* A node op(in...) -> out; attr_name/kind/values: one optional attribute. */
static Onnx__NodeProto *add_node(onnx_t *o, const char *op, const char *nname, int nin, char *const *in, char *out)
{
    int k = o->nnode++;
    Onnx__NodeProto *nd = &o->node[k];
    onnx__node_proto__init(nd);
    snprintf(o->nname[k], sizeof o->nname[k], "%s", nname);
    nd->name = o->nname[k];
    nd->op_type = (char *)op;
    for (int i = 0; i < nin; i++)
        o->in[k][i] = in[i];
    nd->n_input = (size_t)nin;
    nd->input = o->in[k];
    o->out[k][0] = out;
    nd->n_output = 1;
    nd->output = o->out[k];
    o->nodes[k] = nd;
    return nd;
}

static void add_attr(onnx_t *o, Onnx__NodeProto *nd, const char *aname, int is_float, double v)
{
    int k = (int)(nd - o->node);
    Onnx__AttributeProto *a = &o->attr[k];
    onnx__attribute_proto__init(a);
    a->name = (char *)aname;
    a->has_type = 1;
    if (is_float) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        a->has_f = 1;
        a->f = (float)v;
    } else {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a->has_i = 1;
        a->i = (int64_t)v;
    }
    o->attrs[k][0] = a;
    nd->n_attribute = 1;
    nd->attribute = o->attrs[k];
}

/* float copy of n values of a checkpoint array (float or double); NULL when out of memory. */
static float *floats(const void *src, int dbl, size_t n)
{
    float *f = dnn_alloc(n + 1, sizeof *f);
    for (size_t i = 0; f && i < n; i++)
        f[i] = (float)dnn_real_at(dbl ? DNN_DOUBLE : DNN_SINGLE, src, i);
    return f;
}

static void add_meta(onnx_t *o, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add_meta(onnx_t *o, const char *key, const char *fmt, ...)
{
    Onnx__StringStringEntryProto *e = &o->meta[o->nmeta];
    onnx__string_string_entry_proto__init(e);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->metaval[o->nmeta], sizeof o->metaval[0], fmt, ap);
    va_end(ap);
    e->key = (char *)key;
    e->value = o->metaval[o->nmeta];
    o->metas[o->nmeta] = e;
    o->nmeta++;
}

/* X -> [Mul scale] -> [Sub mean, Div std]; *cur names the result. */
static int add_preprocess(onnx_t *o, const dnn_ckpt_t *c, char **cur)
{
    if (c->scale != 1.0) {
        float *s = floats(&c->scale, 1, 1);
        if (!s)
            return DNN_ENOMEM;
        add_init(o, "scale", s, 1, 0, 0, 0); /* a scalar, broadcast over X */
        char *in[2] = {*cur, (char *)"scale"};
        add_node(o, "Mul", "preprocess_scale", 2, in, (char *)"X_scaled");
        *cur = (char *)"X_scaled";
    }
    if (c->standardize) {
        float *mean = floats(c->mean, 1, c->n[0]), *std = floats(c->std, 1, c->n[0]);
        if (!mean || !std) {
            free(mean);
            free(std);
            return DNN_ENOMEM;
        }
        add_init(o, "mean", mean, c->n[0], 1, c->n[0], 0);
        add_init(o, "std", std, c->n[0], 1, c->n[0], 0);
        char *sub[2] = {*cur, (char *)"mean"}, *div[2] = {(char *)"X_centered", (char *)"std"};
        add_node(o, "Sub", "preprocess_center", 2, sub, (char *)"X_centered");
        add_node(o, "Div", "preprocess_divide", 2, div, (char *)"X_standardized");
        *cur = (char *)"X_standardized";
    }
    return 0;
}

static const char *op_of(dnn_act_t g)
{
    switch (g) {
    case DNN_ACT_SIGMOID: return "Sigmoid";
    case DNN_ACT_TANH: return "Tanh";
    case DNN_ACT_RELU: return "Relu";
    case DNN_ACT_LEAKY_RELU: return "LeakyRelu";
    case DNN_ACT_SOFTMAX: return "Softmax";
    default: return NULL; /* linear: no node */
    }
}

/* BatchNormalization of hidden layer l's Z (z) with its gamma, beta and running
 * statistics; returns the output's name, or NULL when out of memory. */
static char *add_bn(onnx_t *o, const dnn_model_t *md, int l, char *z)
{
    int dbl = md->prec == DNN_DOUBLE;
    size_t nl = md->n[l];
    const void *src[4] = {dnn_bn_gamma(md, l), dnn_bn_beta(md, l), dnn_bn_mean(md, l), dnn_bn_var(md, l)};
    const char *fmt[4] = {"gamma%d", "beta%d", "mean%d", "var%d"};
    char *in[5] = {z}, nn[32];
    for (int i = 0; i < 4; i++) {
        float *v = floats(src[i], dbl, nl);
        if (!v)
            return NULL;
        in[i + 1] = name(o, fmt[i], l);
        add_init(o, in[i + 1], v, nl, 1, nl, 0);
    }
    snprintf(nn, sizeof nn, "batchnorm%d", l);
    char *out = name(o, "Zn%d", l);
    add_attr(o, add_node(o, "BatchNormalization", nn, 5, in, out), "epsilon", 1, md->bn_eps);
    return out;
}

/* Per layer: Gemm(A, W, b, transB=1) (with --batch-norm, Gemm(A, W) and
 * BatchNormalization on the hidden layers) then the activation; the last output is P. */
static int add_layers(onnx_t *o, const dnn_model_t *md, char *cur)
{
    int dbl = md->prec == DNN_DOUBLE;
    char nn[32];
    for (int l = 1; l <= md->L; l++) {
        size_t nl = md->n[l], np = md->n[l - 1];
        int bn = md->bn && l < md->L;
        float *W = floats(dnn_model_W(md, l), dbl, nl * np), *b = bn ? NULL : floats(dnn_model_b(md, l), dbl, nl);
        if (!W || (!bn && !b)) {
            free(W);
            free(b);
            return DNN_ENOMEM;
        }
        char *wn = name(o, "W%d", l), *bname = bn ? NULL : name(o, "b%d", l);
        add_init(o, wn, W, nl * np, 2, nl, np);
        if (!bn)
            add_init(o, bname, b, nl, 1, nl, 0);
        dnn_act_t g = l < md->L ? md->hidden : md->output;
        const char *op = op_of(g);
        char *z = l == md->L && !op ? (char *)"P" : name(o, "Z%d", l), *in[3] = {cur, wn, bname};
        snprintf(nn, sizeof nn, "gemm%d", l);
        add_attr(o, add_node(o, "Gemm", nn, bn ? 2 : 3, in, z), "transB", 0, 1);
        cur = z;
        if (bn && !(cur = add_bn(o, md, l, z)))
            return DNN_ENOMEM;
        if (!op)
            continue;
        char *a = l == md->L ? (char *)"P" : name(o, "A%d", l);
        snprintf(nn, sizeof nn, "%s%d", g == DNN_ACT_SOFTMAX ? "softmax" : "act", l);
        Onnx__NodeProto *nd = add_node(o, op, nn, 1, &cur, a);
        if (g == DNN_ACT_LEAKY_RELU)
            add_attr(o, nd, "alpha", 1, md->slope);
        if (g == DNN_ACT_SOFTMAX)
            add_attr(o, nd, "axis", 0, 1); /* over the units of each example */
        cur = a;
    }
    return 0;
}

/* Graph input/output k: a float tensor (m, n), m a named dynamic dimension. */
static void add_io(onnx_t *o, int k, const char *tname, size_t n)
{
    Onnx__TensorShapeProto__Dimension *d = o->dim[k];
    onnx__tensor_shape_proto__dimension__init(&d[0]);
    d[0].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    d[0].dim_param = (char *)"m";
    onnx__tensor_shape_proto__dimension__init(&d[1]);
    d[1].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d[1].dim_value = (int64_t)n;
    o->dims[k][0] = &d[0];
    o->dims[k][1] = &d[1];
    onnx__tensor_shape_proto__init(&o->shape[k]);
    o->shape[k].n_dim = 2;
    o->shape[k].dim = o->dims[k];
    onnx__type_proto__tensor__init(&o->tensor[k]);
    o->tensor[k].has_elem_type = 1;
    o->tensor[k].elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    o->tensor[k].shape = &o->shape[k];
    onnx__type_proto__init(&o->type[k]);
    o->type[k].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    o->type[k].tensor_type = &o->tensor[k];
    onnx__value_info_proto__init(&o->io[k]);
    o->io[k].name = (char *)tname;
    o->io[k].type = &o->type[k];
    o->ios[k] = &o->io[k];
}

static void add_metadata(onnx_t *o, const dnn_ckpt_t *c, const char *sha)
{
    char dims[DNN_MAX_LAYERS * 21 + 1] = "", acts[DNN_MAX_LAYERS * 12 + 1] = "";
    size_t nd = 0, na = 0;
    for (int l = 0; l <= c->L; l++)
        nd += (size_t)snprintf(dims + nd, sizeof dims - nd, "%s%zu", l ? "," : "", c->n[l]);
    for (int l = 1; l <= c->L; l++)
        na += (size_t)snprintf(acts + na, sizeof acts - na, "%s%s", l > 1 ? "," : "",
                               dnn_act_name((dnn_act_t)(l < c->L ? c->hidden : c->output)));
    add_meta(o, "layer_dims", "%s", dims);
    add_meta(o, "activations", "%s", acts);
    add_meta(o, "leaky_slope", "%.17g", c->leaky_slope);
    add_meta(o, "scale", "%.17g", c->scale);
    add_meta(o, "standardize", "%d", c->standardize);
    add_meta(o, "precision", "%s",
             c->precision == DNN_DOUBLE ? "double" : c->precision == DNN_BF16 ? "bf16" : "single");
    add_meta(o, "iteration", "%lld", (long long)c->iteration);
    add_meta(o, "dnn_version", "%s", DNN_VERSION);
    add_meta(o, "source_sha256", "%s", sha);
}

static void build_model(onnx_t *o, const char *ckpt_path)
{
    onnx__graph_proto__init(&o->graph);
    o->graph.name = (char *)"dnn";
    o->graph.doc_string = (char *)"X (m, n_x) raw features -> preprocessing -> Gemm and activation per layer -> P (m, n[L])";
    o->graph.n_node = (size_t)o->nnode;
    o->graph.node = o->nodes;
    o->graph.n_initializer = (size_t)o->ninit;
    o->graph.initializer = o->inits;
    o->graph.n_input = o->graph.n_output = 1;
    o->graph.input = &o->ios[0];
    o->graph.output = &o->ios[1];
    onnx__operator_set_id_proto__init(&o->opset);
    o->opset.has_version = 1;
    o->opset.version = OPSET;
    o->opsets[0] = &o->opset;
    onnx__model_proto__init(&o->model);
    o->model.has_ir_version = 1;
    o->model.ir_version = IR_VERSION;
    o->model.n_opset_import = 1;
    o->model.opset_import = o->opsets;
    o->model.producer_name = (char *)"dnn";
    o->model.producer_version = (char *)DNN_VERSION;
    o->model.doc_string = (char *)ckpt_path;
    o->model.graph = &o->graph;
    o->model.n_metadata_props = (size_t)o->nmeta;
    o->model.metadata_props = o->metas;
}

/* Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, const char **model, const char **onnx)
{
    static const struct option lo[] = {{"model", required_argument, 0, 'm'},
                                       {"onnx", required_argument, 0, 'o'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = dnn_args_next(PROG, argc, argv, lo)) != -1) {
        switch (c) {
        case 'm': *model = optarg; break;
        case 'o': *onnx = optarg; break;
        case 'h': usage(stdout); return 0;
        default: return 1; /* reported */
        }
    }
    if (!*model || !*onnx) {
        fprintf(stderr, PROG ": --model CKPT and --onnx OUT.onnx are required (see --help)\n");
        return 1;
    }
    return -1;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *onnx_path = NULL;
    int st = parse_args(argc, argv, &model_path, &onnx_path);
    if (st >= 0)
        return st;
    char msg[DNN_MSG_LEN], sha[65], *cur = (char *)"X";
    dnn_net_t *net = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    onnx_t *o = calloc(1, sizeof *o);
    int rc = o ? dnn_output_check("--onnx", onnx_path, msg) : dnn_fail(msg, DNN_ENOMEM, "out of memory");
    if (!rc && !(rc = dnn_net_load(&net, model_path, msg)) && dnn_net_checkpoint(net)->note[0])
        fprintf(stderr, PROG ": %s\n", dnn_net_checkpoint(net)->note);
    if (!rc)
        rc = sha256_file(model_path, sha, msg);
    if (!rc && ((rc = add_preprocess(o, dnn_net_checkpoint(net), &cur)) ||
                (rc = add_layers(o, dnn_net_model(net), cur))))
        dnn_fail(msg, rc, "out of memory building the ONNX graph of '%s'", model_path);
    if (!rc) {
        add_io(o, 0, "X", dnn_net_inputs(net));
        add_io(o, 1, "P", dnn_net_outputs(net));
        add_metadata(o, dnn_net_checkpoint(net), sha);
        build_model(o, model_path);
        len = onnx__model_proto__get_packed_size(&o->model);
        if (len > 0x7fffffff) /* protobuf's limit; bigger ONNX models keep tensors in external files */
            rc = dnn_fail(msg, DNN_EINVAL, "'%s' makes a %zu-byte ONNX model, over protobuf's 2 GiB limit", model_path,
                          len);
        else if (!(buf = malloc(len + 1)))
            rc = dnn_fail(msg, DNN_ENOMEM, "out of memory for a %zu-byte ONNX model", len);
    }
    if (!rc && onnx__model_proto__pack(&o->model, buf) != len)
        rc = dnn_fail(msg, DNN_EIO, "protobuf-c packed a model of the wrong size");
    if (!rc)
        rc = dnn_atomic_save("--onnx file", onnx_path, buf, len, msg);
    if (!rc)
        printf("wrote %s: %d nodes, %zu bytes, opset %d, from %s (sha256 %s)\n", onnx_path, o->nnode, len, OPSET,
               model_path, sha);
    for (int i = 0; o && i < o->ninit; i++)
        free(o->init[i].float_data);
    free(o);
    free(buf);
    dnn_net_free(net);
    if (rc)
        fprintf(stderr, PROG ": %s\n", msg);
    return rc ? 1 : 0;
}
