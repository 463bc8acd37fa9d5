#!/usr/bin/python3
"""The checkpoint's atomic write, seen from the system calls (fsync_shim.c).

  fsync_fault.py --train DNN_TRAIN [--mpiexec MPIEXEC] [--keep] [--only TEXT]
  (the shim's path comes in the environment variable DNN_FSYNC_SHIM)

dnn-train runs under LD_PRELOAD=DNN_FSYNC_SHIM, which logs every open,
write, fsync, close, rename and unlink on the checkpoint's files (and the
fsync of folders) and can make the K-th fsync of the checkpoint file fail.
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


def run_shim(tag, args, n=None, fail_from=0, err=errno.EIO, timeout=60):
    """dnn-train under the shim; returns (rc, stderr, log events) where each
    event is (name, path, detail...) of this run's processes."""
    require(SHIM and os.path.exists(SHIM), "DNN_FSYNC_SHIM=%r is not the shim library" % SHIM)
    log = R.path(tag + ".log")
    if os.path.exists(log):
        os.remove(log)
    env = dict(R.env, LD_PRELOAD=SHIM, DNN_SHIM_LOG=log, DNN_SHIM_MATCH=os.path.join(R.work, "ck"),
               DNN_SHIM_FAIL_FSYNC=str(fail_from), DNN_SHIM_FSYNC_ERRNO=str(err))
    saved, R.env = R.env, env
    try:
        rc, _out, stderr, _dt = R.run(R.args.train, args, n=n, timeout=timeout)
    finally:
        R.env = saved
    events = []
    if os.path.exists(log):
        with open(log) as f:
            events = [tuple(line.split()[1:]) for line in f if line.strip()]
    return rc, stderr, events


def check_order(events, ck, writes_expected):
    """Every write of ck follows the pattern: writes to ck.tmp, fsync after the
    last write, close, rename, folder fsync.  Returns the number of writes."""
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
                state = "idle"  # the writability probe before training (DESIGN §13): created empty, removed
                continue
            raise AssertionError("%s unlinked in a run that should not fail" % tmp)
    require(state == "done", "the last write ended in state %r (want: written, fsynced, closed, renamed, "
            "folder fsynced); events: %s" % (state, " | ".join(" ".join(e) for e in events[-8:])))
    seen += 1
    require(seen == writes_expected, "%d checkpoint writes seen, expected %d" % (seen, writes_expected))
    require(not os.path.exists(tmp), "%s left behind" % tmp)
    raw = data_bytes(ck)
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


def check_refused(rc, stderr, events, ck, saved, strerr, n=None):
    tmp = ck + ".tmp"
    require(rc not in (124, 137), "timed out (hang)")
    if n is None:
        require(rc == 1, "exit %d, expected 1: %s" % (rc, tail(stderr)))
    else:
        require(rc != 0, "exit 0 although rank 0 could not write the checkpoint")
    msgs = [l for l in stderr.splitlines() if "dnn-train:" in l]
    require(len(msgs) == 1, "%d 'dnn-train:' lines on stderr, expected 1: %s" % (len(msgs), tail(stderr)))
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


R.case("order", case_order)
R.case("periodic", case_periodic)
R.case("fail_eio", case_fail_eio)
R.case("fail_enospc", case_fail_enospc)
R.case("fail_np2", case_fail_np2)
R.finish()
