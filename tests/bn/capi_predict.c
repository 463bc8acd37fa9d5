/*
 * capi_predict.c - a test helper: dnn_net_predict (dnn/dnn.h) on the
 * examples of an HDF5 dataset, probabilities written as text, one example a
 * line at full precision (%.17g), for tests/bn/bn_inference.py.
 *   capi_predict CKPT.h5 DATA.h5 XNAME OUT.txt
 */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

#include "dnn/dnn.h"

int main(int argc, char **argv)
{
    char msg[DNN_MSG_LEN];
    dnn_net_t *net = NULL;
    if (argc != 5) {
        fprintf(stderr, "usage: capi_predict CKPT.h5 DATA.h5 XNAME OUT.txt\n");
        return 2;
    }
    if (dnn_net_load(&net, argv[1], msg)) {
        fprintf(stderr, "capi_predict: %s\n", msg);
        return 1;
    }
    hid_t f = H5Fopen(argv[2], H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, argv[3], H5P_DEFAULT) : -1;
    hid_t s = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[2] = {0, 0};
    if (s < 0 || H5Sget_simple_extent_ndims(s) != 2 || H5Sget_simple_extent_dims(s, dims, NULL) < 0 ||
        dims[1] != dnn_net_inputs(net)) {
        fprintf(stderr, "capi_predict: %s in %s is not (m, %zu)\n", argv[3], argv[2], dnn_net_inputs(net));
        return 1;
    }
    size_t m = (size_t)dims[0], k = dnn_net_outputs(net);
    double *X = malloc(m * dims[1] * sizeof *X), *P = malloc(m * k * sizeof *P);
    int rc = !X || !P || H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, X) < 0;
    if (!rc && dnn_net_predict(net, X, m, P, msg)) {
        fprintf(stderr, "capi_predict: %s\n", msg);
        rc = 1;
    }
    FILE *out = rc ? NULL : fopen(argv[4], "w");
    for (size_t i = 0; out && i < m; i++)
        for (size_t j = 0; j < k; j++)
            fprintf(out, "%.17g%c", P[i * k + j], j + 1 < k ? ' ' : '\n');
    if (!rc && (!out || fclose(out)))
        rc = 1;
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    free(X);
    free(P);
    dnn_net_free(net);
    return rc;
}
