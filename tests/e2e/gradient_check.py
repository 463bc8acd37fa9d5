#!/usr/bin/python3
"""dnn-train --gradient-check (README, Course 2: optimizers, regularization, schedules, dev sets) end to end.

  passes_*        correct backprop passes, exit 0, `difference = D` with D < 1e-7,
                  on: sigmoid output + tanh hidden; softmax + relu with --keep-prob
                  0.7 and --l2 0.5; linear (2 targets) + tanh with --keep-prob 0.8
                  and --l2 0.1; sigmoid + leaky_relu with --standardize; a network
                  of 3223 parameters (a seeded sample of 2000 is checked).  The
                  report names the parameter count (computed here from the layer
                  sizes), the examples (the first 64, or all when fewer) and double
                  precision even under --precision single
  mpi2            under mpiexec -n 2: exit 0, one report
  config_key      gradient-check = true in a --config file does the same
  bad_input       no --data, a missing file, a missing dataset, --keep-prob 0,
                  labels that do not fit the output: exit 1, one message naming
                  what was typed, no report
The failing side (exit 1 on a wrong gradient) is tested in tests/test_gradcheck.c
on the comparison itself, with deliberately wrong gradients.
"""
import os
import re
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, tail, make_binary, make_classes  # noqa: E402

R = Runner(__doc__)
BIN, CLS, REG, SMALL = R.path("bin.h5"), R.path("cls.h5"), R.path("reg.h5"), R.path("small.h5")
make_binary(BIN, 200, 4, 1)
make_classes(CLS, 150, 5, 3, 2)
make_binary(SMALL, 30, 3, 4)
rs = np.random.RandomState(7)
Xr = rs.randn(100, 3)
with h5py.File(REG, "w") as f:
    f.create_dataset("train_x", data=Xr)
    f.create_dataset("train_y", data=np.stack([np.sin(Xr[:, 0]), Xr[:, 1] * Xr[:, 2]], axis=1))


def nparams(dims):
    return sum(dims[l] * dims[l - 1] + dims[l] for l in range(1, len(dims)))


def check_pass(data, args, dims, m_file, n=None):
    rc, out, err, _ = R.run(R.args.train, ["--data", data, "--gradient-check"] + args, n=n)
    require(rc == 0, "exit %d (expected 0): %s | %s" % (rc, tail(out), tail(err)))
    diffs = re.findall(r"^difference = (\S+)$", out, re.M)
    require(len(diffs) == 1, "expected one 'difference = ' line, got %d: %s" % (len(diffs), tail(out)))
    d = float(diffs[0])
    require(d < 1e-7, "difference %g >= 1e-7 but exit 0" % d)
    P, m = nparams(dims), min(64, m_file)
    checked = min(P, 2000)
    head = out.splitlines()[0]
    require("layer_dims %s" % ",".join(map(str, dims)) in head, "report does not name layer_dims %s: %s" % (dims, head))
    require(" %d of %d parameters" % (checked, P) in head, "report does not say %d of %d parameters: %s" % (
        checked, P, head))
    require("first %d of %d examples" % (m, m_file) in head, "report does not say the first %d of %d examples: %s" % (
        m, m_file, head))
    require("double precision" in head, "report does not say double precision: %s" % head)
    print("# %s %s: difference %s" % (os.path.basename(data), " ".join(args), diffs[0]))


def passes_sigmoid_tanh():
    check_pass(BIN, ["--layers", "5,3", "--hidden-activation", "tanh", "--precision", "single"], [4, 5, 3, 1], 200)


def passes_softmax_relu_dropout_l2():
    check_pass(CLS, ["--output", "softmax", "--layers", "6", "--keep-prob", "0.7", "--l2", "0.5"], [5, 6, 3], 150)


def passes_linear_tanh_dropout_l2():
    check_pass(REG, ["--output", "linear", "--layers", "7,4", "--hidden-activation", "tanh", "--keep-prob", "0.8",
                     "--l2", "0.1", "--init", "xavier"], [3, 7, 4, 2], 100)


def passes_leaky_standardize_small():
    check_pass(SMALL, ["--layers", "4", "--hidden-activation", "leaky_relu", "--standardize", "--scale", "3"],
               [3, 4, 1], 30)


def passes_sampled():
    check_pass(CLS, ["--output", "softmax", "--layers", "60,40", "--hidden-activation", "tanh", "--keep-prob",
                     "0.9"], [5, 60, 40, 3], 150)


def mpi2():
    check_pass(BIN, ["--layers", "5", "--keep-prob", "0.6"], [4, 5, 1], 200, n=2)


def config_key():
    cfg = R.path("gc.conf")
    with open(cfg, "w") as f:
        f.write("data = %s\nlayers = 3\ngradient-check = true\n" % BIN)
    rc, out, err, _ = R.run(R.args.train, ["--config", cfg])
    require(rc == 0 and "difference = " in out, "config file: exit %d, %s | %s" % (rc, tail(out), tail(err)))
    rc, out, err, _ = R.run(R.args.train, ["--help"])
    require(rc == 0 and "--gradient-check" in out, "--help does not list --gradient-check")


def bad_input():
    cases = [
        ([], "--data"),
        (["--data", R.path("nope.h5")], "nope.h5"),
        (["--data", BIN, "--x", "pixels"], "pixels"),
        (["--data", BIN, "--keep-prob", "0"], "--keep-prob"),
        (["--data", CLS, "--layers", "3"], "train_y"),  # class ids 0..2 under a sigmoid output
    ]
    for args, needle in cases:
        rc, out, err, _ = R.run(R.args.train, ["--gradient-check"] + args)
        lines = [l for l in err.splitlines() if l.strip()]
        require(rc == 1, "%s: exit %d, expected 1 (%s)" % (" ".join(args), rc, tail(err)))
        require(len(lines) == 1 and needle in lines[0], "%s: stderr should be one line naming %r, got %r" % (
            " ".join(args), needle, err))
        require("difference" not in out, "%s: a report was printed for bad input" % " ".join(args))


R.case("passes_sigmoid_tanh", passes_sigmoid_tanh)
R.case("passes_softmax_relu_dropout_l2", passes_softmax_relu_dropout_l2)
R.case("passes_linear_tanh_dropout_l2", passes_linear_tanh_dropout_l2)
R.case("passes_leaky_standardize_small", passes_leaky_standardize_small)
R.case("passes_sampled", passes_sampled)
R.case("mpi2", mpi2)
R.case("config_key", config_key)
R.case("bad_input", bad_input)
R.finish()
