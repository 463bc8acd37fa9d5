#!/usr/bin/python3
"""dnn-train --deterministic against exact arithmetic, bit for bit.

  deterministic_exact.py --train PATH/dnn-train [--launcher "mpiexec -n 3 --oversubscribe"]

The documented format (README "Data-parallel training and determinism"):
in full batch every chunk of DNN_CHUNK = 256 global examples, and with
--deterministic mini-batches every group of 64 batch positions (members
perm[base + 64 j .. base + 64 j + 64)), gives float64 gradient sums x; each
x is added into two int64 words, hi = trunc(x 2^24) and lo = trunc((x 2^24 -
hi) 2^40) (truncated toward zero), so x counts as q(x) = trunc(x 2^64) 2^-64;
the words are summed as integers over chunks (groups) and ranks; the gradient
sum is hi 2^-24 + lo 2^-64, which is the exact sum of the q(x) rounded once
to float64 (to nearest, ties to even).

The reference sums the q(x) with fractions.Fraction and rounds once.  For
that it must know dnn's chunk (group) sums exactly, so the data make them
exact in any summation order: a logistic regression from zero weights has A
= 0.5 for every example and dZ = A - Y = +-0.5 exactly; each block's inputs
(a block is a chunk of the file for the full-batch case, a group of epoch
0's permutation for the mini-batch cases) are integers of at most 21 bits
times a power of two chosen per (block, feature), from 2^6 down to 2^-92, so
the block sums dW = sum dZ x are exact float64s while the blocks together
span far more than 53 bits, some block sums have bits below 2^-64 (the
truncation matters) and the total needs the final rounding.  With --lr 1
and m a power of two the update W = 0 - (1/m) S is exact, so the
checkpoint's W after one step is -S/m bit for bit.

Cases: full batch (m = 1024: four chunks; on 3 ranks the shards are whole
chunks), one mini-batch of m (16 groups), and mini-batches of 512 (the first
batch takes perm[0:512] of epoch 0, reimplemented in tests/ref/ref_rng.py:
8 groups, each summed on its own, on 3 ranks by the rank that owns it),
mini-batches of 256 (4 groups: one process adds them in one pass without
the totals in memory, which must give the same bits) and mini-batches of 64
(one group: its float sum is rounded in place and added to the other ranks'
zeros, which must give the same bits).
Guards: for these data the exact answer differs from the sum with the low
word dropped, from the exact sum of the unquantized block sums (so the
truncation is visible), and from rounding each q to nearest instead of
truncating; and the mini-batch answer differs from the one per chunk of the
file (what an older release summed), so the grouping is what is checked.
Prints one line per case and `N passed, M failed`; exit 1 if any failed.
"""
import argparse
import math
import os
import shlex
import subprocess
import sys
import tempfile
from fractions import Fraction

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "ref"))
from ref_rng import permutation  # noqa: E402

CHUNK = 256
M, NX = 1024, 6
SEED = 5
TWO64 = 1 << 64


GROUP = 64


def make_data(block_of, nblocks):
    """X (m, n_x) float64 and y (m,) 0/1 as described above; block_of[g] is
    example g's block (its chunk, or its group in epoch 0's permutation)."""
    rng = np.random.RandomState(2024)
    X = np.empty((M, NX))
    # exponents per (feature, block): a span of 98 binades (the final rounding
    # matters), only tiny blocks (truncation at 2^-64 matters), a middle range,
    # and three random mixes
    span, tiny, middle = [6, -30, -60, -92], [-70, -80, -85, -92], [-20, -40, -50, -64]
    if nblocks > 4:
        span = [6 - 14 * (j % 8) for j in range(nblocks)]
    exps = [[p[j % 4] for j in range(nblocks)] if p is not span else p for p in (span, tiny, middle)]
    exps += [list(rng.randint(-92, 7, size=nblocks)) for _ in range(NX - len(exps))]
    n = rng.randint(-(1 << 20), (1 << 20) + 1, size=(M, NX))
    for g in range(M):
        for i in range(NX):
            X[g, i] = float(n[g, i]) * 2.0 ** int(exps[i][block_of[g]])
    y = rng.randint(0, 2, size=M).astype(np.uint8)
    return X, y


def chunks_of():
    return [g // CHUNK for g in range(M)]


def groups_of(perm):
    out = [0] * M
    for p, g in enumerate(perm):
        out[g] = p // GROUP
    return out


def q_trunc(x):
    """trunc(x 2^64) as an integer (the value in units of 2^-64)."""
    f = Fraction(x) * TWO64
    return math.trunc(f)


def q_nearest(x):
    return round(Fraction(x) * TWO64)


def block_sums(X, y, members, block_of):
    """Per block, the exact float64 sums of dZ x over the given examples."""
    dz = 0.5 - y.astype(np.float64)  # A - Y with A = sigmoid(0) = 0.5
    out = {}
    for g in members:
        s = out.setdefault(block_of[g], [Fraction(0)] * NX)
        for i in range(NX):
            s[i] += Fraction(float(dz[g])) * Fraction(float(X[g, i]))
    res = {}
    for c, s in out.items():
        xs = [float(v) for v in s]
        # the premise: each block sum is exact in float64, in any order
        assert all(Fraction(a) == b for a, b in zip(xs, s)), "block sum not exact"
        res[c] = xs
    return res


def exact_total(sums, i):
    return float(Fraction(sum(q_trunc(s[i]) for s in sums.values()), TWO64))


def expected_W(X, y, members, block_of):
    """(expected W1 after one step, list of guard problems)."""
    sums = block_sums(X, y, members, block_of)
    mb = len(members)
    W, problems = [], []
    differs = {"low word dropped": 0, "no truncation": 0, "round to nearest": 0}
    for i in range(NX):
        S = exact_total(sums, i)  # exact sum, rounded once
        hi_only = float(sum(math.trunc(Fraction(s[i]) * (1 << 24)) for s in sums.values())
                        * Fraction(1, 1 << 24))
        exact_unq = float(sum(Fraction(s[i]) for s in sums.values()))
        nearest = float(Fraction(sum(q_nearest(s[i]) for s in sums.values()), TWO64))
        differs["low word dropped"] += hi_only != S
        differs["no truncation"] += exact_unq != S
        differs["round to nearest"] += nearest != S
        W.append(0.0 - S / mb)  # the update from W = 0, exact: mb is a power of two
    for k, v in differs.items():
        if not v:
            problems.append("guard: the data cannot tell '%s' from the format" % k)
    return np.array(W).reshape(1, NX), problems


def bits(a):
    return " ".join("%016x" % v for v in np.asarray(a, dtype=np.float64).view(np.uint64).ravel())


def chunk_total(X, y, members, i):
    """What an older release computed for feature i: a sum per chunk of the
    file (each rounded once here), quantized and added."""
    dz = 0.5 - y.astype(np.float64)
    per = {}
    for g in members:
        per[g // CHUNK] = per.get(g // CHUNK, Fraction(0)) + Fraction(float(dz[g])) * Fraction(float(X[g, i]))
    return float(Fraction(sum(q_trunc(float(v)) for v in per.values()), TWO64))


def run(name, a, work, batch, members, block_of, nblocks):
    X, y = make_data(block_of, nblocks)
    data = os.path.join(work, name + "_data.h5")
    with h5py.File(data, "w") as f:
        f["train_x"] = X
        f["train_y"] = y
    ckpt = os.path.join(work, name + ".h5")
    cmd = shlex.split(a.launcher) + [
        a.train, "--data", data, "--init", "zeros", "--lr", "1", "--iterations", "1",
        "--precision", "double", "--deterministic", "--seed", str(SEED),
        "--batch-size", str(batch), "--checkpoint", ckpt, "--quiet"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        return False, "dnn-train exit %d: %s\n  %s" % (p.returncode, shlex.join(cmd),
                                                    p.stderr.strip()[-1500:])
    with h5py.File(ckpt, "r") as f:
        got = np.asarray(f["W1"][...], dtype=np.float64)
    want, problems = expected_W(X, y, members, block_of)
    if batch and all(-chunk_total(X, y, members, i) / len(members) == want[0, i] for i in range(NX)):
        problems.append("guard: the data cannot tell sums per group from sums per chunk of the file")
    same = got.shape == want.shape and np.array_equal(got.view(np.uint64), want.view(np.uint64))
    if not same:
        problems.append("W1 bits differ from the exact sum rounded once\n    dnn   %s\n    exact %s"
                        % (bits(got), bits(want)))
        with np.errstate(divide="ignore", invalid="ignore"):
            problems.append("relative differences %s" % np.abs((got - want) / want).ravel())
    if problems:
        return False, "\n  ".join(problems + ["command: " + shlex.join(cmd)])
    nb = len({block_of[g] for g in members})
    return True, "W1 bitwise equal to the exact sum (%d examples in %d %s)" % (
        len(members), nb, ("group" if batch else "chunk") + ("s" if nb > 1 else ""))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", required=True)
    p.add_argument("--launcher", default="")
    a = p.parse_args()
    if os.geteuid() == 0:
        os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="dnn-exact-") as work:
        perm = permutation(M, SEED, 0)
        groups = groups_of(perm)
        cases = [("full_batch", 0, list(range(M)), chunks_of(), M // CHUNK),
                 ("one_batch_of_m", M, perm, groups, M // GROUP),
                 ("batches_of_512", 512, perm[:512], groups, M // GROUP),
                 ("batches_of_256", 256, perm[:256], groups, M // GROUP),
                 ("batches_of_64", 64, perm[:64], groups, M // GROUP)]
        where = a.launcher or "single process"
        for name, batch, members, block_of, nblocks in cases:
            try:
                ok, msg = run(name, a, work, batch, members, block_of, nblocks)
            except (OSError, KeyError, subprocess.TimeoutExpired) as e:
                ok, msg = False, "%s: %s" % (type(e).__name__, e)
            print("%s %s (%s): %s" % ("PASS" if ok else "FAIL", name, where, msg), flush=True)
            passed += ok
            failed += not ok
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
