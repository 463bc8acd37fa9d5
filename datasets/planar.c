/*
 * planar.c - dnn-planar: the course's two-class planar "flower" data set.
 *
 * For class j in {0, 1} with N = m/2 points and a = 4 (load_planar_dataset):
 *   theta = linspace(3.12 j, 3.12 (j+1), N) + 0.2 * randn(N)
 *   r     = a sin(4 theta)                 + 0.2 * randn(N)
 *   x     = (r sin theta, r cos theta),  label j
 * The normals come from the numpy-compatible generator (DNN_RNG_NUMPY), drawn
 * theta-noise then r-noise per class, and every floating-point operation is
 * the one numpy performs, in the same order and rounding (this file must be
 * compiled with -ffp-contract=off so no a*b+c is fused), so the points equal
 * np.random.seed(S) + the course's recipe bit for bit.  sin and cos are the C
 * library's, as numpy's are, except that numpy (Debian 12's 1.24) on AVX512_SKX CPUs
 * uses Intel's SVML for float64 sin/cos, which differs in the last bits
 * (|dX| <= 2e-15); run numpy with NPY_DISABLE_CPU_FEATURES=AVX512_SKX there
 * to get the identical points.
 *
 * Output (examples-first, as h5py writes the course's X.T, Y.T):
 *   X (m, 2) float64   X[:,0] = r sin theta, X[:,1] = r cos theta
 *   Y (m,)   uint8     0 for the first m/2 rows, 1 for the rest
 */
#include "dnn/common.h"
#include "dnn/rng.h"
#include "h5out.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_M 100000000ull /* 1.6 GB of float64 points: far beyond any use */

static const char usage[] =
    "usage: dnn-planar [--seed S] [--m M] OUT.h5\n"
    "Write the course's planar 'flower' set (two classes, a = 4) as HDF5:\n"
    "  X (M, 2) float64 and Y (M,) uint8, equal bit for bit to numpy's\n"
    "  np.random.seed(S) followed by load_planar_dataset's recipe (on AVX512 CPUs\n"
    "  numpy's own sin/cos differ in the last bits unless it runs with\n"
    "  NPY_DISABLE_CPU_FEATURES=AVX512_SKX).\n"
    "  --seed S   numpy seed, 0 <= S < 2^32 (default 1)\n"
    "  --m M      number of examples, even, >= 4 (default 400)\n"
    "  --help     this text\n"
    "example: dnn-planar planar.h5 && dnn-train --data planar.h5 --x X --y Y --layers 4 "
    "--hidden-activation tanh --lr 1.2 --iterations 10000\n";

/* Parse a whole decimal string into *out; 0 on success. */
static int parse_u64(const char *s, unsigned long long *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return (errno != 0 || *end != '\0') ? -1 : 0;
}

/*
 * numpy.linspace(start, stop, n) for float64 scalars, n >= 2 (numpy 1.x):
 * step = (stop - start) / (n - 1); y[i] = i * step + start, each operation
 * rounded separately; y[n-1] = stop exactly.
 */
static void linspace(double *y, double start, double stop, size_t n)
{
    double step = (stop - start) / (double)(n - 1);
    for (size_t i = 0; i < n; i++) {
        double v = (double)i * step;
        y[i] = v + start;
    }
    y[n - 1] = stop;
}

/* Fill X (m, 2) row-major and Y (m,) as documented above. */
static void flower(double *X, unsigned char *Y, size_t m, uint32_t seed, double *theta,
                   double *noise)
{
    const double a = 4.0;
    const size_t N = m / 2;
    dnn_rng_t rng;
    dnn_rng_init(&rng, DNN_RNG_NUMPY, seed);

    for (size_t j = 0; j < 2; j++) {
        /* Python evaluates j*3.12 and (j+1)*3.12 in float64. */
        linspace(theta, (double)j * 3.12, (double)(j + 1) * 3.12, N);
        for (size_t i = 0; i < N; i++)
            noise[i] = dnn_rng_normal(&rng);
        for (size_t i = 0; i < N; i++)
            theta[i] = theta[i] + noise[i] * 0.2;
        for (size_t i = 0; i < N; i++)
            noise[i] = dnn_rng_normal(&rng);
        for (size_t i = 0; i < N; i++) {
            double t = theta[i];
            double r = a * sin(4.0 * t) + noise[i] * 0.2;
            size_t row = j * N + i;
            X[2 * row + 0] = r * sin(t);
            X[2 * row + 1] = r * cos(t);
            Y[row] = (unsigned char)j;
        }
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'},
        {"m", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned long long seed = 1, m = 400;
    char msg[DNN_MSG_LEN];
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (parse_u64(optarg, &seed) != 0 || seed > 0xffffffffull) {
                fprintf(stderr, "dnn-planar: error: --seed '%s': need an integer in [0, 2^32)\n",
                        optarg);
                return 1;
            }
            break;
        case 'm':
            if (parse_u64(optarg, &m) != 0 || m < 4 || m % 2 != 0 || m > MAX_M) {
                fprintf(stderr,
                        "dnn-planar: error: --m '%s': need an even integer in [4, %llu]\n",
                        optarg, MAX_M);
                return 1;
            }
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs("dnn-planar: error: bad option; try 'dnn-planar --help'\n", stderr);
            return 1;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr,
                "dnn-planar: error: expected one output file, got %d arguments; "
                "try 'dnn-planar --help'\n",
                argc - optind);
        return 1;
    }
    const char *out_path = argv[optind];

    size_t n = (size_t)m;
    double *X = dnn_alloc(n, 2 * sizeof(double));
    unsigned char *Y = dnn_alloc(n, 1);
    double *theta = dnn_alloc(n / 2, sizeof(double));
    double *noise = dnn_alloc(n / 2, sizeof(double));
    h5out_t out = {0};
    int rc = 1;
    if (!X || !Y || !theta || !noise) {
        fprintf(stderr, "dnn-planar: error: out of memory for m = %llu examples\n", m);
        goto done;
    }
    flower(X, Y, n, (uint32_t)seed, theta, noise);

    const hsize_t xdims[2] = {(hsize_t)n, 2}, ydims[1] = {(hsize_t)n};
    if (h5out_open(&out, out_path, msg) != 0 ||
        h5out_write(&out, "X", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, xdims, X, msg) != 0 ||
        h5out_write(&out, "Y", H5T_NATIVE_UCHAR, H5T_STD_U8LE, 1, ydims, Y, msg) != 0 ||
        h5out_commit(&out, msg) != 0) {
        fprintf(stderr, "dnn-planar: error: %s\n", msg);
        h5out_discard(&out);
        goto done;
    }
    rc = 0;
done:
    free(X);
    free(Y);
    free(theta);
    free(noise);
    return rc;
}
