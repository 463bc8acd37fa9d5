#!/usr/bin/python3
"""SIGKILL never leaves a broken checkpoint behind (atomic writes, README, Checkpoints and dnn-predict).

A single-process dnn-train writes a ~6 MB checkpoint at every iteration
(--checkpoint-every 1, 512 inputs, --layers 1024,1024, only 16 examples, so
most of the wall time is spent writing).  The script starts it (with
--resume once a checkpoint exists), waits until it has begun its first write
of the round, then a random 0..80 ms more, and SIGKILLs
it -- at least 20 rounds, more (up to 60) until at least 5 kills landed
during a write: the trainer had the .tmp file open (seen in /proc/PID/fd just
before the kill) or a .tmp made in this round was left behind (killed between
create and rename).  After every round it asserts:
  - the trainer died of our SIGKILL (or finished with 0): never exit 1, which
    would mean that --resume refused the checkpoint left by the round before;
  - once a checkpoint was ever written, CKPT exists, opens with h5py, has
    format = "dnn-checkpoint", format_version = 1, layer_dims 512,1024,1024,1,
    W1..W3 / b1..b3 of the right shapes and dtype float32, all finite, and
    /history readable;
  - its iteration attribute never goes back (no older or partial file
    replaced a newer one) and the file size is at least the parameter bytes.
Finally dnn-train --resume runs 2 more iterations from it (exit 0), and at
least one kill must have hit a write, or the test proves nothing and fails.
"""
import os
import random
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, attr_str, CaseError  # noqa: E402

R = Runner(__doc__)
NX, H = 512, 1024
DIMS = [NX, H, H, 1]
NBYTES = sum(DIMS[l] * DIMS[l - 1] * 4 + DIMS[l] * 4 for l in range(1, 4))
DATA = R.path("train.h5")
rs = np.random.RandomState(1)
Xd = rs.randn(16, NX).astype(np.float32)
with h5py.File(DATA, "w") as f:
    f.create_dataset("train_x", data=Xd)
    f.create_dataset("train_y", data=(Xd[:, 0] > 0).astype(np.uint8))
CK = R.path("ckpt.h5")
TMP = CK + ".tmp"
ARGS = ["--data", DATA, "--layers", "%d,%d" % (H, H), "--lr", "0.01", "--iterations", "100000000",
        "--checkpoint-every", "1", "--checkpoint", CK, "--print-every", "1000", "--quiet"]


def validate(prev_iter):
    require(os.path.getsize(CK) >= NBYTES, "checkpoint is %d bytes, less than the %d bytes of W/b" % (
        os.path.getsize(CK), NBYTES))
    with h5py.File(CK, "r") as f:
        a = f.attrs
        require(attr_str(a["format"]) == "dnn-checkpoint", "format = %r" % a["format"])
        require(int(a["format_version"]) == 1, "format_version = %r" % a["format_version"])
        require([int(v) for v in a["layer_dims"]] == DIMS, "layer_dims = %r" % a["layer_dims"])
        for l in range(1, 4):
            W, b = np.array(f["W%d" % l]), np.array(f["b%d" % l])
            require(W.shape == (DIMS[l], DIMS[l - 1]) and b.shape == (DIMS[l], 1),
                    "W%d %s / b%d %s have wrong shapes" % (l, W.shape, l, b.shape))
            require(W.dtype == np.float32 and b.dtype == np.float32, "W%d dtype %s" % (l, W.dtype))
            require(np.all(np.isfinite(W)) and np.all(np.isfinite(b)), "W%d/b%d hold non-finite values" % (l, l))
        np.array(f["history/iteration"]), np.array(f["history/cost"])
        it = int(a["iteration"])
    require(it >= prev_iter, "iteration went back from %d to %d: an older file replaced the newer one" % (
        prev_iter, it))
    return it


def open_tmp(pid):
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == TMP:
                    return True
            except OSError:
                pass
    except OSError:
        pass
    return False


def kill_loop():
    seed = int(os.environ.get("DNN_KILL_SEED", time.time_ns() % 100000))
    rnd = random.Random(seed)
    print("# random seed %d (set DNN_KILL_SEED to repeat); checkpoint %d bytes of W/b" % (seed, NBYTES), flush=True)
    prev, rounds, mid_write, tmp_left, written = 0, 0, 0, 0, False
    while rounds < 20 or (mid_write < 5 and rounds < 60):
        rounds += 1
        args = ARGS + (["--resume"] if os.path.exists(CK) else [])
        t_start = time.time()
        p = subprocess.Popen([R.args.train] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=R.env, universal_newlines=True)
        # wait until this run has started writing (or 10 s), then a random 0..80 ms more
        t_wait = time.monotonic()
        while p.poll() is None and time.monotonic() - t_wait < 10:
            if os.path.exists(TMP) and os.path.getmtime(TMP) >= t_start:
                break
            time.sleep(0.002)
        time.sleep(rnd.uniform(0.0, 0.08))
        hit = open_tmp(p.pid)
        p.send_signal(signal.SIGKILL)
        try:
            _, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            raise CaseError("round %d: the trainer did not die after SIGKILL within 30 s" % rounds)
        require(p.returncode in (-signal.SIGKILL, 0),
                "round %d: the trainer exited %d before the kill: %s" % (rounds, p.returncode, err.strip()[-400:]))
        # a .tmp created in this round and not renamed: the kill came between create and rename
        fresh_tmp = os.path.exists(TMP) and os.path.getmtime(TMP) >= t_start
        mid_write += hit or fresh_tmp
        tmp_left += fresh_tmp
        if os.path.exists(CK):
            written = True
        if written:
            require(os.path.exists(CK), "round %d: the checkpoint disappeared" % rounds)
            try:
                prev = validate(prev)
            except CaseError as e:
                raise CaseError("round %d (killed %s): %s" % (rounds, "mid-write" if hit else "between writes", e))
            except Exception as e:
                raise CaseError("round %d (killed %s): h5py cannot read the checkpoint: %s: %s" % (
                    rounds, "mid-write" if hit else "between writes", type(e).__name__, e))
    print("# %d rounds, %d kills during a write (.tmp open or left behind), %d left a fresh .tmp, "
          "last iteration %d" % (rounds, mid_write, tmp_left, prev), flush=True)
    require(written and prev > 0, "no checkpoint was ever written in %d rounds" % rounds)
    require(mid_write >= 1, "no kill landed during a checkpoint write in %d rounds: the test proved nothing" % rounds)
    # dnn itself accepts what was left behind
    fin = list(ARGS)
    fin[fin.index("--iterations") + 1] = str(prev + 2)
    fin[fin.index("--checkpoint-every") + 1] = "0"
    R.train(fin + ["--resume"], timeout=60, what="dnn-train --resume after the kills")
    with h5py.File(CK, "r") as f:
        require(int(f.attrs["iteration"]) == prev + 2, "after the final resume iteration = %s, expected %d" % (
            f.attrs["iteration"], prev + 2))


R.case("sigkill_during_checkpoint_writes", kill_loop)
R.finish()
