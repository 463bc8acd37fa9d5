#!/usr/bin/python3
"""launch/plot.sh draws a learning curve from a real dnn-train metrics file.

A short dnn-train run with --test writes METRICS.csv (iteration, cost,
train_accuracy, test_accuracy, seconds); `launch/plot.sh METRICS.csv OUT.png`
must exit 0 and write a PNG: the 8-byte signature, more than 10 kB, an IHDR
chunk first (length 13, valid CRC) with plausible dimensions, IEND last.
The image is decoded here (zlib + PNG row filters, no imaging library) to
check that it is not blank: with the accuracy columns there are at least
three distinct line colours, each spanning at least 40% of the image width
(a curve across the x range, not only a legend sample); a cost-only metrics
file (a regression run without --test) gives a valid PNG (> 4 kB) with fewer
colours.
Bad input (a missing file, a header with no rows) exits non-zero.
Exits 77 (skipped) when gnuplot is not installed.
"""
import os
import shutil
import struct
import zlib

import h5py
import numpy as np

import upcommon as U

PNG_SIG = b"\x89PNG\r\n\x1a\n"


def png_chunks(data):
    """[(type, payload, crc_ok)] of a PNG byte string after the signature."""
    out, pos = [], 8
    while pos + 12 <= len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        typ = data[pos + 4:pos + 8]
        payload = data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        out.append((typ, payload, zlib.crc32(typ + payload) & 0xFFFFFFFF == crc))
        pos += 12 + n
    return out


def png_decode(data):
    """RGB array (h, w, 3) uint8 of an 8-bit, non-interlaced PNG (colour
    types 0, 2, 3, 4, 6), or raises ValueError."""
    chunks = png_chunks(data)
    ihdr = chunks[0][1]
    w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    if depth != 8 or interlace != 0:
        raise ValueError(f"bit depth {depth}, interlace {interlace} not handled by this decoder")
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    raw = zlib.decompress(b"".join(p for t, p, _ in chunks if t == b"IDAT"))
    stride = w * channels
    if len(raw) != h * (stride + 1):
        raise ValueError(f"IDAT holds {len(raw)} bytes, expected {h * (stride + 1)}")
    rows = np.frombuffer(raw, np.uint8).reshape(h, stride + 1)
    img = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    bpp = channels
    for y in range(h):
        f, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 255
        elif f == 1:
            cur = line.copy()
            for c in range(bpp):  # running sum per channel
                cur[c::bpp] = np.cumsum(line[c::bpp]) & 255
        elif f in (3, 4):
            cur = np.zeros(stride, np.int32)
            L, P = line.tolist(), prev.tolist()
            out = [0] * stride
            for i in range(stride):
                a = out[i - bpp] if i >= bpp else 0
                b = P[i]
                if f == 3:
                    out[i] = (L[i] + ((a + b) >> 1)) & 255
                else:
                    cc = P[i - bpp] if i >= bpp else 0
                    p = a + b - cc
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
                    pr = a if (pa <= pb and pa <= pc) else (b if pb <= pc else cc)
                    out[i] = (L[i] + pr) & 255
            cur = np.array(out, np.int32)
        else:
            raise ValueError(f"row {y}: filter type {f}")
        img[y] = cur
        prev = cur
    px = img.reshape(h, w, channels)
    if ctype == 3:
        pal = next(p for t, p, _ in chunks if t == b"PLTE")
        pal = np.frombuffer(pal, np.uint8).reshape(-1, 3)
        return pal[px[:, :, 0]]
    if ctype in (0, 4):
        return np.repeat(px[:, :, :1], 3, axis=2)
    return px[:, :, :3]


def line_colours(rgb, min_pixels=150, min_span=0.4):
    """Hue bins (30 degrees wide) of saturated pixels that hold at least
    min_pixels pixels and span at least min_span of the image width."""
    x = rgb.astype(np.int32)
    mx, mn = x.max(axis=2), x.min(axis=2)
    sat = (mx - mn) > 60
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    d = np.maximum(mx - mn, 1)
    hue = np.where(mx == r, ((g - b) / d) % 6, np.where(mx == g, (b - r) / d + 2, (r - g) / d + 4)) * 60
    bins = (hue // 30).astype(int)
    w = rgb.shape[1]
    found = {}
    for k in range(12):
        ys, xs = np.nonzero(sat & (bins == k))
        if len(xs) >= min_pixels and (xs.max() - xs.min()) >= min_span * w:
            found[k * 30] = (len(xs), int(xs.max() - xs.min()))
    return found


def check_png(c, path, label, min_bytes):
    """Signature, size, IHDR, IEND; returns the decoded image or None."""
    if not c.check(os.path.exists(path), f"{label}: PNG written", path):
        return None
    data = open(path, "rb").read()
    c.check(data[:8] == PNG_SIG, f"{label}: PNG signature", repr(data[:8]))
    c.check(len(data) > min_bytes, f"{label}: size {len(data)} bytes > {min_bytes}")
    chunks = png_chunks(data)
    ok = bool(chunks) and chunks[0][0] == b"IHDR" and len(chunks[0][1]) == 13 and chunks[0][2]
    c.check(ok, f"{label}: IHDR is the first chunk, 13 bytes, valid CRC",
            f"first chunk {chunks[0][0] if chunks else None}")
    if not ok:
        return None
    w, h = struct.unpack(">II", chunks[0][1][:8])
    c.check(400 <= w <= 4000 and 300 <= h <= 3000 and w >= h,
            f"{label}: IHDR dimensions {w}x{h} (landscape, 400..4000 x 300..3000)")
    c.check(chunks[-1][0] == b"IEND" and all(ok for _, _, ok in chunks), f"{label}: IEND last, every CRC valid")
    try:
        rgb = png_decode(data)
    except (ValueError, zlib.error, StopIteration, KeyError) as e:
        c.check(False, f"{label}: image decodes", str(e))
        return None
    c.check(rgb.shape[:2] == (h, w), f"{label}: decoded image is {w}x{h}")
    return rgb


def main():
    args = U.arg_parser(__doc__).parse_args()
    c = U.Checker("plot_png")
    if not shutil.which("gnuplot"):
        print("SKIP plot_png: gnuplot is not installed (Debian: apt-get install gnuplot-nox)")
        raise SystemExit(U.SKIP)
    plot = os.path.join(args.source, "launch", "plot.sh")
    if not c.check(os.path.exists(plot), "launch/plot.sh exists", plot):
        c.finish()
    wd = U.workdir("plot")
    U.make_dataset(os.path.join(wd, "d.h5"), m=400, shape=(6,), seed=4, classes=2)

    # A real metrics file from a short classification run with a test set.
    cmd = [args.train, "--data", "d.h5", "--test", "d.h5", "--layers", "8", "--hidden-activation", "tanh",
           "--lr", "0.5", "--iterations", "300", "--print-every", "5", "--metrics", "m.csv",
           "--threads", "1", "--quiet"]
    rc, out, err = U.run(cmd, wd, timeout=120)
    c.check(rc == 0, "dnn-train writes the metrics", f"rc={rc} stderr={U.tail(err)}")
    header = open(os.path.join(wd, "m.csv")).readline().strip().split(",") if rc == 0 else []
    c.check(all(h in header for h in ("iteration", "cost", "train_accuracy", "test_accuracy")),
            "metrics header has iteration, cost, train_accuracy, test_accuracy", f"{header}")

    # A cost-only metrics file: regression (linear output), no test set.
    rs = np.random.RandomState(9)
    X = rs.randn(200, 3).astype(np.float32)
    with h5py.File(os.path.join(wd, "r.h5"), "w") as f:
        f["train_x"] = X
        f["train_y"] = (X @ np.array([[1.0], [-2.0], [0.5]])).astype(np.float32)
    rc, _, err = U.run([args.train, "--data", "r.h5", "--output", "linear", "--lr", "0.05", "--iterations", "200",
                        "--print-every", "5", "--metrics", "r.csv", "--threads", "1", "--quiet"], wd, timeout=120)
    c.check(rc == 0, "dnn-train (regression) writes cost-only metrics", f"rc={rc} stderr={U.tail(err)}")

    rc, out, err = U.run(["bash", plot, "m.csv", "m.png"], wd, timeout=120)
    c.check(rc == 0, "plot.sh m.csv m.png exits 0", f"rc={rc} stderr={U.tail(err)}")
    full = check_png(c, os.path.join(wd, "m.png"), "with accuracies", 10 * 1024)
    rc, out, err = U.run(["bash", plot, "r.csv", "r.png"], wd, timeout=120)
    c.check(rc == 0, "plot.sh r.csv r.png exits 0", f"rc={rc} stderr={U.tail(err)}")
    cost_only = check_png(c, os.path.join(wd, "r.png"), "cost only", 4 * 1024)
    if full is not None:
        cf = line_colours(full)
        c.check(len(cf) >= 3, f"with accuracies: >= 3 line colours across the plot (hue bins {sorted(cf)})",
                f"{cf}")
        if cost_only is not None:
            co = line_colours(cost_only)
            c.check(1 <= len(co) < len(cf), f"cost only: 1..{len(cf) - 1} line colours (hue bins {sorted(co)})",
                    f"{co}")

    # Bad input is refused and writes nothing.
    rc, _, err = U.run(["bash", plot, "missing.csv", "x.png"], wd, timeout=60)
    c.check(rc != 0 and not os.path.exists(os.path.join(wd, "x.png")), "plot.sh on a missing file exits non-zero",
            f"rc={rc}")
    with open(os.path.join(wd, "empty.csv"), "w") as f:
        f.write("iteration,cost,seconds\n")
    rc, _, err = U.run(["bash", plot, "empty.csv", "y.png"], wd, timeout=60)
    c.check(rc != 0 and not os.path.exists(os.path.join(wd, "y.png")), "plot.sh on a header without rows exits non-zero",
            f"rc={rc}")
    c.finish(wd)


if __name__ == "__main__":
    main()
