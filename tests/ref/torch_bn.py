#!/usr/bin/python3
"""dnn-train --batch-norm against PyTorch's BatchNorm1d, full batch.

  torch_bn.py --train PATH/dnn-train --workdir DIR [--launcher "mpiexec -n 3 ..."] [--tol 1e-9]

PyTorch in float64: Linear(bias=False) -> BatchNorm1d(n, eps=E, momentum=1-B)
-> activation on each hidden layer, Linear(bias=True) at the output,
BCEWithLogitsLoss (the mean), torch.optim.SGD or Adam, in training mode, for
100 full-batch steps from the same numpy weights (np.random.seed(3), He).
dnn-train runs --precision double --rng numpy --seed 3 --init he --batch-norm
--bn-momentum B --bn-epsilon E.  Asserted:
  - the cost of every step (before its update) agrees: |c - t| / |t| <= tol;
  - the final W, gamma, beta and the running mean agree in max|P - T| / max|T|
    <= tol, and the running variance once PyTorch's unbiased batch variances
    are made biased: dnn's = B^k + (torch's - B^k) (m-1)/m after k steps
    (the initial 1 is not rescaled).
Exits 77 (a skip) when torch cannot be imported; 0 when all agree, else 1.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys

import h5py
import numpy as np

try:
    import torch
except ImportError:
    print("SKIP: python3 cannot import torch (Debian: python3-torch)")
    sys.exit(77)

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_bn  # noqa: E402  (the data set)
import ref_bn  # noqa: E402  (the numpy initial weights)

DIMS = [4, 8, 6, 1]
STEPS, SEED, M = 100, 3, 250
# name: (hidden, optimizer, lr, bn_momentum, bn_epsilon)
CASES = {
    "torch_gd_relu": ("relu", "gd", 0.1, 0.9, 1e-5),
    "torch_adam_tanh": ("tanh", "adam", 0.003, 0.8, 1e-3),
}


def torch_run(X, Y, hidden, opt, lr, bm, be):
    torch.set_num_threads(1)
    P0, _ = ref_bn.init(DIMS, SEED, "he")
    L = len(DIMS) - 1
    layers = []
    for l in range(1, L + 1):
        lin = torch.nn.Linear(DIMS[l - 1], DIMS[l], bias=(l == L)).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(P0["W%d" % l]))
            if l == L:
                lin.bias.zero_()
        layers.append(lin)
        if l < L:
            layers.append(torch.nn.BatchNorm1d(DIMS[l], eps=be, momentum=1 - bm).double())
            layers.append(torch.nn.ReLU() if hidden == "relu" else torch.nn.Tanh())
    net = torch.nn.Sequential(*layers)
    net.train()
    if opt == "gd":
        o = torch.optim.SGD(net.parameters(), lr=lr)
    else:
        o = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
    x = torch.from_numpy(X.T.copy())
    y = torch.from_numpy(Y.T.copy())
    loss_fn = torch.nn.BCEWithLogitsLoss()
    costs = []
    for _ in range(STEPS):
        o.zero_grad()
        loss = loss_fn(net(x), y)
        costs.append(loss.item())
        loss.backward()
        o.step()
    T = {}
    lins = [m for m in net if isinstance(m, torch.nn.Linear)]
    bns = [m for m in net if isinstance(m, torch.nn.BatchNorm1d)]
    for l, lin in enumerate(lins, 1):
        T["W%d" % l] = lin.weight.detach().numpy().copy()
    T["b%d" % L] = lins[-1].bias.detach().numpy().reshape(-1, 1).copy()
    R = {}
    m = X.shape[1]
    for l, bn in enumerate(bns, 1):
        T["gamma%d" % l] = bn.weight.detach().numpy().reshape(-1, 1).copy()
        T["beta%d" % l] = bn.bias.detach().numpy().reshape(-1, 1).copy()
        R["mean%d" % l] = bn.running_mean.numpy().reshape(-1, 1).copy()
        start = bm ** STEPS
        R["var%d" % l] = start + (bn.running_var.numpy().reshape(-1, 1) - start) * (m - 1) / m
    return np.array(costs), T, R


def run_dnn(a, data, name, hidden, opt, lr, bm, be):
    metrics = os.path.join(a.workdir, name + ".csv")
    ckpt = os.path.join(a.workdir, name + ".h5")
    cmd = shlex.split(a.launcher) + [
        a.train, "--data", data, "--x", "X", "--y", "Y", "--layers", "8,6",
        "--hidden-activation", hidden, "--output", "sigmoid", "--init", "he",
        "--rng", "numpy", "--seed", str(SEED), "--precision", "double",
        "--iterations", str(STEPS), "--optimizer", opt, "--lr", repr(lr),
        "--batch-norm", "--bn-momentum", repr(bm), "--bn-epsilon", repr(be),
        "--print-every", "1", "--metrics", metrics, "--checkpoint", ckpt, "--quiet"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("dnn-train exited %d: %s" % (p.returncode, p.stderr.strip()[-600:]))
    rows = np.genfromtxt(metrics, delimiter=",", names=True)
    with h5py.File(ckpt, "r") as f:
        P = {k: f[k][:] for k in f if re.fullmatch(r"(W|b|gamma|beta)\d+", k)}
        R = {k: f["bn"][k][:] for k in f["bn"]} if "bn" in f else {}
    return rows["iteration"].astype(int), rows["cost"], P, R


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--train", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--launcher", default="")
    p.add_argument("--tol", type=float, default=1e-9)
    a = p.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    X, Y = compare_bn.make_data(M, 7)
    data = os.path.join(a.workdir, "bn_data.h5")
    with h5py.File(data, "w") as f:
        f["X"] = X.T.copy()
        f["Y"] = Y.reshape(-1)
    failed = 0
    for name, (hidden, opt, lr, bm, be) in CASES.items():
        try:
            tc, T, TR = torch_run(X, Y, hidden, opt, lr, bm, be)
            it, c, P, R = run_dnn(a, data, name, hidden, opt, lr, bm, be)
            keep = it < STEPS
            if not np.array_equal(it[keep], np.arange(STEPS)):
                raise ValueError("records %s..., expected every step 0..%d" % (list(it[:4]), STEPS - 1))
            ec = float(np.max(np.abs(c[keep] - tc) / np.abs(tc)))
            missing = sorted(set(T) - set(P)) + sorted(set(TR) - set(R))
            if missing:
                raise KeyError("checkpoint lacks %s" % ", ".join(missing))
            ep = max(compare_bn.rel(P[k], T[k]) for k in T)
            er = max(compare_bn.rel(R[k], TR[k]) for k in TR)
            ok = ec <= a.tol and ep <= a.tol and er <= a.tol and tc[-1] < 0.95 * tc[0]
            print("%s %-16s cost_rel=%.2e params_rel=%.2e running_rel=%.2e cost %.6f -> %.6f"
                  % ("PASS" if ok else "FAIL", name, ec, ep, er, tc[0], tc[-1]))
        except (RuntimeError, OSError, KeyError, ValueError, subprocess.TimeoutExpired) as e:
            print("FAIL %-16s %s" % (name, e))
            ok = False
        failed += not ok
    print("%d passed, %d failed" % (len(CASES) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
