#!/usr/bin/python3
"""Dev sets, early stopping and the best checkpoint (README, Course 2: optimizers, regularization, schedules, dev sets), against numpy.

Data: 1000 binary examples, 12 features; network 12-16-1 (relu, sigmoid), adam,
--precision double so numpy can recompute every figure to 1e-12.
Cases:
  split_is_documented_hash  the examples held out by --validation-split 0.2 are
      those of the README's hash (reimplemented here): numpy's cost and accuracy
      of the final checkpoint on exactly those examples equal the final line's
      val_cost / val_accuracy, and on the rest its train_accuracy;
  split_same_for_n1_n3      the same with mpiexec -n 3 --deterministic: final
      W/b bitwise equal to N = 1 and the same held-out set (numpy check again);
  early_stopping_rule       --early-stopping K stops at the first record where K
      records have passed without a lower val_cost than the best so far, as
      computed here from the recorded val_cost column; the final line then has
      iterations = that record + 1, best_iteration = the best record and
      stopped_early=1; a run with a larger K goes on further;
  best_checkpoint_is_best   --best-checkpoint holds the parameters of
      best_iteration: its iteration attribute is best_iteration, and numpy's dev
      cost of its W/b equals the val_cost recorded at that iteration;
  validation_file           --validation FILE: val_cost/val_accuracy equal numpy on
      that file with the final parameters.
"""
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, make_binary, ckpt_params, params_sha, final_line  # noqa: E402

M64 = (1 << 64) - 1
R = Runner(__doc__)
DATA, DEV = R.path("train.h5"), R.path("dev.h5")
X, Y = make_binary(DATA, 1000, 12, seed=5, dtype=np.float64)
XD, YD = make_binary(DEV, 300, 12, seed=6, dtype=np.float64)
SEED = 7
BASE = ["--data", DATA, "--layers", "16", "--optimizer", "adam", "--lr", "0.01", "--precision", "double",
        "--seed", str(SEED), "--print-every", "20", "--quiet"]


def held_out(seed, g, F):
    """The README's hash: SplitMix64's finalizer of (seed ^ c0) * c1 + g, top 53 bits / 2^53 < F."""
    z = (((seed ^ 0xD1B54A32D192ED03) * 0x9E3779B97F4A7C15) + g) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    z ^= z >> 31
    return (z >> 11) * 2.0 ** -53 < F


def forward(params, X):
    """relu hidden layers, sigmoid output; X is (m, n_x) examples-first. Returns (m,) probabilities."""
    A = X.T
    L = len(params) // 2
    for l in range(L):
        Z = params[2 * l] @ A + params[2 * l + 1]
        A = np.maximum(Z, 0) if l < L - 1 else Z
    return A.ravel()  # the output's z


def cost_acc(params, X, Y):
    z = forward(params, X)
    y = Y.ravel().astype(np.float64)
    loss = np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z)))
    a = 1 / (1 + np.exp(-z))
    return float(loss.mean()), float(np.mean((a > 0.5) == (y > 0.5)))


def metrics(path):
    with open(path) as f:
        head = f.readline().strip().split(",")
        rows = [dict(zip(head, l.strip().split(","))) for l in f if l.strip()]
    return rows


def close(a, b, tol=1e-12):
    return abs(a - b) <= tol * max(1.0, abs(b))


MASK = np.array([held_out(SEED, g, 0.2) for g in range(len(Y))])
runs = {}


def run_split(n, tag):
    ck = R.path("split_%s.h5" % tag)
    out = R.train(BASE + ["--iterations", "300", "--validation-split", "0.2", "--deterministic", "--checkpoint", ck],
                  n=n, what="--validation-split at N=%s" % n)
    runs[tag] = (ck, final_line(out))


def check_split(tag):
    require(tag in runs, "the run failed (see above)")
    ck, fl = runs[tag]
    require(0.1 < MASK.mean() < 0.3, "the reference hash holds out %.3f of the examples" % MASK.mean())
    p = ckpt_params(ck)
    vc, va = cost_acc(p, X[MASK], Y[MASK])
    _, ta = cost_acc(p, X[~MASK], Y[~MASK])
    require(close(float(fl["val_cost"]), vc, 1e-8), "val_cost=%s, numpy on the hashed dev set %.12g" % (fl["val_cost"], vc))
    require(abs(float(fl["val_accuracy"]) - va) < 5e-7, "val_accuracy=%s, numpy %.6f" % (fl["val_accuracy"], va))
    require(abs(float(fl["train_accuracy"]) - ta) < 5e-7, "train_accuracy=%s, numpy on the rest %.6f" % (
        fl["train_accuracy"], ta))


def check_n3():
    require("n1" in runs and "n3" in runs, "a run failed (see above)")
    check_split("n3")
    require(params_sha(runs["n1"][0]) == params_sha(runs["n3"][0]), "W/b differ between N = 1 and N = 3")


def early_stop_expected(rows, K):
    """The first record where K records have passed without improving on the best."""
    best, since, best_it = None, 0, None
    for r in rows:
        v = float(r["val_cost"])
        if best is None or v < best:
            best, since, best_it = v, 0, int(r["iteration"])
        else:
            since += 1
            if since >= K:
                return int(r["iteration"]), best_it
    return None, best_it


def check_early_stopping():
    # first a run without early stopping: the val_cost sequence, and where K would stop it
    full_csv = R.path("full.csv")
    args = BASE + ["--lr", "0.05", "--iterations", "3000", "--validation-split", "0.3", "--print-every", "25"]
    R.train(args + ["--metrics", full_csv], what="run without early stopping")
    rows = metrics(full_csv)
    K = 3
    stop_it, best_it = early_stop_expected(rows, K)
    require(stop_it is not None, "the reference run never has %d records without improvement" % K)
    csv, best = R.path("es.csv"), R.path("best.h5")
    fl = final_line(R.train(args + ["--early-stopping", str(K), "--metrics", csv, "--best-checkpoint", best],
                            what="--early-stopping %d" % K))
    require(fl.get("stopped_early") == "1", "no stopped_early=1 in the final line: %s" % fl)
    require(int(fl["iterations"]) == stop_it + 1, "iterations=%s, expected %d (stop at record %d)" % (
        fl["iterations"], stop_it + 1, stop_it))
    require(int(fl["best_iteration"]) == best_it, "best_iteration=%s, expected %d" % (fl["best_iteration"], best_it))
    es_rows = metrics(csv)
    require([r["val_cost"] for r in es_rows] == [r["val_cost"] for r in rows[:len(es_rows)]],
            "the early-stopped run's val_cost column differs from the full run's")
    require(int(es_rows[-1]["iteration"]) == stop_it, "last metrics row %s, expected %d" % (
        es_rows[-1]["iteration"], stop_it))
    # a larger K goes further
    fl2 = final_line(R.train(args + ["--early-stopping", str(K + 4)], what="--early-stopping %d" % (K + 4)))
    require(int(fl2["iterations"]) > int(fl["iterations"]), "K=%d stopped at %s, not after K=%d's %s" % (
        K + 4, fl2["iterations"], K, fl["iterations"]))
    # the best checkpoint holds the parameters of best_iteration
    mask = np.array([held_out(SEED, g, 0.3) for g in range(len(Y))])
    with h5py.File(best, "r") as f:
        it = int(f.attrs["iteration"])
    require(it == best_it, "best checkpoint iteration attribute %d, best_iteration %d" % (it, best_it))
    vc, _ = cost_acc(ckpt_params(best), X[mask], Y[mask])
    rec = float(next(r["val_cost"] for r in es_rows if int(r["iteration"]) == best_it))
    require(close(vc, rec, 1e-9), "numpy dev cost of the best checkpoint %.15g, recorded at %d: %.15g" % (
        vc, best_it, rec))


def check_validation_file():
    ck = R.path("vfile.h5")
    fl = final_line(R.train(BASE + ["--iterations", "200", "--validation", DEV, "--validation-x", "train_x",
                                    "--validation-y", "train_y", "--checkpoint", ck], what="--validation FILE"))
    vc, va = cost_acc(ckpt_params(ck), XD, YD)
    require(close(float(fl["val_cost"]), vc, 1e-8), "val_cost=%s, numpy %.12g" % (fl["val_cost"], vc))
    require(abs(float(fl["val_accuracy"]) - va) < 5e-7, "val_accuracy=%s, numpy %.6f" % (fl["val_accuracy"], va))
    _, ta = cost_acc(ckpt_params(ck), X, Y)
    require(abs(float(fl["train_accuracy"]) - ta) < 5e-7, "train_accuracy=%s, numpy %.6f (all 1000)" % (
        fl["train_accuracy"], ta))


R.case("split_run_n1", run_split, None, "n1")
R.case("split_is_documented_hash", check_split, "n1")
R.case("split_run_n3", run_split, 3, "n3")
R.case("split_same_for_n1_n3", check_n3)
R.case("early_stopping_rule_and_best_checkpoint", check_early_stopping)
R.case("validation_file", check_validation_file)
R.finish()
