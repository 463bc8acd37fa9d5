#!/usr/bin/python3
"""Behaviours the seeded mutation sample (tests/mutation/sample.py) found
unguarded: one case each, named in its failure message.

  sample_audit.py --train T --predict P   (dnn-export and dnn-sweep come in
  the environment variables DNN_EXPORT and DNN_SWEEP)

  tool_args        dnn-predict and dnn-export (src/args.c): an unknown option,
                   an option without its value and a stray argument each end
                   with exit 1 and one line naming exactly what was typed
                   (the option, or the argument), and nothing of getopt's own
  damaged_checkpoint  dnn-predict --model and dnn-train --resume of a
                   checkpoint damaged after its superblock: exit 1 and one
                   line naming the file, no HDF5 error stack
  predict_layout   dnn-predict --layout with an unknown value: exit 1, one
                   line naming --layout and the value
"""
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, make_binary, tail  # noqa: E402

R = Runner(__doc__)
EXPORT, SWEEP = os.environ.get("DNN_EXPORT", ""), os.environ.get("DNN_SWEEP", "")
DATA = R.path("bin.h5")
make_binary(DATA, 200, 4, seed=3)
CK = R.path("ck.h5")


def checkpoint():
    if not os.path.exists(CK):
        R.train(["--data", DATA, "--layers", "3", "--iterations", "20", "--seed", "2", "--quiet", "--checkpoint", CK])
    return CK


def tool_args():
    ck = checkpoint()
    progs = [("dnn-predict", R.args.predict, ["--model", ck, "--data", DATA, "--x", "train_x"])]
    if EXPORT:
        progs.append(("dnn-export", EXPORT, ["--model", ck, "--onnx", R.path("m.onnx")]))
    require(len(progs) == 2, "DNN_EXPORT=%r is not dnn-export" % EXPORT)
    for name, prog, good in progs:
        for extra, named in ((["--bogus-option"], "'--bogus-option'"),
                             (["--bogus-option", "--data", DATA], "'--bogus-option'"),
                             (["--model"], "'--model'"),
                             (["stray-argument"], "unexpected argument 'stray-argument'")):
            args = good + extra
            rc, out, err, _ = R.run(prog, args, timeout=30)
            lines = [l for l in err.splitlines() if l.strip()]
            require(rc == 1 and len(lines) == 1 and named in lines[0] and lines[0].startswith(name + ":"),
                    "%s %s must end with exit 1 and one line naming %s (the argument loop, src/args.c): exit %d, "
                    "stderr %r" % (name, " ".join(extra), named, rc, err))


def predict_layout():
    ck = checkpoint()
    rc, out, err, _ = R.run(R.args.predict, ["--model", ck, "--data", DATA, "--x", "train_x", "--layout", "rows"],
                            timeout=30)
    lines = [l for l in err.splitlines() if l.strip()]
    require(rc == 1 and len(lines) == 1 and "--layout" in lines[0] and "'rows'" in lines[0],
            "dnn-predict --layout rows must end with exit 1 and one line naming --layout and 'rows': exit %d, %r" % (
                rc, err))


def damaged_checkpoint():
    ck = checkpoint()
    with open(ck, "rb") as f:
        head = f.read()
    bad = R.path("damaged.h5")
    with open(bad, "wb") as f:  # the superblock, then garbage
        f.write(head[:512] + bytes(range(256)) * 8)
    runs = [("dnn-predict", R.args.predict, ["--model", bad, "--data", DATA, "--x", "train_x"]),
            ("dnn-train", R.args.train, ["--data", DATA, "--layers", "3", "--iterations", "30", "--checkpoint", bad,
                                         "--resume"])]
    for name, prog, args in runs:
        rc, out, err, _ = R.run(prog, args, timeout=30)
        lines = [l for l in err.splitlines() if l.strip()]
        require(rc == 1 and len(lines) == 1 and lines[0].startswith(name + ":") and bad in lines[0],
                "%s with a damaged checkpoint must end with exit 1 and one line naming it (no HDF5 error stack): "
                "exit %d, %d lines: %s" % (name, rc, len(lines), tail(err, 4)))


R.case("tool_args", tool_args)
R.case("damaged_checkpoint", damaged_checkpoint)
R.case("predict_layout", predict_layout)
R.finish()
