#!/usr/bin/python3
"""Self-check of the numpy reference (ref_dnn.py) before anything is compared
with it: its analytic gradients must equal central differences of its own
cost, for every hidden activation and every output/loss pair, with L2 and
with fixed dropout masks; its optimizers match closed forms; its generators
(ref_rng.py) reproduce the published SplitMix64 and xoshiro256** outputs.

  check_ref.py        exit 0 when every case passes, 1 otherwise

Tolerance: relative error ||g - g_num|| / max(||g||, ||g_num||) <= 1e-7 with
step h = 1e-6: the truncation error is O(h^2) ~ 1e-12 and the rounding error
eps * J / h ~ 1e-10 per component, so correct gradients measure ~1e-9 while a
wrong factor or sign gives O(1); guard: ||g|| > 1e-6 so that an all-zero
gradient cannot pass.  Inputs are kept away from relu's kink (|z| > 1e-3).
"""
import argparse
import math
import os
import sys

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_dnn  # noqa: E402
import ref_rng  # noqa: E402

TOL = 1e-7
STEP = 1e-6
GUARD = 1e-6


def cost(W, b, X, Y, hidden, output, slope, reg, masks=None):
    Z, A = ref_dnn.forward(W, b, X, hidden, output, slope, masks)
    return ref_dnn.cost_of(output, Z[-1], A[-1], Y, X.shape[1]) \
        + ref_dnn.l2_term(W, reg, X.shape[1])


def check(hidden, output, l2=0.0, keep_prob=1.0):
    """Analytic gradients (with the L2 term when l2 > 0: dW += l2/m W, b not
    regularized; with dropout masks held fixed when keep_prob < 1) against
    central differences of the cost (with l2/2m sum W^2)."""
    reg = argparse.Namespace(l2=l2, clip_norm=0.0)
    rng = np.random.RandomState(11)
    m, dims = 13, [4, 5, 3]
    n_y = {"sigmoid": 1, "softmax": 3, "linear": 2}[output]
    dims = dims + [n_y]
    X = rng.randn(dims[0], m)
    if output == "sigmoid":
        Y = (rng.rand(1, m) > 0.5).astype(np.float64)
    elif output == "softmax":
        Y = rng.randint(0, n_y, size=m)
    else:
        Y = rng.randn(n_y, m)
    W, b = ref_dnn.init_params(dims, "xavier", 0.0, 5)
    for l in range(1, len(dims)):
        b[l] = 0.1 * rng.randn(*b[l].shape)
    slope = 0.05
    masks = None
    if keep_prob < 1:
        masks = ref_dnn.dropout_masks(dims, 7, 3, np.arange(m), keep_prob)
        if not all(0 < np.mean(d == 0) < 1 for d in masks[1:]):
            return "FAIL: the masks drop nothing or everything"
    Z, A = ref_dnn.forward(W, b, X, hidden, output, slope, masks)
    kink = min(np.abs(z).min() for z in Z[1:-1])
    if hidden in ("relu", "leaky_relu") and kink < 1e-3:
        # the data are fixed: this cannot happen unless the set-up changed
        return "FAIL: a hidden z is within 1e-3 of the kink; change the seed"
    dW, db = ref_dnn.backward(W, Z, A, Y, hidden, output, slope, m, masks)
    flat = ref_dnn.regularized_grads(W, b, dW, db, reg, m)
    g, g_num = [], []
    for l in range(1, len(dims)):
        for P, dP in ((W[l], flat[2 * l - 2]), (b[l], flat[2 * l - 1])):
            for idx in np.ndindex(P.shape):
                old = P[idx]
                P[idx] = old + STEP
                jp = cost(W, b, X, Y, hidden, output, slope, reg, masks)
                P[idx] = old - STEP
                jm = cost(W, b, X, Y, hidden, output, slope, reg, masks)
                P[idx] = old
                g.append(dP[idx])
                g_num.append((jp - jm) / (2 * STEP))
    g, g_num = np.array(g), np.array(g_num)
    ng = np.linalg.norm(g)
    rel = np.linalg.norm(g - g_num) / max(ng, np.linalg.norm(g_num))
    ok = rel <= TOL and ng > GUARD
    return "%s rel=%.3e |g|=%.3e" % ("ok" if ok else "FAIL", rel, ng)


def opt_args(**kw):
    base = dict(optimizer="gd", beta1=0.9, beta2=0.999, epsilon=1e-8, weight_decay=0.0,
                l2=0.0, clip_norm=0.0, lr=0.1, lr_decay="none", decay_rate=0.0,
                decay_every=1, batch_size=0, epochs=0, iterations=10)
    base.update(kw)
    return argparse.Namespace(**base)


def check_optimizers():
    """ref_dnn's update rules against closed forms, written out here per
    scalar, for a constant gradient g (so every moment has a closed form):
      momentum  v_t = (1-b1^t) g          W_t = W_0 - a g sum_{i<=t} (1-b1^i)
      rmsprop   s_t = (1-b2^t) g^2        W_t = W_{t-1} - a g / (sqrt(s_t) + e)
      adam      vhat = g, shat = g^2      W_t = W_{t-1} - a g / (|g| + e)
      adamw     as adam, then W_t *= (1 - a wd) for weights, not for biases
    Returns a list of (name, ok, detail)."""
    out = []
    W0, g, a, T = np.array([[0.7, -1.3]]), np.array([[0.25, -3.0]]), 0.05, 7
    b1, b2, e, wd = 0.8, 0.95, 1e-3, 0.3   # not the defaults: each one matters
    for name in ("gd", "momentum", "rmsprop", "adam", "adamw"):
        args = opt_args(optimizer=name, beta1=b1, beta2=b2, epsilon=e, weight_decay=wd)
        opt = ref_dnn.Optimizer(args, [W0, W0])
        params = [W0.copy(), W0.copy()]   # a weight and a bias with the same values
        for _ in range(T):
            params = opt.step(params, [g, g], [True, False], a)
        want_w, want_b = [], []
        for j in range(W0.shape[1]):
            x, gj = float(W0[0, j]), float(g[0, j])
            xw = xb = x
            for t in range(1, T + 1):
                if name == "gd":
                    xw = xb = x - a * gj * t
                elif name == "momentum":
                    xw = xb = x - a * gj * sum(1 - b1 ** i for i in range(1, t + 1))
                elif name == "rmsprop":
                    xw = xb = xw - a * gj / (math.sqrt((1 - b2 ** t) * gj * gj) + e)
                else:
                    step = a * gj / (abs(gj) + e)
                    xb = xb - step
                    xw = (xw - step) * (1 - a * wd) if name == "adamw" else xw - step
            want_w.append(xw)
            want_b.append(xb)
        err = max(np.max(np.abs(params[0][0] - want_w)), np.max(np.abs(params[1][0] - want_b)))
        out.append((name, err <= 1e-12 and opt.t == T,
                    "max err %.1e vs the closed form over %d steps, t=%d" % (err, T, opt.t)))
    # L2 then clipping by the global norm of every dW, db
    W = [None, np.array([[1.0, 2.0]]), np.array([[0.5]])]
    dW = [None, np.array([[3.0, 0.0]]), np.array([[0.0]])]
    db = [None, np.array([[4.0]]), np.array([[0.0]])]
    gr = ref_dnn.regularized_grads(W, None, dW, db, opt_args(clip_norm=1.0), 10)
    norm = math.sqrt(sum(float(np.sum(x * x)) for x in gr))
    ok = abs(norm - 1.0) < 1e-15 and np.allclose(gr[0], [[0.6, 0.0]]) and np.allclose(gr[1], [[0.8]])
    gr2 = ref_dnn.regularized_grads(W, None, dW, db, opt_args(clip_norm=6.0), 10)
    ok = ok and np.array_equal(gr2[0], dW[1]) and np.array_equal(gr2[1], db[1])
    gr3 = ref_dnn.regularized_grads(W, None, dW, db, opt_args(l2=0.5), 10)
    ok = ok and np.allclose(gr3[0], [[3.05, 0.1]]) and np.array_equal(gr3[1], db[1]) \
        and np.allclose(gr3[2], [[0.025]])
    term = ref_dnn.l2_term(W, opt_args(l2=0.5), 10)
    ok = ok and abs(term - 0.5 / 20 * 5.25) < 1e-15
    out.append(("l2+clip", ok, "norm 5 clipped to %.17g; L2 term %.6g" % (norm, term)))
    # schedules by hand: a0 = 0.1, R = 0.5, decay-every 2, total 8 steps
    cases = [("none", 5, 3, 0.1), ("inverse", 5, 3, 0.1 / 2.5), ("exponential", 5, 3, 0.0125),
             ("step", 5, 3, 0.1 / 1.5), ("step", 5, 4, 0.1 / 2.0), ("step", 1, 1, 0.1),
             ("cosine", 0, 0, 0.1), ("cosine", 4, 0, 0.05), ("cosine", 2, 9, 0.1 * (1 + 0.5 ** 0.5) / 2)]
    bad = []
    for rule, k, epoch, want in cases:
        got = ref_dnn.learning_rate(opt_args(lr_decay=rule, decay_rate=0.5, decay_every=2), k, epoch, 8)
        if not abs(got - want) <= 1e-15:
            bad.append("%s k=%d epoch=%d: %.17g, hand %.17g" % (rule, k, epoch, got, want))
    out.append(("lr-decay", not bad, "; ".join(bad) or "%d hand values" % len(cases)))
    # step counting: 300 examples, B = 64 -> 5 steps per epoch; B > m is one batch
    sc = [ref_dnn.steps_of(300, opt_args(batch_size=64, epochs=100)),
          ref_dnn.steps_of(300, opt_args(batch_size=1000, iterations=7)),
          ref_dnn.steps_of(300, opt_args(batch_size=0, iterations=7))]
    out.append(("steps", sc == [(64, 5, 500), (300, 1, 7), (0, 1, 7)], str(sc)))
    return out


def main():
    failed = checked = 0
    # the legacy generator the contract reproduces (README, Data-parallel training and determinism)
    np.random.seed(1)
    head = np.random.randn(4)
    want = np.array([1.62434536, -0.61175641, -0.52817175, -1.07296862])
    if np.max(np.abs(head - want)) > 5e-9:
        print("FAIL numpy seed 1 randn:", head)
        failed += 1
    checked += 1
    # the mini-batch permutation's generators against their published vectors
    if ref_rng.selfcheck():
        print("FAIL ref_rng: SplitMix64/xoshiro256** differ from the published vectors")
        failed += 1
    checked += 1
    for hidden in ("sigmoid", "tanh", "relu", "leaky_relu", "linear"):
        for output in ("sigmoid", "softmax", "linear"):
            res = check(hidden, output)
            print("%-10s %-8s %s" % (hidden, output, res))
            failed += res.startswith("FAIL")
            checked += 1
    for hidden, output in (("tanh", "sigmoid"), ("relu", "softmax"), ("sigmoid", "linear")):
        res = check(hidden, output, l2=0.7)
        print("%-10s %-8s l2=0.7 %s" % (hidden, output, res))
        failed += res.startswith("FAIL")
        checked += 1
    for hidden, output in (("tanh", "sigmoid"), ("sigmoid", "softmax"), ("relu", "linear")):
        res = check(hidden, output, l2=0.3, keep_prob=0.7)
        print("%-10s %-8s l2=0.3 keep_prob=0.7 %s" % (hidden, output, res))
        failed += res.startswith("FAIL")
        checked += 1
    for name, ok, detail in check_optimizers():
        print("optimizer %-10s %s %s" % (name, "ok" if ok else "FAIL", detail))
        failed += not ok
        checked += 1
    print("%d passed, %d failed" % (checked - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
