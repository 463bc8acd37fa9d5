#!/usr/bin/python3
"""Checkpoints and prediction files carry checksums that are verified on read (README, What happens when things go wrong).

One checkpoint is trained (20 inputs, --layers 16,8, --standardize, --optimizer
adam, so that W/b, /preprocess, /history and /optimizer/v, /optimizer/s are all
present).  Cases:
  every_dataset_checksummed  h5py (independently of dnn) finds every dataset of
                       the checkpoint, of a --best-checkpoint and of a
                       dnn-predict .h5 output chunked
                       with the Fletcher32 filter, and reads them all
  h5py_refuses_flip    h5py itself refuses a checkpoint whose W2 had one bit
                       flipped in the file's bytes: the checksum is really there
  flip_W2_resume / flip_W2_predict / flip_W2_resume_np3
                       the lowest mantissa bit of W2[0, 1] flipped in the file
                       (one ulp: still a valid, finite float) -> exit 1, one
                       'dnn-train:'/'dnn-predict:' line naming the file, 'W2'
                       and 'checksum'; the file is unchanged, no .tmp is left
  flip_mean_resume, flip_moment_resume
                       the same for /preprocess/mean and /optimizer/s/dW1
  inf_W1_resume / inf_W1_predict
                       W1[2, 3] = Inf written with h5py (so its checksum is
                       right): refused naming W1 and the index (2, 3), and the
                       message does not speak of divergence or --lr
  nan_b2_predict       b2[0, 0] = NaN: named with its index (0, 0)
  inf_moment_resume    /optimizer/v/db2 = -Inf: named
  old_file_note_resume / old_file_note_predict
                       every dataset rewritten without a checksum (contiguous,
                       as dnn wrote them before): accepted (exit 0) with exactly
                       one stderr line, a note saying the file has no checksums
  one_rewritten_note   only W1 rewritten by h5py without the filter: accepted,
                       and the note names W1
"""
import hashlib
import os
import shutil
import struct
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, make_binary, tail  # noqa: E402

R = Runner(__doc__)
DATA = R.path("train.h5")
make_binary(DATA, 300, 20, seed=41)
BASE = ["--layers", "16,8", "--lr", "0.01", "--standardize", "--optimizer", "adam", "--quiet"]
GOOD = R.path("good.ckpt.h5")
R.train(["--data", DATA, "--checkpoint", GOOD, "--iterations", "10"] + BASE, what="making the checkpoint")
PRED = R.path("pred.h5")


def sha(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def variant(name, edit):
    p = R.path(name + ".ckpt.h5")
    shutil.copyfile(GOOD, p)
    edit(p)
    return p


def flip_lowest_bit(dset, index):
    """Flip the lowest mantissa bit of element `index` of dset in the file's
    bytes (chunk 0, no compression: dnn stores raw values plus a checksum)."""
    def e(p):
        with h5py.File(p, "r") as f:
            d = f[dset]
            require(d.compression is None and d.fletcher32, "%s: expected an uncompressed, checksummed dataset" % dset)
            info = d.id.get_chunk_info(0)
            flat = int(np.ravel_multi_index(index, d.chunks))
            es = d.dtype.itemsize
            before = d[index]
        with open(p, "r+b") as fh:
            fh.seek(info.byte_offset + flat * es)
            b = bytearray(fh.read(es))
            b[0] ^= 1  # little-endian: the lowest bit of the mantissa
            fh.seek(info.byte_offset + flat * es)
            fh.write(b)
        after = struct.unpack("<f" if es == 4 else "<d", bytes(b))[0]
        require(np.isfinite(after) and after != before, "the flip did not give another finite value")
    return e


def plant(dset, index, value):
    def e(p):
        with h5py.File(p, "r+") as f:
            a = f[dset][...]
            a[index] = value
            f[dset][...] = a  # through the filter: a correct checksum of the bad value
    return e


def strip_checksums(only=None):
    """Rewrite datasets contiguous, without filters (as dnn wrote them before checksums)."""
    def e(p):
        with h5py.File(p, "r+") as f:
            names = []
            f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
            for n in names:
                if only and n not in only:
                    continue
                a = f[n][...]
                del f[n]
                f.create_dataset(n, data=a)
    return e


def resume_args(ck):
    return ["--data", DATA, "--checkpoint", ck, "--resume", "--iterations", "20"] + BASE


def predict_args(ck):
    return ["--model", ck, "--data", DATA, "--x", "train_x", "--y", "train_y"]


def refused(prog, args, ck, keys, absent=(), n=None):
    before = sha(ck)
    rc, out, err, dt = R.run(prog, args, n=n, timeout=60)
    require(rc not in (124, 137), "timed out (hang)")
    require(rc == 1 if n is None else 1 <= rc <= 123, "exit %d, expected 1: %s" % (rc, tail(err)))
    tag = os.path.basename(prog) + ":"
    lines = [l for l in err.splitlines() if tag in l]
    require(len(lines) == 1, "%d '%s' lines on stderr, expected 1: %s" % (len(lines), tag, tail(err)))
    require("HDF5-DIAG" not in err, "HDF5's diagnostic stack reached the user: %s" % tail(err))
    low = lines[0].lower()
    for k in [os.path.basename(ck)] + keys:
        require(k.lower() in low, "the message lacks %r: %s" % (k, lines[0]))
    for k in absent:
        require(k.lower() not in low, "the message speaks of %r: %s" % (k, lines[0]))
    require(sha(ck) == before, "the refused checkpoint was modified")
    require(not os.path.exists(ck + ".tmp"), "a .tmp was left behind")
    print("#   %s" % lines[0][:300])


def every_dataset_checksummed():
    R.predict(predict_args(GOOD) + ["--output", PRED])
    best = R.path("best.ckpt.h5")
    R.train(["--data", DATA, "--iterations", "20", "--print-every", "5", "--validation-split", "0.2",
             "--best-checkpoint", best] + BASE, what="a run with --best-checkpoint")
    for p in (GOOD, PRED, best):
        found = []
        with h5py.File(p, "r") as f:
            def visit(n, o):
                if isinstance(o, h5py.Dataset):
                    found.append(n)
                    require(o.chunks is not None and o.fletcher32, "%s:/%s carries no Fletcher32 checksum" % (p, n))
                    o[()]  # h5py applies the filter (verifies) on its own
            f.visititems(visit)
        want = {"W1", "b1", "W3", "b3", "preprocess/mean", "preprocess/std", "history/cost", "history/iteration",
                "optimizer/v/dW1", "optimizer/s/db3"} if p != PRED else {"probabilities", "predictions"}
        require(want <= set(found), "%s lacks datasets %s (found %s)" % (p, sorted(want - set(found)), found))
        print("#   %s: %d datasets, all checksummed" % (os.path.basename(p), len(found)))


def h5py_refuses_flip():
    ck = variant("h5py_flip", flip_lowest_bit("W2", (0, 1)))
    with h5py.File(ck, "r") as f:
        try:
            f["W2"][...]
        except OSError as e:
            require("fletcher32" in str(e).lower(), "h5py refused it, but not for the checksum: %s" % e)
            return
    raise AssertionError("h5py read the flipped W2 without complaint: the checksum is not verified")


def note_case(prog, args, ck, keys):
    rc, out, err, dt = R.run(prog, args, timeout=60)
    require(rc == 0, "exit %d, expected 0 (a file without checksums must load): %s" % (rc, tail(err)))
    lines = [l for l in err.splitlines() if l.strip()]
    require(len(lines) == 1, "expected exactly one stderr line (the note), got %d: %s" % (len(lines), tail(err)))
    for k in ["note", os.path.basename(ck)] + keys:
        require(k.lower() in lines[0].lower(), "the note lacks %r: %s" % (k, lines[0]))
    print("#   %s" % lines[0][:300])


T, P = R.args.train, R.args.predict
DIVERGE = ("diverged", "--lr")
R.case("every_dataset_checksummed", every_dataset_checksummed)
R.case("h5py_refuses_flip", h5py_refuses_flip)
for tag, prog, args, n in (("resume", T, resume_args, None), ("predict", P, predict_args, None),
                           ("resume_np3", T, resume_args, 3)):
    R.case("flip_W2_" + tag, lambda prog=prog, args=args, n=n, tag=tag: refused(
        prog, args(variant("flip_" + tag, flip_lowest_bit("W2", (0, 1)))), R.path("flip_%s.ckpt.h5" % tag),
        ["W2", "checksum"], n=n))
R.case("flip_mean_resume", lambda: refused(T, resume_args(variant("flip_mean", flip_lowest_bit("preprocess/mean", (3,)))),
                                           R.path("flip_mean.ckpt.h5"), ["preprocess/mean", "checksum"]))
R.case("flip_moment_resume", lambda: refused(T, resume_args(variant("flip_s", flip_lowest_bit("optimizer/s/dW1", (1, 2)))),
                                             R.path("flip_s.ckpt.h5"), ["optimizer/s/dW1", "checksum"]))
R.case("inf_W1_resume", lambda: refused(T, resume_args(variant("inf_r", plant("W1", (2, 3), np.inf))),
                                        R.path("inf_r.ckpt.h5"), ["W1", "Inf", "(2, 3)"], DIVERGE))
R.case("inf_W1_predict", lambda: refused(P, predict_args(variant("inf_p", plant("W1", (2, 3), np.inf))),
                                         R.path("inf_p.ckpt.h5"), ["W1", "Inf", "(2, 3)"], DIVERGE))
R.case("nan_b2_predict", lambda: refused(P, predict_args(variant("nan_p", plant("b2", (0, 0), np.nan))),
                                         R.path("nan_p.ckpt.h5"), ["b2", "NaN", "(0, 0)"], DIVERGE))
R.case("inf_moment_resume", lambda: refused(T, resume_args(variant("inf_v", plant("optimizer/v/db2", (4, 0), -np.inf))),
                                            R.path("inf_v.ckpt.h5"), ["optimizer/v/db2", "Inf", "(4, 0)"], DIVERGE))
R.case("old_file_note_resume", lambda: note_case(T, resume_args(variant("old_r", strip_checksums())),
                                                 R.path("old_r.ckpt.h5"), ["no checksums"]))
R.case("old_file_note_predict", lambda: note_case(P, predict_args(variant("old_p", strip_checksums())),
                                                  R.path("old_p.ckpt.h5"), ["no checksums"]))
R.case("one_rewritten_note", lambda: note_case(T, resume_args(variant("one", strip_checksums({"W1"}))),
                                               R.path("one.ckpt.h5"), ["W1", "without a checksum"]))
R.finish()
