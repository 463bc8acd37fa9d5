#!/usr/bin/python3
"""Batch normalization training in numpy, written from the formulas alone.

The formulas (README, Batch normalization; the course 2, week 3 lectures):
hidden layer l, training step, over the step's whole batch of m examples
  Z = W[l] A[l-1]                  (no b[l]: beta takes its place)
  mu = (1/m) sum Z,  var = (1/m) sum (Z - mu)^2          (biased, two passes)
  Zn = (Z - mu) / sqrt(var + eps),  Zt = gamma Zn + beta,  A[l] = g(Zt)
and the output layer Z[L] = W[L] A[L-1] + b[L] as without batch norm.
Backward, per unit, with dZt the per-example gradients of the summed loss:
  dbeta = sum dZt,  dgamma = sum dZt Zn,
  dZ = gamma / (m sqrt(var + eps)) (m dZt - dbeta - Zn dgamma)
and every parameter's gradient is its sum over the batch divided by m.
gamma starts at 1, beta at 0; they are parameters like W (the optimizer's
moments, clipping) but L2 applies to W only.  Running statistics start at
mu = 0, var = 1 and after every training step become
  running = B running + (1 - B) batch   (B = --bn-momentum, var biased).
Evaluation uses them in place of the batch's.  Dropout (inverted) stays after
the activation: A[l] = g(Zt) D[l] / keep_prob, with the counter-based masks
of tests/ref/ref_dnn.py (keyed by step, layer and global example index).

  ref_bn.py selfcheck     backprop against central differences of the cost,
                          relu and tanh (with dropout), with L2: exit 0 when all agree
"""
import os
import sys

import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_dnn  # noqa: E402  (the dropout masks)


def act(name, z, slope=0.01):
    if name == "relu":
        return np.maximum(z, 0)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    return z


def act_grad(name, z, a, slope=0.01):
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "tanh":
        return 1 - a * a
    if name == "sigmoid":
        return a * (1 - a)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, slope)
    return np.ones_like(z)


def init(dims, seed, kind="he"):
    """np.random.seed(seed); W[l] = randn(n[l], n[l-1]) * scale for l = 1..L in
    order; b = 0; gamma = 1, beta = 0 on the hidden layers; running mu 0, var 1."""
    np.random.seed(seed)
    P, R = {}, {}
    L = len(dims) - 1
    for l in range(1, L + 1):
        scale = {"he": np.sqrt(2.0 / dims[l - 1]), "xavier": np.sqrt(1.0 / dims[l - 1]),
                 "sqrt": 1.0 / np.sqrt(dims[l - 1])}[kind]
        P["W%d" % l] = np.random.randn(dims[l], dims[l - 1]) * scale
    for l in range(1, L):
        P["gamma%d" % l] = np.ones((dims[l], 1))
        P["beta%d" % l] = np.zeros((dims[l], 1))
        R["mean%d" % l] = np.zeros((dims[l], 1))
        R["var%d" % l] = np.ones((dims[l], 1))
    P["b%d" % L] = np.zeros((dims[L], 1))
    return P, R


def n_layers(P):
    return sum(1 for k in P if k.startswith("W"))


def forward(P, X, hidden, eps, running=None, masks=None):
    """Returns (Z[L], cache).  running=None: the batch's statistics (training);
    else the running ones (evaluation).  masks[l] = D[l] / keep_prob."""
    L = n_layers(P)
    A, cache = X, []
    for l in range(1, L):
        Z = P["W%d" % l] @ A
        if running is None:
            mu = Z.mean(axis=1, keepdims=True)
            var = ((Z - mu) ** 2).mean(axis=1, keepdims=True)
        else:
            mu, var = running["mean%d" % l], running["var%d" % l]
        Zn = (Z - mu) / np.sqrt(var + eps)
        Zt = P["gamma%d" % l] * Zn + P["beta%d" % l]
        An = act(hidden, Zt)
        cache.append((A, Zn, Zt, An, mu, var))
        A = An if masks is None else An * masks[l]
    ZL = P["W%d" % L] @ A + P["b%d" % L]
    cache.append((A,))
    return ZL, cache


def bce(ZL, Y):
    """Mean binary cross-entropy from the logits (no log of 0)."""
    return float(np.mean(np.maximum(ZL, 0) - ZL * Y + np.log1p(np.exp(-np.abs(ZL)))))


def cost(P, X, Y, hidden, eps, l2=0.0, masks=None):
    m = X.shape[1]
    ZL, _ = forward(P, X, hidden, eps, masks=masks)
    J = bce(ZL, Y) * Y.shape[0]
    return J + l2 / (2 * m) * sum(np.sum(P[k] ** 2) for k in P if k.startswith("W"))


def backward(P, X, Y, hidden, eps, l2=0.0, masks=None):
    """(cost, gradients, the batch statistics per hidden layer)."""
    m = X.shape[1]
    L = n_layers(P)
    ZL, cache = forward(P, X, hidden, eps, masks=masks)
    J = bce(ZL, Y) * Y.shape[0] + l2 / (2 * m) * sum(np.sum(P["W%d" % l] ** 2) for l in range(1, L + 1))
    G = {}
    dZ = 1 / (1 + np.exp(-ZL)) - Y  # per example (sigmoid + cross-entropy)
    A_prev = cache[-1][0]
    G["W%d" % L] = dZ @ A_prev.T
    G["b%d" % L] = dZ.sum(axis=1, keepdims=True)
    dA = P["W%d" % L].T @ dZ
    stats = {}
    for l in range(L - 1, 0, -1):
        A_prev, Zn, Zt, An, mu, var = cache[l - 1]
        stats[l] = (mu, var)
        if masks is not None:
            dA = dA * masks[l]
        dZt = dA * act_grad(hidden, Zt, An)
        dbeta = dZt.sum(axis=1, keepdims=True)
        dgamma = (dZt * Zn).sum(axis=1, keepdims=True)
        dZ = P["gamma%d" % l] / (m * np.sqrt(var + eps)) * (m * dZt - dbeta - Zn * dgamma)
        G["gamma%d" % l], G["beta%d" % l] = dgamma, dbeta
        G["W%d" % l] = dZ @ A_prev.T
        if l > 1:
            dA = P["W%d" % l].T @ dZ
    for k in G:
        G[k] = G[k] / m
        if k.startswith("W"):
            G[k] = G[k] + l2 / m * P[k]
    return J, G, stats


class Optimizer:
    """gd, momentum or adam (t counts updates from 1), as the course's notebooks."""

    def __init__(self, name, lr, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.name, self.lr, self.b1, self.b2, self.eps = name, lr, beta1, beta2, epsilon
        self.v, self.s, self.t = {}, {}, 0

    def step(self, P, G):
        self.t += 1
        for k, g in G.items():
            if self.name == "gd":
                P[k] = P[k] - self.lr * g
                continue
            v = self.b1 * self.v.get(k, 0.0) + (1 - self.b1) * g
            self.v[k] = v
            if self.name == "momentum":
                P[k] = P[k] - self.lr * v
                continue
            s = self.b2 * self.s.get(k, 0.0) + (1 - self.b2) * g * g
            self.s[k] = s
            vh = v / (1 - self.b1 ** self.t)
            sh = s / (1 - self.b2 ** self.t)
            P[k] = P[k] - self.lr * vh / (np.sqrt(sh) + self.eps)


def numpy_order(m, seed):
    """The course's random_mini_batches order: np.random.seed(seed); permutation(m)."""
    np.random.seed(seed)
    return np.random.permutation(m)


def train(X, Y, dims, hidden, opt, steps, bn_momentum=0.9, eps=1e-5, l2=0.0, batch=0,
          seed=3, shuffle_seed=None, init_kind="he", noise=0.0, keep_prob=1.0):
    """steps training steps; batch 0 = full batch, else mini-batches of
    `batch` in the numpy order of epoch e = 1, 2, ... (seed shuffle_seed + e).
    Returns (step costs, parameters, running statistics).  noise > 0 multiplies
    every gradient by (1 + noise N(0,1)) (the conditioning probe)."""
    P, R = init(dims, seed, init_kind)
    m = X.shape[1]
    S = seed if shuffle_seed is None else shuffle_seed
    spe = 1 if batch == 0 else -(-m // batch)
    jitter = np.random.RandomState(12345)
    costs, perm = [], None
    for k in range(steps):
        if batch:
            e, j = k // spe, k % spe
            if j == 0:
                perm = numpy_order(m, (S + e + 1) % 2 ** 32)
            idx = perm[j * batch:(j + 1) * batch]
            Xb, Yb = X[:, idx], Y[:, idx]
        else:
            idx = np.arange(m)
            Xb, Yb = X, Y
        masks = None
        if keep_prob < 1:
            masks = ref_dnn.dropout_masks(dims, seed, k, idx, keep_prob)
        J, G, stats = backward(P, Xb, Yb, hidden, eps, l2, masks)
        costs.append(J)
        if noise:
            G = {q: g * (1 + noise * jitter.randn(*g.shape)) for q, g in G.items()}
        opt.step(P, G)
        for l, (mu, var) in stats.items():
            R["mean%d" % l] = bn_momentum * R["mean%d" % l] + (1 - bn_momentum) * mu
            R["var%d" % l] = bn_momentum * R["var%d" % l] + (1 - bn_momentum) * var
    return np.array(costs), P, R


def accuracy(P, R, X, Y, hidden, eps):
    """Accuracy with the running statistics (evaluation), threshold 0.5."""
    ZL, _ = forward(P, X, hidden, eps, running=R)
    return float(np.mean((ZL > 0) == (Y > 0.5)))


def selfcheck():
    """Backprop against central differences of the batch cost: every parameter,
    relu and tanh, with L2; also one training step moves the running statistics
    by (1 - B) (batch - running)."""
    rng = np.random.RandomState(5)
    X = rng.randn(3, 11)
    Y = (rng.rand(1, 11) > 0.5).astype(float)
    bad = 0
    for hidden in ("relu", "tanh"):
        P, _ = init([3, 5, 4, 1], 2, "xavier")
        for k in P:  # away from the defaults, so every term of dZ matters
            if k.startswith(("gamma", "beta", "b")):
                P[k] = P[k] + 0.3 * rng.randn(*P[k].shape)
        eps, l2, h = 1e-3, 0.2, 1e-6
        masks = ref_dnn.dropout_masks([3, 5, 4, 1], 9, 0, np.arange(11), 0.7) if hidden == "tanh" else None
        _, G, _ = backward(P, X, Y, hidden, eps, l2, masks)
        num, ana = [], []
        for k in sorted(P):
            for i in np.ndindex(P[k].shape):
                keep = P[k][i]
                P[k][i] = keep + h
                jp = cost(P, X, Y, hidden, eps, l2, masks)
                P[k][i] = keep - h
                jm = cost(P, X, Y, hidden, eps, l2, masks)
                P[k][i] = keep
                num.append((jp - jm) / (2 * h))
                ana.append(G[k][i])
        num, ana = np.array(num), np.array(ana)
        diff = np.linalg.norm(num - ana) / (np.linalg.norm(num) + np.linalg.norm(ana))
        ok = diff < 1e-7 and np.linalg.norm(ana) > 1e-3
        hidden = hidden + (" with dropout" if masks else "")
        print("%s gradient %s: difference %.2e over %d parameters" % ("PASS" if ok else "FAIL", hidden, diff, ana.size))
        bad += not ok
    _, _, R = train(X, Y, [3, 5, 4, 1], "relu", Optimizer("gd", 0.1), 1, bn_momentum=0.7, eps=1e-3)
    P, _ = init([3, 5, 4, 1], 3)
    Z1 = P["W1"] @ X
    want_mu = 0.3 * Z1.mean(axis=1, keepdims=True)
    want_var = 0.7 + 0.3 * Z1.var(axis=1, keepdims=True)
    ok = np.allclose(R["mean1"], want_mu, rtol=1e-14, atol=0) and np.allclose(R["var1"], want_var, rtol=1e-14, atol=0)
    print("%s running statistics after one step" % ("PASS" if ok else "FAIL"))
    bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["selfcheck"]:
        sys.exit(selfcheck())
    print(__doc__)
    sys.exit(2)
