#!/usr/bin/python3
"""A rank that hits bad data brings the whole job down, clearly and quickly.

The bad value is placed inside the shard of the LAST rank only (shards
computed with a copy of dnn_dist_shard, e.g. m = 1000, N = 3 gives
[0,256) [256,512) [512,1000)), so rank 0 -- the one that prints -- reads only
good data and must learn of the failure from the other rank.  Each case runs
`timeout 60 mpiexec -n N dnn-train ...` and asserts
  - a non-zero exit that is not 124/137 (timeout = hang) and not a signal,
  - the run ends within 20 s (it takes well under 1 s when correct),
  - stderr names "rank R" (R = the last rank), the file, the dataset and the
    GLOBAL example index (not the index inside the shard),
  - no checkpoint was written.
Cases: NaN in X (N = 3 and N = 4), +Inf in X, a binary label 2 in Y, and a
NaN in the X of a --test set.
"""
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnnt import Runner, require, make_binary, shard, tail  # noqa: E402

R = Runner(__doc__)
NS = R.args.np or [3, 4]
M, NX = 1000, 12
GOOD = R.path("good.h5")
make_binary(GOOD, M, NX, seed=8, dtype=np.float32)
LIMIT = 20.0


def corrupt(name, n, what, dataset, value, feature=7, offset=123):
    lo, hi = shard(M, n, n - 1)
    require(hi - lo > offset, "test set-up: last shard [%d,%d) too small" % (lo, hi))
    ex = lo + offset
    # every other rank's shard must be clean: check the index really is outside them
    for r in range(n - 1):
        a, b = shard(M, n, r)
        require(not (a <= ex < b), "test set-up: example %d is in rank %d's shard" % (ex, r))
    path = R.path("%s_np%d.h5" % (name, n))
    with h5py.File(GOOD, "r") as g, h5py.File(path, "w") as f:
        X, Y = np.array(g["train_x"]), np.array(g["train_y"])
        if what == "x":
            X[ex, feature] = value
        else:
            Y[ex, 0] = value
        f.create_dataset(dataset if what == "x" else "train_x", data=X)
        f.create_dataset(dataset if what == "y" else "train_y", data=Y)
    return path, ex


def expect_failure(args, n, keys, ck):
    rc, out, err, dt = R.run(R.args.train, args + ["--checkpoint", ck], n=n, timeout=60)
    require(rc not in (124, 137), "timed out after 60 s: a rank hangs (exit %d)" % rc)
    require(rc != 0, "exit code 0, expected a failure; stdout: %s" % tail(out))
    require(rc < 124, "exit %d: killed by a signal or crashed; stderr: %s" % (rc, tail(err)))
    require(dt < LIMIT, "took %.1f s, expected < %.0f s" % (dt, LIMIT))
    low = err.lower()
    missing = [k for k in keys if k.lower() not in low]
    require(not missing, "stderr lacks %s: %s" % (missing, tail(err)))
    require(not os.path.exists(ck), "a checkpoint was written by a failed run")


BASE = ["--layers", "8", "--iterations", "10", "--lr", "0.1", "--quiet"]


def nan_x(n, value, tag):
    path, ex = corrupt(tag, n, "x", "train_x", value)
    expect_failure(["--data", path] + BASE, n,
                   ["rank %d" % (n - 1), path, "train_x", str(ex)], R.path("%s_np%d.ckpt.h5" % (tag, n)))


def bad_label(n):
    path, ex = corrupt("label", n, "y", "train_y", 2)
    expect_failure(["--data", path] + BASE, n,
                   ["rank %d" % (n - 1), path, "train_y", str(ex)], R.path("label_np%d.ckpt.h5" % n))


def nan_test_set(n):
    path, ex = corrupt("testset", n, "x", "test_x", np.nan)
    # the corrupt file holds test_x / train_y; give it as the test set with that label name
    expect_failure(["--data", GOOD, "--test", path, "--test-y", "train_y"] + BASE, n,
                   ["rank %d" % (n - 1), path, "test_x", str(ex)], R.path("testset_np%d.ckpt.h5" % n))


for n in NS:
    print("# N=%d shards %s" % (n, [shard(M, n, r) for r in range(n)]), flush=True)
    R.case("nan_in_x_last_rank_np%d" % n, nan_x, n, np.nan, "nan")
    R.case("inf_in_x_last_rank_np%d" % n, nan_x, n, np.inf, "inf")
    R.case("bad_label_last_rank_np%d" % n, bad_label, n)
    R.case("nan_in_test_x_last_rank_np%d" % n, nan_test_set, n)
R.finish()
