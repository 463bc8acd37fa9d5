#!/usr/bin/python3
"""Helpers of the reliability scripts (data, references, checkpoint checks).

    relcheck.py classify OUT M N_X SEED      binary classification set train_x (M, N_X) f32, train_y (M,) u8
    relcheck.py regress OUT                  linear-regression set (600, 5) f32, train_y (600, 1) f32
    relcheck.py diverge DATA LR CSV ITER     check a diverged linear run against a float64 reference
    relcheck.py ckpt FILE [--iteration N] [--iteration-below N]
                                             validate a checkpoint (format, shapes, finite, iteration)
    relcheck.py same A B                     W/b datasets of two checkpoints are bitwise equal
    relcheck.py dump FILE                    print a digest of W/b (sha256 of the raw bytes)

Every check prints what it compared and exits 1 on a mismatch.
"""
import hashlib
import sys

import h5py
import numpy as np

FLT_MAX = float(np.finfo(np.float32).max)


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def cmd_classify(out, m, n_x, seed):
    rng = np.random.default_rng(int(seed))
    m, n_x = int(m), int(n_x)
    X = rng.standard_normal((m, n_x)).astype(np.float32)
    w = rng.standard_normal(n_x)
    Y = ((X @ w + 0.3 * rng.standard_normal(m)) > 0).astype(np.uint8)
    with h5py.File(out, "w") as f:
        f["train_x"] = X
        f["train_y"] = Y


def regress_data():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((600, 5)).astype(np.float32)
    w = np.array([1, -2, 0.5, 3, -1], np.float32)
    Y = (X @ w + 0.1 * rng.standard_normal(600)).astype(np.float32).reshape(-1, 1)
    return X, Y


def cmd_regress(out):
    X, Y = regress_data()
    with h5py.File(out, "w") as f:
        f["train_x"] = X
        f["train_y"] = Y


def cmd_diverge(data, lr, csv, reported):
    """Gradient descent on 0.5/m * sum((W x + b - y)^2), float64, from the
    --rng numpy --init he start (np.random.seed(1); randn(1, n_x) * sqrt(2/n_x)).
    dnn-train (float32) stops at the first iteration whose loss sum exceeds
    FLT_MAX: the reference must name the same iteration, and the costs that
    dnn-train recorded before it must agree with the reference to 1e-3
    relative (float32 arithmetic, amplified by the huge step)."""
    lr, reported = float(lr), int(reported)
    with h5py.File(data, "r") as f:
        X = f["train_x"][...].astype(np.float64)
        Y = f["train_y"][...].astype(np.float64).reshape(-1)
    m, n_x = X.shape
    np.random.seed(1)
    W = np.random.randn(1, n_x) * np.sqrt(2.0 / n_x)
    b = 0.0
    costs = []
    k_ref = None
    for k in range(1000):
        d = (X @ W[0] + b) - Y
        s = 0.5 * float(d @ d)
        if not np.isfinite(s) or s > FLT_MAX:
            k_ref = k
            break
        costs.append(s / m)
        W = W - lr * (d @ X / m)[None, :]
        b = b - lr * d.sum() / m
    print(f"reference: first non-finite float32 cost at iteration {k_ref}; dnn-train reported {reported}")
    if k_ref != reported:
        fail(f"dnn-train reported divergence at iteration {reported}, the reference at {k_ref}")
    rows = np.genfromtxt(csv, delimiter=",", names=True)
    rows = np.atleast_1d(rows)
    it, cost = rows["iteration"].astype(int), rows["cost"]
    if list(it) != list(range(k_ref)):
        fail(f"metrics rows are iterations {list(it)}, expected 0..{k_ref - 1}")
    if not np.all(np.isfinite(cost)):
        fail(f"a recorded cost is not finite: {cost}")
    rel = np.abs(cost - np.array(costs)) / np.abs(np.array(costs))
    print(f"recorded costs {cost.tolist()} vs reference {costs}: max relative difference {rel.max():.2e}")
    if rel.max() > 1e-3:
        fail("recorded costs differ from the reference by more than 1e-3 relative")


def params(f):
    L = len(f.attrs["layer_dims"]) - 1
    out = []
    for l in range(1, L + 1):
        out.append((f"W{l}", f[f"W{l}"][...]))
        out.append((f"b{l}", f[f"b{l}"][...]))
    return out


def cmd_ckpt(path, args):
    with h5py.File(path, "r") as f:
        fmt = f.attrs["format"]
        fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
        if fmt != "dnn-checkpoint":
            fail(f"{path}: format attribute is {fmt!r}")
        dims = [int(v) for v in f.attrs["layer_dims"]]
        it = int(f.attrs["iteration"])
        for l in range(1, len(dims)):
            W, b = f[f"W{l}"], f[f"b{l}"]
            if W.shape != (dims[l], dims[l - 1]) or b.shape != (dims[l], 1):
                fail(f"{path}: W{l} {W.shape} / b{l} {b.shape} do not match layer_dims {dims}")
        ps = params(f)
    for name, v in ps:
        if not np.all(np.isfinite(v)):
            fail(f"{path}: {name} holds non-finite values")
    print(f"{path}: format ok, layer_dims {dims}, iteration {it}, W/b finite")
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--iteration":
            want = int(args[i + 1])
            if it != want:
                fail(f"{path}: iteration {it}, expected {want}")
        elif a == "--iteration-below":
            lim = int(args[i + 1])
            if not 0 < it < lim:
                fail(f"{path}: iteration {it}, expected 0 < iteration < {lim}")
        else:
            fail(f"unknown argument {a}")
        i += 2


def digest(path):
    h = hashlib.sha256()
    with h5py.File(path, "r") as f:
        for name, v in params(f):
            h.update(name.encode())
            h.update(str(v.dtype).encode())
            h.update(np.ascontiguousarray(v).tobytes())
    return h.hexdigest()


def cmd_same(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        pa, pb = params(fa), params(fb)
    if [n for n, _ in pa] != [n for n, _ in pb]:
        fail(f"{a} and {b} hold different layers")
    worst = 0.0
    differ = []
    for (n, va), (_, vb) in zip(pa, pb):
        if va.dtype != vb.dtype or va.shape != vb.shape or va.tobytes() != vb.tobytes():
            differ.append(n)
            if va.shape == vb.shape:
                worst = max(worst, float(np.max(np.abs(va.astype(np.float64) - vb.astype(np.float64)))))
    if differ:
        fail(f"{a} vs {b}: {', '.join(differ)} differ (max |difference| {worst:.3g}); expected bitwise equal")
    print(f"{a} == {b}: W/b bitwise equal ({sum(v.size for _, v in pa)} values)")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    c, a = sys.argv[1], sys.argv[2:]
    if c == "classify":
        cmd_classify(*a)
    elif c == "regress":
        cmd_regress(*a)
    elif c == "diverge":
        cmd_diverge(*a)
    elif c == "ckpt":
        cmd_ckpt(a[0], a[1:])
    elif c == "same":
        cmd_same(*a)
    elif c == "dump":
        print(digest(a[0]))
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
