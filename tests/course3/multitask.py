#!/usr/bin/python3
"""Multi-task outputs with missing labels (README, Multi-task outputs), against numpy.

Data: 240 examples, 6 features, 3 sigmoid tasks, 30% of the label entries
unlabelled; network 6-8-3 (relu, sigmoid), --precision double, --rng numpy.
Cases:
  masked_loss_matches_numpy  300 full-batch steps of gradient descent: W/b agree
      with a numpy reference (J over labelled entries only, dZ = 0 elsewhere) to
      1e-9, and the cost of the last step to 1e-8 (it is printed with 9 digits);
  unlabelled_value_ignored   the unlabelled entries stored as NaN (float64), -1
      (int8) or -7.5 (float32): W/b bitwise the same;
  minibatch_n1_n3_same_bits  --batch-size 64 --deterministic at N = 1 and N = 3:
      W/b bitwise the same (and full batch, N = 3, equals the NaN run);
  resume_bitwise             120 steps, then --resume to 300 at N = 3 (and -1 for
      the unlabelled entries): W/b bitwise those of the 300-step run;
  labels_checked             a label of 2 is still refused, naming Y and the file.
"""
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, ckpt_params, params_sha, final_line  # noqa: E402

R = Runner(__doc__)
M, NX, NY, H, SEED, LR, STEPS = 240, 6, 3, 8, 4, 0.1, 300
rs = np.random.RandomState(11)
X = rs.randn(M, NX)
T = rs.randn(NY, NX)
Y01 = ((X @ T.T + 0.3 * rs.randn(M, NY)) > 0).astype(np.float64)
MISS = rs.rand(M, NY) < 0.3
MISS[5, :] = True  # an example with no label at all


def write(name, fill, dtype):
    y = Y01.astype(dtype)
    y[MISS] = fill
    path = R.path(name)
    with h5py.File(path, "w") as f:
        f.create_dataset("train_x", data=X)
        f.create_dataset("train_y", data=y)
    return path


D_NAN = write("nan.h5", np.nan, np.float64)
D_M1 = write("m1.h5", -1, np.int8)
D_M7 = write("m7.h5", -7.5, np.float32)
BASE = ["--layers", str(H), "--precision", "double", "--rng", "numpy", "--init", "he", "--seed", str(SEED),
        "--lr", str(LR), "--iterations", str(STEPS), "--print-every", "100", "--quiet"]


def reference():
    """Full-batch gradient descent with the masked binary cross-entropy."""
    np.random.seed(SEED)
    dims = [NX, H, NY]
    W = [None] + [np.random.randn(dims[l], dims[l - 1]) * np.sqrt(2.0 / dims[l - 1]) for l in (1, 2)]
    b = [None] + [np.zeros((dims[l], 1)) for l in (1, 2)]
    A0, Y, lab = X.T, np.where(MISS, 0.0, Y01).T, (~MISS).T.astype(np.float64)

    def fwd():
        Z1 = W[1] @ A0 + b[1]
        A1 = np.maximum(Z1, 0)
        Z2 = W[2] @ A1 + b[2]
        return Z1, A1, Z2

    for _ in range(STEPS):
        Z1, A1, Z2 = fwd()
        A2 = 1 / (1 + np.exp(-Z2))
        dZ2 = (A2 - Y) * lab
        dW2, db2 = dZ2 @ A1.T / M, dZ2.sum(1, keepdims=True) / M
        dZ1 = (W[2].T @ dZ2) * (Z1 > 0)
        dW1, db1 = dZ1 @ A0.T / M, dZ1.sum(1, keepdims=True) / M
        last_cost = float(((np.maximum(Z2, 0) - Y * Z2 + np.log1p(np.exp(-np.abs(Z2)))) * lab).sum() / M)
        W[1] -= LR * dW1
        b[1] -= LR * db1
        W[2] -= LR * dW2
        b[2] -= LR * db2
    return [W[1], b[1], W[2], b[2]], last_cost


runs = {}


def train(tag, data, extra=(), n=None):
    ck = R.path("ck_" + tag + ".h5")
    out = R.train(["--data", data, "--checkpoint", ck] + BASE + list(extra), n=n, what="dnn-train (%s)" % tag)
    runs[tag] = ck
    return out


def masked_loss_matches_numpy():
    out = train("nan", D_NAN)
    ref, last_cost = reference()
    got = ckpt_params(runs["nan"])
    for i, (g, r) in enumerate(zip(got, ref)):
        g = np.asarray(g).reshape(r.shape)
        err = np.max(np.abs(g - r) / np.maximum(1.0, np.abs(r)))
        require(err <= 1e-9, "%s%d differs from numpy by %.3g (relative)" % ("Wb"[i % 2], i // 2 + 1, err))
    require(abs(float(final_line(out)["cost"]) - last_cost) <= 1e-8 * max(1.0, abs(last_cost)),
            "final cost %s, numpy %.12g" % (final_line(out)["cost"], last_cost))
    # accuracy: an example is right when every labelled entry is; one with no
    # labelled entry (example 5) is left out of it, numerator and denominator
    W1, b1, W2, b2 = ref
    A2 = 1 / (1 + np.exp(-(W2 @ np.maximum(W1 @ X.T + b1, 0) + b2)))
    right = ((A2 > 0.5) == (Y01.T > 0.5)) | MISS.T
    has = ~MISS.all(axis=1)
    acc = float(right.all(axis=0)[has].sum()) / has.sum()
    got_acc = float(final_line(out)["train_accuracy"])
    require(abs(got_acc - acc) <= 1e-6, "train_accuracy %s, numpy %.6f over the %d examples with a label (an "
            "example with no labelled entry must be left out of the accuracy)" % (got_acc, acc, has.sum()))


def unlabelled_value_ignored():
    if "nan" not in runs:
        train("nan", D_NAN)
    train("m1", D_M1)
    train("m7", D_M7)
    h = {t: params_sha(runs[t]) for t in ("nan", "m1", "m7")}
    require(h["nan"] == h["m1"] == h["m7"], "W/b differ with the stored value of unlabelled entries: %s" % h)


def minibatch_n1_n3_same_bits():
    mb = ["--batch-size", "64", "--deterministic", "--iterations", "60"]
    train("mb1", D_NAN, mb)
    train("mb3", D_M1, mb, n=3)
    require(params_sha(runs["mb1"]) == params_sha(runs["mb3"]), "mini-batch W/b differ between N = 1 and N = 3")
    if "nan" not in runs:
        train("nan", D_NAN)
    train("fb3", D_NAN, n=3)
    require(params_sha(runs["nan"]) == params_sha(runs["fb3"]), "full-batch W/b differ between N = 1 and N = 3")


def resume_bitwise():
    if "nan" not in runs:
        train("nan", D_NAN)
    ck = R.path("ck_resume.h5")
    args = ["--data", D_M1, "--checkpoint", ck] + BASE
    R.train(args[:-5] + ["--iterations", "120", "--print-every", "100", "--quiet"], what="dnn-train (first 120)")
    R.train(args + ["--resume"], n=3, what="dnn-train --resume at N = 3")
    require(params_sha(ck) == params_sha(runs["nan"]), "120 steps + resume to 300 differ from 300 steps")


def labels_checked():
    y = Y01.copy()
    y[7, 1] = 2
    path = R.path("bad.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("train_x", data=X)
        f.create_dataset("train_y", data=y)
    rc, _, err, _ = R.run(R.args.train, ["--data", path] + BASE)
    require(rc == 1 and "train_y" in err and path in err and "2" in err, "rc=%d stderr: %s" % (rc, err.strip()))


R.case("masked_loss_matches_numpy", masked_loss_matches_numpy)
R.case("unlabelled_value_ignored", unlabelled_value_ignored)
R.case("minibatch_n1_n3_same_bits", minibatch_n1_n3_same_bits)
R.case("resume_bitwise", resume_bitwise)
R.case("labels_checked", labels_checked)
R.finish()
