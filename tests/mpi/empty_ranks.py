#!/usr/bin/python3
"""More ranks than chunks of examples: some ranks hold no example at all.

Shards are runs of whole DNN_CHUNK-example chunks (src/dist.c), so with m = 3
examples and N = 4 ranks three ranks hold nothing (N = 2: one, N = 3: two),
and with m = 600 (3 chunks of 256) one rank of four holds nothing (those cases
are scheduled only for an N that leaves a rank empty).  Each case runs under
`timeout 60 mpiexec -n N` (N from --np, default 2 3 4) and must train: the
defined behaviour (README "Data-parallel training": a rank with no examples
contributes zeros) is exit 0 and the single-process run's parameters: bitwise
(SHA-256 of W/b) with --deterministic, relative 1e-6 in the default float32
mode, 1e-12 in double.  A refusal, a crash or a hang fails.  Cases: m=3 full batch (deterministic, default, double 1e-12,
--standardize), m=3 mini-batch 2 (deterministic), m=600 full batch
(deterministic) and softmax with 3 classes (deterministic; the class count is
inferred from labels that the empty rank does not hold).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnnt import (Runner, require, make_binary, make_classes, params_sha, ckpt_params, rel_diff,
                  shard, tail)  # noqa: E402

R = Runner(__doc__)
NS = R.args.np or [2, 3, 4]
SMALL = R.path("m3.h5")
make_binary(SMALL, 3, 5, seed=2, dtype=np.float64)
MID = R.path("m600.h5")
make_binary(MID, 600, 8, seed=4, dtype=np.float32)
SOFT = R.path("m600_soft.h5")
make_classes(SOFT, 600, 6, 3, seed=6)

BASE = ["--layers", "4", "--lr", "0.1", "--iterations", "20", "--print-every", "5", "--seed", "2", "--quiet"]


def compare(tag, data, m, n, extra, mode):
    empty = [r for r in range(n) if shard(m, n, r)[0] == shard(m, n, r)[1]]
    require(empty, "test set-up: no empty rank for m=%d N=%d" % (m, n))  # cases are chosen to have one
    rck = R.path("%s_ref.h5" % tag)
    R.train(["--data", data, "--checkpoint", rck] + BASE + extra, what="dnn-train N=1")
    ck = R.path("%s_n%d.h5" % (tag, n))
    rc, out, err, dt = R.run(R.args.train, ["--data", data, "--checkpoint", ck] + BASE + extra, n=n, timeout=60)
    require(rc not in (124, 137), "N=%d (empty ranks %s): timed out after 60 s (hang)" % (n, empty))
    require(rc == 0, "N=%d (empty ranks %s): exit %d, expected 0 (empty ranks train and contribute zeros): %s" % (
        n, empty, rc, tail(err)))
    require(os.path.exists(ck), "N=%d: exit 0 but no checkpoint %s" % (n, ck))
    if mode == "bitwise":
        a, b = params_sha(ck), params_sha(rck)
        require(a == b, "N=%d (empty ranks %s): W/b SHA-256 %s != N=1 %s (rel %.3g)" % (
            n, empty, a[:16], b[:16], rel_diff(ckpt_params(ck), ckpt_params(rck))))
    else:
        d = rel_diff(ckpt_params(ck), ckpt_params(rck))
        require(d <= mode, "N=%d (empty ranks %s): relative difference %.3g > %.0e" % (n, empty, d, mode))


for n in NS:
    R.case("m3_det_np%d" % n, compare, "m3_det", SMALL, 3, n, ["--deterministic"], "bitwise")
    R.case("m3_default_np%d" % n, compare, "m3_def", SMALL, 3, n, [], 1e-6)
    R.case("m3_double_np%d" % n, compare, "m3_dbl", SMALL, 3, n, ["--precision", "double"], 1e-12)
    R.case("m3_standardize_np%d" % n, compare, "m3_std", SMALL, 3, n, ["--standardize", "--precision", "double"], 1e-12)
    R.case("m3_minibatch_det_np%d" % n, compare, "m3_mb", SMALL, 3, n, ["--deterministic", "--batch-size", "2"],
           "bitwise")
    if all(shard(600, n, r)[0] < shard(600, n, r)[1] for r in range(n)):
        continue  # m = 600 leaves no rank empty at this N: not a case of this test
    R.case("m600_det_np%d" % n, compare, "m600", MID, 600, n, ["--deterministic"], "bitwise")
    R.case("m600_softmax_det_np%d" % n, compare, "m600_soft", SOFT, 600, n,
           ["--deterministic", "--output", "softmax"], "bitwise")
R.finish()
