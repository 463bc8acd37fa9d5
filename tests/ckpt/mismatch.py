#!/usr/bin/python3
"""Checkpoints that do not fit are refused with a clear message and exit 1.

A checkpoint is trained once (20 inputs, --layers 16,8, relu, sigmoid, single
precision, 10 iterations).  Each case copies it (or a damaged copy), runs
`dnn-train ... --checkpoint COPY --resume` (or dnn-predict --model COPY) under
`timeout 60`, and asserts
  - exit code exactly 1 (single process; under mpiexec -n 2: 1..123, not 124),
  - stderr names the checkpoint file and holds the case's key words
    (case-insensitive; a tuple means any one of its words),
  - the checkpoint file is byte for byte unchanged and no COPY.tmp is left
    (a refused resume writes nothing).
dnn-train --resume cases: other --layers, other data width (21 features),
other --precision, other --hidden-activation, --standardize added,
format_version 2 (edited with h5py), format attribute not "dnn-checkpoint"
(a fixed-length string, so its value can be shown),
W2 deleted, W1 of a wrong shape, the first half of the bytes (truncated), a
text file, a missing file.  dnn-predict --model cases: truncated, text file,
format_version 2, data of the wrong width.  mpiexec -n 2 cases: other
--layers, truncated.
Two cases are acceptances: the good checkpoint with every string attribute
rewritten by h5py -- as a Python str (variable-length, h5py's default), or as
numpy bytes (fixed-length, null-padded) -- must still be accepted by --resume
and dnn-predict (exit 0): checkpoints are meant to be read and edited with h5py.
"""
import hashlib
import os
import shutil
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, make_binary, tail  # noqa: E402

R = Runner(__doc__)
DATA = R.path("train.h5")
make_binary(DATA, 300, 20, seed=31)
WIDE = R.path("train_21.h5")
make_binary(WIDE, 300, 21, seed=32)
BASE = ["--layers", "16,8", "--lr", "0.1", "--quiet"]
GOOD = R.path("good.ckpt.h5")
R.train(["--data", DATA, "--checkpoint", GOOD, "--iterations", "10"] + BASE, what="making the checkpoint")


def file_sha(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def variant(name, edit=None):
    """A copy of the good checkpoint, edited by edit(path)."""
    p = R.path(name + ".ckpt.h5")
    shutil.copyfile(GOOD, p)
    if edit:
        edit(p)
    return p


def set_attr(key, value):
    def e(p):
        with h5py.File(p, "r+") as f:
            f.attrs[key] = value
    return e


def del_dset(name):
    def e(p):
        with h5py.File(p, "r+") as f:
            del f[name]
    return e


def bad_w1(p):
    with h5py.File(p, "r+") as f:
        del f["W1"]
        f.create_dataset("W1", data=np.zeros((16, 19), np.float32))


def truncate(p):
    with open(GOOD, "rb") as f:
        b = f.read()
    with open(p, "wb") as f:
        f.write(b[:len(b) // 2])


def text(p):
    with open(p, "w") as f:
        f.write("W1 = [[0.1, 0.2], [0.3, 0.4]]\nthis is not an HDF5 checkpoint\n")


def expect_refusal(prog, args, ck, keys, n=None):
    before = file_sha(ck) if os.path.exists(ck) else None
    rc, out, err, dt = R.run(prog, args, n=n, timeout=60)
    require(rc not in (124, 137), "timed out after 60 s (hang)")
    if n is None:
        require(rc == 1, "exit code %d, expected 1; stderr: %s" % (rc, tail(err)))
    else:
        require(1 <= rc <= 123, "exit code %d, expected 1..123; stderr: %s" % (rc, tail(err)))
    low = err.lower()
    missing = []
    for k in [ck] + keys:
        alts = k if isinstance(k, tuple) else (k,)
        if not any(a.lower() in low for a in alts):
            missing.append("|".join(alts))
    require(not missing, "stderr lacks %s: %s" % (missing, tail(err)))
    if before is not None:
        require(file_sha(ck) == before, "the checkpoint file was modified by the refused run")
    require(not os.path.exists(ck + ".tmp"), "a .tmp checkpoint was left behind")
    print("#   %s" % tail(err, 1)[:300])


def resume_case(name, edit, extra, keys, data=DATA, n=None):
    ck = variant(name, edit) if edit is not False else R.path(name + ".missing.h5")
    args = ["--data", data, "--checkpoint", ck, "--resume", "--iterations", "20"] + BASE + extra
    expect_refusal(R.args.train, args, ck, keys, n)


def predict_case(name, edit, keys, data=DATA):
    ck = variant("predict_" + name, edit)
    expect_refusal(R.args.predict, ["--model", ck, "--data", data, "--x", "train_x", "--y", "train_y"], ck, keys)


def rewrite_strings(fixed):
    """Rewrite every string attribute as h5py writes it: a Python str (variable length)
    or, fixed=True, numpy bytes (fixed length, null-padded, no terminator)."""
    def e(p):
        with h5py.File(p, "r+") as f:
            for k in list(f.attrs):
                v = f.attrs[k]
                if isinstance(v, (bytes, str, np.bytes_)):
                    s = v.decode() if isinstance(v, (bytes, np.bytes_)) else v
                    del f.attrs[k]
                    f.attrs[k] = np.bytes_(s.encode()) if fixed else s
    return e


def h5py_strings(fixed):
    """Not a refusal: the same checkpoint with its string attributes written the way h5py
    writes strings must still be accepted by --resume and by dnn-predict."""
    how = "fixed-length numpy bytes" if fixed else "variable-length str"
    ck = variant("strings%d" % fixed, rewrite_strings(fixed))
    rc, out, err, dt = R.run(R.args.train, ["--data", DATA, "--checkpoint", ck, "--resume", "--iterations", "20"]
                             + BASE, timeout=60)
    require(rc == 0, "dnn-train --resume refused a checkpoint whose string attributes h5py rewrote as %s, "
            "exit %d: %s" % (how, rc, tail(err)))
    if R.args.predict:
        ck2 = variant("strings%d_predict" % fixed, rewrite_strings(fixed))
        rc, out, err, dt = R.run(R.args.predict, ["--model", ck2, "--data", DATA, "--x", "train_x"], timeout=60)
        require(rc == 0, "dnn-predict refused it (%s), exit %d: %s" % (how, rc, tail(err)))


DAMAGED = ("truncated", "damaged", "corrupt", "not a readable", "not an hdf5", "not a valid")
R.case("resume_other_layers", resume_case, "layers", None, ["--layers", "16,4"], ["layer", "16,8", "16,4"])
R.case("resume_other_data_width", resume_case, "width", None, [], [WIDE, "21", "20"], WIDE)
R.case("resume_other_precision", resume_case, "precision", None, ["--precision", "double"],
       ["precision", "single", "double"])
R.case("resume_other_hidden_activation", resume_case, "hidden", None, ["--hidden-activation", "tanh"],
       ["relu", "tanh"])
R.case("resume_standardize_added", resume_case, "standardize", None, ["--standardize"], ["standardize"])
R.case("resume_format_version_2", resume_case, "version2", set_attr("format_version", np.int64(2)), [],
       ["format_version", "2"])
R.case("resume_format_attribute", resume_case, "format", set_attr("format", np.bytes_(b"something-else")), [],
       ["format", "something-else"])
R.case("resume_missing_W2", resume_case, "noW2", del_dset("W2"), [], ["W2"])
R.case("resume_W1_wrong_shape", resume_case, "badW1", bad_w1, [], ["W1", ("shape", "16, 20", "16,20")])
R.case("resume_truncated", resume_case, "truncated", truncate, [], [DAMAGED])
R.case("resume_text_file", resume_case, "text", text, [], [("hdf5", "not a dnn checkpoint")])
R.case("resume_missing_file", resume_case, "missing", False, [],
       [("no such file", "does not exist", "not found", "missing", "cannot open")])
if R.args.predict:
    R.case("predict_truncated", predict_case, "truncated", truncate, [DAMAGED])
    R.case("predict_text_file", predict_case, "text", text, [("hdf5", "not a dnn checkpoint")])
    R.case("predict_format_version_2", predict_case, "version2", set_attr("format_version", np.int64(2)),
           ["format_version", "2"])
    R.case("predict_other_data_width", predict_case, "width", None, [WIDE, "21", "20"], WIDE)
R.case("h5py_vlen_string_attributes_accepted", h5py_strings, False)
R.case("h5py_fixed_string_attributes_accepted", h5py_strings, True)
R.case("resume_other_layers_np2", resume_case, "layers_np2", None, ["--layers", "16,4"],
       ["layer", "16,8", "16,4"], DATA, 2)
R.case("resume_truncated_np2", resume_case, "truncated_np2", truncate, [], [DAMAGED], DATA, 2)
R.finish()
