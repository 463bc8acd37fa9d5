#!/usr/bin/python3
"""dnn-train --batch-norm against the numpy reference (tests/ref/ref_bn.py).

  compare_bn.py --train PATH/dnn-train --workdir DIR [--launcher "mpiexec -n 3 ..."]
                [--case NAME ...] [--deterministic] [--tol 1e-9]

For each case both train the same network ([4, 8, 6, 1], sigmoid output,
He weights from np.random.seed(3)) on the same 250 examples for 300 steps,
dnn-train with --precision double --rng numpy --batch-norm (full batch, or
--batch-size 64 in the course's numpy order: epoch e uses
np.random.seed(3 + e); np.random.permutation(250), the last batch 58),
gd and Adam, relu and tanh, L2, dropout (--keep-prob: the masks after the
activation, from tests/ref/ref_dnn.py's counter-based generator).
Asserted per case:
  - every step's recorded cost (the batch's, before its update, with the
    batch's statistics; L2 term included) agrees: |c - r| / |r| <= tol;
  - the checkpoint's W1..W3, b3, gamma1, gamma2, beta1, beta2 and the running
    statistics bn/mean1, bn/mean2, bn/var1, bn/var2 agree with the
    reference's in max|P - R| / max|R| <= tol; a b1, b2 (dropped on the
    batch-norm layers) is all zeros if stored;
  - the final line's train_accuracy is the reference's accuracy with the
    running statistics (printed to 6 decimals);
  - guards: the reference's cost fell by 5%; the running statistics moved
    away from (0, 1); with 1e-15 relative noise on the reference's
    gradients nothing moves by more than 1e-11 (so tol is far above what
    rounding can explain).
Exit 0 when every case passes.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys

import h5py
import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_bn  # noqa: E402

DIMS = [4, 8, 6, 1]
M, STEPS, SEED = 250, 300, 3
# name: (hidden, optimizer, lr, batch, bn_momentum, bn_epsilon, l2, keep_prob)
CASES = {
    "fb_gd_relu": ("relu", "gd", 0.1, 0, 0.9, 1e-5, 0.0, 1.0),
    "fb_adam_tanh": ("tanh", "adam", 0.003, 0, 0.8, 1e-3, 0.0, 1.0),
    "mb_gd_relu": ("relu", "gd", 0.05, 64, 0.9, 1e-5, 0.0, 1.0),
    "mb_adam_relu_l2": ("relu", "adam", 0.003, 64, 0.95, 1e-4, 0.5, 1.0),
    "mb_adam_dropout": ("relu", "adam", 0.003, 64, 0.9, 1e-5, 0.0, 0.8),
}


def make_data(m, seed):
    rng = np.random.RandomState(seed)
    X = rng.randn(4, m) * np.array([[1.0], [2.0], [0.5], [3.0]]) + np.array([[0.5], [-1.0], [0.0], [2.0]])
    Y = ((X[0] * X[1] + np.sin(2 * X[2]) + 0.3 * X[3] + 0.3 * rng.randn(m)) > 0).astype(float).reshape(1, m)
    return X, Y


def rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def run_dnn(a, data, name, case, work):
    hidden, opt, lr, batch, bm, be, l2, kp = case
    metrics = os.path.join(work, name + ".csv")
    ckpt = os.path.join(work, name + ".h5")
    cmd = shlex.split(a.launcher) + [
        a.train, "--data", data, "--x", "X", "--y", "Y", "--layers", "8,6",
        "--hidden-activation", hidden, "--output", "sigmoid", "--init", "he",
        "--rng", "numpy", "--seed", str(SEED), "--precision", "double",
        "--iterations", str(STEPS), "--optimizer", opt, "--lr", repr(lr),
        "--batch-norm", "--bn-momentum", repr(bm), "--bn-epsilon", repr(be),
        "--print-every", "1", "--metrics", metrics, "--checkpoint", ckpt, "--quiet"]
    if batch:
        cmd += ["--batch-size", str(batch)]
    if l2:
        cmd += ["--l2", repr(l2)]
    if kp < 1:
        cmd += ["--keep-prob", repr(kp)]
    if a.deterministic:
        cmd += ["--deterministic"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("dnn-train exited %d: %s" % (p.returncode, p.stderr.strip()[-600:]))
    final = re.search(r"^final .*train_accuracy=([0-9.]+)", p.stdout, re.M)
    rows = np.genfromtxt(metrics, delimiter=",", names=True)
    with h5py.File(ckpt, "r") as f:
        P = {k: f[k][:] for k in f if re.fullmatch(r"(W|b|gamma|beta)\d+", k)}
        bn = f["bn"] if "bn" in f else {}
        R = {k: bn[k][:] for k in bn}
    return rows["iteration"].astype(int), rows["cost"], P, R, final and float(final.group(1))


def check(a, X, Y, data, name, work):
    hidden, opt, lr, batch, bm, be, l2, kp = case = CASES[name]

    def ref(noise=0.0):
        return ref_bn.train(X, Y, DIMS, hidden, ref_bn.Optimizer(opt, lr), STEPS, bn_momentum=bm, eps=be,
                            l2=l2, batch=batch, seed=SEED, noise=noise, keep_prob=kp)

    costs, RP, RR = ref()
    _, NP, NR = ref(1e-15)
    probe = max(max(rel(NP[k], RP[k]) for k in RP), max(rel(NR[k], RR[k]) for k in RR))
    it, c, P, R, acc = run_dnn(a, data, name, case, work)
    keep = it < STEPS
    errs = []
    if not np.array_equal(it[keep], np.arange(STEPS)):
        errs.append("records %s..., expected every step 0..%d" % (list(it[:4]), STEPS - 1))
        ec = np.inf
    else:
        ec = float(np.max(np.abs(c[keep] - costs) / np.abs(costs)))
    L = len(DIMS) - 1
    for l in range(1, L):
        b = P.pop("b%d" % l, None)
        if b is not None and np.any(b != 0):
            errs.append("b%d of a batch-norm layer is stored non-zero" % l)
    missing = sorted(set(RP) - set(P)) + sorted(set(RR) - set(R))
    if missing:
        errs.append("checkpoint lacks %s" % ", ".join(missing))
        ep = np.inf
    else:
        ep = max(max(rel(P[k], RP[k]) for k in RP), max(rel(R[k], RR[k]) for k in RR))
    want_acc = ref_bn.accuracy(RP, RR, X, Y, hidden, be)
    if acc is None or abs(acc - want_acc) > 6e-7:
        errs.append("final train_accuracy %s, the reference's with the running statistics %.6f" % (acc, want_acc))
    moved = min(np.max(np.abs(RR["mean%d" % l])) for l in range(1, L)) > 1e-3 and \
        min(np.max(np.abs(RR["var%d" % l] - 1)) for l in range(1, L)) > 1e-3
    fell = costs[-1] < 0.95 * costs[0]
    if not (ec <= a.tol and ep <= a.tol):
        errs.append("out of tolerance %g" % a.tol)
    if probe > 1e-11 or not moved or not fell:
        errs.append("case badly conditioned or inert (probe %.1e, stats moved %s, cost fell %s)" % (probe, moved, fell))
    print("%s %-16s cost_rel=%.2e params_rel=%.2e cost %.6f -> %.6f acc=%s probe=%.1e%s"
          % ("FAIL" if errs else "PASS", name, ec, ep, costs[0], costs[-1], acc, probe,
             "; " + "; ".join(errs) if errs else ""))
    return not errs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--train", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--launcher", default="")
    p.add_argument("--case", action="append", choices=sorted(CASES))
    p.add_argument("--deterministic", action="store_true")
    p.add_argument("--tol", type=float, default=1e-9)
    a = p.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    X, Y = make_data(M, 7)
    data = os.path.join(a.workdir, "bn_data.h5")
    with h5py.File(data, "w") as f:
        f["X"] = X.T.copy()
        f["Y"] = Y.reshape(-1)
    passed = failed = 0
    for name in a.case or CASES:
        try:
            ok = check(a, X, Y, data, name, a.workdir)
        except (RuntimeError, OSError, KeyError, ValueError, subprocess.TimeoutExpired) as e:
            print("FAIL %-16s %s" % (name, e))
            ok = False
        passed += ok
        failed += not ok
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
