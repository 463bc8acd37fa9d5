/*
 * fashion_mnist.c - dnn-fashion-mnist: Debian's dataset-fashion-mnist as one HDF5 file.
 *
 * Reads the four gzip'ed IDX files of /usr/share/datasets/fashion-mnist
 * (zlib's gzread) and writes, examples-first as h5py would:
 *   train_x (60000, 28, 28) uint8   train_y (60000,) uint8
 *   test_x  (10000, 28, 28) uint8   test_y  (10000,) uint8
 * IDX: big-endian int32 magic 0x00000800 | type << 8 | ndims (type 0x08 =
 * unsigned byte), then ndims big-endian int32 sizes, then the bytes in
 * row-major order.  Magic, sizes, label range, truncation and trailing bytes
 * are all checked; the output appears atomically (dnn/atomic.h).
 */
#include "dnn/common.h"
#include "h5out.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define DEFAULT_SRC "/usr/share/datasets/fashion-mnist"
#define ROWS 28
#define COLS 28
#define CLASSES 10

static const char usage[] =
    "usage: dnn-fashion-mnist [--src DIR] OUT.h5\n"
    "Convert Fashion-MNIST (Debian package dataset-fashion-mnist, gzip'ed IDX files)\n"
    "to HDF5: train_x (60000,28,28) uint8, train_y (60000,) uint8, test_x (10000,28,28),\n"
    "test_y (10000,).\n"
    "  --src DIR  folder with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,\n"
    "             t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz\n"
    "             (default " DEFAULT_SRC ")\n"
    "  --help     this text\n"
    "example: dnn-fashion-mnist fashion.h5 && dnn-train --data fashion.h5 \\\n"
    "           --scale 0.00392156862745098 --layers 128 --output softmax --classes 10 \\\n"
    "           --test fashion.h5\n";

typedef struct {
    const char *images; /* file names inside --src */
    const char *labels;
    const char *x_name; /* HDF5 dataset names */
    const char *y_name;
    uint32_t m;         /* expected number of examples */
} part_t;

static const part_t parts[2] = {
    {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "train_x", "train_y", 60000},
    {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "test_x", "test_y", 10000},
};

/* Read exactly n bytes; 0, or DNN_EIO/DNN_EDATA with a message naming path. */
static int gz_read_exact(gzFile f, const char *path, void *buf, size_t n, const char *what,
                         char *msg)
{
    unsigned char *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, p, chunk);
        if (got < 0) {
            int err;
            const char *text = gzerror(f, &err);
            return dnn_fail(msg, DNN_EIO, "'%s': read error in %s: %s", path, what, text);
        }
        if (got == 0)
            return dnn_fail(msg, DNN_EDATA, "'%s': file truncated in %s (%zu bytes missing)",
                            path, what, n);
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/*
 * Read one IDX file of unsigned bytes with ndims dimensions whose sizes must
 * equal want[0..ndims).  *data receives a malloc'ed block of prod(want) bytes.
 */
static int idx_read(const char *path, int ndims, const uint32_t *want, unsigned char **data,
                    char *msg)
{
    static const char *const dim_names[3] = {"examples", "rows", "columns"};
    unsigned char head[4 + 4 * 3], extra;
    gzFile f = NULL;
    size_t n = 1;
    int rc;

    *data = NULL;
    errno = 0;
    f = gzopen(path, "rb");
    if (!f)
        return dnn_fail(msg, DNN_EIO, "cannot open '%s': %s", path,
                        errno ? strerror(errno) : "out of memory");
    if ((rc = gz_read_exact(f, path, head, 4 + 4 * (size_t)ndims, "the IDX header", msg)) != 0)
        goto fail;
    uint32_t magic = be32(head), want_magic = 0x00000800u | (uint32_t)ndims;
    if (magic != want_magic) {
        rc = dnn_fail(msg, DNN_EDATA,
                      "'%s': bad IDX magic number 0x%08x, expected 0x%08x (unsigned bytes, "
                      "%d dimension%s): not the expected IDX file",
                      path, magic, want_magic, ndims, ndims == 1 ? "" : "s");
        goto fail;
    }
    for (int d = 0; d < ndims; d++) {
        uint32_t size = be32(head + 4 + 4 * d);
        if (size != want[d]) {
            rc = dnn_fail(msg, DNN_EDATA, "'%s': dimension %d (%s) is %u, expected %u", path, d,
                          dim_names[d], size, want[d]);
            goto fail;
        }
        if (dnn_size_mul(&n, n, size) != 0) {
            rc = dnn_fail(msg, DNN_EDATA, "'%s': sizes overflow", path);
            goto fail;
        }
    }
    *data = malloc(n ? n : 1);
    if (!*data) {
        rc = dnn_fail(msg, DNN_ENOMEM, "'%s': out of memory for %zu bytes", path, n);
        goto fail;
    }
    if ((rc = gz_read_exact(f, path, *data, n, "the data", msg)) != 0)
        goto fail;
    int got = gzread(f, &extra, 1);
    if (got != 0) {
        int err;
        rc = got < 0 ? dnn_fail(msg, DNN_EIO, "'%s': read error: %s", path, gzerror(f, &err))
                     : dnn_fail(msg, DNN_EDATA, "'%s': unexpected bytes after %zu data bytes",
                                path, n);
        goto fail;
    }
    rc = gzclose(f);
    f = NULL;
    if (rc != Z_OK) {
        rc = dnn_fail(msg, DNN_EIO, "'%s': gzip error on close (code %d)", path, rc);
        goto fail;
    }
    return 0;
fail:
    if (f)
        gzclose(f);
    free(*data);
    *data = NULL;
    return rc;
}

/* Read one part (images + labels) and write its two datasets. */
static int convert_part(h5out_t *out, const char *src, const part_t *p, char *msg)
{
    char path[4096];
    unsigned char *x = NULL, *y = NULL;
    const uint32_t xdims[3] = {p->m, ROWS, COLS}, ydims[1] = {p->m};
    const hsize_t hx[3] = {p->m, ROWS, COLS}, hy[1] = {p->m};
    int rc;

    if (snprintf(path, sizeof path, "%s/%s", src, p->images) >= (int)sizeof path)
        return dnn_fail(msg, DNN_EINVAL, "--src '%s': path too long", src);
    if ((rc = idx_read(path, 3, xdims, &x, msg)) != 0)
        goto done;
    if (snprintf(path, sizeof path, "%s/%s", src, p->labels) >= (int)sizeof path) {
        rc = dnn_fail(msg, DNN_EINVAL, "--src '%s': path too long", src);
        goto done;
    }
    if ((rc = idx_read(path, 1, ydims, &y, msg)) != 0)
        goto done;
    for (uint32_t i = 0; i < p->m; i++) {
        if (y[i] >= CLASSES) {
            rc = dnn_fail(msg, DNN_EDATA, "'%s': label %u of example %u is outside 0..%d", path,
                          y[i], i, CLASSES - 1);
            goto done;
        }
    }
    if ((rc = h5out_write(out, p->x_name, H5T_NATIVE_UCHAR, H5T_STD_U8LE, 3, hx, x, msg)) != 0)
        goto done;
    rc = h5out_write(out, p->y_name, H5T_NATIVE_UCHAR, H5T_STD_U8LE, 1, hy, y, msg);
done:
    free(x);
    free(y);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"src", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *src = DEFAULT_SRC;
    char msg[DNN_MSG_LEN];
    h5out_t out = {0};
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            src = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs("dnn-fashion-mnist: error: bad option; try 'dnn-fashion-mnist --help'\n",
                  stderr);
            return 1;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr,
                "dnn-fashion-mnist: error: expected one output file, got %d arguments; "
                "try 'dnn-fashion-mnist --help'\n",
                argc - optind);
        return 1;
    }
    if (h5out_open(&out, argv[optind], msg) != 0)
        goto fail;
    for (int i = 0; i < 2; i++)
        if (convert_part(&out, src, &parts[i], msg) != 0)
            goto fail;
    if (h5out_commit(&out, msg) != 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "dnn-fashion-mnist: error: %s\n", msg);
    h5out_discard(&out);
    return 1;
}
