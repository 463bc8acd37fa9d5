#!/usr/bin/python3
"""Inputs as h5py writes them train the same model as plain arrays (README, Data: HDF5 as you have it; What happens when things go wrong).

The values are chosen so that every storage below holds them exactly (X:
multiples of 1/64 in [-4, 4), exact in float16; Y: 0/1 or class ids), so the
training precision sees the same numbers whatever the file's type, and the
trained W/b must be bitwise equal (SHA-256 of W1,b1,...,WL,bL) to the model
trained from the plain file (X float32, Y uint8, contiguous).  Each variant
changes one thing:
  y_bool            Y as numpy bool (h5py: an HDF5 enum {FALSE, TRUE} of int8)
  y_enum            Y as an h5py enum of int16 {no: 0, yes: 1}
  x_float16         X float16
  x_big_endian_f4   X '>f4';  x_big_endian_f8  X '>f8';  y_big_endian  Y '>i8'
  x_longdouble_y_uint64     X numpy longdouble (80-bit in 16 bytes), Y uint64
  x_int_big_endian  X as 64*x in '>i2' with --scale 0.015625 (vs '<i2' plain)
  gzip_shuffle_fletcher32   X and Y chunked (37 rows, not aligned to anything),
                    gzip 4 + shuffle + Fletcher32
  gzip_np3          the same at N = 3 against the plain file at N = 3 (each
                    rank reads its hyperslab across chunk borders)
  features_first_chunked    --layout features-first, X (n_x, m) chunked by
                    (5, 41) with gzip (column hyperslabs)
  softmax_big_endian_labels --output softmax, class ids 0..3 as '>i4' and
                    as bool-free uint8 plain
  predict_same      dnn-predict on the bool/float16/gzip files gives the same
                    predictions file contents as on the plain file
  lzf_x, lzf_y      X (or Y) compressed with h5py's lzf (filter 32000, absent
                    from the HDF5 C library): exit 1, one message naming the
                    dataset, the file, 'lzf' and '32000'; also for dnn-predict
No stderr of any run holds HDF5's diagnostic stack ("HDF5-DIAG").
"""
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, params_sha, tail  # noqa: E402

R = Runner(__doc__)
M, NX = 600, 12
rs = np.random.RandomState(7)
X = (rs.randint(-256, 256, size=(M, NX)) / 64.0).astype(np.float32)
w = rs.randn(NX)
Y = (X @ w > 0).astype(np.uint8)
K4 = (np.argmax(X[:, :4], axis=1)).astype(np.uint8)
BASE = ["--layers", "8,4", "--lr", "0.05", "--iterations", "40", "--seed", "3", "--quiet"]


def write(name, x, y, xkw=None, ykw=None, xdtype=None, ydtype=None):
    p = R.path(name + ".h5")
    with h5py.File(p, "w") as f:
        f.create_dataset("train_x", data=x, dtype=xdtype, **(xkw or {}))
        f.create_dataset("train_y", data=y, dtype=ydtype, **(ykw or {}))
    return p


def check_clean(err):
    require("HDF5-DIAG" not in err, "HDF5's diagnostic stack reached the user: %s" % tail(err))


def train(tag, data, extra=(), n=None):
    ck = R.path("ck_%s.h5" % tag)
    rc, out, err, dt = R.run(R.args.train, ["--data", data, "--checkpoint", ck] + BASE + list(extra), n=n, timeout=120)
    check_clean(err)
    require(rc == 0, "dnn-train on %s exited %d: %s" % (os.path.basename(data), rc, tail(err)))
    return ck


PLAIN = write("plain", X, Y)
REF = {}


def ref(key, data, extra=(), n=None):
    if key not in REF:
        REF[key] = params_sha(train("ref_" + key, data, extra, n))
    return REF[key]


def same_model(tag, data, extra=(), n=None, plain=PLAIN):
    got = params_sha(train(tag, data, extra, n))
    want = ref("%s|%s|%s" % (os.path.basename(plain), " ".join(extra), n), plain, extra, n)
    require(got == want, "W/b trained from %s differ from those trained from %s (SHA-256 %s vs %s)" % (
        os.path.basename(data), os.path.basename(plain), got[:12], want[:12]))


GZ = dict(chunks=(37, NX), compression="gzip", compression_opts=4, shuffle=True, fletcher32=True)
GZY = dict(chunks=(37,), compression="gzip", compression_opts=4, shuffle=True, fletcher32=True)

R.case("y_bool", same_model, "y_bool", write("y_bool", X, Y.astype(bool)))
R.case("y_enum", same_model, "y_enum", write("y_enum", X, Y.astype(np.int16),
                                             ydtype=h5py.enum_dtype({"no": 0, "yes": 1}, basetype="i2")))
R.case("x_float16", same_model, "x_float16", write("x_float16", X.astype(np.float16), Y))
R.case("x_big_endian_f4", same_model, "x_be4", write("x_be4", X.astype(">f4"), Y))
R.case("x_big_endian_f8", same_model, "x_be8", write("x_be8", X.astype(">f8"), Y))
R.case("y_big_endian", same_model, "y_be", write("y_be", X, Y.astype(">i8")))
R.case("x_longdouble_y_uint64", same_model, "x_ld", write("x_ld", X.astype(np.longdouble), Y.astype(np.uint64)))
XI = (X * 64).astype(np.int16)
R.case("x_int_big_endian", same_model, "x_int_be", write("x_int_be", XI.astype(">i2"), Y), ["--scale", "0.015625"],
       None, write("x_int_le", XI.astype("<i2"), Y))
GZFILE = write("gz", X, Y, GZ, GZY)
R.case("gzip_shuffle_fletcher32", same_model, "gz", GZFILE)
R.case("gzip_np3", same_model, "gz_np3", GZFILE, [], 3)
FF_PLAIN = write("ff_plain", np.ascontiguousarray(X.T), Y)
R.case("features_first_chunked", same_model, "ff_gz",
       write("ff_gz", np.ascontiguousarray(X.T), Y, dict(chunks=(5, 41), compression="gzip", fletcher32=True)),
       ["--layout", "features-first"], None, FF_PLAIN)
SOFT = ["--output", "softmax", "--classes", "4"]
R.case("softmax_big_endian_labels", same_model, "soft_be", write("soft_be", X, K4.astype(">i4")), SOFT, None,
       write("soft_plain", X, K4))


def predict_same():
    ck = train("for_predict", PLAIN)

    def pred(data, tag):
        out = R.path("pred_%s.h5" % tag)
        rc, o, err, dt = R.run(R.args.predict, ["--model", ck, "--data", data, "--x", "train_x", "--y", "train_y",
                                                "--output", out], timeout=60)
        check_clean(err)
        require(rc == 0, "dnn-predict on %s exited %d: %s" % (os.path.basename(data), rc, tail(err)))
        with h5py.File(out, "r") as f:
            return o.strip().splitlines()[0], np.array(f["probabilities"]).tobytes(), np.array(f["predictions"]).tobytes()
    want = pred(PLAIN, "plain")
    for tag in ("y_bool", "x_float16", "gz"):
        got = pred(R.path(tag + ".h5"), tag)
        require(got == want, "dnn-predict on %s.h5 differs from the plain file (%s vs %s)" % (tag, got[0], want[0]))


R.case("predict_same", predict_same)


def lzf(which):
    xkw = dict(compression="lzf") if which == "x" else None
    ykw = dict(compression="lzf") if which == "y" else None
    data = write("lzf_" + which, X, Y, xkw, ykw)
    ds = "train_" + which
    runs = [(R.args.train, ["--data", data] + BASE)]
    if which == "x":
        runs.append((R.args.predict, ["--model", train("lzf_model", PLAIN),
                                      "--data", data, "--x", "train_x"]))
    for prog, args in runs:
        rc, out, err, dt = R.run(prog, args, timeout=60)
        check_clean(err)
        require(rc == 1, "%s exited %d, expected 1: %s" % (os.path.basename(prog), rc, tail(err)))
        lines = [l for l in err.splitlines() if l.strip()]
        require(len(lines) == 1, "expected one stderr line, got %d: %s" % (len(lines), tail(err)))
        for k in (ds, os.path.basename(data), "lzf", "32000"):
            require(k in lines[0], "the message lacks %r: %s" % (k, lines[0]))
        print("#   %s" % lines[0][:300])


R.case("lzf_x", lzf, "x")
R.case("lzf_y", lzf, "y")
R.finish()
