#!/usr/bin/python3
"""The course's Optimization notebook loop in numpy against dnn-train.

  course_minibatch.py --train PATH/dnn-train --workdir DIR [--launcher "mpiexec -n 3"]
                      [--epochs 40] [--tol 1e-9]

The reference is the notebook's model() written out again: He weights from
np.random.seed(3) (randn(n[l], n[l-1]) * sqrt(2 / n[l-1]), zero biases);
seed = 10 and, every epoch, seed = seed + 1 and random_mini_batches(X, Y, 64,
seed) (np.random.seed(seed); permutation = np.random.permutation(m); complete
batches of 64, then the partial rest); for each batch forward (relu, relu,
sigmoid), the cross-entropy, backward with dZ3 = (A3 - Y) / m_batch and
relu'(0) = 0, then the update: gd, momentum (v = beta v + (1-beta) dW) or Adam
(t += 1 per batch, bias-corrected moments, W -= lr v^ / (sqrt(s^) + eps)).
The data are two noisy interleaved half circles ("moons", 300 points),
made here with numpy.  The network is the notebook's [2, 5, 2, 1].

dnn-train runs the same with --rng numpy --seed 3 --shuffle-seed 10
--precision double --batch-size 64 --epochs E --print-every 1.  Asserted:
  - every recorded step cost (the batch's cost before its update) agrees
    with the reference's to |c - r| / |r| <= tol, and the epoch averages the
    notebook prints (sum of batch costs * batch size / m) follow;
  - the final W1..W3, b1..b3 of the checkpoint agree in max|P - R| / max|R|
    <= tol;
  - sensitivity: the reference with the epochs' seeds shifted by one (S + e - 1)
    must miss dnn by more than 1e-6, so the order is really checked;
  - conditioning: the reference rerun with 1e-15 relative noise on its
    gradients moves by at most 1e-11, far below tol;
  - resume (Adam): stopped mid-epoch after 123 steps and resumed, the run
    ends with the same bits as the straight one (the order depends only on
    the shuffle seed and the epoch).
Exit 0 when every optimizer passes, 1 otherwise.
"""
import argparse
import csv
import os
import shlex
import subprocess
import sys

import h5py
import numpy as np

DIMS = [2, 5, 2, 1]
BATCH = 64
INIT_SEED, SHUFFLE_SEED = 3, 10
# optimizer: (learning rate, extra dnn-train options)
CASES = {
    "gd": (0.05, []),
    "momentum": (0.05, ["--beta1", "0.9"]),
    "adam": (0.01, ["--beta1", "0.9", "--beta2", "0.999", "--epsilon", "1e-8"]),
}


def moons(m, noise, seed):
    """Two interleaved half circles with Gaussian noise, labels 0/1, shuffled."""
    rng = np.random.RandomState(seed)
    n_out = m // 2
    n_in = m - n_out
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    x = np.concatenate([np.cos(t_out), 1 - np.cos(t_in)])
    y = np.concatenate([np.sin(t_out), 1 - np.sin(t_in) - 0.5])
    X = np.vstack([x, y]) + noise * rng.randn(2, m)
    Y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    order = rng.permutation(m)
    return X[:, order], Y[order].reshape(1, m)


def init_params():
    np.random.seed(INIT_SEED)
    W, b = {}, {}
    for l in range(1, len(DIMS)):
        W[l] = np.random.randn(DIMS[l], DIMS[l - 1]) * np.sqrt(2 / DIMS[l - 1])
        b[l] = np.zeros((DIMS[l], 1))
    return W, b


def random_mini_batches(X, Y, size, seed):
    np.random.seed(seed)
    m = X.shape[1]
    perm = list(np.random.permutation(m))
    Xs, Ys = X[:, perm], Y[:, perm].reshape((1, m))
    out = []
    for k in range(0, m, size):
        out.append((Xs[:, k:k + size], Ys[:, k:k + size]))
    return out


def forward_backward(W, b, X, Y):
    m = X.shape[1]
    Z1 = W[1] @ X + b[1]
    A1 = np.maximum(0, Z1)
    Z2 = W[2] @ A1 + b[2]
    A2 = np.maximum(0, Z2)
    Z3 = W[3] @ A2 + b[3]
    A3 = 1 / (1 + np.exp(-Z3))
    cost = np.sum(-Y * np.log(A3) - (1 - Y) * np.log(1 - A3))
    dZ3 = (A3 - Y) / m
    g = {"W3": dZ3 @ A2.T, "b3": dZ3.sum(axis=1, keepdims=True)}
    dZ2 = (W[3].T @ dZ3) * (A2 > 0)
    g["W2"], g["b2"] = dZ2 @ A1.T, dZ2.sum(axis=1, keepdims=True)
    dZ1 = (W[2].T @ dZ2) * (A1 > 0)
    g["W1"], g["b1"] = dZ1 @ X.T, dZ1.sum(axis=1, keepdims=True)
    return cost, g


def model(X, Y, optimizer, lr, epochs, seed_shift=0, noise=0.0):
    """The notebook's loop; returns (batch costs (mean), batch sizes, W, b)."""
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    W, b = init_params()
    P = {**{"W%d" % l: W[l] for l in W}, **{"b%d" % l: b[l] for l in b}}
    v = {k: np.zeros_like(p) for k, p in P.items()}
    s = {k: np.zeros_like(p) for k, p in P.items()}
    t = 0
    seed = SHUFFLE_SEED + seed_shift
    jitter = np.random.RandomState(99)
    costs, sizes = [], []
    for _ in range(epochs):
        seed = seed + 1
        for bx, by in random_mini_batches(X, Y, BATCH, seed):
            cost, g = forward_backward(W, b, bx, by)
            costs.append(cost / bx.shape[1])
            sizes.append(bx.shape[1])
            if noise:
                g = {k: d * (1 + noise * jitter.randn(*d.shape)) for k, d in g.items()}
            t += 1
            for k, p in P.items():
                if optimizer == "gd":
                    p -= lr * g[k]
                elif optimizer == "momentum":
                    v[k] = beta1 * v[k] + (1 - beta1) * g[k]
                    p -= lr * v[k]
                else:
                    v[k] = beta1 * v[k] + (1 - beta1) * g[k]
                    s[k] = beta2 * s[k] + (1 - beta2) * g[k] ** 2
                    vh = v[k] / (1 - beta1 ** t)
                    sh = s[k] / (1 - beta2 ** t)
                    p -= lr * vh / (np.sqrt(sh) + eps)
    return np.array(costs), np.array(sizes), P


def rel_params(P, R):
    return max(np.max(np.abs(P[k] - R[k])) / np.max(np.abs(R[k])) for k in R)


def rel_costs(c, r):
    return float(np.max(np.abs(c - r) / np.abs(r)))


def run_dnn(a, data, opt, lr, extra, work, tag="", stop=0):
    metrics = os.path.join(work, "course_%s%s.csv" % (opt, tag))
    ckpt = os.path.join(work, "course_%s%s.h5" % (opt, tag))
    cmd = shlex.split(a.launcher) + [
        a.train, "--data", data, "--x", "X", "--y", "Y", "--layers", "5,2",
        "--hidden-activation", "relu", "--output", "sigmoid", "--init", "he",
        "--rng", "numpy", "--seed", str(INIT_SEED), "--shuffle-seed", str(SHUFFLE_SEED),
        "--precision", "double", "--batch-size", str(BATCH), "--epochs", str(a.epochs),
        "--optimizer", opt, "--lr", repr(lr), "--print-every", "1",
        "--metrics", metrics, "--checkpoint", ckpt, "--quiet"] + extra
    runs = [cmd]
    if stop:  # the same run stopped after `stop` steps, then resumed
        runs = [cmd[:cmd.index("--epochs")] + ["--iterations", str(stop)] + cmd[cmd.index("--epochs") + 2:],
                cmd + ["--resume"]]
    for c in runs:
        p = subprocess.run(c, capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise RuntimeError("dnn-train exited %d: %s" % (p.returncode, p.stderr.strip()[-500:]))
    with open(metrics) as f:
        rows = list(csv.DictReader(f))
    it = np.array([int(r["iteration"]) for r in rows])
    cost = np.array([float(r["cost"]) for r in rows])
    with h5py.File(ckpt, "r") as f:
        P = {"%s%d" % (n, l): f["%s%d" % (n, l)][:] for n in "Wb" for l in range(1, len(DIMS))}
    return it, cost, P


def check(a, X, Y, data, opt, work):
    lr, extra = CASES[opt]
    costs, sizes, R = model(X, Y, opt, lr, a.epochs)
    steps = len(costs)
    it, cost, P = run_dnn(a, data, opt, lr, extra, work)
    keep = it < steps  # the rows of steps 0..steps-1 (a closing record may follow)
    if not np.array_equal(it[keep], np.arange(steps)):
        return "records %s..., expected every step 0..%d" % (list(it[:5]), steps - 1)
    c = cost[keep]
    ec = rel_costs(c, costs)
    ep = rel_params(P, R)
    m = X.shape[1]
    spe = -(-m // BATCH)
    avg_dnn = (c * sizes).reshape(-1, spe).sum(axis=1) / m
    avg_ref = (costs * sizes).reshape(-1, spe).sum(axis=1) / m
    shifted, _, Rs = model(X, Y, opt, lr, a.epochs, seed_shift=-1)
    miss = max(rel_costs(c, shifted), rel_params(P, Rs))
    _, _, Rn = model(X, Y, opt, lr, a.epochs, noise=1e-15)
    probe = rel_params(Rn, R)
    fell = avg_ref[-1] < 0.95 * avg_ref[0]
    resumed = True
    if opt == "adam":
        _, _, Q = run_dnn(a, data, opt, lr, extra, work, "_resumed", 123)
        resumed = all(np.array_equal(Q[k], P[k]) for k in P)
        if not resumed:
            print("FAIL adam: stopped at step 123 and resumed, the parameters differ from the straight run's")
    ok = ec <= a.tol and ep <= a.tol and miss > 1e-6 and probe <= 1e-11 and fell and resumed
    print("%s %-8s steps=%d cost_rel=%.2e params_rel=%.2e epoch_cost %.6f -> %.6f (ref %.6f) "
          "shifted_seeds_miss=%.1e probe=%.1e"
          % ("PASS" if ok else "FAIL", opt, steps, ec, ep, avg_dnn[0], avg_dnn[-1], avg_ref[-1], miss, probe))
    if not fell:
        return "the reference's cost did not fall by 5%"
    return None if ok else "out of tolerance"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--train", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--launcher", default="")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--tol", type=float, default=1e-9)
    a = p.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    X, Y = moons(300, 0.2, 3)
    data = os.path.join(a.workdir, "moons.h5")
    with h5py.File(data, "w") as f:
        f["X"] = X.T.copy()  # examples-first (m, 2)
        f["Y"] = Y.reshape(-1)
    failed = 0
    for opt in CASES:
        try:
            err = check(a, X, Y, data, opt, a.workdir)
        except (RuntimeError, OSError, KeyError, ValueError, subprocess.TimeoutExpired) as e:
            err = str(e)
        if err:
            print("FAIL %s: %s" % (opt, err))
            failed += 1
    print("%d passed, %d failed" % (len(CASES) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
