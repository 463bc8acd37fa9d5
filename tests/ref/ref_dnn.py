#!/usr/bin/python3
"""Independent float64 numpy reference of the course's L-layer network.

This file shares no code with dnn: it re-derives everything from the course
notation (examples are columns, W[l] is (n[l], n[l-1]), b[l] is (n[l], 1)) so
that dnn-train can be checked against it.  Full batch or mini-batches
(--batch-size B: with --rng numpy, the course's per-epoch order,
np.random.seed(seed + e); permutation(m) for epoch e = 1, 2, ...; the last
batch of an epoch may be partial and is averaged over its own size), and the optimizers, L2, clipping and
learning-rate schedules of README, Course 2: optimizers, regularization, schedules, dev sets (written from those rules alone).

  ref_dnn.py --data f.h5 --x train_x --y train_y --layers 7,5 \
      --hidden-activation tanh --output sigmoid --init he --seed 3 \
      --lr 0.1 --iterations 500 --print-every 100 --out ref.npz

The .npz (or .h5, chosen by the extension of --out) holds:
  iterations (int64[k])  recorded iterations: 0, K, 2K, ... and always N-1
  costs      (float64[k]) cost of the parameters before that update, over the
                          step's batch, with the L2 term when --l2 is given
  accuracies (float64[k]) accuracy of the step's batch before that update
  total      (int64)      steps run (--iterations, or --epochs x steps per epoch)
  layer_dims (int64[L+1]) n[0..L]
  W1..WL (n[l], n[l-1]), b1..bL (n[l], 1)  parameters after N updates
  train_accuracy (float64) with the final parameters (NaN for regression)
  test_accuracy (float64)  the same on --test, when given
  v_dW1.., s_dW1.. (and db)  the optimizer's moments; adam_t the update count
  clipped_steps (int64)    steps whose gradient norm exceeded --clip-norm
The last stdout line mirrors dnn-train's: `final iterations=N cost=... ...`.

Only the option names of dnn-train are borrowed; the defaults here are
spelled out explicitly, so a test states every hyperparameter it relies on.
"""
import argparse
import os
import sys

import h5py
import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_rng import dropout_uniforms, held_out  # noqa: E402


# ---------------------------------------------------------------- data

def read_set(path, xname, yname, layout, scale, output, threshold):
    """Return X (n_x, m) float64 and Y: (1, m) 0/1 for sigmoid, (m,) int class
    ids for softmax, (n_y, m) float64 for linear."""
    with h5py.File(path, "r") as f:
        X = np.asarray(f[xname][...], dtype=np.float64)
        y = np.asarray(f[yname][...])
    if layout == "examples-first":
        m = X.shape[0]
        X = X.reshape(m, -1).T
    else:
        m = X.shape[-1]
        X = X.reshape(-1, m)
    X = X * scale

    if output == "linear":
        if layout == "examples-first":
            if y.ndim == 1:
                Y = y.reshape(1, -1)
            elif y.shape[0] == m:
                Y = y.reshape(m, -1).T
            else:
                Y = y.reshape(-1, m)
        else:
            Y = y.reshape(-1, m)
        Y = Y.astype(np.float64)
    else:
        if y.size != m or (y.ndim == 2 and 1 not in y.shape) or y.ndim > 2:
            raise SystemExit("ref_dnn: labels %s of shape %s do not match m=%d"
                             % (yname, y.shape, m))
        y = y.reshape(-1)
        if threshold is not None:
            y = (y >= threshold)
        if output == "sigmoid":
            Y = y.astype(np.float64).reshape(1, m)
            if not np.all((Y == 0) | (Y == 1)):
                raise SystemExit("ref_dnn: binary labels must be 0/1")
        else:
            Y = y.astype(np.int64)
    if Y.shape[-1] != m:
        raise SystemExit("ref_dnn: X has %d examples, Y has %d" % (m, Y.shape[-1]))
    return X, Y


# ---------------------------------------------------------- activations

def sigmoid(z):
    # exp of a non-positive number only: no overflow for large |z|
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def act_forward(name, z, slope):
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "linear":
        return z.copy()
    raise ValueError(name)


def act_derivative(name, z, a, slope):
    """g'(z); relu'(0) = 0 and leaky'(0) = slope, as the contract fixes."""
    if name == "sigmoid":
        return a * (1.0 - a)
    if name == "tanh":
        return 1.0 - a * a
    if name == "relu":
        return (z > 0).astype(np.float64)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, slope)
    if name == "linear":
        return np.ones_like(z)
    raise ValueError(name)


# ------------------------------------------------------- output / loss

def output_forward(output, z):
    if output == "sigmoid":
        return sigmoid(z)
    if output == "softmax":
        e = np.exp(z - z.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)
    return z.copy()


def cost_of(output, zL, aL, Y, m):
    """Cost from Z[L] where a log is involved, so it never sees log(0)."""
    if output == "sigmoid":
        # -[y log s(z) + (1-y) log(1-s(z))] = max(z,0) - y z + log(1+exp(-|z|))
        return float(np.sum(np.maximum(zL, 0.0) - Y * zL
                            + np.log1p(np.exp(-np.abs(zL)))) / m)
    if output == "softmax":
        zmax = zL.max(axis=0)
        lse = zmax + np.log(np.sum(np.exp(zL - zmax), axis=0))
        return float(np.sum(lse - zL[Y, np.arange(m)]) / m)
    d = aL - Y
    return float(np.sum(d * d) / (2.0 * m))


def output_dZ(output, aL, Y, m):
    """dZ[L] = (A[L] - Y) / m for all three output/loss pairs."""
    if output == "softmax":
        T = np.zeros_like(aL)
        T[Y, np.arange(m)] = 1.0
        return (aL - T) / m
    return (aL - Y) / m


def accuracy_of(output, aL, Y):
    if output == "sigmoid":
        return float(np.mean((aL > 0.5).astype(np.float64) == Y))
    if output == "softmax":
        return float(np.mean(np.argmax(aL, axis=0) == Y))
    return float("nan")


# --------------------------------------------------------------- model

def init_params(dims, init, scale, seed):
    """np.random.seed(S) then randn(n[l], n[l-1]) for l = 1..L, times a factor."""
    np.random.seed(seed)
    W, b = [None], [None]
    for l in range(1, len(dims)):
        if init == "zeros":
            Wl = np.zeros((dims[l], dims[l - 1]))
        else:
            factor = {"normal": scale,
                      "sqrt": 1.0 / np.sqrt(dims[l - 1]),
                      "he": np.sqrt(2.0 / dims[l - 1]),
                      "xavier": np.sqrt(1.0 / dims[l - 1])}[init]
            Wl = np.random.randn(dims[l], dims[l - 1]) * factor
        W.append(Wl)
        b.append(np.zeros((dims[l], 1)))
    return W, b


def forward(W, b, X, hidden, output, slope, masks=None):
    """masks[l] (hidden layers) = D[l] / keep_prob: inverted dropout,
    A[l] = g(Z[l]) * D[l] / keep_prob; A[l] is what layer l+1 reads."""
    L = len(W) - 1
    A, Z = [X], [None]
    for l in range(1, L + 1):
        z = W[l] @ A[l - 1] + b[l]
        a = act_forward(hidden, z, slope) if l < L else output_forward(output, z)
        if masks is not None and l < L:
            a = a * masks[l]
        Z.append(z)
        A.append(a)
    return Z, A


def backward(W, Z, A, Y, hidden, output, slope, m, masks=None):
    """With masks: dA[l] = dA[l] * D[l] / keep_prob, then times g'(Z[l]) of
    the undropped activation."""
    L = len(W) - 1
    dW, db = [None] * (L + 1), [None] * (L + 1)
    dZ = output_dZ(output, A[L], Y, m)      # already carries the 1/m
    for l in range(L, 0, -1):
        dW[l] = dZ @ A[l - 1].T
        db[l] = np.sum(dZ, axis=1, keepdims=True)
        if l > 1:
            dA = W[l].T @ dZ
            a = A[l - 1]
            if masks is not None:
                dA = dA * masks[l - 1]
                a = act_forward(hidden, Z[l - 1], slope)
            dZ = dA * act_derivative(hidden, Z[l - 1], a, slope)
    return dW, db


def dropout_masks(dims, seed, step, examples, keep_prob):
    """D[l] / keep_prob for the hidden layers, from the counter-based uniforms
    U(seed, k, l, g, i) of include/dnn/rng.h (reimplemented in ref_rng)."""
    L = len(dims) - 1
    return [None] + [(dropout_uniforms(seed, step, l, examples, dims[l]) < keep_prob)
                     / keep_prob for l in range(1, L)]


# ------------------------------------------------ optimizers (README, Course 2: optimizers, regularization, schedules, dev sets)

def learning_rate(a, k, epoch, total):
    """alpha for step k (from 0) in epoch `epoch` = k // steps_per_epoch."""
    a0, R = a.lr, a.decay_rate
    if a.lr_decay == "none":
        return a0
    if a.lr_decay == "inverse":
        return a0 / (1.0 + R * epoch)
    if a.lr_decay == "exponential":
        return a0 * R ** epoch
    if a.lr_decay == "step":
        return a0 / (1.0 + R * (epoch // a.decay_every))
    if a.lr_decay == "cosine":
        return a0 * (1.0 + np.cos(np.pi * k / total)) / 2.0
    raise ValueError(a.lr_decay)


class Optimizer:
    """The course 2 update rules, one moment pair per parameter array.

    State is a list over the parameter arrays [W1, b1, W2, b2, ...]; t counts
    the updates so far (Adam's bias correction uses t from 1)."""

    def __init__(self, a, params):
        self.a = a
        self.v = [np.zeros_like(p) for p in params]
        self.s = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, params, grads, is_weight, alpha):
        a, name = self.a, self.a.optimizer
        b1, b2, eps = a.beta1, a.beta2, a.epsilon
        self.t += 1
        out = []
        for i, (P, G) in enumerate(zip(params, grads)):
            if name == "gd":
                P = P - alpha * G
            elif name == "momentum":
                self.v[i] = b1 * self.v[i] + (1.0 - b1) * G
                P = P - alpha * self.v[i]
            elif name == "rmsprop":
                self.s[i] = b2 * self.s[i] + (1.0 - b2) * G * G
                P = P - alpha * G / (np.sqrt(self.s[i]) + eps)
            elif name in ("adam", "adamw"):
                self.v[i] = b1 * self.v[i] + (1.0 - b1) * G
                self.s[i] = b2 * self.s[i] + (1.0 - b2) * G * G
                vhat = self.v[i] / (1.0 - b1 ** self.t)
                shat = self.s[i] / (1.0 - b2 ** self.t)
                P = P - alpha * vhat / (np.sqrt(shat) + eps)
                if name == "adamw" and is_weight[i]:
                    P = P - alpha * a.weight_decay * P  # decoupled, after adam
            else:
                raise ValueError(name)
            out.append(P)
        return out


def regularized_grads(W, b, dW, db, a, mb, stats=None):
    """L2 (dW += lambda/m W, biases untouched), then clipping by the global
    2-norm over every dW and db.  Returns the flat list [dW1, db1, ...]."""
    L = len(W) - 1
    grads = []
    for l in range(1, L + 1):
        g = dW[l] + (a.l2 / mb) * W[l] if a.l2 else dW[l]
        grads += [g, db[l]]
    if a.clip_norm > 0:
        norm = np.sqrt(sum(float(np.sum(g * g)) for g in grads))
        if norm > a.clip_norm:
            grads = [g * (a.clip_norm / norm) for g in grads]
            if stats is not None:
                stats["clipped"] = stats.get("clipped", 0) + 1
    return grads


def l2_term(W, a, mb):
    if not a.l2:
        return 0.0
    return a.l2 / (2.0 * mb) * sum(float(np.sum(w * w)) for w in W[1:])


# ------------------------------------------------------------ training

def set_cost(W, b, data, a):
    """Cost of a whole set (no L2 term), as the dev set is evaluated."""
    Z, A = forward(W, b, data[0], a.hidden_activation, a.output, a.leaky_slope)
    return cost_of(a.output, Z[-1], A[-1], data[1], data[0].shape[1])


def set_accuracy(W, b, data, a):
    _, A = forward(W, b, data[0], a.hidden_activation, a.output, a.leaky_slope)
    return accuracy_of(a.output, A[-1], data[1])


def split_dev(X, Y, seed, frac):
    """(training part, dev part) of --validation-split F, each in file order."""
    m = X.shape[1]
    dev = np.array([held_out(seed, g, frac) for g in range(m)], dtype=bool)
    return (X[:, ~dev], Y[..., ~dev]), (X[:, dev], Y[..., dev])


def steps_of(m, a):
    """(batch size, steps per epoch, total steps) as README, Data-parallel training and determinism counts them."""
    B = min(a.batch_size, m) if a.batch_size > 0 else 0
    spe = (m + B - 1) // B if B else 1
    total = a.epochs * spe if a.epochs > 0 else a.iterations
    return B, spe, total


def train(X, Y, dims, a, test=None, dev=None, gindex=None):
    """Gradient descent as README, Data-parallel training and determinism; Course 2: optimizers, regularization, schedules, dev sets: full batch, or mini-batches of B
    taken in order from the permutation of epoch k // spe (the last one
    partial, averaged over its own size).  Records, before update k, the
    cost (with the L2 term) and the accuracy of the step's batch, and with
    test = (Xt, Yt) the test accuracy of the same parameters, and with
    dev = (Xv, Yv) the dev cost (no L2 term) and accuracy.  Dropout masks are
    keyed by gindex[j] (default j): the index of the example among the
    training examples, as dnn keys them (with a dev split: the file order
    with the dev examples removed, the same numbering the batches use)."""
    m = X.shape[1]
    L = len(dims) - 1
    W, b = init_params(dims, a.init, a.init_scale, a.seed)
    B, spe, total = steps_of(m, a)
    params = [p for l in range(1, L + 1) for p in (W[l], b[l])]
    is_weight = [i % 2 == 0 for i in range(len(params))]
    opt = Optimizer(a, params)
    iters, costs, accs, taccs, vcosts, vaccs = [], [], [], [], [], []
    perm, perm_epoch = None, -1
    stats = {"clipped": 0}
    best, since, stop, steps_run = None, 0, False, total
    noise = np.random.RandomState(12345)
    for k in range(total):
        epoch, s = divmod(k, spe)
        if B:
            if epoch != perm_epoch:
                # --rng numpy: the course's order (README, The course's mini-batch
                # order): epoch e = 1, 2, ... is np.random.seed(S + e); permutation(m)
                perm = np.random.RandomState((a.seed + epoch + 1) % 2**32).permutation(m).astype(np.int64)
                perm_epoch = epoch
            idx = perm[s * B:min(s * B + B, m)]
            Xb, Yb = X[:, idx], Y[..., idx]
        else:
            Xb, Yb = X, Y
        mb = Xb.shape[1]
        masks = None
        if a.keep_prob < 1:
            gidx = (gindex if gindex is not None else np.arange(m))[idx if B else slice(None)]
            masks = dropout_masks(dims, a.seed, k, gidx, a.keep_prob)
        Z, A = forward(W, b, Xb, a.hidden_activation, a.output, a.leaky_slope, masks)
        if (a.print_every > 0 and k % a.print_every == 0) or k == total - 1:
            iters.append(k)
            costs.append(cost_of(a.output, Z[-1], A[-1], Yb, mb) + l2_term(W, a, mb))
            accs.append(accuracy_of(a.output, A[-1], Yb))
            if test is not None:
                _, At = forward(W, b, test[0], a.hidden_activation, a.output, a.leaky_slope)
                taccs.append(accuracy_of(a.output, At[-1], test[1]))
            if dev is not None:
                vcosts.append(set_cost(W, b, dev, a))
                vaccs.append(set_accuracy(W, b, dev, a))
                if best is None or vcosts[-1] < best[0]:  # best: the parameters recorded
                    best, since = (vcosts[-1], k, [p.copy() for p in params]), 0
                else:
                    since += 1
                stop = a.early_stopping > 0 and since >= a.early_stopping
        dW, db = backward(W, Z, A, Yb, a.hidden_activation, a.output,
                          a.leaky_slope, mb, masks)
        grads = regularized_grads(W, b, dW, db, a, mb, stats)
        if a.perturb:  # conditioning probe: relative noise of size --perturb
            grads = [g * (1.0 + a.perturb * noise.uniform(-1, 1, g.shape)) for g in grads]
        alpha = learning_rate(a, k, epoch, total)
        params = opt.step(params, grads, is_weight, alpha)
        for l in range(1, L + 1):
            W[l], b[l] = params[2 * l - 2], params[2 * l - 1]
        if stop:  # early stopping: this step's update is the last one
            steps_run = k + 1
            break
    _, A = forward(W, b, X, a.hidden_activation, a.output, a.leaky_slope)
    acc = accuracy_of(a.output, A[-1], Y)
    opt.clipped = stats["clipped"]
    opt.dev = (np.array(vcosts), np.array(vaccs))
    opt.best, opt.steps_run = best, steps_run
    return (W, b, np.array(iters, dtype=np.int64), np.array(costs), acc,
            np.array(accs), np.array(taccs), total, opt)


# ----------------------------------------------------------------- CLI

def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--x", default="train_x")
    p.add_argument("--y", default="train_y")
    p.add_argument("--layout", default="examples-first",
                   choices=["examples-first", "features-first"])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--binary-threshold", type=float, default=None)
    p.add_argument("--layers", default="")
    p.add_argument("--hidden-activation", default="relu",
                   choices=["sigmoid", "tanh", "relu", "leaky_relu", "linear"])
    p.add_argument("--leaky-slope", type=float, default=0.01)
    p.add_argument("--output", default="sigmoid",
                   choices=["sigmoid", "softmax", "linear"])
    p.add_argument("--classes", type=int, default=0)
    p.add_argument("--init", default="he",
                   choices=["zeros", "normal", "sqrt", "he", "xavier"])
    p.add_argument("--init-scale", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rng", default="numpy", choices=["numpy"],
                   help="accepted for dnn-train's command lines; numpy's legacy generator")
    # numeric options: (name, default); the type is the default's
    for name, default in (("--lr", 0.0075), ("--iterations", 2500), ("--epochs", 0),
                          ("--batch-size", 0), ("--beta1", 0.9), ("--beta2", 0.999),
                          ("--epsilon", 1e-8), ("--weight-decay", 0.0), ("--l2", 0.0),
                          ("--keep-prob", 1.0), ("--clip-norm", 0.0), ("--decay-rate", 0.0),
                          ("--decay-every", 1), ("--print-every", 100)):
        p.add_argument(name, type=type(default), default=default)
    p.add_argument("--optimizer", default="gd",
                   choices=["gd", "momentum", "rmsprop", "adam", "adamw"])
    p.add_argument("--lr-decay", default="none",
                   choices=["none", "inverse", "exponential", "step", "cosine"])
    p.add_argument("--perturb", type=float, default=0.0,
                   help="multiply every gradient by 1 + u*P, u uniform in [-1, 1): a probe "
                        "of how much the trajectory amplifies rounding noise")
    # other sets: FILE, --NAME-x, --NAME-y (defaults test_x/test_y, val_x/val_y)
    for name, short, what in (("test", "test", "test set file (accuracy at each record and "
                                               "with the final parameters)"),
                              ("validation", "val", "dev set file (instead of --validation-split)")):
        p.add_argument("--" + name, help=what)
        p.add_argument("--%s-x" % name, default=short + "_x")
        p.add_argument("--%s-y" % name, default=short + "_y")
    p.add_argument("--validation-split", type=float, default=0.0)
    p.add_argument("--early-stopping", type=int, default=0,
                   help="stop after the update of the first record that ends K records "
                        "without a lower dev cost")
    p.add_argument("--out", required=True, help="results, .npz or .h5")
    return p.parse_args(argv)


def run(a):
    """Train as the parsed options say; returns the results as a dict (the
    keys of the --out file)."""
    X, Y = read_set(a.data, a.x, a.y, a.layout, a.scale, a.output,
                    a.binary_threshold)
    hidden = [int(v) for v in a.layers.split(",") if v.strip()]
    if a.output == "sigmoid":
        n_y = 1
    elif a.output == "softmax":
        n_y = a.classes if a.classes > 0 else int(Y.max()) + 1
    else:
        n_y = Y.shape[0]
    dims = [X.shape[0]] + hidden + [n_y]

    test = None
    if a.test:
        test = read_set(a.test, a.test_x, a.test_y, a.layout, a.scale, a.output,
                        a.binary_threshold)
    dev = None
    if a.validation_split > 0:
        (X, Y), dev = split_dev(X, Y, a.seed, a.validation_split)
    elif a.validation:
        dev = read_set(a.validation, a.validation_x, a.validation_y, a.layout, a.scale,
                       a.output, a.binary_threshold)
    W, b, iters, costs, acc, accs, taccs, total, opt = train(X, Y, dims, a, test, dev)

    res = {"iterations": iters, "costs": costs, "accuracies": accs,
           "total": np.int64(opt.steps_run),
           "layer_dims": np.array(dims, dtype=np.int64),
           "train_accuracy": np.float64(acc), "adam_t": np.int64(opt.t),
           "clipped_steps": np.int64(opt.clipped)}
    if test is not None:
        _, At = forward(W, b, test[0], a.hidden_activation, a.output, a.leaky_slope)
        res["test_accuracy"] = np.float64(accuracy_of(a.output, At[-1], test[1]))
        res["test_accuracies"] = taccs
    if dev is not None:
        res["val_costs"], res["val_accuracies"] = opt.dev
        res["val_cost"] = np.float64(set_cost(W, b, dev, a))
        res["val_accuracy"] = np.float64(set_accuracy(W, b, dev, a))
        res["best_iteration"] = np.int64(opt.best[1])
        res["stopped_early"] = np.int64(opt.steps_run < total)
        for i, P in enumerate(opt.best[2]):
            res["best_%s%d" % ("Wb"[i % 2], i // 2 + 1)] = P
        res["m_dev"] = np.int64(dev[0].shape[1])
    for l in range(1, len(dims)):
        res["W%d" % l] = W[l]
        res["b%d" % l] = b[l]
        res["v_dW%d" % l], res["v_db%d" % l] = opt.v[2 * l - 2], opt.v[2 * l - 1]
        res["s_dW%d" % l], res["s_db%d" % l] = opt.s[2 * l - 2], opt.s[2 * l - 1]
    return res


def main(argv=None):
    a = parse(argv)
    res = run(a)
    costs, total = res["costs"], int(res["total"])
    if a.out.endswith(".h5") or a.out.endswith(".hdf5"):
        with h5py.File(a.out, "w") as f:
            for k, v in res.items():
                f[k] = v
    else:
        np.savez(a.out, **res)
    last = costs[-1] if len(costs) else float("nan")
    line = "final iterations=%d cost=%.9f" % (total, last)
    if a.output != "linear":
        line += " train_accuracy=%.6f" % res["train_accuracy"]
    if "test_accuracy" in res:
        line += " test_accuracy=%.6f" % res["test_accuracy"]
    if "val_cost" in res:
        line += " val_cost=%.9g" % res["val_cost"]
        if a.output != "linear":
            line += " val_accuracy=%.6f" % res["val_accuracy"]
        line += " best_iteration=%d" % res["best_iteration"]
        if res["stopped_early"]:
            line += " stopped_early=1"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
