#!/usr/bin/python3
"""Preprocessing, input checks and messages a user would notice (issue 25).

  help_defaults         --help shows each option's default ([value]) and none
                        for a flag (--standardize, --resume, ...), never "[]"
  minibatch_multi_output  3 targets per example: one mini-batch holding the
                        whole (shuffled) set trains as full batch does (1e-9)
  standardize_constant  --standardize with a constant feature trains (finite
                        cost); the checkpoint's mean/std equal numpy's
                        (np.mean, np.std with ddof 0) and the constant
                        feature's std is stored as 1 (centred, not scaled)
  standardize_too_large feature sums that cannot be added exactly are refused
                        (exit 1, naming --standardize and X): a value of 1e12
                        in the first chunk (pass 1, the mean), and one of 6e5
                        whose squared deviation is beyond the bound (pass 2)
  sigmoid_label_half    sigmoid labels 0.5 (and 2) are refused as binary
                        labels, by training and by --gradient-check
  numpy_seed_range      --rng numpy --seed 4294967296 is refused naming
                        --seed; 4294967295 is accepted and its initial
                        weights are numpy's np.random.seed(4294967295) ones,
                        not seed 0's
  damaged_chunk_index   a checkpoint whose W1 chunk index claims a 1 GiB chunk
                        is refused as "damaged chunk index" before HDF5 reads
  rank_blame_np2        under mpiexec -n 2, an error every rank sees is not
                        blamed on "rank 0 on HOST"; one only rank 1 sees is
                        blamed on rank 1
  gradcheck_blame       a failed --gradient-check blames rounding when the
                        difference falls with the larger step (mse on targets
                        of 1e6) and backprop when it does not (relu at its
                        kink: every input 0)
"""
import os
import struct
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, make_binary, tail, final_line  # noqa: E402

R = Runner(__doc__)
DATA = R.path("bin.h5")
make_binary(DATA, 400, 5, seed=2)


def fails(args, words, what, n=None):
    rc, out, err, _ = R.run(R.args.train, args, n=n)
    msg = [l for l in err.splitlines() if l.strip()]
    require(rc == 1 and msg and all(w in err for w in words),
            "%s: expected exit 1 and a message naming %s; got exit %d: %s" % (what, words, rc, tail(err + out)))
    return err


def write(path, X, Y):
    with h5py.File(path, "w") as f:
        f.create_dataset("train_x", data=X)
        f.create_dataset("train_y", data=Y)


def standardize_constant():
    rs = np.random.RandomState(5)
    X = (rs.randn(600, 3) * [2.0, 1.0, 0.5] + [1.0, 0.0, -3.0]).astype(np.float32)
    X[:, 1] = 7.0
    Y = (X[:, 0] + X[:, 2] > -2).astype(np.uint8).reshape(-1, 1)
    data, ck = R.path("const.h5"), R.path("const_ck.h5")
    write(data, X, Y)
    out = R.train(["--data", data, "--layers", "4", "--standardize", "--iterations", "20", "--quiet",
                   "--checkpoint", ck], what="--standardize with a constant feature")
    cost = float(final_line(out)["cost"])
    require(np.isfinite(cost), "--standardize of a constant feature: the cost is %g" % cost)
    found = {}
    with h5py.File(ck, "r") as f:
        f.visititems(lambda n, o: found.update({n.split("/")[-1]: np.array(o)}) if n.split("/")[-1] in
                     ("mean", "std") else None)
    require("mean" in found and "std" in found, "the checkpoint holds no mean/std datasets")
    Xd = X.astype(np.float64)
    want_std = Xd.std(axis=0)
    want_std[1] = 1.0
    require(np.allclose(found["mean"].ravel(), Xd.mean(axis=0), rtol=1e-12, atol=1e-12),
            "--standardize mean %s, numpy %s" % (found["mean"].ravel(), Xd.mean(axis=0)))
    require(np.allclose(found["std"].ravel(), want_std, rtol=1e-12),
            "--standardize of a constant feature: std %s, expected numpy's %s with 1 for the constant feature "
            "(a std of 0 would divide by 0)" % (found["std"].ravel(), want_std))


def standardize_too_large():
    rs = np.random.RandomState(6)
    for tag, value in (("mean", 1e12), ("squared deviations", 6e5)):
        X = rs.randn(600, 3).astype(np.float32)
        X[3, 2] = value  # in the first of the three chunks of 256 examples
        data = R.path("large.h5")
        write(data, X, (X[:, 0] > 0).astype(np.uint8).reshape(-1, 1))
        fails(["--data", data, "--layers", "4", "--standardize", "--iterations", "5", "--quiet"],
              ["--standardize", "train_x", "too large"],
              "feature sums too large to add exactly (%s, a value of %g) must be refused, not dropped" % (tag, value))


def sigmoid_label_half():
    X = np.random.RandomState(7).randn(300, 4).astype(np.float32)
    for bad in (0.5, 2.0):  # (NaN and negative labels mean 'unlabelled': README, multi-task)
        Y = (X[:, 0] > 0).astype(np.float64).reshape(-1, 1)
        Y[17, 0] = bad
        data = R.path("half.h5")
        write(data, X, Y)
        what = "sigmoid label %g accepted as a binary label" % bad
        fails(["--data", data, "--layers", "3", "--iterations", "5", "--quiet"], ["label %g" % bad, "17"], what)
        fails(["--data", data, "--layers", "3", "--gradient-check"], ["label %g" % bad, "17"], what + " (--gradient-check)")


def numpy_seed_range():
    base = ["--data", DATA, "--layers", "3", "--rng", "numpy", "--iterations", "1", "--lr", "1e-30", "--quiet"]
    fails(base + ["--seed", "4294967296"], ["--seed", "4294967296"],
          "--rng numpy --seed 4294967296 accepted (it would run as seed 0)")
    w = {}
    for s in (0, 4294967295):
        ck = R.path("seed%d.h5" % s)
        R.train(base + ["--seed", str(s), "--checkpoint", ck], what="--rng numpy --seed %d" % s)
        with h5py.File(ck, "r") as f:
            w[s] = np.array(f["W1"], np.float64)
    require(not np.array_equal(w[0], w[4294967295]), "--rng numpy: seed 4294967295 gives seed 0's weights")
    np.random.seed(4294967295)
    ref = np.random.randn(3, 5)
    ratio = w[4294967295] / ref
    require(np.allclose(ratio, ratio.flat[0], rtol=1e-5),
            "--rng numpy --seed 4294967295: W1 is not a multiple of numpy's randn(3, 5) after seed(4294967295)")


def damaged_chunk_index():
    ck, chunked, bad = R.path("ck.h5"), R.path("ck_chunked.h5"), R.path("ck_damaged.h5")
    R.train(["--data", DATA, "--layers", "4", "--iterations", "5", "--quiet", "--checkpoint", ck], what="train")
    with h5py.File(ck, "r") as src, h5py.File(chunked, "w", libver="earliest") as g:  # v1 B-tree chunk index
        for k, v in src.attrs.items():
            g.attrs[k] = v

        def cp(name, o):
            if isinstance(o, h5py.Group):
                gg = g.require_group(name)
                for k, v in o.attrs.items():
                    gg.attrs[k] = v
                return
            d = np.array(o)
            kw = dict(chunks=d.shape) if name == "W1" else {}
            dd = g.create_dataset(name, data=d, **kw)
            for k, v in o.attrs.items():
                dd.attrs[k] = v
        src.visititems(cp)
        w1_bytes = g["W1"].id.get_chunk_info(0).size
    rc, out, err, _ = R.run(R.args.predict, ["--model", chunked, "--data", DATA, "--x", "train_x", "--y", "train_y"])
    require(rc == 0, "the undamaged chunked copy must be readable: exit %d %s" % (rc, tail(err)))
    b = bytearray(open(chunked, "rb").read())
    hits, i = 0, b.find(b"TREE")
    while i >= 0:  # B-tree node: TREE, type 1 (chunks), level, entries, 2 siblings; key 0 starts with its size
        if b[i + 4] == 1 and struct.unpack_from("<I", b, i + 24)[0] == w1_bytes:
            struct.pack_into("<I", b, i + 24, 1 << 30)
            hits += 1
        i = b.find(b"TREE", i + 4)
    require(hits == 1, "found %d chunk B-tree nodes of W1 (%d bytes) to damage" % (hits, w1_bytes))
    with open(bad, "wb") as f:
        f.write(b)
    rc, out, err, _ = R.run(R.args.predict, ["--model", bad, "--data", DATA, "--x", "train_x", "--y", "train_y"])
    require(rc == 1 and "damaged chunk index" in err and "W1" in err,
            "a chunk index claiming a 1 GiB chunk of W1 must be refused before HDF5 allocates it; got exit %d: %s" % (
                rc, tail(err)))


def rank_blame_np2():
    X = np.random.RandomState(8).randn(400, 4).astype(np.float32)  # rank 0: [0, 256), rank 1: [256, 400)
    base = ["--layers", "3", "--iterations", "5", "--quiet"]
    Y = (X[:, 0] > 0).astype(np.float64).reshape(-1, 1)
    Y[3, 0] = Y[300, 0] = 0.5
    data = R.path("both.h5")
    write(data, X, Y)
    err = fails(["--data", data] + base, ["label 0.5"], "an error every rank sees", n=2)
    require(" rank 0 on " not in err and " rank 1 on " not in err,
            "an error every rank sees is blamed on one rank: %s" % tail(err))
    Y[3, 0] = 1.0
    write(data, X, Y)
    err = fails(["--data", data] + base, ["label 0.5", "300"], "an error only rank 1 sees", n=2)
    require("rank 1 on " in err, "an error only rank 1 sees must name rank 1: %s" % tail(err))


def gradcheck_blame():
    rs = np.random.RandomState(0)
    kink, big = R.path("kink.h5"), R.path("big.h5")
    write(kink, np.zeros((20, 3)), (rs.rand(20, 1) > 0.5).astype(np.uint8))
    write(big, rs.randn(64, 4), 1e6 * (1 + rs.rand(64, 1)))
    cases = [(big, ["--layers", "8", "--output", "linear"], "rounding in the cost", "a mistake in backprop",
              "a failure that falls with the larger step (rounding) is blamed on backprop"),
             (kink, ["--layers", "4", "--hidden-activation", "relu"], "a mistake in backprop", "rounding",
              "a failure that does not fall with the larger step (a real gradient error) is blamed on rounding")]
    for data, args, want, not_want, what in cases:
        rc, out, err, _ = R.run(R.args.train, ["--data", data, "--gradient-check"] + args)
        d = [l for l in out.splitlines() if l.startswith("difference = ")]
        wide = [l for l in out.splitlines() if l.startswith("with epsilon")]
        require(rc == 1 and d and wide, "the gradient check must fail here: exit %d %s" % (rc, tail(out + err)))
        d0 = float(d[0].split("=")[1])
        d1 = float(wide[0].split("difference is ")[1].split(":")[0])
        falls = d1 < d0 / 10
        require(falls == (want != "a mistake in backprop"), "the scenario changed: %g -> %g" % (d0, d1))
        require(want in wide[0] and not_want not in wide[0], "%s: %s" % (what, wide[0]))


def help_defaults():
    rc, out, err, _ = R.run(R.args.train, ["--help"])
    opts = [l.split() for l in out.splitlines() if l.startswith("  --")]
    require(rc == 0 and len(opts) > 30, "dnn-train --help: exit %d, %d option lines" % (rc, len(opts)))
    flags = {"--standardize", "--deterministic", "--resume", "--quiet", "--verbose", "--gradient-check"}
    for w in opts:
        line = " ".join(w)
        require(not line.endswith("[]"), "--help shows an empty default: %s" % line)
        if w[0] in flags:
            require(not line.endswith("]"), "--help shows a default for the flag %s: %s" % (w[0], line))
    got = {w[0]: w[-1] for w in opts}
    for opt, want in (("--lr", "[0.0075]"), ("--iterations", "[2500]"), ("--print-every", "[100]"), ("--x", "[train_x]")):
        require(got.get(opt) == want, "--help shows %s %s, expected the default %s" % (opt, got.get(opt), want))


def minibatch_multi_output():
    rs = np.random.RandomState(11)
    X = rs.randn(120, 3)
    Y = np.stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2], X[:, 0] - X[:, 2]], axis=1)
    data = R.path("multi.h5")
    write(data, X, Y)
    W = {}
    for tag, bs in (("full", "0"), ("one_batch", "120")):
        ck = R.path("multi_%s.h5" % tag)
        R.train(["--data", data, "--layers", "5", "--output", "linear", "--precision", "double", "--iterations", "20",
                 "--lr", "0.05", "--batch-size", bs, "--quiet", "--checkpoint", ck])
        with h5py.File(ck, "r") as f:
            W[tag] = np.concatenate([np.array(f[k]).ravel() for k in ("W1", "b1", "W2", "b2")])
    d = float(np.max(np.abs(W["full"] - W["one_batch"])) / np.max(np.abs(W["full"])))
    require(d < 1e-9, "one mini-batch holding the whole set (3 targets per example) must train like full batch: "
            "relative difference %.3g (a mini-batch takes the wrong targets of its examples?)" % d)


R.case("help_defaults", help_defaults)
R.case("minibatch_multi_output", minibatch_multi_output)
R.case("standardize_constant", standardize_constant)
R.case("standardize_too_large", standardize_too_large)
R.case("sigmoid_label_half", sigmoid_label_half)
R.case("numpy_seed_range", numpy_seed_range)
R.case("damaged_chunk_index", damaged_chunk_index)
R.case("rank_blame_np2", rank_blame_np2)
R.case("gradcheck_blame", gradcheck_blame)
R.finish()
