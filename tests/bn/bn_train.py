#!/usr/bin/python3
"""--batch-norm in dnn-train (README, Batch normalization), end to end.

  gradcheck_relu, gradcheck_tanh
                  dnn-train --batch-norm --gradient-check passes (exit 0,
                  difference < 1e-7) on a relu net (with --l2 and dropout) and
                  on a tanh net (softmax output); the parameter count in the
                  report includes gamma (n[l] per hidden layer: b's slot holds
                  beta) and a gamma is checked (the report may name it)
  bitwise_full    full batch, single and double: the SHA-256 of W, b, gamma, beta and the running
                  statistics is the same for N = 1..4 (1100 examples: 5 global
                  chunks, so 3 and 4 ranks hold uneven shards and N = 4 one of
                  a single partial chunk)
  bitwise_minibatch
                  the same with --batch-size 96 --deterministic, Adam and dropout,
                  in double (where a sum taken in another order shows; in float32
                  the statistics' rounding to float32 usually hides it)
  bitwise_options the same for N = 1 and 3 with momentum, clipping, L2,
                  dropout, --validation-split and early stopping (full batch
                  and --deterministic mini-batches of 100, grouped by batch
                  position, and of 1050, grouped by global chunk)
  nondeterministic  mini-batch without --deterministic: 1 and 3 ranks agree
                  to 1e-10 relative (double): the statistics are the batch's
  resume          stopping at 60% (--iterations 12 of 20) and resuming gives the
                  bits of a straight run: full batch on 1 rank, full batch from
                  2 ranks to 3, mini-batch (--deterministic) from 2 ranks to 3
  running_stats   the checkpoint's running mean/var are not the initial 0/1 and
                  its gammas are not all 1 (the statistics and gamma are trained)
  bad_input       --bn-momentum -0.1 and 1, --bn-epsilon 0 and -1, --batch-norm
                  without hidden layers: exit 1 and one line naming the option
                  and value, at N = 1 (all) and N = 3 (momentum 1, epsilon 0,
                  no hidden layer); a --batch-norm checkpoint resumed without
                  it is refused
"""
import hashlib
import os
import re
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, tail, make_binary, make_classes  # noqa: E402

R = Runner(__doc__)
BIN, CLS = R.path("bin.h5"), R.path("cls.h5")
make_binary(BIN, 1100, 6, 5)
make_classes(CLS, 150, 5, 3, 2)
BASE = ["--data", BIN, "--layers", "9,5", "--batch-norm", "--lr", "0.05", "--quiet", "--seed", "4"]


def digest(ck):
    """SHA-256 of W, b, gamma, beta and the running statistics, in a fixed order."""
    h = hashlib.sha256()
    with h5py.File(ck, "r") as f:
        names = [k for k in f.keys() if re.match(r"^(W|b|gamma|beta)\d+$", k)]
        names += ["bn/" + k for k in f["bn"].keys()]
        require(len(names) == 3 + 1 + 2 * 2 + 2 * 2, "%s holds %s" % (ck, sorted(names)))
        for k in sorted(names):
            h.update(k.encode())
            h.update(np.ascontiguousarray(f[k][()]).tobytes())
    return h.hexdigest()


def gradcheck(data, args, dims):
    rc, out, err, _ = R.run(R.args.train, ["--data", data, "--batch-norm", "--gradient-check"] + args)
    require(rc == 0, "exit %d (expected 0): %s | %s" % (rc, tail(out), tail(err)))
    d = re.findall(r"^difference = (\S+)$", out, re.M)
    require(len(d) == 1 and float(d[0]) < 1e-7, "difference %s: %s" % (d, tail(out)))
    P = sum(dims[l] * dims[l - 1] + dims[l] for l in range(1, len(dims))) + sum(dims[1:-1])
    require(" %d of %d parameters" % (P, P) in out, "report does not say all %d parameters: %s" % (P, tail(out)))
    require("batch norm" in out.splitlines()[0], "report does not say batch norm: %s" % out.splitlines()[0])
    print("# gradient check %s: difference %s" % (" ".join(args), d[0]))


def gradcheck_relu():
    gradcheck(BIN, ["--layers", "7,4", "--keep-prob", "0.8", "--l2", "0.3"], [6, 7, 4, 1])


def gradcheck_tanh():
    gradcheck(CLS, ["--output", "softmax", "--layers", "6,5", "--hidden-activation", "tanh"], [5, 6, 5, 3])


def bitwise(extra, tag):
    got = {}
    for n in (1, 2, 3, 4):
        ck = R.path("%s_np%d.h5" % (tag, n))
        R.train(BASE + extra + ["--checkpoint", ck], n=n)
        got[n] = digest(ck)
    require(len(set(got.values())) == 1, "%s: digests differ by rank count: %s" % (tag, got))


def bitwise_full():
    bitwise(["--iterations", "15"], "full")
    bitwise(["--iterations", "15", "--precision", "double"], "full_double")  # double sees a reordered sum


MINI = ["--batch-size", "96", "--deterministic", "--optimizer", "adam", "--keep-prob", "0.8", "--lr", "0.01"]


def bitwise_minibatch():
    bitwise(MINI + ["--iterations", "15", "--precision", "double"], "mini")


OPTS = ["--optimizer", "momentum", "--clip-norm", "0.5", "--l2", "0.2", "--keep-prob", "0.9",
        "--validation-split", "0.2", "--early-stopping", "50", "--print-every", "5", "--iterations", "12"]


def bitwise_options():
    for extra, tag in (([], "opt_full"), (["--deterministic"], "opt_full_det"),
                       (["--batch-size", "100", "--deterministic"], "opt_mini"),
                       (["--batch-size", "1050", "--deterministic"], "opt_big")):  # > 1024: grouped by chunk
        got = {}
        for n in (1, 3):
            ck = R.path("%s_np%d.h5" % (tag, n))
            R.train(BASE + OPTS + extra + ["--checkpoint", ck, "--precision", "double"], n=n)
            got[n] = digest(ck)
        require(len(set(got.values())) == 1, "%s: digests differ by rank count: %s" % (tag, got))


def params(ck):
    with h5py.File(ck, "r") as f:
        return {k: f[k][()] for k in f.keys() if re.match(r"^(W|b|gamma|beta)\d+$", k)} | {
            "bn/" + k: f["bn"][k][()] for k in f["bn"].keys()}


def nondeterministic():
    """Mini-batch without --deterministic: the statistics are still the whole batch's (summed in double over the
    ranks), so 3 ranks agree with 1 to rounding (a rank's own statistics would be far off)."""
    got = {}
    for n in (1, 3):
        ck = R.path("nd_np%d.h5" % n)
        R.train(BASE + ["--batch-size", "128", "--iterations", "12", "--precision", "double", "--checkpoint", ck], n=n)
        got[n] = params(ck)
    for k, v in got[1].items():
        d = float(np.max(np.abs(got[3][k] - v)) / max(1e-300, float(np.max(np.abs(v)))))
        require(d < 1e-10, "%s differs by %g (relative) between 1 and 3 ranks" % (k, d))


def resume_case(extra, n1, n2, tag):
    straight = R.path("%s_straight.h5" % tag)
    R.train(BASE + extra + ["--iterations", "20", "--checkpoint", straight], n=n1)
    part = R.path("%s_part.h5" % tag)
    R.train(BASE + extra + ["--iterations", "12", "--checkpoint", part], n=n1)
    R.train(BASE + extra + ["--iterations", "20", "--checkpoint", part, "--resume"], n=n2)
    with h5py.File(part, "r") as f:
        require(int(f.attrs["iteration"]) == 20, "%s: resumed checkpoint at iteration %s" % (tag, f.attrs["iteration"]))
    require(digest(part) == digest(straight), "%s: resumed run (%s -> %s ranks) differs from the straight run" % (
        tag, n1, n2))


def resume():
    resume_case([], None, None, "full1")
    resume_case([], 2, 3, "full23")
    resume_case(MINI, 2, 3, "mini23")


def running_stats():
    ck = R.path("stats.h5")
    R.train(BASE + ["--iterations", "10", "--checkpoint", ck])
    with h5py.File(ck, "r") as f:
        require(int(f.attrs["batch_norm"]) == 1, "batch_norm attribute is %s" % f.attrs.get("batch_norm"))
        require(float(f.attrs["bn_momentum"]) == 0.9 and float(f.attrs["bn_epsilon"]) == 1e-5,
                "bn_momentum/bn_epsilon attributes %s %s" % (f.attrs["bn_momentum"], f.attrs["bn_epsilon"]))
        for l in (1, 2):
            require(f["bn/mean%d" % l].shape == (f["W%d" % l].shape[0], 1), "bn/mean%d shape" % l)
            require(np.any(f["bn/mean%d" % l][()] != 0) and np.any(f["bn/var%d" % l][()] != 1),
                    "running statistics of layer %d never updated" % l)
            require(np.any(f["gamma%d" % l][()] != 1), "gamma%d never trained" % l)
            require("b%d" % l not in f, "b%d is stored: b is dropped on batch-normalized layers" % l)
        require("b3" in f and "gamma3" not in f, "the output layer keeps b3 and has no gamma")


def bad_input():
    cases = [
        (["--layers", "4", "--batch-norm", "--bn-momentum", "-0.1"], ["--bn-momentum", "-0.1"]),
        (["--layers", "4", "--batch-norm", "--bn-momentum", "1"], ["--bn-momentum", "1"]),
        (["--layers", "4", "--batch-norm", "--bn-epsilon", "0"], ["--bn-epsilon", "0"]),
        (["--layers", "4", "--batch-norm", "--bn-epsilon", "-1"], ["--bn-epsilon", "-1"]),
        (["--batch-norm"], ["--batch-norm", "--layers"]),
    ]
    for n in (None, 3):
        for args, needles in (cases if n is None else cases[1:3] + cases[4:]):  # 3 ranks: one of each kind
            rc, out, err, _ = R.run(R.args.train, ["--data", BIN, "--iterations", "2", "--quiet"] + args, n=n)
            lines = [l for l in err.splitlines() if l.strip() and "MPI_ABORT" not in l and not l.startswith("-")]
            require(rc == 1, "N=%s %s: exit %d, expected 1 (%s)" % (n, " ".join(args), rc, tail(err)))
            require(lines and all(s in lines[0] for s in needles), "N=%s %s: first stderr line should name %s: %r"
                    % (n, " ".join(args), needles, err))
    ck = R.path("bn_for_resume.h5")
    R.train(BASE + ["--iterations", "2", "--checkpoint", ck])
    rc, out, err, _ = R.run(R.args.train, [a for a in BASE if a != "--batch-norm"] +
                            ["--iterations", "4", "--checkpoint", ck, "--resume"])
    require(rc == 1 and "--batch-norm" in err, "resume without --batch-norm: exit %d, %s" % (rc, tail(err)))


R.case("gradcheck_relu", gradcheck_relu)
R.case("gradcheck_tanh", gradcheck_tanh)
R.case("bitwise_full", bitwise_full)
R.case("bitwise_minibatch", bitwise_minibatch)
R.case("bitwise_options", bitwise_options)
R.case("nondeterministic", nondeterministic)
R.case("resume", resume)
R.case("running_stats", running_stats)
R.case("bad_input", bad_input)
R.finish()
