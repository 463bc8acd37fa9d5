#!/usr/bin/python3
"""Results do not depend on the number of ranks (README, Data-parallel training and determinism).

For each N given by --np (default 1 2 3 4), a 3-layer network (--layers 16,8,
sigmoid output, lr 0.1, 50 iterations) on 1000 generated examples is trained
under `mpiexec -n N` and compared with a plain single-process run (N = 1,
MPI singleton):

  det_full, det_mini    --deterministic, full batch and --batch-size 64:
                        SHA-256 of the concatenated W1,b1,..,WL,bL bytes equal,
                        /history/cost bitwise equal, same final line accuracy
  default_full, default_mini
                        default mode, float32: max|dW| / max|W| <= 1e-6
  double_uneven         --precision double, default mode: <= 1e-12; the
                        shards of 1000 examples are uneven (e.g. 256/256/488 at
                        N = 3), so this holds only when the ranks add gradient
                        SUMS and divide by the global m
  standardize           --standardize: float32 parameters <= 1e-6; in double,
                        /preprocess/mean and std == numpy's mean/std (ddof 0)
                        of the data to 1e-12 relative, and parameters <= 1e-12
  det_standardize_double  --deterministic --standardize --precision double on
                        float64 data: W/b SHA-256 and the stored
                        /preprocess/mean,std bitwise equal to N = 1 (the
                        trajectory must not depend on N, preprocessing included)

Every case also checks that training moved: the last recorded cost is below
the first.
"""
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnnt import (Runner, require, make_binary, params_sha, ckpt_params, rel_diff,
                  history, final_line, shard)  # noqa: E402

R = Runner(__doc__)
NS = R.args.np or [1, 2, 3, 4]
M, NX = 1000, 20
DATA = R.path("train.h5")
X, Y = make_binary(DATA, M, NX, seed=11, dtype=np.float64)
# features with very different offsets and scales, for --standardize
DATA_STD = R.path("train_std.h5")
rs = np.random.RandomState(5)
XS = X * rs.uniform(0.1, 30.0, NX) + rs.uniform(-50.0, 50.0, NX)
with h5py.File(DATA_STD, "w") as f:
    f.create_dataset("train_x", data=XS)
    f.create_dataset("train_y", data=Y.reshape(M, 1))

BASE = ["--layers", "16,8", "--output", "sigmoid", "--lr", "0.1", "--iterations", "50",
        "--print-every", "10", "--seed", "3", "--quiet"]

_refs = {}


def train(tag, n, extra, data=DATA):
    ck = R.path("%s_n%s.h5" % (tag, n if n else "single"))
    out = R.train(["--data", data, "--checkpoint", ck] + BASE + extra, n=n, timeout=120,
                  what="dnn-train (%s, N=%s)" % (tag, n or "1 singleton"))
    it, cost = history(ck)
    require(len(cost) >= 2 and cost[-1] < cost[0],
            "%s N=%s: training did not lower the cost (%s)" % (tag, n, cost))
    return ck, out


def ref(tag, extra, data=DATA):
    if tag not in _refs:
        _refs[tag] = train(tag, None, extra, data)
    return _refs[tag]


def det(tag, extra, n, data=DATA):
    rck, rout = ref(tag, extra, data)
    ck, out = train(tag, n, extra, data)
    a, b = params_sha(ck), params_sha(rck)
    require(a == b, "N=%d: SHA-256 of W/b %s != N=1 %s (max rel diff %.3g)" % (
        n, a[:16], b[:16], rel_diff(ckpt_params(ck), ckpt_params(rck))))
    (i1, c1), (i2, c2) = history(ck), history(rck)
    require(np.array_equal(i1, i2) and c1.tobytes() == c2.tobytes(),
            "N=%d: /history/cost differs from N=1: %r vs %r" % (n, c1, c2))
    f1, f2 = final_line(out), final_line(rout)
    require(f1.get("cost") == f2.get("cost") and f1.get("train_accuracy") == f2.get("train_accuracy"),
            "N=%d: final line %r differs from N=1 %r" % (n, f1, f2))
    return ck, rck


def det_standardize(n):
    ck, rck = det("det_std_double", ["--deterministic", "--standardize", "--precision", "double"], n, DATA_STD)
    with h5py.File(ck, "r") as f, h5py.File(rck, "r") as g:
        for k in ("preprocess/mean", "preprocess/std"):
            a, b = np.array(f[k]), np.array(g[k])
            require(a.tobytes() == b.tobytes(), "N=%d: /%s differs from N=1 by up to %.3g" % (
                n, k, float(np.max(np.abs(a - b)))))


def close(tag, extra, n, tol, data=DATA):
    rck, _ = ref(tag, extra, data)
    ck, _ = train(tag, n, extra, data)
    d = rel_diff(ckpt_params(ck), ckpt_params(rck))
    require(d <= tol, "N=%d: max|W_N - W_1| / max|W_1| = %.3g > %.0e" % (n, d, tol))
    (i1, c1), (i2, c2) = history(ck), history(rck)
    require(np.array_equal(i1, i2), "N=%d: /history/iteration %r != %r" % (n, i1, i2))
    dc = float(np.max(np.abs(c1 - c2) / np.abs(c2)))
    require(dc <= tol, "N=%d: /history/cost relative difference %.3g > %.0e" % (n, dc, tol))
    return ck


def standardize_double(n):
    ck = close("std_double", ["--standardize", "--precision", "double"], n, 1e-12, DATA_STD)
    with h5py.File(ck, "r") as f:
        mean, std = np.array(f["preprocess/mean"]), np.array(f["preprocess/std"])
        require(int(f.attrs["standardize"]) != 0, "standardize attribute is not set")
    em, es = XS.mean(axis=0), XS.std(axis=0)
    require(mean.shape == (NX,) and std.shape == (NX,), "mean/std shapes %s %s, expected (%d,)" % (
        mean.shape, std.shape, NX))
    dm = float(np.max(np.abs(mean - em) / np.abs(em)))
    ds = float(np.max(np.abs(std - es) / np.abs(es)))
    require(dm <= 1e-12 and ds <= 1e-12,
            "N=%d: stored mean/std vs numpy: relative %.3g / %.3g > 1e-12" % (n, dm, ds))


for n in NS:
    lo_hi = [shard(M, n, r) for r in range(n)]
    print("# N=%d shards %s" % (n, lo_hi), flush=True)
    R.case("det_full_np%d" % n, det, "det_full", ["--deterministic"], n)
    R.case("det_mini_np%d" % n, det, "det_mini", ["--deterministic", "--batch-size", "64"], n)
    R.case("default_full_np%d" % n, close, "default_full", [], n, 1e-6)
    R.case("default_mini_np%d" % n, close, "default_mini", ["--batch-size", "64"], n, 1e-6)
    R.case("double_uneven_np%d" % n, close, "double", ["--precision", "double"], n, 1e-12)
    R.case("standardize_single_np%d" % n, close, "std_single", ["--standardize"], n, 1e-6, DATA_STD)
    R.case("standardize_double_np%d" % n, standardize_double, n)
    R.case("det_standardize_double_np%d" % n, det_standardize, n)
R.finish()
