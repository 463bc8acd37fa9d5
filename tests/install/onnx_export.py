#!/usr/bin/python3
"""install_onnx_export: dnn-export writes valid ONNX that computes dnn-predict's output.

For every output kind (sigmoid, softmax, linear) and every hidden activation
(sigmoid, tanh, relu, leaky_relu with slope 0.2, linear), each with one of:
no preprocessing, --scale on uint8 inputs, --standardize (every output kind
meets all three), in single and double precision, plus one model with both
--scale and --standardize, one logistic regression (no hidden layer) and
one of 13 layers:
  - dnn-train makes a checkpoint, dnn-export turns it into OUT.onnx;
  - onnx.checker.check_model(model, full_check=True) accepts it (Debian
    python3-onnx), the default-domain opset is >= 13, the IR version fits it;
  - one input X, float32 (m, n_x) with m a named (dynamic) dimension, one
    output P, float32 (m, n[L]); shape inference keeps m symbolic for P;
  - the preprocessing is in the graph: Mul (scale), Sub + Div (mean/std);
  - metadata: layer_dims, activations, leaky_slope, scale, standardize,
    precision and iteration equal the checkpoint's attributes, dnn_version is
    the project's version, source_sha256 is the SHA-256 of the checkpoint file
    (hashlib);
  - the numpy interpreter below, which knows only the ONNX operators' own
    definitions (Gemm with alpha/beta/transA/transB, Sigmoid, Tanh, Relu,
    LeakyRelu, Softmax on an axis, Mul, Sub, Div, Add, MatMul, Identity),
    evaluates the graph in float32 on the raw inputs, for the whole batch and
    for a batch of 7, and equals dnn-predict's probabilities within 1e-5.
Also: a missing checkpoint and an unwritable output fail with exit 1 and a
message naming the file, leaving no OUT.onnx.tmp behind.
"""
import hashlib
import os
import re
import subprocess

import h5py
import numpy as np

import itest
from itest import require

R = itest.Runner(__doc__)
TOL = 1e-5
try:
    import onnx
    from onnx import numpy_helper, shape_inference
except ImportError:  # reported as a skip by every case
    onnx = None

# ---- a numpy evaluator of the ONNX operators dnn-export may emit ----


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def op_gemm(ins, at):
    A, B = ins[0], ins[1]
    if at.get("transA", 0):
        A = A.T
    if at.get("transB", 0):
        B = B.T
    Y = np.float32(at.get("alpha", 1.0)) * (A @ B)
    if len(ins) > 2:
        Y = Y + np.float32(at.get("beta", 1.0)) * ins[2]
    return Y


def op_softmax(ins, at):
    x = ins[0]
    ax = at.get("axis", -1)  # opset 13: softmax along one axis
    e = np.exp(x - x.max(axis=ax, keepdims=True))
    return e / e.sum(axis=ax, keepdims=True)


OPS = {
    "Gemm": op_gemm,
    "MatMul": lambda i, a: i[0] @ i[1],
    "Add": lambda i, a: i[0] + i[1],
    "Mul": lambda i, a: i[0] * i[1],
    "Sub": lambda i, a: i[0] - i[1],
    "Div": lambda i, a: i[0] / i[1],
    "Sigmoid": lambda i, a: np.float32(1) / (np.float32(1) + np.exp(-i[0])),
    "Tanh": lambda i, a: np.tanh(i[0]),
    "Relu": lambda i, a: np.maximum(i[0], np.float32(0)),
    "LeakyRelu": lambda i, a: np.where(i[0] >= 0, i[0], np.float32(a.get("alpha", 0.01)) * i[0]),
    "Softmax": op_softmax,
    "Identity": lambda i, a: i[0],
}


def evaluate(model, X):
    g = model.graph
    env = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    require(len(g.input) == 1, "graph has %d inputs" % len(g.input))
    env[g.input[0].name] = X.astype(np.float32)
    for node in g.node:  # ONNX requires topological order
        require(node.domain in ("", "ai.onnx"), "node %s in domain %r" % (node.name, node.domain))
        require(node.op_type in OPS, "operator %s is not one the interpreter knows" % node.op_type)
        ins = [env[n] for n in node.input]
        out = OPS[node.op_type](ins, attrs(node))
        require(out.dtype == np.float32, "%s produced %s" % (node.op_type, out.dtype))
        env[node.output[0]] = out
    return env[g.output[0].name]


# ---- cases ----

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]
OUTPUTS = ["sigmoid", "softmax", "linear"]
PREPROC = ["none", "scale", "standardize"]


def make_data(path, out, pre, seed, m=160, nx=6):
    rs = np.random.RandomState(seed)
    if pre in ("scale", "scale+standardize"):
        X = rs.randint(0, 256, size=(m, nx)).astype(np.uint8)
    elif pre == "standardize":
        X = rs.randn(m, nx) * 6 + 30
    else:
        X = rs.randn(m, nx).astype(np.float32)
    if out == "sigmoid":
        Y = rs.randint(0, 2, size=m).astype(np.uint8)
    elif out == "softmax":
        Y = rs.randint(0, 3, size=m).astype(np.int32)
    else:
        Y = rs.randn(m, 2).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=X)
        f.create_dataset("y", data=Y)
    return X


def attr_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def project_version():
    with open(os.path.join(R.args.source, "CMakeLists.txt")) as f:
        return re.search(r"project\(dnn VERSION ([\d.]+)", f.read()).group(1)


def runnable():
    if onnx is None:
        raise itest.Skip("python3-onnx is not installed (it is in launch/lib/deps.sh)")
    if not R.args.export:
        raise itest.Skip("dnn-export was not built (protoc-c and libprotobuf-c are missing)")


def export_case(name, hidden, out, pre, prec, layers="7,5"):
    runnable()
    data, ck, model_path = R.path(name + ".h5"), R.path(name + ".ckpt.h5"), R.path(name + ".onnx")
    X = make_data(data, out, pre, seed=len(name))
    args = ["--data", data, "--x", "x", "--y", "y", "--checkpoint", ck, "--quiet", "--output", out,
            "--hidden-activation", hidden, "--leaky-slope", "0.2", "--precision", prec, "--layers", layers,
            "--lr", "0.05", "--iterations", "25", "--init", "xavier"]
    if "scale" in pre:
        args += ["--scale", "0.00392156862745098"]
    if "standardize" in pre:
        args += ["--standardize"]
    R.run([R.args.train] + args, what="dnn-train")
    R.run([R.args.export, "--model", ck, "--onnx", model_path], what="dnn-export")
    ref = itest.predict_csv(R, R.args.predict, ck, data, R.path(name + ".csv"))
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    opset = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    require(opset and opset[0] >= 13, "default-domain opset %s, expected >= 13" % opset)
    g = model.graph
    nx, k = X.reshape(len(X), -1).shape[1], ref.shape[1]
    for vi, n in ((g.input, nx), (g.output, k)):
        require(len(vi) == 1, "%d graph inputs/outputs, expected 1" % len(vi))
        t = vi[0].type.tensor_type
        d = t.shape.dim
        require(t.elem_type == onnx.TensorProto.FLOAT, "%s is not float32" % vi[0].name)
        require(len(d) == 2 and d[0].dim_param and not d[0].HasField("dim_value") and d[1].dim_value == n,
                "%s has shape %s, expected (m, %d) with m dynamic" % (vi[0].name, d, n))
    inferred = shape_inference.infer_shapes(model, strict_mode=True)
    od = inferred.graph.output[0].type.tensor_type.shape.dim
    require(od[0].dim_param and od[1].dim_value == k, "inferred output shape %s" % od)
    ops = [n.op_type for n in g.node]
    require(("Mul" in ops) == ("scale" in pre), "Mul node %s for preprocessing %s" % ("present" if "Mul" in ops else "absent", pre))
    require(("Sub" in ops and "Div" in ops) == ("standardize" in pre), "Sub/Div nodes %s for %s" % (ops, pre))
    require(ops.count("Gemm") == len(layers.split(",")) + 1 if layers else ops.count("Gemm") == 1,
            "Gemm nodes: %s" % ops)
    meta = {p.key: p.value for p in model.metadata_props}
    with h5py.File(ck, "r") as f:
        a = f.attrs
        want = {"layer_dims": ",".join(str(int(v)) for v in a["layer_dims"]),
                "activations": attr_str(a["activations"]), "standardize": str(int(a["standardize"])),
                "precision": attr_str(a["precision"]), "iteration": str(int(a["iteration"]))}
        for key in ("leaky_slope", "scale"):
            require(key in meta and float(meta[key]) == float(a[key]), "metadata %s=%s, checkpoint %s" % (
                key, meta.get(key), a[key]))
    with open(ck, "rb") as f:
        want["source_sha256"] = hashlib.sha256(f.read()).hexdigest()
    want["dnn_version"] = project_version()
    bad = ["%s=%r (want %r)" % (key, meta.get(key), v) for key, v in want.items() if meta.get(key) != v]
    require(not bad, "metadata differs: " + "; ".join(bad))
    if hidden == "leaky_relu" and layers:
        alphas = [attrs(n)["alpha"] for n in g.node if n.op_type == "LeakyRelu"]
        require(alphas and all(abs(al - 0.2) < 1e-7 for al in alphas), "LeakyRelu alpha %s, expected 0.2" % alphas)
    Xr = X.reshape(len(X), -1).astype(np.float64)
    P = evaluate(model, Xr)
    d = float(np.max(np.abs(P.astype(np.float64) - ref)))
    require(P.shape == ref.shape, "graph output shape %s, dnn-predict %s" % (P.shape, ref.shape))
    require(d <= TOL, "numpy evaluation of the graph differs from dnn-predict by %.3g > %.0e" % (d, TOL))
    d7 = float(np.max(np.abs(evaluate(model, Xr[:7]).astype(np.float64) - ref[:7])))
    require(d7 <= TOL, "a batch of 7 differs by %.3g" % d7)
    print("# %s: %s, max |onnx - dnn-predict| = %.3g" % (name, " ".join(ops), d), flush=True)
    return d


def errors():
    runnable()
    missing = R.path("no-such-checkpoint.h5")
    p = subprocess.run([R.args.export, "--model", missing, "--onnx", R.path("x.onnx")], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, env=R.env, timeout=60)
    require(p.returncode == 1 and missing in p.stderr and len(p.stderr.strip().splitlines()) == 1,
            "missing checkpoint: exit %d, stderr %r" % (p.returncode, p.stderr))
    require(not os.path.exists(R.path("x.onnx")), "an ONNX file was written for a missing checkpoint")
    ck = R.path("t_sigmoid_none_single.ckpt.h5") if os.path.exists(R.path("t_sigmoid_none_single.ckpt.h5")) else None
    require(ck is not None, "no checkpoint from an earlier case")
    bad = R.path("no-such-dir", "m.onnx")
    p = subprocess.run([R.args.export, "--model", ck, "--onnx", bad], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=R.env, timeout=60)
    require(p.returncode == 1 and bad in p.stderr, "unwritable output: exit %d, stderr %r" % (p.returncode, p.stderr))
    require(not os.path.exists(bad + ".tmp"), "a .tmp file was left behind")
    p = subprocess.run([R.args.export, "--model", ck], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=R.env, timeout=60)
    require(p.returncode == 1 and "--onnx" in p.stderr, "without --onnx: exit %d, stderr %r" % (p.returncode, p.stderr))


worst = []
for o_i, out in enumerate(OUTPUTS):
    for h_i, hidden in enumerate(HIDDEN):
        pre = PREPROC[(h_i + o_i) % 3]
        prec = "double" if (h_i + o_i) % 2 else "single"
        nm = "t_%s_%s_%s" % (out, hidden, pre) if (out, hidden, pre) != ("sigmoid", "sigmoid", "none") else \
            "t_sigmoid_none_single"
        R.case("export_%s_out_%s_hidden_%s_%s" % (out, hidden, pre, prec), export_case, nm, hidden, out, pre, prec)
R.case("export_softmax_relu_scale_and_standardize", export_case, "t_both", "relu", "softmax",
       "scale+standardize", "single")
R.case("export_logistic_regression", export_case, "t_logreg", "relu", "sigmoid", "scale", "double", layers="")
R.case("export_deep", export_case, "t_deep", "tanh", "softmax", "standardize", "single",
       layers="9,8,7,6,5,6,7,8,9,10,11,12")
R.case("export_errors", errors)
R.finish()
