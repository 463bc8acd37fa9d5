#!/usr/bin/python3
"""--batch-norm at inference (README, Batch normalization): every path uses
the running statistics.

usage: bn_inference.py --train DNN_TRAIN --predict DNN_PREDICT --export DNN_EXPORT --capi CAPI_PREDICT

A --batch-norm network is trained (a few mini-batch steps, so that the running
mean and var are neither the initial 0/1 nor the last batch's), then its
predictions on new examples are compared with a numpy forward pass written
here from the checkpoint's datasets:
  z = A W^T;  hidden: gamma (z - mean) / sqrt(var + eps) + beta, then g;
  output: z + b, then sigmoid/softmax
with mean, var the checkpoint's /bn/meanL, /bn/varL.  Three paths:
  predict   dnn-predict --output P.h5 (probabilities)
  capi      dnn_net_predict through a small C program (capi_predict.c)
  onnx      dnn-export: onnx.checker accepts the graph, it holds a
            BatchNormalization node per hidden layer, and a numpy interpreter of
            its nodes (ONNX semantics, float32) computes the same P
and dnn-train's own final train_accuracy (the training set, evaluated with
the running statistics) equals numpy's.
Tolerances: 1e-6 for float32 checkpoints (and every ONNX graph, which is
float32), 1e-12 for double.  A control: the same forward pass with the last
batch's statistics instead of the running ones (or without normalization)
must NOT match, so the comparison can see which statistics were used.
Cases: single precision, relu, sigmoid output, --scale 0.5; double
precision, tanh, softmax output.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

p = argparse.ArgumentParser(description=__doc__)
for a in ("train", "predict", "export", "capi"):
    p.add_argument("--" + a, required=True)
p.add_argument("--keep", action="store_true")
args = p.parse_args()
WORK = tempfile.mkdtemp(prefix="dnn-bn-")
failures = []


def run(cmd):
    r = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s" % (" ".join(map(str, cmd)), r.returncode, r.stderr))
    return r.stdout


def act(name, z):
    if name == "relu":
        return np.maximum(z, 0)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(name)


def numpy_forward(ck, X, use="running"):
    """P (m, n[L]) from the checkpoint's arrays, in float64."""
    with h5py.File(ck, "r") as f:
        acts = f.attrs["activations"]
        acts = (acts.decode() if isinstance(acts, bytes) else str(acts)).split(",")
        L, eps, scale = len(acts), float(f.attrs["bn_epsilon"]), float(f.attrs["scale"])
        A = X.astype(np.float64) * scale if scale != 1 else X.astype(np.float64)
        for l in range(1, L + 1):
            Z = A @ f["W%d" % l][()].astype(np.float64).T
            if l < L:
                g, b = f["gamma%d" % l][()][:, 0], f["beta%d" % l][()][:, 0]
                if use == "running":
                    mu, var = f["bn/mean%d" % l][()][:, 0], f["bn/var%d" % l][()][:, 0]
                else:  # the control: this batch's own statistics
                    mu, var = Z.mean(axis=0), Z.var(axis=0)
                Z = g * (Z - mu) / np.sqrt(var + eps) + b
            else:
                Z = Z + f["b%d" % l][()][:, 0]
            A = act(acts[l - 1], Z)
    return A


# ---- the ONNX graph, interpreted with numpy (float32, as the graph's tensors) ----

def onnx_eval(path, X):
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    onnx.checker.check_model(model)
    env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = X.astype(np.float32)
    ops = []
    for node in model.graph.node:
        at = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        x = [env[i] for i in node.input]
        t = node.op_type
        ops.append(t)
        if t == "Gemm":
            B = x[1].T if at.get("transB", 0) else x[1]
            y = x[0] @ B + (x[2] if len(x) > 2 else 0)
        elif t == "BatchNormalization":
            e = np.float32(at.get("epsilon", 1e-5))
            y = (x[0] - x[3]) / np.sqrt(x[4] + e) * x[1] + x[2]
        elif t in ("Relu", "Tanh", "Sigmoid"):
            y = act(t.lower(), x[0])
        elif t == "Softmax":
            y = act("softmax", x[0])
        elif t == "Mul":
            y = x[0] * x[1]
        else:
            raise RuntimeError("operator %s is not one this interpreter knows" % t)
        env[node.output[0]] = y.astype(np.float32)
    return env[model.graph.output[0].name].astype(np.float64), ops


def check(tag, got, want, tol):
    err = float(np.max(np.abs(got - want)))
    ok = got.shape == want.shape and err <= tol
    print("# %s: max |difference| %.3g (tolerance %g)%s" % (tag, err, tol, "" if ok else "  FAIL"))
    if not ok:
        failures.append(tag)
    return err


def case(tag, prec, extra, hidden, nh):
    data = os.path.join(WORK, tag + ".h5")
    rs = np.random.RandomState(17)
    X = rs.randn(400, 5) * 2 + 1
    if extra.count("softmax"):
        Y = np.argmax(X[:, :3] + 0.3 * rs.randn(400, 3), axis=1).astype(np.int64)
    else:
        Y = (X[:, 0] * X[:, 1] + X[:, 2] > 0).astype(np.uint8)
    Xn = rs.randn(250, 5) * 2 + 1  # new examples
    with h5py.File(data, "w") as f:
        f["train_x"], f["train_y"], f["test_x"] = X, Y, Xn
    ck = os.path.join(WORK, tag + "_ck.h5")
    out = run([args.train, "--data", data, "--layers", "8,6", "--batch-norm", "--batch-size", "64", "--epochs", "3",
               "--lr", "0.05", "--precision", prec, "--hidden-activation", hidden, "--quiet", "--checkpoint", ck] + extra)
    # dnn-train's own final accuracy is evaluated with the running statistics too
    P = numpy_forward(ck, X)
    pred = np.argmax(P, axis=1) if P.shape[1] > 1 else (P[:, 0] >= 0.5).astype(int)
    acc = float(np.mean(pred == Y))
    got_acc = float([w for w in out.split() if w.startswith("train_accuracy=")][-1].split("=")[1])
    if abs(got_acc - acc) > 1e-6:
        print("# %s: dnn-train's final train_accuracy %g, numpy with the running statistics %g  FAIL" % (
            tag, got_acc, acc))
        failures.append(tag + " train_accuracy")
    want = numpy_forward(ck, Xn)
    tol = 1e-12 if prec == "double" else 1e-6
    out = os.path.join(WORK, tag + "_p.h5")
    run([args.predict, "--model", ck, "--data", data, "--x", "test_x", "--output", out])
    with h5py.File(out, "r") as f:
        got = f["probabilities"][()]
    check(tag + " dnn-predict", got, want, tol)
    txt = os.path.join(WORK, tag + "_capi.txt")
    run([args.capi, ck, data, "test_x", txt])
    check(tag + " dnn_net_predict", np.loadtxt(txt).reshape(want.shape), want, tol)
    onnx_path = os.path.join(WORK, tag + ".onnx")
    run([args.export, "--model", ck, "--onnx", onnx_path])
    got, ops = onnx_eval(onnx_path, Xn)
    if ops.count("BatchNormalization") != nh:
        print("# %s onnx: %d BatchNormalization nodes, expected %d: %s  FAIL" % (tag, ops.count("BatchNormalization"),
                                                                              nh, ops))
        failures.append(tag + " onnx nodes")
    check(tag + " onnx", got, want, 1e-6)
    # the control: a forward pass with other statistics is far from what the paths computed
    other = numpy_forward(ck, Xn, use="batch")
    if np.max(np.abs(other - want)) < 100 * tol:
        print("# %s: the control (batch statistics) is as close as the running ones: the test cannot tell  FAIL" % tag)
        failures.append(tag + " control")


try:
    case("single_relu_sigmoid", "single", ["--scale", "0.5"], "relu", 2)
    case("double_tanh_softmax", "double", ["--output", "softmax"], "tanh", 2)
except Exception as e:  # a failed program or an unreadable output is a failure
    print("FAIL: %s: %s" % (type(e).__name__, e))
    failures.append("exception")
if args.keep:
    print("work folder kept: " + WORK)
else:
    shutil.rmtree(WORK, ignore_errors=True)
print("FAIL: " + ", ".join(failures) if failures else "all inference paths agree with the numpy forward pass")
sys.exit(1 if failures else 0)
