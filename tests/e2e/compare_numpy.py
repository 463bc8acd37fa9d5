#!/usr/bin/python3
"""dnn-train --precision double against the independent numpy reference.

  compare_numpy.py --train PATH/dnn-train [--launcher "mpiexec -n 3 --oversubscribe"]
                   [--case sigmoid --case tanh ...] [--optimizer-cases] [--tol 1e-9]
                   [--no-probe] [--keep DIR] [--list]

For each case a small data set is made with numpy (tests/ref/make_data.py),
plus a test set of 101 examples for classification, then dnn-train and
tests/ref/ref_dnn.py train the same network from the same numpy-seeded
initial weights (--rng numpy --seed 3) for 500 steps (or --epochs), full
batch or in mini-batches (README, Data-parallel training and determinism: the per-epoch permutation,
reimplemented in tests/ref/ref_rng.py; the partial last batch averaged over
its size), with the optimizers, L2, clipping and schedules of README, Course 2: optimizers, regularization, schedules, dev sets,
recording every 100.  Asserted, per case:
  - dnn's metrics CSV records exactly the reference's iterations;
  - each recorded cost c agrees with the reference's r: |c - r| / |r| <= tol
    (the cost of the step's batch before the update, L2 term included);
    the recorded batch and test accuracies agree to 1e-12;
  - each final parameter array P (checkpoint /W1../WL, /b1../bL) agrees with
    the reference's R in the norm  max|P - R| / max|R|  <= tol.  This is a
    relative error measured against the array's own scale: a plain
    elementwise relative error would blow up on entries that happen to be
    near zero (a bias that barely moved), where only absolute rounding noise
    of the order eps * max|R| is meaningful;
  - checkpoint layer_dims equal the reference's, /history/cost (if present)
    matches the recorded costs to tol; /optimizer/v/dW1.. and /optimizer/s/..
    (when stored) match the reference's moments to tol, and its t attribute
    the number of updates;
  - the `final` stdout line: iterations = the steps run, cost equal to the
    last recorded cost (relative 1e-6: it is printed with fewer digits);
    train_accuracy and test_accuracy exactly equal to "%.6f" of numpy's
    accuracy of the checkpoint's own parameters (so a wrong denominator or
    a wrong threshold shows), and within 2e-6 of the reference run's;
  - guards: the reference's cost fell by at least 5%; at least 300 steps;
    clipping cases clip in some steps but not all; and for mini-batch and
    optimizer cases the conditioning probe below.
tol defaults to 1e-9 (double precision, 500 steps: the measured differences
are about 1e-15..1e-14; a wrong formula, a wrong 1/m, a different batch, a
different init or a lost example moves them by far more).  Conditioning: the
reference is rerun with 1e-15 relative noise on its gradients and must move
by at most 1e-11, so that 1e-9 is far above what rounding can explain
(full-batch Adam near a minimum or gd at the edge of stability amplify 1e-15
to 1e-7..1e-2: such settings are refused as test cases).
With --launcher the same comparison runs distributed (e.g. three ranks with
uneven shards of 300 examples must still give the full-data gradient).
Prints one line per case and a closing `N passed, M failed`; exit 1 if any failed.
"""
import argparse
import csv
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "..", "ref")
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, REF)
import make_data  # noqa: E402
import ref_dnn  # noqa: E402

ITERATIONS = 500
PRINT_EVERY = 100
SEED = 3
TEST_M, TEST_SEED = 101, 8  # the test set of classification cases
DEV_M, DEV_SEED = 77, 9     # a separate dev set (--validation @DEV)

# name: (make_data.py arguments, training arguments shared by dnn and ref)
CASES = {
    "sigmoid": (["binary"],
                ["--layers", "7,5", "--hidden-activation", "sigmoid",
                 "--init", "xavier", "--lr", "1.0"]),
    "tanh": (["binary"],
             ["--layers", "7,5", "--hidden-activation", "tanh",
              "--init", "sqrt", "--lr", "0.3"]),
    "relu": (["binary"],
             ["--layers", "7,5", "--hidden-activation", "relu",
              "--init", "he", "--lr", "0.1"]),
    "softmax": (["softmax", "--classes", "3"],
                ["--layers", "8", "--hidden-activation", "leaky_relu",
                 "--leaky-slope", "0.05", "--output", "softmax", "--classes", "3",
                 "--init", "he", "--lr", "0.3"]),
    "mse": (["regression", "--n-y", "2"],
            ["--layers", "6", "--hidden-activation", "tanh", "--output", "linear",
             "--init", "xavier", "--lr", "0.1"]),
    "logreg": (["binary"],
               ["--init", "zeros", "--lr", "0.5"]),
    "linear_hidden": (["binary"],
                      ["--layers", "4", "--hidden-activation", "linear",
                       "--init", "normal", "--init-scale", "0.5", "--lr", "0.2"]),
    "labels_m1": (["binary", "--label-shape", "m1"],
                  ["--layers", "7,5", "--hidden-activation", "relu",
                   "--init", "he", "--lr", "0.1"]),
    "labels_1m": (["binary", "--label-shape", "1m"],
                  ["--layers", "7,5", "--hidden-activation", "tanh",
                   "--init", "sqrt", "--lr", "0.3"]),
    "uint8_scale": (["binary", "--x-uint8"],
                    ["--scale", repr(1.0 / 255.0), "--layers", "6",
                     "--hidden-activation", "relu", "--init", "he", "--lr", "0.5"]),
    # mini-batches (README, Data-parallel training and determinism): 300 examples in batches of 64 give four full
    # batches and a partial one of 44, averaged over 44; the batches come from
    # the permutation of epoch k // 5, reimplemented in tests/ref/ref_rng.py
    "mb_sigmoid": (["binary"],
                   ["--layers", "7,5", "--hidden-activation", "tanh",
                    "--init", "xavier", "--lr", "0.3", "--batch-size", "64"]),
    "mb_softmax": (["softmax", "--classes", "3"],
                   ["--layers", "8", "--hidden-activation", "relu",
                    "--output", "softmax", "--classes", "3",
                    "--init", "he", "--lr", "0.1", "--batch-size", "64"]),
    "mb_mse": (["regression", "--n-y", "2"],
               ["--layers", "6", "--hidden-activation", "tanh", "--output", "linear",
                "--init", "xavier", "--lr", "0.05", "--batch-size", "64"]),
    # --epochs counts passes: 100 epochs of ceil(300/128) = 3 steps (last: 44)
    "mb_epochs": (["binary"],
                  ["--layers", "5", "--hidden-activation", "relu",
                   "--init", "he", "--lr", "0.2", "--batch-size", "128",
                   "--epochs", "100"]),
    # the exact fixed-point sums of --deterministic give the same trajectory
    "mb_deterministic": (["binary"],
                         ["--layers", "7,5", "--hidden-activation", "relu",
                          "--init", "he", "--lr", "0.1", "--batch-size", "64"],
                         {"dnn_args": ["--deterministic"]}),
}
# The optimizers, L2, clipping and schedules of README, Course 2: optimizers, regularization, schedules, dev sets, each in full batch
# ("opt_NAME") and in mini-batches of 64 ("mb_opt_NAME", the same batches as
# above).  The β's and ε are not the defaults where a default would hide a
# swapped or ignored option.
OPT_NET = ["--layers", "7,5", "--hidden-activation", "tanh", "--init", "xavier"]
OPT_RULES = {
    "momentum": ["--optimizer", "momentum", "--beta1", "0.8", "--lr", "0.3"],
    "rmsprop": ["--optimizer", "rmsprop", "--beta2", "0.999", "--epsilon", "1e-6",
                "--lr", "0.003"],
    "adam": ["--optimizer", "adam", "--beta1", "0.85", "--beta2", "0.99",
             "--epsilon", "1e-7", "--lr", "0.003"],
    "adamw": ["--optimizer", "adamw", "--weight-decay", "0.2", "--lr", "0.003"],
    "l2": ["--l2", "0.8", "--lr", "0.3"],
    "clip": ["--clip-norm", "0.05", "--lr", "0.3"],
    "inverse": ["--lr-decay", "inverse", "--decay-rate", "0.01", "--lr", "0.5"],
    "exponential": ["--lr-decay", "exponential", "--decay-rate", "0.995", "--lr", "0.5"],
    "step": ["--lr-decay", "step", "--decay-rate", "1", "--decay-every", "30", "--lr", "0.5"],
    "cosine": ["--lr-decay", "cosine", "--lr", "0.5"],
    # everything at once: adam + L2 + clipping + a schedule
    "adam_all": ["--optimizer", "adam", "--l2", "0.3", "--clip-norm", "0.2",
                 "--lr-decay", "step", "--decay-rate", "0.5", "--decay-every", "20",
                 "--lr", "0.01"],
}
for _rule, _args in OPT_RULES.items():
    CASES["opt_" + _rule] = (["binary"], OPT_NET + _args)
    CASES["mb_opt_" + _rule] = (["binary"], OPT_NET + _args + ["--batch-size", "64"])
# batch gradients are larger: 0.05 would clip every step (full batch: 321 of 500)
CASES["mb_opt_clip"] = (["binary"], OPT_NET + ["--clip-norm", "0.3", "--lr", "0.3",
                                               "--batch-size", "64"])
CASES["opt_softmax_adam"] = (["softmax", "--classes", "3"],
                             ["--layers", "8", "--hidden-activation", "relu", "--output",
                              "softmax", "--classes", "3", "--init", "he",
                              "--optimizer", "adam", "--lr", "0.005", "--batch-size", "64"])
CASES["opt_mse_momentum"] = (["regression", "--n-y", "2"],
                             ["--layers", "6", "--hidden-activation", "tanh", "--output",
                              "linear", "--init", "xavier", "--optimizer", "momentum",
                              "--l2", "0.2", "--lr", "0.05", "--batch-size", "64"])
# Dev sets (README, Course 2: optimizers, regularization, schedules, dev sets): --validation-split (the README's hash, reimplemented
# in ref_rng.held_out; the training part keeps file order and is what the
# batches are drawn from) or a separate file; val_cost/val_accuracy at every
# record and in the final line, best_iteration.
DEV_CASES = {
    "dev_split": (["binary"], ["--layers", "7,5", "--hidden-activation", "tanh",
                               "--init", "xavier", "--lr", "0.3", "--validation-split", "0.2"]),
    "dev_file": (["softmax", "--classes", "3"],
                 ["--layers", "8", "--hidden-activation", "relu", "--output", "softmax",
                  "--classes", "3", "--init", "he", "--lr", "0.1", "--validation", "@DEV",
                  "--validation-x", "train_x", "--validation-y", "train_y"]),
    "mb_dev_split": (["binary"], ["--layers", "7,5", "--hidden-activation", "tanh",
                                  "--init", "xavier", "--lr", "0.3", "--batch-size", "64",
                                  "--validation-split", "0.25"]),
    "mb_dev_split_adam": (["binary"], OPT_NET + OPT_RULES["adam"]
                          + ["--batch-size", "50", "--validation-split", "0.3"]),
    # early stopping (K = 4 records of 25 steps) on an over-fitting network
    # with the best checkpoint: 120 examples, 30% held out
    "dev_early_stop": (["binary", "--m", "120"],
                       ["--layers", "30,30", "--hidden-activation", "relu", "--init", "he",
                        "--lr", "0.3", "--iterations", "3000", "--validation-split", "0.3",
                        "--early-stopping", "4"], {"print_every": 25}),
    "mb_dev_early_stop": (["binary", "--m", "120"],
                          ["--layers", "30,30", "--hidden-activation", "relu", "--init", "he",
                           "--lr", "0.1", "--iterations", "3000", "--batch-size", "32",
                           "--validation-split", "0.3", "--early-stopping", "3"],
                          {"print_every": 20}),
}
CASES.update(DEV_CASES)
# Dropout (README, Course 2: optimizers, regularization, schedules, dev sets): masks from the counter-based U(seed, k, l, g, i) of
# include/dnn/rng.h, reimplemented in ref_rng.dropout_uniforms; g is the
# example's index among the training examples (with a dev split: file order
# without the dev examples, as the batches number them).
DROP_CASES = {
    "drop": (["binary"], ["--layers", "7,5", "--hidden-activation", "tanh", "--init", "xavier",
                          "--lr", "0.3", "--keep-prob", "0.8"]),
    "mb_drop": (["binary"], ["--layers", "9,6", "--hidden-activation", "relu", "--init", "he",
                             "--lr", "0.1", "--keep-prob", "0.7", "--batch-size", "64"]),
    "mb_drop_softmax": (["softmax", "--classes", "3"],
                        ["--layers", "12", "--hidden-activation", "sigmoid", "--output",
                         "softmax", "--classes", "3", "--init", "xavier", "--lr", "0.5",
                         "--keep-prob", "0.6", "--batch-size", "50"]),
    "mb_drop_adam_split": (["binary"], OPT_NET + OPT_RULES["adam"]
                           + ["--keep-prob", "0.85", "--batch-size", "64",
                              "--validation-split", "0.2"]),
}
CASES.update(DROP_CASES)
OPT_CASES = sorted(c for c in CASES if "opt_" in c)
# Conditioning: a comparison to 1e-9 only means something if the trajectory
# does not amplify rounding noise to that level (full-batch Adam near a
# minimum, or gd at the edge of stability, turn 1e-15 into 1e-7 .. 1e-2:
# measured with the reference against itself).  For these cases the reference
# is run a second time with every gradient multiplied by 1 + 1e-15 u (ref_dnn
# --perturb) and must stay within COND_TOL of itself; then a difference
# above tol is a different computation, not noise.
COND_CASES = set(OPT_CASES) | {c for c in CASES if c.startswith("mb_")}
PERTURB, COND_TOL = 1e-15, 1e-11
DEFAULT_CASES = ["sigmoid", "tanh", "relu"]


def rel_array(P, R):
    scale = np.max(np.abs(R))
    diff = np.max(np.abs(np.asarray(P, dtype=np.float64) - R))
    return diff / scale if scale > 0 else (0.0 if diff == 0 else np.inf)


def parse_final(stdout):
    lines = [l for l in stdout.splitlines() if l.startswith("final ")]
    if not lines:
        return None
    fields = {}
    for tok in lines[-1].split()[1:]:
        if "=" in tok:
            k, v = tok.split("=", 1)
            fields[k] = v
    return fields


def checkpoint_accuracies(ckpt, ref_args, L):
    """Train and test accuracy of the checkpoint's parameters, by numpy alone."""
    with h5py.File(ckpt, "r") as f:
        W = [None] + [np.asarray(f["W%d" % l][...], dtype=np.float64) for l in range(1, L + 1)]
        b = [None] + [np.asarray(f["b%d" % l][...], dtype=np.float64).reshape(-1, 1)
                      for l in range(1, L + 1)]
    out = {}

    def read(path, xn, yn):
        return ref_dnn.read_set(path, xn, yn, ref_args.layout, ref_args.scale,
                                ref_args.output, ref_args.binary_threshold)
    sets = {"train_accuracy": read(ref_args.data, ref_args.x, ref_args.y)}
    if ref_args.validation_split > 0:  # the training part and the held-out part
        sets["train_accuracy"], sets["val_accuracy"] = ref_dnn.split_dev(
            *sets["train_accuracy"], ref_args.seed, ref_args.validation_split)
    elif ref_args.validation:
        sets["val_accuracy"] = read(ref_args.validation, ref_args.validation_x,
                                    ref_args.validation_y)
    if ref_args.test:
        sets["test_accuracy"] = read(ref_args.test, ref_args.test_x, ref_args.test_y)
    for key, data in sets.items():
        out[key] = ref_dnn.set_accuracy(W, b, data, ref_args)
        if key == "val_accuracy":
            out["val_cost"] = ref_dnn.set_cost(W, b, data, ref_args)
    return out


def check_final(fin, ref, ck_acc, problems):
    """The `final` line against the reference run and the checkpoint's accuracies."""
    if fin is None:
        problems.append("no `final ...` line on stdout")
        return
    if fin.get("iterations") != str(int(ref["total"])):
        problems.append("final iterations=%s, expected %d" % (fin.get("iterations"), ref["total"]))
    try:
        c = float(fin["cost"])
        if not abs(c - ref["costs"][-1]) <= 1e-6 * abs(ref["costs"][-1]):
            problems.append("final cost=%s, numpy %.9g" % (fin["cost"], ref["costs"][-1]))
    except (KeyError, ValueError):
        problems.append("final line lacks cost: %s" % fin)
    if "val_cost" in ref:
        try:
            if not abs(float(fin["val_cost"]) - ck_acc["val_cost"]) <= 1e-8 * abs(ck_acc["val_cost"]):
                problems.append("final val_cost=%s, numpy on the checkpoint's parameters %.9g"
                                % (fin["val_cost"], ck_acc["val_cost"]))
            if not abs(float(fin["val_cost"]) - ref["val_cost"]) <= 1e-8 * abs(ref["val_cost"]):
                problems.append("final val_cost=%s, reference run %.9g" % (fin["val_cost"], ref["val_cost"]))
            if int(fin["best_iteration"]) != int(ref["best_iteration"]):
                problems.append("final best_iteration=%s, reference %d"
                                % (fin["best_iteration"], ref["best_iteration"]))
            if fin.get("stopped_early", "0") != str(int(ref["stopped_early"])):
                problems.append("final stopped_early=%s, reference %d"
                                % (fin.get("stopped_early"), ref["stopped_early"]))
        except (KeyError, ValueError):
            problems.append("final line lacks val_cost/best_iteration: %s" % fin)
    for key in ("train_accuracy", "test_accuracy", "val_accuracy"):
        if key not in ref or np.isnan(ref[key]):
            if key in fin:
                problems.append("final line has %s=%s, none expected" % (key, fin[key]))
            continue
        if key not in fin:
            problems.append("final line lacks %s: %s" % (key, fin))
            continue
        # the printed figure is "%.6f" of correct/m: it must be exactly the
        # rounding of numpy's accuracy of the checkpoint's parameters, and
        # agree with the reference's own trajectory within the print rounding
        want = "%.6f" % ck_acc[key]
        if fin[key] != want:
            problems.append("final %s=%s, numpy on the checkpoint's parameters %s"
                            % (key, fin[key], want))
        if not abs(float(fin[key]) - float(ref[key])) <= 2e-6:
            problems.append("final %s=%s, reference run %.6f" % (key, fin[key], ref[key]))


def check_metrics(metrics, ref, tol, problems, figures):
    """The metrics CSV: recorded iterations, costs, and accuracies (batch, test)."""
    with open(metrics, newline="") as f:
        rows = list(csv.DictReader(f))
    iters = [int(r["iteration"]) for r in rows]
    want_iters = [int(v) for v in ref["iterations"]]
    if iters != want_iters:
        problems.append("metrics iterations %s, expected %s" % (iters, want_iters))
        return None
    costs = np.array([float(r["cost"]) for r in rows])
    rc = np.abs(costs - ref["costs"]) / np.abs(ref["costs"])
    figures.append("cost rel max %.2e" % rc.max())
    for it, c, r, e in zip(iters, costs, ref["costs"], rc):
        if not e <= tol:
            problems.append("cost at iteration %d: dnn %.17g numpy %.17g rel %.2e" % (it, c, r, e))
    # accuracies are ratios of counts: equal to rounding, unless a prediction
    # sits within rounding noise of the threshold (never in these cases)
    if "val_costs" in ref:
        if "val_cost" not in rows[0]:
            problems.append("metrics lack the val_cost column")
        else:
            vc = np.array([float(r["val_cost"]) for r in rows])
            rv = np.abs(vc - ref["val_costs"]) / np.abs(ref["val_costs"])
            figures.append("val_cost rel max %.2e" % rv.max())
            for it, c, r, e in zip(iters, vc, ref["val_costs"], rv):
                if not e <= tol:
                    problems.append("val_cost at iteration %d: dnn %.17g numpy %.17g rel %.2e"
                                    % (it, c, r, e))
    for col, key in (("train_accuracy", "accuracies"), ("test_accuracy", "test_accuracies"),
                     ("val_accuracy", "val_accuracies")):
        if key not in ref or not len(ref[key]) or np.all(np.isnan(ref[key])):
            continue
        if col not in rows[0]:
            problems.append("metrics lack the %s column" % col)
            continue
        got = np.array([float(r[col]) for r in rows])
        bad = np.flatnonzero(~(np.abs(got - ref[key]) <= 1e-12))
        for i in bad[:3]:
            problems.append("metrics %s at iteration %d: dnn %.17g numpy %.17g"
                            % (col, iters[i], got[i], ref[key][i]))
    return costs


def check_params(ckpt, ref, costs, tol, problems, figures):
    L = len(ref["layer_dims"]) - 1
    worst = worst_m = 0.0
    with h5py.File(ckpt, "r") as f:
        dims = list(f.attrs.get("layer_dims", []))
        if dims != list(ref["layer_dims"]):
            problems.append("checkpoint layer_dims %s, expected %s"
                            % (dims, list(ref["layer_dims"])))
        for l in range(1, L + 1):
            for key in ("W%d" % l, "b%d" % l):
                if key not in f:
                    problems.append("checkpoint lacks /%s" % key)
                    continue
                P = f[key][...]
                if P.shape != ref[key].shape:
                    problems.append("/%s shape %s, expected %s"
                                    % (key, P.shape, ref[key].shape))
                    continue
                e = rel_array(P, ref[key])
                worst = max(worst, e)
                if not e <= tol:
                    problems.append("/%s max|dnn-numpy|/max|numpy| = %.2e" % (key, e))
        # the optimizer's moments (the course's v["dW1"], s["dW1"]) and t
        if "optimizer" in f:
            t = f["optimizer"].attrs.get("t")
            if t is not None and int(t) != int(ref["adam_t"]):
                problems.append("/optimizer t=%s, expected %d" % (t, ref["adam_t"]))
            for mom in ("v", "s"):
                for l in range(1, L + 1):
                    for key in ("dW%d" % l, "db%d" % l):
                        path = "optimizer/%s/%s" % (mom, key)
                        if path not in f:
                            continue
                        R = ref["%s_%s" % (mom, key)]
                        P = np.asarray(f[path][...], dtype=np.float64).reshape(R.shape)
                        e = rel_array(P, R)
                        worst_m = max(worst_m, e)
                        if not e <= tol:
                            problems.append("/%s max|dnn-numpy|/max|numpy| = %.2e" % (path, e))
        if "history/cost" in f and costs is not None:
            h = np.asarray(f["history/cost"][...], dtype=np.float64).reshape(-1)
            if h.shape != costs.shape or not np.all(
                    np.abs(h - ref["costs"]) <= tol * np.abs(ref["costs"])):
                problems.append("/history/cost %s differs from the recorded costs" % h)
    figures.append("params rel max %.2e" % worst)
    if worst_m:
        figures.append("moments rel max %.2e" % worst_m)


def make_sets(name, work):
    """(training file, test file or None) for a case; "--validation" in the
    case's arguments is replaced by a dev set made here."""
    make_args, train_args = CASES[name][:2]
    data = os.path.join(work, name + ".h5")
    make_data.main([make_args[0], data] + make_args[1:])
    if make_args[0] == "regression":
        return data, None
    test = os.path.join(work, name + "-test.h5")
    make_data.main([make_args[0], test, "--m", str(TEST_M), "--seed", str(TEST_SEED)]
                   + make_args[1:])
    return data, test


def run_case(name, a, work):
    """Return (ok, message)."""
    train_args = CASES[name][1]
    extra = CASES[name][2] if len(CASES[name]) > 2 else {}
    data, test = make_sets(name, work)
    if "--validation" in train_args:
        dev = os.path.join(work, name + "-dev.h5")
        make_data.main([CASES[name][0][0], dev, "--m", str(DEV_M), "--seed", str(DEV_SEED)]
                       + CASES[name][0][1:])
        train_args = [dev if v == "@DEV" else v for v in train_args]
    common = train_args + ["--data", data, "--seed", str(SEED),
                           "--print-every", str(extra.get("print_every", PRINT_EVERY))]
    if "--epochs" not in train_args and "--iterations" not in train_args:
        common += ["--iterations", str(ITERATIONS)]
    if test:
        common += ["--test", test, "--test-x", "train_x", "--test-y", "train_y"]
    ref_argv = ["--out", os.path.join(work, name + "-ref.npz")] + common
    ref_args = ref_dnn.parse(ref_argv)
    ref = ref_dnn.run(ref_args)  # in this process: no second numpy start-up
    cond = None
    if name in COND_CASES and not a.no_probe:
        probe = ref_dnn.run(ref_dnn.parse(["--perturb", repr(PERTURB)] + ref_argv))
        L = len(ref["layer_dims"]) - 1
        cond = max([rel_array(probe[k], ref[k]) for l in range(1, L + 1)
                    for k in ("W%d" % l, "b%d" % l)]
                   + list(np.abs(probe["costs"] - ref["costs"]) / np.abs(ref["costs"])))

    metrics = os.path.join(work, name + "-metrics.csv")
    ckpt = os.path.join(work, name + "-ckpt.h5")
    best_ckpt = os.path.join(work, name + "-best.h5")
    cmd = shlex.split(a.launcher) + [a.train, "--precision", "double", "--rng", "numpy",
                                     "--metrics", metrics, "--checkpoint", ckpt] \
        + common + extra.get("dnn_args", []) \
        + (["--best-checkpoint", best_ckpt] if "best_W1" in ref else [])
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
    except subprocess.TimeoutExpired:
        return False, "dnn-train timed out after %ds: %s" % (a.timeout, shlex.join(cmd))
    if p.returncode != 0:
        return False, "dnn-train exit %d: %s\n  stderr: %s" % (
            p.returncode, shlex.join(cmd), p.stderr.strip()[-2000:])

    problems, figures = [], []
    if cond is not None:
        figures.append("conditioning %.1e" % cond)
        if not cond <= COND_TOL:
            problems.append("guard: the reference moves by %.1e under %.0e gradient noise "
                            "(> %.0e): this case cannot test to %.0e" % (cond, PERTURB, COND_TOL, a.tol))
    costs = check_metrics(metrics, ref, a.tol, problems, figures)
    if not ref["costs"][-1] <= 0.95 * ref["costs"][0]:
        problems.append("guard: reference cost did not fall (%g -> %g)"
                        % (ref["costs"][0], ref["costs"][-1]))
    if "--clip-norm" in train_args and not 0 < int(ref["clipped_steps"]) < int(ref["total"]):
        problems.append("guard: clipping acted in %d of %d steps (some, not all, wanted)"
                        % (ref["clipped_steps"], ref["total"]))
    if "--early-stopping" in train_args and not ref["stopped_early"]:
        problems.append("guard: the reference did not stop early")
    elif len(ref["iterations"]) and int(ref["total"]) < 300 and "--early-stopping" not in train_args:
        problems.append("guard: only %d steps (at least 300 wanted)" % ref["total"])
    check_params(ckpt, ref, costs, a.tol, problems, figures)
    if "best_W1" in ref:  # --best-checkpoint holds the parameters of best_iteration
        with h5py.File(best_ckpt, "r") as f:
            L = len(ref["layer_dims"]) - 1
            e = max(rel_array(f[k][...], ref["best_" + k]) for l in range(1, L + 1)
                    for k in ("W%d" % l, "b%d" % l))
            it = f.attrs.get("iteration")
        figures.append("best checkpoint rel %.2e" % e)
        if not e <= a.tol:
            problems.append("--best-checkpoint W/b differ from the parameters of iteration %d: %.2e"
                            % (ref["best_iteration"], e))
        if it is None or int(it) != int(ref["best_iteration"]):
            problems.append("--best-checkpoint iteration attribute %s, expected %d"
                            % (it, ref["best_iteration"]))
    ck_acc = checkpoint_accuracies(ckpt, ref_args, len(ref["layer_dims"]) - 1)
    check_final(parse_final(p.stdout), ref, ck_acc, problems)
    msg = ", ".join(figures)
    if problems:
        return False, msg + "\n  " + "\n  ".join(problems) + "\n  command: " + shlex.join(cmd)
    return True, msg


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", help="path of dnn-train (required unless --list)")
    p.add_argument("--launcher", default="", help='e.g. "mpiexec -n 3 --oversubscribe"')
    p.add_argument("--case", action="append", choices=sorted(CASES),
                   help="repeatable; default: %s" % ",".join(DEFAULT_CASES))
    p.add_argument("--optimizer-cases", action="store_true",
                   help="add every optimizer case: %s" % ",".join(OPT_CASES))
    p.add_argument("--list", action="store_true", help="print the case names and exit")
    p.add_argument("--no-probe", action="store_true",
                   help="leave out the conditioning probe (when another run already made it)")
    p.add_argument("--tol", type=float, default=1e-9)
    p.add_argument("--timeout", type=int, default=120, help="seconds per dnn-train run")
    p.add_argument("--keep", help="work in this folder and keep it")
    a = p.parse_args()
    if a.list:
        print("\n".join(sorted(CASES)))
        return 0
    if not a.train:
        p.error("--train is required")
    names = (a.case or ([] if a.optimizer_cases else DEFAULT_CASES)) \
        + (OPT_CASES if a.optimizer_cases else [])
    if os.geteuid() == 0:
        os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)
        work = a.keep
    else:
        work = tempfile.mkdtemp(prefix="dnn-numpy-")
    where = "launcher '%s'" % a.launcher if a.launcher else "single process"
    passed = failed = 0
    try:
        for name in names:
            try:
                ok, msg = run_case(name, a, work)
            except (OSError, KeyError, ValueError, subprocess.CalledProcessError) as e:
                # a missing or malformed metrics/checkpoint file, or no binary
                ok, msg = False, "%s: %s" % (type(e).__name__, e)
            print("%s %s (%s, tol %.0e): %s" % ("PASS" if ok else "FAIL", name, where,
                                               a.tol, msg), flush=True)
            passed += ok
            failed += not ok
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
