#!/usr/bin/python3
"""Every file dnn writes is written atomically, seen from the system calls (fsync_shim.c).

  fsync_fault.py --train DNN_TRAIN [--predict P --export E --sweep S] [--mpiexec MPIEXEC]
                 [--keep] [--only TEXT]
  (the shim's path comes in the environment variable DNN_FSYNC_SHIM)

The program runs under LD_PRELOAD=DNN_FSYNC_SHIM, which logs every open,
write, fsync, close, rename and unlink on the written file's names (and the
fsync of folders) and can make the K-th fsync of that file fail.
Cases (one PASS/FAIL line each, "N passed, M failed", exit 1 on a failure):
  order        a run with --checkpoint CK: (after the start-up probe that
               creates and removes an empty CK.tmp) everything is written to CK.tmp,
               which is fsynced after its last write and closed before one
               rename CK.tmp -> CK; then CK's folder is fsynced; no CK.tmp is
               left; every byte of CK went through a logged write (so the log
               sees the real write path)
  periodic     --checkpoint-every: the same order for every write
  fail_eio     fsync fails with EIO while a --resume run replaces CK: exit 1,
               one "dnn-train:" line naming CK and the error ("Input/output
               error") and saying the previous checkpoint is kept; CK keeps
               its bytes; CK.tmp removed; no rename
  fail_enospc  the same with ENOSPC at the second of several periodic writes:
               CK holds the first one (its iteration), CK.tmp removed
  fail_np2     the same on 2 ranks (rank 0 writes): the whole job ends with
               exit != 0 within the timeout, CK intact
The other writers (cases w_*; each needs its program), one case for the
order above and one "_eio" case where fsync fails while the file exists
(exit 1, one "PROG:" line naming the file, the error and that the previous
file is kept; its bytes unchanged; NAME.tmp removed; no rename):
  w_best       dnn-train --best-checkpoint BEST (a dev set by --validation-split)
  w_pred_h5    dnn-predict --output P.h5      w_pred_csv   dnn-predict --output P.csv
  w_export     dnn-export --onnx M.onnx       w_sweep      dnn-sweep's summary.csv and summary.md
  w_report     dnn-predict --misclassified, --report and --confusion-png
  w_short      under 7-byte writes, every other one interrupted (EINTR),
               dnn-predict --output P.csv and --report R.md and dnn-export
               --onnx write the same bytes as without the shim
"""
import errno
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, make_binary, tail  # noqa: E402

import h5py  # noqa: E402

R = Runner(__doc__)
SHIM = os.environ.get("DNN_FSYNC_SHIM", "")
DATA = R.path("data.h5")
make_binary(DATA, 300, 6, seed=5)
BASE = ["--data", DATA, "--layers", "5", "--lr", "0.1", "--print-every", "10", "--seed", "4", "--quiet"]


def run_shim(tag, args, n=None, fail_from=0, err=errno.EIO, timeout=60, prog=None, match="ck", extra_env=None):
    """prog (dnn-train) under the shim, which watches the paths that start with
    the work folder's MATCH; returns (rc, stderr, log events) where each event
    is (name, path, detail...) of this run's processes."""
    require(SHIM and os.path.exists(SHIM), "DNN_FSYNC_SHIM=%r is not the shim library" % SHIM)
    log = R.path(tag + ".log")
    if os.path.exists(log):
        os.remove(log)
    env = dict(R.env, LD_PRELOAD=SHIM, DNN_SHIM_LOG=log, DNN_SHIM_MATCH=os.path.join(R.work, match),
               DNN_SHIM_FAIL_FSYNC=str(fail_from), DNN_SHIM_FSYNC_ERRNO=str(err), **(extra_env or {}))
    saved, R.env = R.env, env
    try:
        rc, _out, stderr, _dt = R.run(prog or R.args.train, args, n=n, timeout=timeout)
    finally:
        R.env = saved
    events = []
    if os.path.exists(log):
        with open(log) as f:
            events = [tuple(line.split()[1:]) for line in f if line.strip()]
    return rc, stderr, events


def check_order(events, ck, writes_expected, hdf5=True):
    """Every write of ck follows the pattern: writes to ck.tmp, fsync after the
    last write, close, rename, folder fsync; writes_expected None: at least one."""
    tmp = ck + ".tmp"
    folder = os.path.dirname(ck)
    state, seen, nbytes = "idle", 0, 0
    for ev in events:
        name, path = ev[0], ev[1]
        if name == "open" and path == tmp:
            require(state in ("idle", "done", "writing"), "%s opened again after its fsync (state %s)" % (tmp, state))
            if state != "writing":  # a new checkpoint write (HDF5's fd, then the fd that fsyncs)
                seen += state == "done"
                state, nbytes = "writing", 0
        elif name == "write" and path == tmp:
            require(state == "writing", "write to %s after its fsync (state %s)" % (tmp, state))
            nbytes += int(ev[2])
        elif name in ("fsync", "fdatasync") and path == tmp:
            require(len(ev) == 2, "fsync of %s failed in a run that should not fail: %s" % (tmp, ev))
            require(state == "writing" and nbytes > 0, "%s fsynced with nothing written (state %s)" % (tmp, state))
            state = "synced"
        elif name == "close" and path == tmp and state == "synced":
            state = "closed"
        elif name == "rename":
            require((path, ev[2]) == (tmp, ck), "unexpected rename %s -> %s" % (path, ev[2]))
            require(state == "closed", "rename before %s was fsynced and closed (state %s)" % (tmp, state))
            state, last_bytes = "renamed", nbytes
        elif name in ("fsync-dir", "fdatasync-dir") and path in (folder, folder + "/") and state == "renamed":
            state = "done"
        elif name == "unlink" and path == tmp:
            if state == "writing" and nbytes == 0 and seen == 0:
                state = "idle"  # the writability probe before training (README, What happens when things go wrong): created empty, removed
                continue
            raise AssertionError("%s unlinked in a run that should not fail" % tmp)
    require(state == "done", "the last write ended in state %r (want: written, fsynced, closed, renamed, "
            "folder fsynced); events: %s" % (state, " | ".join(" ".join(e) for e in events[-8:])))
    seen += 1
    require(seen == writes_expected or (writes_expected is None and seen >= 1),
            "%d writes of %s seen, expected %s" % (seen, ck, writes_expected))
    require(not os.path.exists(tmp), "%s left behind" % tmp)
    raw = data_bytes(ck) if hdf5 else os.path.getsize(ck)
    require(last_bytes >= raw, "only %d bytes written through the logged calls, %s holds %d bytes of data" % (
        last_bytes, ck, raw))


def data_bytes(ck):
    """Bytes of every dataset in ck (HDF5 adds metadata and may extend the file by ftruncate)."""
    total = [0]

    def visit(_name, obj):
        if isinstance(obj, h5py.Dataset):
            total[0] += obj[()].nbytes
    with h5py.File(ck, "r") as f:
        f.visititems(visit)
    return total[0]


def iteration(ck):
    with h5py.File(ck, "r") as f:
        return int(f.attrs["iteration"])


def check_refused(rc, stderr, events, ck, saved, strerr, n=None, prog="dnn-train"):
    tmp = ck + ".tmp"
    require(rc not in (124, 137), "timed out (hang)")
    if n is None:
        require(rc == 1, "exit %d, expected 1: %s" % (rc, tail(stderr)))
    else:
        require(rc != 0, "exit 0 although rank 0 could not write the checkpoint")
    msgs = [l for l in stderr.splitlines() if prog + ":" in l]
    require(len(msgs) == 1, "%d '%s:' lines on stderr, expected 1: %s" % (len(msgs), prog, tail(stderr)))
    require(ck in msgs[0] or os.path.basename(ck) in msgs[0], "the message does not name %s: %s" % (ck, msgs[0]))
    require(strerr in msgs[0], "the message does not give the error %r: %s" % (strerr, msgs[0]))
    require("kept" in msgs[0], "the message does not say the previous checkpoint is kept: %s" % msgs[0])
    with open(ck, "rb") as f:
        require(f.read() == saved, "the previous checkpoint %s changed" % ck)
    require(not os.path.exists(tmp), "%s left behind" % tmp)
    failed = [i for i, e in enumerate(events) if e[0] in ("fsync", "fdatasync") and e[1] == tmp and len(e) > 2]
    require(failed, "the shim saw no failing fsync of %s (events: %s)" % (tmp, events[-6:]))
    after = events[failed[0]:]
    require(not [e for e in after if e[0] == "rename"], "renamed although the fsync failed")
    require([e for e in after if e[0] == "unlink" and e[1] == tmp], "%s not unlinked after the failed fsync" % tmp)


def case_order():
    ck = R.path("ck_order.h5")
    rc, err, ev = run_shim("order", BASE + ["--iterations", "20", "--checkpoint", ck])
    require(rc == 0, "exit %d: %s" % (rc, tail(err)))
    check_order(ev, ck, 1)
    require(iteration(ck) == 20, "checkpoint iteration %d, expected 20" % iteration(ck))


def case_periodic():
    ck = R.path("ck_periodic.h5")
    rc, err, ev = run_shim("periodic", BASE + ["--iterations", "30", "--checkpoint-every", "10", "--checkpoint", ck])
    require(rc == 0, "exit %d: %s" % (rc, tail(err)))
    check_order(ev, ck, 3)  # at 10, 20 and 30 (the end)


def case_fail_eio():
    ck = R.path("ck_eio.h5")
    R.train(BASE + ["--iterations", "20", "--checkpoint", ck])
    with open(ck, "rb") as f:
        saved = f.read()
    rc, err, ev = run_shim("eio", BASE + ["--iterations", "40", "--checkpoint", ck, "--resume"], fail_from=1)
    check_refused(rc, err, ev, ck, saved, os.strerror(errno.EIO))


def case_fail_enospc():
    ck = R.path("ck_enospc.h5")
    rc, err, ev = run_shim("enospc", BASE + ["--iterations", "40", "--checkpoint-every", "10", "--checkpoint", ck],
                           fail_from=2, err=errno.ENOSPC)
    require(os.path.exists(ck), "the first periodic checkpoint was not written: exit %d: %s" % (rc, tail(err)))
    require(iteration(ck) == 10, "checkpoint iteration %d, expected 10 (the write that succeeded)" % iteration(ck))
    with open(ck, "rb") as f:
        saved = f.read()
    check_refused(rc, err, ev, ck, saved, os.strerror(errno.ENOSPC))


def case_fail_np2():
    ck = R.path("ck_np2.h5")
    R.train(BASE + ["--iterations", "20", "--checkpoint", ck])
    with open(ck, "rb") as f:
        saved = f.read()
    rc, err, ev = run_shim("np2", BASE + ["--iterations", "40", "--checkpoint", ck, "--resume"], n=2, fail_from=1)
    check_refused(rc, err, ev, ck, saved, os.strerror(errno.EIO), n=2)


def refused_case(tag, target, cmd, prog, match):
    """cmd once without the shim (target must then exist), then under the shim
    with every fsync of target's temp file failing."""
    rc, _out, err, _dt = R.run(prog, cmd, timeout=120)
    require(rc == 0 and os.path.exists(target), "the run that writes %s exited %d: %s" % (target, rc, tail(err)))
    with open(target, "rb") as f:
        saved = f.read()
    rc, err, ev = run_shim(tag, cmd, fail_from=1, prog=prog, match=match)
    check_refused(rc, err, ev, target, saved, os.strerror(errno.EIO), prog=os.path.basename(prog))


def writer_case(tag, targets, cmd, prog, match, hdf5=True):
    """cmd under the shim: each of targets written in order; then the refused case on targets[0]."""
    require(prog, "the program of case %s was not given" % tag)
    rc, err, ev = run_shim(tag, cmd, prog=prog, match=match)
    require(rc == 0, "exit %d: %s" % (rc, tail(err)))
    for target in targets:
        check_order([e for e in ev if e[1].startswith(target) or e[0].endswith("-dir")], target, None, hdf5)
    refused_case(tag + "_eio", targets[0], cmd, prog, match)


def trained_model():
    """A small checkpoint for dnn-predict and dnn-export (made once)."""
    ck = R.path("model.h5")
    if not os.path.exists(ck):
        R.train(BASE + ["--iterations", "10", "--checkpoint", ck])
    return ck


def case_best():
    best = R.path("best.h5")
    writer_case("best", [best], BASE + ["--iterations", "30", "--validation-split", "0.2", "--best-checkpoint", best],
                R.args.train, "best")


def case_predict(ext):
    out = R.path("pred." + ext)
    writer_case("pred_" + ext, [out], ["--model", trained_model(), "--data", DATA, "--x", "train_x", "--output", out],
                R.args.predict, "pred", hdf5=ext == "h5")


def case_report():
    base = R.path("rep")
    files = [base + "_wrong.csv", base + ".md", base + "_cm.png"]
    writer_case("report", files, ["--model", trained_model(), "--data", DATA, "--x", "train_x", "--y", "train_y",
                                  "--misclassified", files[0], "--report", files[1], "--confusion-png", files[2]],
                R.args.predict, "rep", hdf5=False)


def case_export():
    out = R.path("m.onnx")
    writer_case("export", [out], ["--model", trained_model(), "--onnx", out], R.args.export, "m.onnx", hdf5=False)


def case_sweep():
    grid = R.path("grid.conf")
    with open(grid, "w") as f:
        f.write("data = %s\nlayers = 3\nlr = 0.05 | 0.1\niterations = 10\nquiet = true\n" % DATA)
    sw = R.path("sw")
    writer_case("sweep", [os.path.join(sw, "summary.csv"), os.path.join(sw, "summary.md")],
                ["--train", R.args.train, "--out", sw, grid], R.args.sweep, os.path.join("sw", "summary"), hdf5=False)


def case_short_writes():
    """Short and interrupted writes (DNN_SHIM_SHORT_WRITE): the file is whole."""
    ck = trained_model()
    jobs = [(R.args.predict, ["--x", "train_x", "--y", "train_y", "--data", DATA, "--model", ck], "--output", "csv"),
            (R.args.predict, ["--x", "train_x", "--y", "train_y", "--data", DATA, "--model", ck], "--report", "md"),
            (R.args.export, ["--model", ck], "--onnx", "onnx")]
    for prog, args, opt, ext in jobs:
        if not prog:
            continue
        plain, short = R.path("plain." + ext), R.path("short." + ext)
        R.run(prog, args + [opt, plain], check=True)
        rc, stderr, events = run_shim("short_" + ext, args + [opt, short], prog=prog, match="short",
                                      extra_env={"DNN_SHIM_SHORT_WRITE": "7"})
        writes = [e for e in events if e[0] == "write"]
        require(rc == 0 and len(writes) > 2 and any(e[0] == "write-eintr" for e in events),
                "%s %s under 7-byte and interrupted writes: exit %d, %d writes %s" % (
                    os.path.basename(prog), opt, rc, len(writes), tail(stderr)))
        with open(plain, "rb") as a, open(short, "rb") as b:
            require(a.read() == b.read(), "%s %s: a file written by short and interrupted writes (7 bytes at a "
                    "time, EINTR between) differs from the same file written at once (atomic.c's write loop)" % (
                        os.path.basename(prog), opt))


R.case("order", case_order)
R.case("periodic", case_periodic)
R.case("fail_eio", case_fail_eio)
R.case("fail_enospc", case_fail_enospc)
R.case("fail_np2", case_fail_np2)
R.case("w_best", case_best)
R.case("w_pred_h5", case_predict, "h5")
R.case("w_pred_csv", case_predict, "csv")
R.case("w_report", case_report)
R.case("w_export", case_export)
R.case("w_sweep", case_sweep)
R.case("w_short", case_short_writes)
R.finish()
