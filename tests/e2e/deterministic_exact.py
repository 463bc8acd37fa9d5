#!/usr/bin/python3
"""dnn-train --deterministic against exact arithmetic, bit for bit.

  deterministic_exact.py --train PATH/dnn-train [--launcher "mpiexec -n 3 --oversubscribe"]

The documented format (DESIGN §5, README "--deterministic"): every chunk of
DNN_CHUNK = 256 global examples gives float64 gradient sums x; each x is
added into two int64 words, hi = trunc(x 2^24) and lo = trunc((x 2^24 - hi)
2^40) (truncated toward zero), so x counts as q(x) = trunc(x 2^64) 2^-64; the
words are summed as integers over chunks and ranks; the gradient sum is
hi 2^-24 + lo 2^-64, which is the exact sum of the q(x) rounded once to
float64 (to nearest, ties to even).

The reference sums the q(x) with fractions.Fraction and rounds once.  For
that it must know dnn's chunk sums exactly, so the data make them exact in
any summation order: a logistic regression from zero weights has A = 0.5
for every example and dZ = A - Y = +-0.5 exactly; each chunk's inputs are
integers of at most 21 bits times a power of two chosen per (chunk, feature),
from 2^6 down to 2^-92, so the chunk sums dW = sum dZ x are exact float64s
while the four chunks together span far more than 53 bits, some chunk sums
have bits below 2^-64 (the truncation matters) and the total needs the final
rounding.  With --lr 1 and m a power of two the update W = 0 - (1/m) S is
exact, so the checkpoint's W after one step is -S/m bit for bit.

Cases: full batch (m = 1024: four chunks; on 3 ranks the shards are whole
chunks), one mini-batch of m, and mini-batches of 512 (the first batch takes
perm[0:512] of epoch 0, reimplemented in tests/ref/ref_rng.py; each chunk's
share of the batch is summed on its own).  Guards: for these data the exact
answer differs from the sum with the low word dropped, from the exact sum of
the unquantized chunk sums (so the truncation is visible), and from
rounding each q to nearest instead of truncating.
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


def make_data():
    """X (m, n_x) float64 and y (m,) 0/1 as described above."""
    rng = np.random.RandomState(2024)
    X = np.empty((M, NX))
    # exponents per (feature, chunk): a span of 98 binades (the final rounding
    # matters), only tiny chunks (truncation at 2^-64 matters), a middle range,
    # and three random mixes
    exps = [[6, -30, -60, -92], [-70, -80, -85, -92], [-20, -40, -50, -64]]
    exps += [list(rng.randint(-92, 7, size=M // CHUNK)) for _ in range(NX - len(exps))]
    for c in range(M // CHUNK):
        for i in range(NX):
            e = int(exps[i][c])
            n = rng.randint(-(1 << 20), (1 << 20) + 1, size=CHUNK)
            X[c * CHUNK:(c + 1) * CHUNK, i] = n.astype(np.float64) * 2.0 ** e
    y = rng.randint(0, 2, size=M).astype(np.uint8)
    return X, y


def q_trunc(x):
    """trunc(x 2^64) as an integer (the value in units of 2^-64)."""
    f = Fraction(x) * TWO64
    return math.trunc(f)


def q_nearest(x):
    return round(Fraction(x) * TWO64)


def chunk_sums(X, y, members):
    """Per global chunk, the exact float64 sums of dZ x over the given examples."""
    dz = 0.5 - y.astype(np.float64)  # A - Y with A = sigmoid(0) = 0.5
    out = {}
    for g in members:
        c = g // CHUNK
        s = out.setdefault(c, [Fraction(0)] * NX)
        for i in range(NX):
            s[i] += Fraction(float(dz[g])) * Fraction(float(X[g, i]))
    res = {}
    for c, s in out.items():
        xs = [float(v) for v in s]
        # the premise: each chunk sum is exact in float64, in any order
        assert all(Fraction(a) == b for a, b in zip(xs, s)), "chunk sum not exact"
        res[c] = xs
    return res


def expected_W(X, y, members):
    """(expected W1 after one step, list of guard problems)."""
    sums = chunk_sums(X, y, members)
    mb = len(members)
    W, problems = [], []
    differs = {"low word dropped": 0, "no truncation": 0, "round to nearest": 0}
    for i in range(NX):
        units = sum(q_trunc(s[i]) for s in sums.values())
        S = float(Fraction(units, TWO64))  # exact sum, rounded once
        hi_only = float(sum(math.trunc(Fraction(s[i]) * (1 << 24)) for s in sums.values())
                        * Fraction(1, 1 << 24))
        exact_unq = float(sum(Fraction(s[i]) for s in sums.values()))
        nearest = float(Fraction(sum(q_nearest(s[i]) for s in sums.values()), TWO64))
        differs["low word dropped"] += hi_only != S
        differs["no truncation"] += exact_unq != S
        differs["round to nearest"] += nearest != S
        W.append(-S / mb)  # exact: mb is a power of two
    for k, v in differs.items():
        if not v:
            problems.append("guard: the data cannot tell '%s' from the format" % k)
    return np.array(W).reshape(1, NX), problems


def bits(a):
    return " ".join("%016x" % v for v in np.asarray(a, dtype=np.float64).view(np.uint64).ravel())


def run(name, a, work, data, batch, members):
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
    want, problems = expected_W(*make_data(), members)
    same = got.shape == want.shape and np.array_equal(got.view(np.uint64), want.view(np.uint64))
    if not same:
        problems.append("W1 bits differ from the exact sum rounded once\n    dnn   %s\n    exact %s"
                        % (bits(got), bits(want)))
        with np.errstate(divide="ignore", invalid="ignore"):
            problems.append("relative differences %s" % np.abs((got - want) / want).ravel())
    if problems:
        return False, "\n  ".join(problems + ["command: " + shlex.join(cmd)])
    return True, "W1 bitwise equal to the exact sum (%d examples in %d chunks)" % (
        len(members), len({g // CHUNK for g in members}))


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
        X, y = make_data()
        data = os.path.join(work, "exact.h5")
        with h5py.File(data, "w") as f:
            f["train_x"] = X
            f["train_y"] = y
        perm = permutation(M, SEED, 0)
        cases = [("full_batch", 0, list(range(M))),
                 ("one_batch_of_m", M, perm),
                 ("batches_of_512", 512, perm[:512])]
        where = a.launcher or "single process"
        for name, batch, members in cases:
            try:
                ok, msg = run(name, a, work, data, batch, members)
            except (OSError, KeyError, subprocess.TimeoutExpired) as e:
                ok, msg = False, "%s: %s" % (type(e).__name__, e)
            print("%s %s (%s): %s" % ("PASS" if ok else "FAIL", name, where, msg), flush=True)
            passed += ok
            failed += not ok
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
