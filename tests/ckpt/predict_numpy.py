#!/usr/bin/python3
"""dnn-predict == a numpy forward pass computed from the checkpoint alone.

For each model, dnn-train writes a checkpoint; this script opens it with h5py
and recomputes, in float64 numpy, the forward pass from /W1../WL, /b1../bL,
the root attributes (activations, leaky_slope, scale, standardize,
binary_threshold) and /preprocess/mean,std -- nothing else is shared with
dnn.  dnn-predict must agree:
  - probabilities (m, n_L) float64 in the .h5 output: max abs difference
    <= 1e-6 for a single-precision model, <= 1e-12 for a double one;
  - predictions (m,) integer: argmax (softmax) or p > 0.5 (sigmoid), equal to
    numpy's except where numpy's margin is below the tolerance (a tie);
  - the printed `accuracy=A m=M`: M = m, |A - numpy accuracy| <= 1e-6, with
    labels thresholded by the stored binary_threshold when there is one;
  - the .csv output: header index,prediction,p0..p{n_L-1}, index 0..m-1,
    same predictions, probabilities within the same tolerance.
Models:
  sigmoid_scale_threshold  uint8 6x6 images, --scale 1/255, --binary-threshold 5
                           on class ids 0..9, relu hidden, single; the
                           accuracy on the training file also equals the
                           trainer's final train_accuracy
  softmax_double           4 classes, tanh hidden, --precision double
  standardized_single      --standardize, leaky_relu hidden (slope 0.05), sigmoid
  standardized_double      --standardize, softmax 3 classes, double
  features_first           predict from a (n_x, m) file with --layout features-first
The prediction data is a fresh set from the same generator (not the training set).
"""
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, attr_str, final_line  # noqa: E402

R = Runner(__doc__)


# ---- the reference forward pass, from the checkpoint only ----

def act(name, z, slope):
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "linear":
        return z
    if name == "softmax":  # over the units of each example (rows here)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError("unknown activation " + name)


def numpy_forward(ckpt, X):
    """X examples-first (m, ...) as read from the file; returns (m, n_L) float64."""
    with h5py.File(ckpt, "r") as f:
        a = f.attrs
        require(attr_str(a["format"]) == "dnn-checkpoint", "format attribute is %r" % a["format"])
        dims = [int(v) for v in a["layer_dims"]]
        L = len(dims) - 1
        acts = attr_str(a["activations"]).split(",")
        require(len(acts) == L, "activations %r for %d layers" % (acts, L))
        slope = float(a["leaky_slope"]) if "leaky_slope" in a else 0.01
        scale = float(a["scale"])
        std_on = int(a["standardize"]) != 0
        A = np.asarray(X, np.float64).reshape(X.shape[0], -1) * scale
        if std_on:
            A = (A - np.array(f["preprocess/mean"])) / np.array(f["preprocess/std"])
        for l in range(1, L + 1):
            W = np.asarray(f["W%d" % l], np.float64)
            b = np.asarray(f["b%d" % l], np.float64)
            require(W.shape == (dims[l], dims[l - 1]) and b.shape == (dims[l], 1),
                    "W%d/b%d shapes %s %s" % (l, l, W.shape, b.shape))
            A = act(acts[l - 1], A @ W.T + b.T, slope)
        thr = float(a["binary_threshold"]) if "binary_threshold" in a else float("nan")
    return A, acts[-1], thr


def numpy_labels(Y, thr):
    y = np.asarray(Y, np.float64).ravel()
    return (y >= thr).astype(np.int64) if not np.isnan(thr) else y.astype(np.int64)


def numpy_pred(P, out):
    if out == "softmax":
        return np.argmax(P, axis=1), np.sort(P, axis=1)[:, -1] - np.sort(P, axis=1)[:, -2]
    return (P[:, 0] > 0.5).astype(np.int64), np.abs(P[:, 0] - 0.5)


# ---- data ----

def images(path, m, seed):
    """uint8 6x6 images whose brightness pattern depends on a class id 0..9."""
    rs = np.random.RandomState(seed)
    lab = rs.randint(0, 10, size=m)
    base = np.random.RandomState(99).rand(10, 6, 6)  # fixed class patterns
    X = np.clip(base[lab] * 200 + rs.randn(m, 6, 6) * 40 + 20, 0, 255).astype(np.uint8)
    with h5py.File(path, "w") as f:
        f.create_dataset("train_x", data=X)
        f.create_dataset("train_y", data=lab.astype(np.uint8))
    return X, lab


def blobs(path, m, nx, K, seed, offset=0.0, spread=1.0, dtype=np.float32, features_first=False):
    rs = np.random.RandomState(seed)
    C = np.random.RandomState(77).randn(K, nx) * 1.5
    lab = rs.randint(0, K, size=m)
    X = ((C[lab] + rs.randn(m, nx)) * spread + offset).astype(dtype)
    with h5py.File(path, "w") as f:
        f.create_dataset("train_x", data=X.T.copy() if features_first else X)
        f.create_dataset("train_y", data=lab.astype(np.int32).reshape(1, m) if features_first else lab.astype(np.int32))
    return X, lab


# ---- the check ----

def check(name, train_file, train_args, pred_file, Xp, Yp, tol, layout=None, train_acc_check=False):
    ck = R.path(name + ".ckpt.h5")
    out = R.train(["--data", train_file, "--checkpoint", ck, "--quiet", "--print-every", "50"] + train_args)
    P, outact, thr = numpy_forward(ck, Xp)
    m, k = P.shape
    lay = ["--layout", layout] if layout else []
    h5o, csvo = R.path(name + ".pred.h5"), R.path(name + ".pred.csv")
    so = R.predict(["--model", ck, "--data", pred_file, "--x", "train_x", "--y", "train_y", "--output", h5o] + lay)
    with h5py.File(h5o, "r") as f:
        prob, pred = np.array(f["probabilities"]), np.array(f["predictions"])
    require(prob.dtype == np.float64, "probabilities dtype %s, expected float64" % prob.dtype)
    require(prob.shape == (m, k), "probabilities shape %s, expected %s" % (prob.shape, (m, k)))
    require(pred.shape == (m,) and pred.dtype.kind == "i", "predictions %s %s, expected (%d,) int" % (
        pred.shape, pred.dtype, m))
    d = float(np.max(np.abs(prob - P)))
    require(d <= tol, "probabilities differ from numpy by %.3g > %.0e" % (d, tol))
    ref_pred, margin = numpy_pred(P, outact)
    bad = np.nonzero((pred != ref_pred) & (margin > tol))[0]
    require(bad.size == 0, "predictions differ from numpy at %d examples, first %s" % (bad.size, bad[:5]))
    # accuracy line
    lines = [l for l in so.splitlines() if l.startswith("accuracy=")]
    require(lines, "no accuracy= line: %r" % so)
    kv = dict(t.split("=", 1) for t in lines[-1].split())
    require(int(kv["m"]) == m, "m=%s, expected %d" % (kv["m"], m))
    y = numpy_labels(Yp, thr)
    amb = margin <= tol
    acc_lo = np.mean((ref_pred == y) & ~amb)
    acc_hi = np.mean((ref_pred == y) | amb)
    acc = float(kv["accuracy"])
    require(acc_lo - 1e-6 <= acc <= acc_hi + 1e-6, "accuracy=%s, numpy gives %.6f" % (kv["accuracy"], acc_lo))
    if train_acc_check:
        fl = final_line(out)
        require(abs(float(fl["train_accuracy"]) - acc) <= 1e-6,
                "dnn-predict accuracy %s on the training set != final train_accuracy %s" % (acc, fl["train_accuracy"]))
    # CSV
    R.predict(["--model", ck, "--data", pred_file, "--x", "train_x", "--output", csvo] + lay)
    with open(csvo) as f:
        header = f.readline().strip().split(",")
    want = ["index", "prediction"] + ["p%d" % i for i in range(k)]
    require(header == want, "CSV header %r, expected %r" % (header, want))
    C = np.loadtxt(csvo, delimiter=",", skiprows=1, ndmin=2)
    require(C.shape == (m, k + 2), "CSV has shape %s, expected %s" % (C.shape, (m, k + 2)))
    require(np.array_equal(C[:, 0], np.arange(m)), "CSV index column is not 0..m-1")
    require(np.array_equal(C[:, 1].astype(np.int64), pred), "CSV predictions differ from the .h5 ones")
    dc = float(np.max(np.abs(C[:, 2:] - P)))
    require(dc <= tol, "CSV probabilities differ from numpy by %.3g > %.0e" % (dc, tol))
    print("# %s: m=%d n_L=%d max|p - numpy| = %.3g (h5), %.3g (csv); accuracy %s" % (name, m, k, d, dc, acc))


def sigmoid_scale_threshold():
    tr, te = R.path("img_train.h5"), R.path("img_test.h5")
    images(tr, 400, 1)
    Xp, Yp = images(te, 300, 2)
    check("sigmoid_scale_threshold", tr,
          ["--scale", "0.00392156862745098", "--binary-threshold", "5", "--layers", "10,5", "--lr", "0.5",
           "--iterations", "300"], te, Xp, Yp, 1e-6)
    # on the training file (short training, so the accuracy is not 1), dnn-predict's accuracy
    # is the trainer's final train_accuracy
    Xt, Yt = images(R.path("img_train2.h5"), 400, 1)
    check("sigmoid_scale_threshold_trainset", tr,
          ["--scale", "0.00392156862745098", "--binary-threshold", "5", "--layers", "10,5", "--lr", "0.5",
           "--iterations", "25"], tr, Xt, Yt, 1e-6, train_acc_check=True)


def softmax_double():
    tr, te = R.path("soft_train.h5"), R.path("soft_test.h5")
    blobs(tr, 500, 7, 4, 3, dtype=np.float64)
    Xp, Yp = blobs(te, 200, 7, 4, 4, dtype=np.float64)
    check("softmax_double", tr, ["--output", "softmax", "--layers", "9", "--hidden-activation", "tanh",
                                 "--precision", "double", "--lr", "0.3", "--iterations", "200"],
          te, Xp, Yp, 1e-12)


def standardized_single():
    tr, te = R.path("std_train.h5"), R.path("std_test.h5")
    blobs(tr, 500, 6, 2, 5, offset=40.0, spread=7.0)
    Xp, Yp = blobs(te, 200, 6, 2, 6, offset=40.0, spread=7.0)
    check("standardized_single", tr, ["--standardize", "--layers", "8,4", "--hidden-activation", "leaky_relu",
                                      "--leaky-slope", "0.05", "--lr", "0.2", "--iterations", "200"],
          te, Xp, Yp, 1e-6)


def standardized_double():
    tr, te = R.path("stdd_train.h5"), R.path("stdd_test.h5")
    blobs(tr, 500, 6, 3, 7, offset=-25.0, spread=12.0, dtype=np.float64)
    Xp, Yp = blobs(te, 200, 6, 3, 8, offset=-25.0, spread=12.0, dtype=np.float64)
    check("standardized_double", tr, ["--standardize", "--output", "softmax", "--layers", "8",
                                      "--precision", "double", "--lr", "0.2", "--iterations", "200"],
          te, Xp, Yp, 1e-12)


def features_first():
    tr, te = R.path("ff_train.h5"), R.path("ff_test.h5")
    blobs(tr, 500, 5, 2, 9)
    Xp, Yp = blobs(te, 150, 5, 2, 10, features_first=True)
    check("features_first", tr, ["--layers", "6", "--lr", "0.3", "--iterations", "150"], te, Xp, Yp, 1e-6,
          layout="features-first")


R.case("sigmoid_scale_threshold", sigmoid_scale_threshold)
R.case("softmax_double", softmax_double)
R.case("standardized_single", standardized_single)
R.case("standardized_double", standardized_double)
R.case("features_first", features_first)
R.finish()
