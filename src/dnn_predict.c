/*
 * dnn_predict.c - apply a checkpoint to a data set: the stored preprocessing
 * (scale, standardization, binary threshold for labels), the forward pass,
 * accuracy when labels are given, and the predictions written as HDF5
 * (probabilities (m, n[L]) float64, predictions (m,) int64) or CSV.
 */
#include <errno.h>
#include <getopt.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnn/checkpoint.h"
#include "dnn/data.h"
#include "dnn/h5.h"
#include "dnn/model.h"
#include "dnn/output.h"

#define PROG "dnn-predict"
#define BLOCK 1024

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: dnn-predict --model CKPT.h5 --data FILE [--x NAME] [--y NAME] [--output OUT.h5|OUT.csv]\n\n"
            "Applies a dnn-train checkpoint to the inputs X in FILE. The checkpoint's preprocessing\n"
            "(--scale, --standardize, --binary-threshold) is applied as it was in training.\n\n"
            "  --model FILE      checkpoint written by dnn-train --checkpoint\n"
            "  --data FILE       HDF5 file holding the inputs\n"
            "  --x NAME          inputs dataset [test_x]\n"
            "  --y NAME          labels dataset: prints accuracy=... m=...\n"
            "  --layout L        examples-first|features-first [examples-first]\n"
            "  --output FILE     .h5: datasets probabilities (m, n[L]) float64 and predictions (m,) int64;\n"
            "                    .csv: header index,prediction,p0,p1,... one row per example\n"
            "  --help            this text\n\n"
            "Examples:\n"
            "  dnn-predict --model planar-ckpt.h5 --data planar.h5 --x X --y Y\n"
            "  dnn-predict --model fmnist-ckpt.h5 --data fmnist.h5 --x test_x --y test_y --output pred.h5\n");
}

static int write_h5(const char *path, const double *prob, const int64_t *pred, size_t m, size_t k, char *msg)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    dnn_h5_quiet();
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        return dnn_fail(msg, DNN_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    hsize_t d2[2] = {m, k}, d1[1] = {m};
    /* checksummed like every dataset dnn writes (h5.h) */
    int e = dnn_h5_write(f, path, "probabilities", H5T_NATIVE_DOUBLE, 2, d2, prob, msg) ||
            dnn_h5_write(f, path, "predictions", H5T_NATIVE_INT64, 1, d1, pred, msg);
    e |= H5Fclose(f) < 0;
    if (e || rename(tmp, path) != 0) {
        unlink(tmp);
        return dnn_fail(msg, DNN_EIO, "cannot write predictions to '%s'", path);
    }
    return 0;
}

static int write_csv(const char *path, const double *prob, const int64_t *pred, size_t m, size_t k, char *msg)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return dnn_fail(msg, DNN_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    fprintf(f, "index,prediction");
    for (size_t i = 0; i < k; i++)
        fprintf(f, ",p%zu", i);
    fputc('\n', f);
    for (size_t j = 0; j < m; j++) {
        fprintf(f, "%zu,%lld", j, (long long)pred[j]);
        for (size_t i = 0; i < k; i++)
            fprintf(f, ",%.17g", prob[j * k + i]);
        fputc('\n', f);
    }
    int e = ferror(f);
    e |= fclose(f) != 0;
    if (e || rename(tmp, path) != 0) {
        unlink(tmp);
        return dnn_fail(msg, DNN_EIO, "cannot write predictions to '%s' (disk full?)", path);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *data = NULL, *xname = "test_x", *yname = NULL, *out = NULL;
    int features_first = 0;
    static const struct option lo[] = {{"model", required_argument, 0, 'm'}, {"data", required_argument, 0, 'd'},
                                       {"x", required_argument, 0, 'x'},     {"y", required_argument, 0, 'y'},
                                       {"output", required_argument, 0, 'o'}, {"layout", required_argument, 0, 'l'},
                                       {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'd': data = optarg; break;
        case 'x': xname = optarg; break;
        case 'y': yname = optarg; break;
        case 'o': out = optarg; break;
        case 'l':
            if (strcmp(optarg, "features-first") && strcmp(optarg, "examples-first")) {
                fprintf(stderr, PROG ": --layout: unknown value '%s' (examples-first or features-first)\n", optarg);
                return 1;
            }
            features_first = strcmp(optarg, "features-first") == 0;
            break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, PROG ": unknown option or missing value: '%s' (see --help)\n", argv[optind - 1]);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": unexpected argument '%s' (see --help)\n", argv[optind]);
        return 1;
    }
    if (!model_path || !data) {
        fprintf(stderr, PROG ": --model CKPT and --data FILE are required (see --help)\n");
        return 1;
    }
    if (out && !(strlen(out) > 3 && (!strcmp(out + strlen(out) - 3, ".h5") || !strcmp(out + strlen(out) - 4, ".csv") ||
                                      !strcmp(out + strlen(out) - 5, ".hdf5")))) {
        fprintf(stderr, PROG ": --output '%s': the name must end in .h5, .hdf5 or .csv\n", out);
        return 1;
    }
    char msg[DNN_MSG_LEN];
    dnn_ckpt_t ck;
    dnn_model_t model;
    dnn_data_t d;
    dnn_data_shape_t s;
    memset(&model, 0, sizeof model);
    memset(&ck, 0, sizeof ck);
    memset(&d, 0, sizeof d);
    double *prob = NULL;
    int64_t *pred = NULL;
    int rc = dnn_output_check("--output", out, msg);
    if (!rc)
        rc = dnn_checkpoint_read(model_path, &ck, msg);
    if (rc)
        goto fail;
    if (ck.note[0])
        fprintf(stderr, PROG ": %s\n", ck.note);
    if ((rc = dnn_data_probe(data, xname, yname, features_first, &s, msg)))
        goto fail;
    if (s.n_x != ck.n[0]) {
        rc = dnn_fail(msg, DNN_EDATA, "X '%s' in '%s' has %zu features per example; the model '%s' expects n_x = %zu", xname,
                      data, s.n_x, model_path, ck.n[0]);
        goto fail;
    }
    size_t k = ck.n[ck.L];
    dnn_precision_t prec = (dnn_precision_t)ck.precision;
    if ((rc = dnn_model_init(&model, prec, ck.L, ck.n, (dnn_act_t)ck.hidden, (dnn_act_t)ck.output, ck.leaky_slope, BLOCK,
                             msg)) ||
        (rc = dnn_checkpoint_read_params(model_path, &model, msg)) ||
        (rc = dnn_data_read(&d, data, xname, yname, &s, prec, 0, s.m, ck.scale, msg)))
        goto fail;
    size_t feat;
    uint64_t bad = dnn_data_find_nonfinite(&d, &feat);
    if (bad != UINT64_MAX) {
        rc = dnn_fail(msg, DNN_EDATA, "X '%s' in '%s' holds a non-finite value at example %llu, feature %zu", xname, data,
                      (unsigned long long)bad, feat);
        goto fail;
    }
    if (ck.standardize)
        dnn_data_standardize(&d, ck.mean, ck.std);
    if (yname) {
        if (!isnan(ck.binary_threshold))
            dnn_data_threshold(&d, ck.binary_threshold);
        int kind = ck.output == DNN_ACT_SOFTMAX ? 1 : ck.output == DNN_ACT_SIGMOID ? 0 : 2;
        double v;
        bad = dnn_data_check_labels(&d, kind, (long)k, &v);
        if (bad != UINT64_MAX || (kind == 1 && s.n_y != 1) || (kind != 1 && s.n_y != k)) {
            rc = dnn_fail(msg, DNN_EDATA, "Y '%s' in '%s' does not fit the model's %s output of %zu unit(s)%s", yname, data,
                          dnn_act_name((dnn_act_t)ck.output), k, bad != UINT64_MAX ? " (a label is out of range)" : "");
            goto fail;
        }
    }
    prob = malloc((s.m * k + 1) * sizeof(double));
    pred = malloc((s.m + 1) * sizeof(int64_t));
    if (!prob || !pred) {
        rc = dnn_fail(msg, DNN_ENOMEM, "out of memory for %llu predictions", (unsigned long long)s.m);
        goto fail;
    }
    size_t es = dnn_real_size(prec);
    double loss = 0, correct = 0;
    for (size_t off = 0; off < s.m; off += BLOCK) {
        size_t cols = s.m - off < BLOCK ? s.m - off : BLOCK;
        const char *X = (const char *)d.X + off * s.n_x * es;
        if (yname)
            dnn_model_evaluate(&model, X, (const char *)d.Y + off * s.n_y * es, cols, &loss, &correct);
        else
            dnn_model_forward(&model, X, cols);
        const void *A = dnn_model_output(&model);
        for (size_t j = 0; j < cols; j++) {
            size_t best = 0;
            for (size_t i = 0; i < k; i++) {
                double p = prec == DNN_DOUBLE ? ((const double *)A)[j * k + i] : ((const float *)A)[j * k + i];
                prob[(off + j) * k + i] = p;
                if (p > prob[(off + j) * k + best])
                    best = i;
            }
            pred[off + j] = ck.output == DNN_ACT_SOFTMAX ? (int64_t)best
                            : ck.output == DNN_ACT_SIGMOID ? (int64_t)(prob[(off + j) * k] > 0.5)
                                                          : (int64_t)llround(prob[(off + j) * k]);
        }
    }
    if (yname && ck.output != DNN_ACT_LINEAR)
        printf("accuracy=%.6f m=%llu\n", s.m ? correct / (double)s.m : 0.0, (unsigned long long)s.m);
    else if (yname)
        printf("mse=%.9g m=%llu\n", 2 * loss / (double)s.m / (double)k, (unsigned long long)s.m);
    if (out) {
        size_t len = strlen(out);
        rc = len > 4 && !strcmp(out + len - 4, ".csv") ? write_csv(out, prob, pred, s.m, k, msg)
                                                        : write_h5(out, prob, pred, s.m, k, msg);
        if (rc)
            goto fail;
        printf("predictions written to %s\n", out);
    }
fail:
    if (rc)
        fprintf(stderr, PROG ": %s\n", msg);
    free(prob);
    free(pred);
    dnn_data_free(&d);
    dnn_model_free(&model);
    dnn_checkpoint_free(&ck);
    return rc ? 1 : 0;
}
