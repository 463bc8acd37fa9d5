/*
 * report_png.c - dnn-predict --confusion-png (README, Error analysis): the
 * confusion matrices as a grayscale PNG heat map.  Each task is a square of
 * K x K cells, side by side; a cell's darkness is its share of its row (the
 * true label's examples), so the diagonal of a good classifier is black and
 * a confusion shows as a gray cell off it.  A thin light grid separates the
 * cells.  The PNG is written with stored (uncompressed) deflate blocks: no
 * library is needed, and the files are small for any sensible K.
 */
#include "dnn/report.h"

#include <stdlib.h>
#include <string.h>

#include "dnn/atomic.h"

/* CRC-32 of the PNG chunks, bit by bit (the pictures are small). */
static uint32_t crc(uint32_t c, const unsigned char *p, size_t n)
{
    c ^= 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xffffffffu;
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void chunk(FILE *f, const char *type, const unsigned char *data, size_t n)
{
    unsigned char h[8];
    be32(h, (uint32_t)n);
    memcpy(h + 4, type, 4);
    fwrite(h, 1, 8, f);
    uint32_t c = crc(crc(0, h + 4, 4), data, n);
    if (n)
        fwrite(data, 1, n, f);
    be32(h, c);
    fwrite(h, 1, 4, f);
}

/* raw (n bytes of filtered scanlines) -> a zlib stream of stored blocks. */
static unsigned char *zstore(const unsigned char *raw, size_t n, size_t *out)
{
    size_t blocks = n / 65535 + 1, len = 2 + n + 5 * blocks + 4;
    unsigned char *z = malloc(len), *q = z;
    if (!z)
        return NULL;
    *q++ = 0x78;
    *q++ = 0x01;
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + raw[i]) % 65521;
        b = (b + a) % 65521;
    }
    for (size_t off = 0; off < n || off == 0; off += 65535) {
        size_t k = n - off < 65535 ? n - off : 65535;
        *q++ = off + k >= n;
        *q++ = (unsigned char)k;
        *q++ = (unsigned char)(k >> 8);
        *q++ = (unsigned char)~k;
        *q++ = (unsigned char)(~k >> 8);
        memcpy(q, raw + off, k);
        q += k;
        if (n == 0)
            break;
    }
    be32(q, b << 16 | a);
    q += 4;
    *out = (size_t)(q - z);
    return z;
}

/* Gray value of cell (i, k) of task t: 255 for none of row i, 0 for all of it. */
static unsigned char shade(const dnn_report_t *r, size_t t, size_t i, size_t k)
{
    size_t K = r->classes;
    const uint64_t *row = r->cm + (t * K + i) * K;
    uint64_t s = 0;
    for (size_t c = 0; c < K; c++)
        s += row[c];
    return s ? (unsigned char)(255.0 - 255.0 * (double)row[k] / (double)s + 0.5) : 255;
}

int dnn_report_png(const dnn_report_t *r, const char *path, char *msg)
{
    size_t K = r->classes, cell = K <= 10 ? 40 : K <= 50 ? 8 : 2, side = K * cell, gap = 16;
    size_t w = r->tasks * side + (r->tasks + 1) * gap, h = side + 2 * gap;
    if (w > 16384 || h > 16384)
        return dnn_fail(msg, DNN_EINVAL, "--confusion-png '%s': %zu tasks of %zu classes do not fit a picture", path,
                        r->tasks, K);
    size_t n = h * (w + 1);
    unsigned char *raw = malloc(n), *z = NULL, hdr[13];
    if (!raw)
        return dnn_fail(msg, DNN_ENOMEM, "--confusion-png '%s': out of memory", path);
    memset(raw, 255, n);
    for (size_t y = 0; y < h; y++) {
        raw[y * (w + 1)] = 0; /* filter: none */
        for (size_t t = 0; t < r->tasks && y >= gap && y < gap + side; t++)
            for (size_t x = 0; x < side; x++) {
                size_t i = (y - gap) / cell, k = x / cell;
                int edge = cell > 4 && ((y - gap) % cell == 0 || x % cell == 0);
                raw[y * (w + 1) + 1 + gap + t * (side + gap) + x] = edge ? 200 : shade(r, t, i, k);
            }
    }
    size_t zn = 0;
    z = zstore(raw, n, &zn);
    free(raw);
    if (!z)
        return dnn_fail(msg, DNN_ENOMEM, "--confusion-png '%s': out of memory", path);
    dnn_atomic_t a;
    int rc = dnn_atomic_open(&a, "--confusion-png file", path, 1, msg);
    if (rc) {
        free(z);
        return rc;
    }
    FILE *f = a.f;
    fwrite("\x89PNG\r\n\x1a\n", 1, 8, f);
    be32(hdr, (uint32_t)w);
    be32(hdr + 4, (uint32_t)h);
    memcpy(hdr + 8, "\x08\x00\x00\x00\x00", 5); /* 8-bit grayscale, deflate, no interlace */
    chunk(f, "IHDR", hdr, 13);
    chunk(f, "IDAT", z, zn);
    chunk(f, "IEND", NULL, 0);
    free(z);
    return dnn_atomic_commit(&a, msg);
}
