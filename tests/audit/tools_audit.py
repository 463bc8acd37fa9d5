#!/usr/bin/python3
"""dnn-sweep, dnn-predict, dnn-export and dnn-train's timing (issue 25).

  tools_audit.py --train T --predict P   (dnn-sweep and dnn-export come in the
  environment variables DNN_SWEEP and DNN_EXPORT; DNN_FSYNC_SHIM selects
  the export_fsync case, run alone with --only export_fsync)

  sweep_grid_blame   a refused trial names the grid line of the option the
                     message names first: --classes (line 3, before --output
                     at line 4), --validation-split (line 3, not the line of
                     'validation', a prefix of it)
  sweep_jobs_cap     --jobs above the cores this process may use (its CPU
                     affinity) runs as many trials at a time as there are
                     cores; --oversubscribe keeps --jobs
  predict_mse        a linear network with 2 outputs: dnn-predict's mse is
                     numpy's mean over examples and outputs of (P - Y)^2
  predict_multilabel a sigmoid network with 3 labels: an example is right
                     when every label is; accuracy equals numpy's
  export_sha256      source_sha256 equals hashlib's SHA-256 of the checkpoint,
                     its size padded to 55, 56, 57, 63, 64 and 65 mod 64
  ms_per_epoch       the final line's ms_per_epoch is the time after the first
                     epoch divided by epochs - 1: it lies between the bounds
                     the --metrics seconds column gives for the end of the
                     first epoch (records at every iteration)
  export_file_too_large  a write that fails (a file-size limit, SIGXFSZ
                     ignored) ends dnn-export with exit 1 naming the file, the
                     previous model kept, no temporary file left (no endless retry)
  export_fsync       (LD_PRELOAD fsync shim) dnn-export fsyncs OUT.onnx.tmp
                     before it renames it to OUT.onnx
"""
import csv
import hashlib
import os
import re
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, make_binary, tail, final_line  # noqa: E402

R = Runner(__doc__)
SWEEP, EXPORT = os.environ.get("DNN_SWEEP", ""), os.environ.get("DNN_EXPORT", "")
SHIM = os.environ.get("DNN_FSYNC_SHIM", "")
DATA = R.path("bin.h5")
make_binary(DATA, 300, 5, seed=4)


def write(path, **sets):
    with h5py.File(path, "w") as f:
        for k, v in sets.items():
            f.create_dataset(k, data=v)


def sweep(args):
    require(SWEEP and os.access(SWEEP, os.X_OK), "DNN_SWEEP=%r is not dnn-sweep" % SWEEP)
    return R.run(SWEEP, args, timeout=60)


def sweep_grid_blame():
    cases = [("classes = 3 | 4\noutput = sigmoid\n", 3, "--classes 3 needs --output softmax"),
             ("validation-split = 0.1 | 0.2\n", 3, "--validation-split and --validation")]
    for n, (body, line, words) in enumerate(cases):
        head = "data = %s\n" % DATA + ("validation = %s\n" % DATA if "validation" in body else "iterations = 5\n")
        grid = R.path("grid%d.conf" % n)
        with open(grid, "w") as f:
            f.write(head + body)
        rc, out, err, _ = sweep(["--out", R.path("sw%d" % n), grid])
        where = re.findall(r"grid%d\.conf:(\d+):" % n, err)
        require(rc == 1 and words in err and where == [str(line)],
                "dnn-sweep blames the wrong grid line for a refused trial (%r): expected grid%d.conf:%d, got exit "
                "%d: %s" % (words, n, line, rc, tail(err)))


def sweep_jobs_cap():
    cores = len(os.sched_getaffinity(0))
    grid = R.path("jobs.conf")
    with open(grid, "w") as f:
        f.write("data = %s\niterations = 5\nlr = 0.1 | 0.2 | 0.3\n" % DATA)
    jobs = cores + 2
    rc, out, err, _ = sweep(["--jobs", str(jobs), "--dry-run", "--out", R.path("j1"), grid])
    at = re.findall(r"; (\d+) at a time", out)
    require(rc == 0 and at == [str(cores)], "--jobs %d with %d cores is not capped at %d: exit %d %s" % (
        jobs, cores, cores, rc, tail(out + err)))
    rc, out, err, _ = sweep(["--jobs", str(jobs), "--oversubscribe", "--dry-run", "--out", R.path("j2"), grid])
    at = re.findall(r"; (\d+) at a time", out)
    require(rc == 0 and at == [str(jobs)], "--jobs %d --oversubscribe: %s" % (jobs, tail(out + err)))


def predict_mse():
    rs = np.random.RandomState(9)
    X = rs.randn(200, 3)
    Y = np.stack([np.sin(X[:, 0]), 3 * X[:, 1] * X[:, 2] + 1], axis=1)
    data, ck, pred = R.path("reg.h5"), R.path("reg_ck.h5"), R.path("reg_pred.h5")
    write(data, train_x=X, train_y=Y)
    R.train(["--data", data, "--layers", "6", "--output", "linear", "--iterations", "30", "--lr", "0.05",
             "--precision", "double", "--quiet", "--checkpoint", ck])
    out = R.predict(["--model", ck, "--data", data, "--x", "train_x", "--y", "train_y", "--output", pred])
    got = re.findall(r"mse=(\S+) m=(\d+)", out)
    with h5py.File(pred, "r") as f:
        P = np.array(f["probabilities"])
    want = float(np.mean((P - Y) ** 2))
    require(got and int(got[0][1]) == 200, "no 'mse=... m=200' line: " + tail(out))
    require(abs(float(got[0][0]) - want) <= 1e-7 * want, "dnn-predict mse %s, numpy's mean over examples and the 2 "
            "outputs %.9g (summed over the outputs: %.9g)" % (got[0][0], want, want * 2))


def predict_multilabel():
    rs = np.random.RandomState(10)
    X = rs.randn(300, 4).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0.3, X[:, 3] * X[:, 0] > 0], axis=1).astype(np.uint8)
    data, ck, pred = R.path("ml.h5"), R.path("ml_ck.h5"), R.path("ml_pred.h5")
    write(data, train_x=X, train_y=Y)
    R.train(["--data", data, "--layers", "5", "--iterations", "40", "--lr", "0.3", "--quiet", "--checkpoint", ck])
    out = R.predict(["--model", ck, "--data", data, "--x", "train_x", "--y", "train_y", "--output", pred])
    got = re.findall(r"accuracy=(\S+) m=(\d+)", out)
    with h5py.File(pred, "r") as f:
        P = np.array(f["probabilities"])
    require(P.shape == (300, 3), "probabilities of shape %s" % (P.shape,))
    right = (P > 0.5) == (Y > 0.5)
    want, last = float(np.mean(right.all(axis=1))), float(np.mean(right[:, -1]))
    require(abs(want - last) > 0.01 and abs(want - float(np.mean(right[:, 0]))) > 0.01,
            "degenerate scenario: per-label accuracies %s, all %g" % (right.mean(axis=0), want))
    require(got and abs(float(got[0][0]) - want) < 1e-6, "dnn-predict multi-label accuracy %s, numpy (all 3 labels "
            "right) %.6f; the last label alone %.6f" % (got[0][0] if got else tail(out), want, last))


def export_sha256():
    require(EXPORT and os.access(EXPORT, os.X_OK), "DNN_EXPORT=%r is not dnn-export" % EXPORT)
    ck = R.path("ex.h5")
    R.train(["--data", DATA, "--layers", "4", "--iterations", "5", "--quiet", "--checkpoint", ck])
    raw = open(ck, "rb").read()
    for r in (55, 56, 57, 63, 64, 65):
        padded = R.path("ex_%d.h5" % r)
        pad = (r - len(raw)) % 64
        with open(padded, "wb") as f:  # HDF5 ignores bytes after its end of file
            f.write(raw + b"\0" * pad)
        onnx = R.path("ex_%d.onnx" % r)
        rc, out, err, _ = R.run(EXPORT, ["--model", padded, "--onnx", onnx])
        want = hashlib.sha256(raw + b"\0" * pad).hexdigest()
        got = re.findall(r"sha256 ([0-9a-f]{64})", out)
        require(rc == 0 and got, "dnn-export of a checkpoint of %d bytes: exit %d %s" % (len(raw) + pad, rc,
                                                                                          tail(out + err)))
        require(got[0] == want and want.encode() in open(onnx, "rb").read(),
                "dnn-export's source_sha256 of a file of %d bytes (%d mod 64) is %s, hashlib's %s (SHA-256 padding)"
                % (len(raw) + pad, r % 64, got[0], want))


def ms_per_epoch():
    met = R.path("t.csv")
    E, spe = 4, 10  # 300 examples, --batch-size 30
    out = R.train(["--data", DATA, "--layers", "32", "--batch-size", "30", "--epochs", str(E), "--print-every", "1",
                   "--quiet", "--metrics", met])
    fl = final_line(out)
    with open(met) as f:
        sec = {int(r["iteration"]): float(r["seconds"]) for r in csv.DictReader(f)}
    total, ms, last = float(fl["seconds"]), float(fl["ms_per_epoch"]), E * spe - 1
    # The first epoch ends after the record of iteration spe-1 and before the
    # record of iteration spe; the run ends after the record of the last
    # iteration and at `seconds` (printed to the ms; a 20 ms allowance for a
    # descheduling between the two clock reads at the end).
    lo = (sec[last] - sec[spe]) / (E - 1) * 1e3 - 2e-3
    hi = (total + 5e-4 - sec[spe - 1]) / (E - 1) * 1e3 + 20.0
    require(lo <= ms <= hi, "ms_per_epoch %g is not the time after the first epoch / (epochs - 1): expected in "
            "[%g, %g] (/ epochs would give about %g)" % (ms, lo, hi, ms * (E - 1) / E))


def export_file_too_large():
    require(EXPORT and os.access(EXPORT, os.X_OK), "DNN_EXPORT=%r is not dnn-export" % EXPORT)
    import resource
    import signal
    ck, onnx = R.path("big_ck.h5"), R.path("big.onnx")
    R.train(["--data", DATA, "--layers", "4", "--iterations", "5", "--quiet", "--checkpoint", ck])
    rc, out, err, _ = R.run(EXPORT, ["--model", ck, "--onnx", onnx])
    require(rc == 0, "dnn-export: exit %d %s" % (rc, tail(err)))
    before = open(onnx, "rb").read()

    def limit():  # a file-size limit below the model's size; SIGXFSZ ignored (kept across exec): writes fail
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) // 2, len(before) // 2))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    cmd = ["timeout", "-k", "5", "30", EXPORT, "--model", ck, "--onnx", onnx]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=R.env, preexec_fn=limit,
                       universal_newlines=True)
    require(p.returncode == 1 and onnx in p.stderr,
            "dnn-export whose write fails (file too large) must exit 1 naming --onnx, not hang; got exit %d: %s"
            % (p.returncode, tail(p.stderr)))
    want = "cannot write --onnx file '%s.tmp': File too large; the previous '%s' is kept" % (onnx, onnx)
    require(want in p.stderr, "the failed write must be named as a write, with the error and the kept file: want "
            "%r, got %s" % (want, tail(p.stderr)))
    require(open(onnx, "rb").read() == before and not os.path.exists(onnx + ".tmp"),
            "a failed dnn-export must keep the previous model and remove its temporary file")


def export_fsync():
    require(SHIM and os.path.exists(SHIM), "DNN_FSYNC_SHIM=%r is not the shim library" % SHIM)
    require(EXPORT and os.access(EXPORT, os.X_OK), "DNN_EXPORT=%r is not dnn-export" % EXPORT)
    ck, onnx, log = R.path("fs.h5"), R.path("fs.onnx"), R.path("fs.log")
    R.train(["--data", DATA, "--layers", "4", "--iterations", "5", "--quiet", "--checkpoint", ck])
    env = dict(R.env, LD_PRELOAD=SHIM, DNN_SHIM_LOG=log, DNN_SHIM_MATCH=onnx)
    saved, R.env = R.env, env
    try:
        rc, out, err, _ = R.run(EXPORT, ["--model", ck, "--onnx", onnx])
    finally:
        R.env = saved
    require(rc == 0 and os.path.exists(onnx), "dnn-export under the shim: exit %d %s" % (rc, tail(err)))
    ev = [tuple(l.split()[1:]) for l in open(log) if l.strip()] if os.path.exists(log) else []
    tmp = [e[1] for e in ev if e[0] == "rename" and len(e) > 2 and e[2] == onnx]
    require(len(tmp) == 1, "dnn-export must rename one temporary file onto %s: events %s" % (onnx, ev))
    ren = ev.index(("rename", tmp[0], onnx))
    synced = [i for i, e in enumerate(ev) if e[0] in ("fsync", "fdatasync") and e[1] == tmp[0] and len(e) == 2]
    writes = [i for i, e in enumerate(ev) if e[0] == "write" and e[1] == tmp[0]]
    require(synced and synced[-1] < ren and (not writes or writes[-1] < synced[-1]),
            "dnn-export renames %s without fsync after its last write: events %s" % (tmp[0], ev))


if SHIM:
    R.case("export_fsync", export_fsync)
else:
    R.case("sweep_grid_blame", sweep_grid_blame)
    R.case("sweep_jobs_cap", sweep_jobs_cap)
    R.case("predict_mse", predict_mse)
    R.case("predict_multilabel", predict_multilabel)
    R.case("export_sha256", export_sha256)
    R.case("export_file_too_large", export_file_too_large)
    R.case("ms_per_epoch", ms_per_epoch)
R.finish()
