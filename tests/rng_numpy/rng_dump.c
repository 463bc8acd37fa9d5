/*
 * rng_dump.c - write draws of dnn's numpy-compatible generator as raw doubles.
 *
 *   rng_dump normal|uniform|mixed SEED N OUT.bin
 *
 * OUT.bin holds N native-endian float64 values, so a comparison with numpy
 * sees every bit.  normal = N x dnn_rng_normal (np.random.randn(N)), uniform =
 * N x dnn_rng_uniform (np.random.rand(N)), mixed = blocks of 7 normals then
 * 3 uniforms (np.random.randn(7); np.random.rand(3); ...), truncated to N:
 * it checks that the cached second normal survives uniform draws as in numpy.
 */
#include "dnn/rng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: rng_dump normal|uniform|mixed SEED N OUT.bin\n");
        return 1;
    }
    const char *what = argv[1];
    char *end;
    errno = 0;
    unsigned long long seed = strtoull(argv[2], &end, 10);
    if (errno || *end || argv[2][0] == '-' || seed > 0xffffffffull) {
        fprintf(stderr, "rng_dump: bad SEED '%s'\n", argv[2]);
        return 1;
    }
    unsigned long long n = strtoull(argv[3], &end, 10);
    if (errno || *end || argv[3][0] == '-' || n == 0 || n > 100000000ull) {
        fprintf(stderr, "rng_dump: bad N '%s'\n", argv[3]);
        return 1;
    }
    int kind = !strcmp(what, "normal") ? 0 : !strcmp(what, "uniform") ? 1
             : !strcmp(what, "mixed") ? 2 : -1;
    if (kind < 0) {
        fprintf(stderr, "rng_dump: unknown kind '%s'\n", what);
        return 1;
    }
    double *v = malloc(n * sizeof *v);
    if (!v) {
        fprintf(stderr, "rng_dump: out of memory\n");
        return 1;
    }
    dnn_rng_t r;
    dnn_rng_init(&r, DNN_RNG_NUMPY, seed);
    for (unsigned long long i = 0; i < n; i++) {
        int normal = kind == 0 || (kind == 2 && i % 10 < 7);
        v[i] = normal ? dnn_rng_normal(&r) : dnn_rng_uniform(&r);
    }
    FILE *f = fopen(argv[4], "wb");
    if (!f || fwrite(v, sizeof *v, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "rng_dump: cannot write '%s': %s\n", argv[4], strerror(errno));
        free(v);
        return 1;
    }
    free(v);
    return 0;
}
