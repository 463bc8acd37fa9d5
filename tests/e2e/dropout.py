#!/usr/bin/python3
"""Dropout (--keep-prob, README, Course 2: optimizers, regularization, schedules, dev sets) end to end.

Masks are keyed by (seed, step, layer, global example, unit), so:
  det_minibatch         --deterministic --keep-prob 0.7, mini-batch (batches of 64
                        over 700 examples, the last one partial): W/b SHA-256 equal
                        for a single process and mpiexec -n 1, 2, 3, 4; and it differs
                        from --keep-prob 1 (dropout really acts)
  det_fullbatch         the same in full batch, N = 1 and 3
  masks_independent_of_N  without --deterministic, in double: N = 3 within 1e-10 of
                        N = 1 (only the order of the sums differs; masks that
                        depended on the rank or the block would differ by O(1))
  keep_prob_one         --keep-prob 1 == no option, bitwise (full batch, mini-batch)
  predict_numpy         dnn-predict on a dropout-trained checkpoint == a numpy forward
                        pass without masks (1e-12 double, 1e-6 single), and the final
                        train_accuracy is numpy's accuracy without masks
  numpy_reference       --precision double --rng numpy: W/b after 25 full-batch steps
                        and after 2 epochs of batches of 64 equal, to 1e-9 relative, a
                        numpy reimplementation of training with masks drawn from the
                        generator's definition in include/dnn/rng.h (step k, layer l,
                        global example g = the permutation's member, unit i)
  resume                --checkpoint-every 20, --iterations 60 then --resume to 100
                        == 100 straight, bitwise (mini-batch, full batch), and
                        --deterministic 2 ranks then 3 ranks == 1 rank straight
The numpy side reads only the checkpoint (W/b, activations, scale).
"""
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "mpi"))
sys.path.insert(0, os.path.join(HERE, "..", "ref"))
from dnnt import Runner, require, params_sha, ckpt_params, rel_diff, attr_str, final_line, make_classes  # noqa: E402

R = Runner(__doc__)
DATA = R.path("blobs.h5")
make_classes(DATA, 700, 10, 3, 5)
BIN = R.path("binary.h5")
rs = np.random.RandomState(3)
Xb = rs.randn(300, 6).astype(np.float32)
Yb = (Xb @ rs.randn(6) + 0.3 * np.sin(2 * Xb[:, 0]) > 0).astype(np.uint8)
with h5py.File(BIN, "w") as f:
    f.create_dataset("train_x", data=Xb)
    f.create_dataset("train_y", data=Yb.reshape(-1, 1))

NET = ["--data", DATA, "--output", "softmax", "--layers", "24,12", "--hidden-activation", "relu", "--lr", "0.1",
       "--seed", "5", "--quiet"]


def sha_of(name, args, n=None):
    ck = R.path(name + ".h5")
    R.train(NET + args + ["--checkpoint", ck], n=n)
    return params_sha(ck)


def det_minibatch():
    args = ["--batch-size", "64", "--epochs", "3", "--deterministic", "--keep-prob", "0.7"]
    ref = sha_of("det_mb_single", args)
    for n in (1, 2, 3, 4):
        s = sha_of("det_mb_np%d" % n, args, n=n)
        require(s == ref, "W/b SHA-256 with mpiexec -n %d is %s, a single process gives %s" % (n, s[:16], ref[:16]))
    off = sha_of("det_mb_kp1", [a if a != "0.7" else "1" for a in args])
    require(off != ref, "--keep-prob 0.7 gives the same parameters as --keep-prob 1: dropout did nothing")
    print("# det_minibatch: SHA-256 %s for N = single, 1, 2, 3, 4" % ref[:16])


def det_fullbatch():
    args = ["--iterations", "40", "--deterministic", "--keep-prob", "0.7"]
    ref = sha_of("det_fb_single", args)
    s = sha_of("det_fb_np3", args, n=3)
    require(s == ref, "full batch: SHA-256 with 3 ranks %s != single %s" % (s[:16], ref[:16]))
    print("# det_fullbatch: SHA-256 %s for N = 1, 3" % ref[:16])


def masks_independent_of_N():
    args = ["--batch-size", "50", "--epochs", "3", "--keep-prob", "0.6", "--precision", "double"]
    a, b = R.path("nd_np1.h5"), R.path("nd_np3.h5")
    R.train(NET + args + ["--checkpoint", a])
    R.train(NET + args + ["--checkpoint", b], n=3)
    d = rel_diff(ckpt_params(b), ckpt_params(a))
    require(d <= 1e-10, "N = 3 differs from N = 1 by %.3g (relative) > 1e-10" % d)
    print("# masks_independent_of_N: max relative difference %.3g" % d)


def keep_prob_one():
    for mode in (["--iterations", "30"], ["--batch-size", "64", "--epochs", "2"]):
        a = sha_of("kp_none", mode)
        b = sha_of("kp_one", mode + ["--keep-prob", "1"])
        require(a == b, "%s: --keep-prob 1 SHA-256 %s != no dropout %s" % (" ".join(mode), b[:16], a[:16]))


def numpy_forward(ck, X):
    """The checkpoint's network on X (m, n_x) without dropout masks: (m, n_L) float64."""
    with h5py.File(ck, "r") as f:
        acts = attr_str(f.attrs["activations"]).split(",")
        A = np.asarray(X, np.float64) * float(f.attrs["scale"])
        for l, g in enumerate(acts, 1):
            Z = A @ np.asarray(f["W%d" % l], np.float64).T + np.asarray(f["b%d" % l], np.float64).T
            if g == "relu":
                A = np.maximum(Z, 0)
            elif g == "tanh":
                A = np.tanh(Z)
            elif g == "sigmoid":
                A = 1 / (1 + np.exp(-Z))
            elif g == "softmax":
                E = np.exp(Z - Z.max(axis=1, keepdims=True))
                A = E / E.sum(axis=1, keepdims=True)
            else:
                raise ValueError("activation %s not covered here" % g)
    return A


def predict_one(name, data, args, tol):
    ck, out = R.path(name + ".ckpt.h5"), R.path(name + ".pred.h5")
    fl = final_line(R.train(["--data", data, "--checkpoint", ck, "--quiet"] + args))
    R.predict(["--model", ck, "--data", data, "--x", "train_x", "--output", out])
    with h5py.File(data, "r") as f:
        X, Y = np.array(f["train_x"]), np.array(f["train_y"]).ravel()
    P = numpy_forward(ck, X)
    with h5py.File(out, "r") as f:
        prob = np.array(f["probabilities"])
    require(prob.shape == P.shape, "probabilities shape %s, numpy %s" % (prob.shape, P.shape))
    d = float(np.max(np.abs(prob - P)))
    require(d <= tol, "dnn-predict differs from numpy without masks by %.3g > %.0e" % (d, tol))
    pred = np.argmax(P, axis=1) if P.shape[1] > 1 else (P[:, 0] > 0.5).astype(int)
    acc = float(np.mean(pred == Y))
    require(abs(float(fl["train_accuracy"]) - acc) <= 1.5 / len(Y),
            "final train_accuracy %s, numpy without masks %.6f" % (fl["train_accuracy"], acc))
    print("# predict_numpy %s: max |p - numpy| = %.3g, train_accuracy %s (numpy %.6f)" % (
        name, d, fl["train_accuracy"], acc))


def predict_numpy():
    predict_one("softmax_double", DATA, ["--output", "softmax", "--layers", "16,8", "--hidden-activation", "tanh",
                                         "--precision", "double", "--keep-prob", "0.6", "--lr", "0.05",
                                         "--iterations", "15"], 1e-12)
    predict_one("sigmoid_single", BIN, ["--layers", "12", "--keep-prob", "0.8", "--lr", "0.1", "--batch-size", "32",
                                        "--epochs", "2"], 1e-6)


# ---- a numpy reference of dropout training, from the definitions ----

U64 = np.uint64


def mix(z):
    z = (z ^ (z >> U64(30))) * U64(0xbf58476d1ce4e5b9)
    z = (z ^ (z >> U64(27))) * U64(0x94d049bb133111eb)
    return z ^ (z >> U64(31))


def uniforms(seed, k, l, g, n):
    """U(seed, k, l, g_j, i) of include/dnn/rng.h for units i < n and examples g (m,): (n, m)."""
    with np.errstate(over="ignore"):
        c = mix(mix(mix(mix(U64(seed) ^ U64(0x243f6a8885a308d3)) ^ U64(k)) ^ U64(l)) ^ g.astype(U64))
        w = (np.arange(n, dtype=U64) + U64(1)) * U64(0x9e3779b97f4a7c15)
        x = mix(c[None, :] ^ w[:, None])
    return (x >> U64(11)).astype(np.float64) * 2.0 ** -53


def ref_train(X, Y, dims, seed, kp, lr, steps, B=0):
    """gd with inverted dropout on relu hidden layers, softmax output; X (n_x, m), Y class ids."""
    np.random.seed(seed)
    W = [None] + [np.random.randn(dims[l], dims[l - 1]) * np.sqrt(2.0 / dims[l - 1]) for l in range(1, len(dims))]
    b = [None] + [np.zeros((dims[l], 1)) for l in range(1, len(dims))]
    L, m = len(dims) - 1, X.shape[1]
    spe = (m + B - 1) // B if B else 1
    for k in range(steps):
        # --rng numpy: the course's order, np.random.seed(seed + e); permutation(m), e = 1, 2, ...
        perm = np.random.RandomState(seed + k // spe + 1).permutation(m) if B else None
        g = np.arange(m) if not B else perm[(k % spe) * B:(k % spe + 1) * B]
        g = np.asarray(g, dtype=np.int64)
        A, Z, D = [X[:, g]], [None], [None]
        for l in range(1, L + 1):
            Z.append(W[l] @ A[-1] + b[l])
            if l < L:
                D.append(uniforms(seed, k, l, g, dims[l]) < kp)
                A.append(np.maximum(Z[l], 0) * D[l] / kp)
            else:
                E = np.exp(Z[l] - Z[l].max(axis=0))
                A.append(E / E.sum(axis=0))
        mb = len(g)
        dZ = (A[L] - np.eye(dims[L])[:, Y[g]]) / mb
        for l in range(L, 0, -1):
            dW, db = dZ @ A[l - 1].T, dZ.sum(axis=1, keepdims=True)
            if l > 1:
                dZ = (W[l].T @ dZ) * D[l - 1] / kp * (Z[l - 1] > 0)
            W[l] = W[l] - lr * dW
            b[l] = b[l] - lr * db
    return [x for l in range(1, L + 1) for x in (W[l], b[l])]


def numpy_reference():
    with h5py.File(DATA, "r") as f:
        X, Y = np.asarray(f["train_x"], np.float64).T, np.asarray(f["train_y"]).ravel()
    dims = [X.shape[0], 24, 12, 3]
    for name, args, steps, B in (("full", ["--iterations", "25"], 25, 0),
                                 ("mini", ["--batch-size", "64", "--epochs", "2"], 22, 64)):
        ck = R.path("ref_" + name + ".h5")
        R.train(NET + args + ["--precision", "double", "--rng", "numpy", "--init", "he", "--keep-prob", "0.7",
                              "--checkpoint", ck])
        ref = ref_train(X, Y, dims, 5, 0.7, 0.1, steps, B)
        got = [np.asarray(a, np.float64).reshape(r.shape) for a, r in zip(ckpt_params(ck), ref)]
        d = rel_diff(got, ref)
        require(d <= 1e-9, "%s batch: W/b differ from the numpy reference by %.3g (relative) > 1e-9" % (name, d))
        print("# numpy_reference %s: max relative difference %.3g" % (name, d))


def resume_case(name, args, n_first=None, n_second=None, n_straight=None):
    s_ck, i_ck = R.path(name + "_s.h5"), R.path(name + "_i.h5")
    R.train(NET + args + ["--iterations", "100", "--checkpoint", s_ck], n=n_straight)
    R.train(NET + args + ["--iterations", "60", "--checkpoint-every", "20", "--checkpoint", i_ck], n=n_first)
    R.train(NET + args + ["--iterations", "100", "--checkpoint-every", "20", "--checkpoint", i_ck, "--resume"],
            n=n_second)
    a, b = params_sha(s_ck), params_sha(i_ck)
    require(a == b, "%s: resumed W/b SHA-256 %s != straight %s (max relative difference %.3g)" % (
        name, b[:16], a[:16], rel_diff(ckpt_params(i_ck), ckpt_params(s_ck))))


def resume():
    resume_case("mini", ["--batch-size", "64", "--keep-prob", "0.7"])
    resume_case("full", ["--keep-prob", "0.7"])
    resume_case("det_2_to_3", ["--batch-size", "64", "--keep-prob", "0.7", "--deterministic"], n_first=2,
                n_second=3)


R.case("det_minibatch", det_minibatch)
R.case("det_fullbatch", det_fullbatch)
R.case("masks_independent_of_N", masks_independent_of_N)
R.case("keep_prob_one", keep_prob_one)
R.case("predict_numpy", predict_numpy)
R.case("numpy_reference", numpy_reference)
R.case("resume", resume)
R.finish()
