#!/usr/bin/python3
"""SIGTERM / SIGINT / SIGUSR1 mid-run: checkpoint, exit 75, resume exactly.

The trainer (2000 examples, 40 inputs, --layers 64,32, T = 1000 full-batch
iterations, --print-every 1 --metrics CSV) is started; once the metrics file
shows 100 rows (training is under way) the signal is sent.  Asserts:
  - exit code 75, stderr says it stopped (mentions the signal or --resume);
  - the checkpoint exists, validates (format, W/b shapes, finite) and its
    iteration attribute k satisfies 100 <= k < T;
  - `--resume` with --iterations T finishes (exit 0) and its W/b are bitwise
    identical (SHA-256) to an uninterrupted run's, and its /history too.
Cases:
  sigterm_single     SIGTERM to a single process, default mode, resume N=1
  sigint_single      SIGINT, default mode, resume N=1
  sigusr1_det_resume_np2   SIGUSR1, --deterministic, resume under mpiexec -n 2
  mpiexec_np2_sigusr1_det  SIGUSR1 to `mpiexec -n 2` (Open MPI forwards it to the
                     ranks), --deterministic, resume under mpiexec -n 3
  mpiexec_np2_sigterm_det  SIGTERM to `mpiexec -n 2` (what Slurm's scancel and
                     time limits send), --deterministic, resume N=1.  Open MPI's
                     mpirun, itself terminated, exits 1 although the ranks exit
                     75, so 1 is accepted here; the checkpoint and the exact
                     resume are still required.
"""
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, make_binary, params_sha, ckpt_params, rel_diff, history, tail, CaseError  # noqa

R = Runner(__doc__)
T = 1000
DATA = R.path("train.h5")
make_binary(DATA, 2000, 40, seed=41)
BASE = ["--data", DATA, "--layers", "64,32", "--lr", "0.05", "--iterations", str(T), "--print-every", "1",
        "--quiet"]
_refs = {}


def reference(extra):
    key = tuple(extra)
    if key not in _refs:
        ck = R.path("ref%d.h5" % len(_refs))
        R.train(BASE + extra + ["--checkpoint", ck], timeout=120, what="uninterrupted run")
        _refs[key] = ck
    return _refs[key]


def rows(path):
    try:
        with open(path) as f:
            return max(0, sum(1 for _ in f) - 1)
    except OSError:
        return 0


def run_signal(name, sig, extra, n=None, resume_n=None, codes=(75,)):
    ref = reference(extra)
    ck, met = R.path(name + ".h5"), R.path(name + ".csv")
    cmd = R.launcher(n) + [R.args.train] + BASE + extra + ["--checkpoint", ck, "--metrics", met]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=R.env, universal_newlines=True)
    t0 = time.monotonic()
    while p.poll() is None and rows(met) < 100 and time.monotonic() - t0 < 60:
        time.sleep(0.005)
    if p.poll() is not None:
        raise CaseError("the trainer ended (exit %s) before the signal; stderr: %s" % (
            p.returncode, tail(p.communicate()[1])))
    at = rows(met)
    p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise CaseError("did not stop within 60 s of the signal")
    require(p.returncode in codes, "exit code %d after %s, expected %s; stderr: %s" % (
        p.returncode, signal.Signals(sig).name, " or ".join(map(str, codes)), tail(err)))
    low = err.lower()
    require("signal" in low or "--resume" in low, "stderr does not say why it stopped: %s" % tail(err))
    require(os.path.exists(ck), "no checkpoint after the signal")
    with h5py.File(ck, "r") as f:
        k = int(f.attrs["iteration"])
        dims = [int(v) for v in f.attrs["layer_dims"]]
        for l in range(1, len(dims)):
            W = np.array(f["W%d" % l])
            require(W.shape == (dims[l], dims[l - 1]) and np.all(np.isfinite(W)), "W%d is bad" % l)
    require(100 <= k < T, "checkpoint iteration %d, expected within [100, %d) (signal sent at ~%d)" % (k, T, at))
    print("# %s: signal at ~%d recorded iterations, stopped at iteration %d" % (name, at, k), flush=True)
    R.train(BASE + extra + ["--checkpoint", ck, "--metrics", met, "--resume"], n=resume_n, timeout=120,
            what="resume")
    a, b = params_sha(ck), params_sha(ref)
    require(a == b, "resumed W/b SHA-256 %s != uninterrupted %s (max rel diff %.3g)" % (
        a[:16], b[:16], rel_diff(ckpt_params(ck), ckpt_params(ref))))
    (i1, c1), (i2, c2) = history(ck), history(ref)
    require(np.array_equal(i1, i2) and c1.tobytes() == c2.tobytes(),
            "resumed /history differs from the uninterrupted run's (%d vs %d entries)" % (len(i1), len(i2)))


R.case("sigterm_single", run_signal, "term", signal.SIGTERM, [])
R.case("sigint_single", run_signal, "int", signal.SIGINT, [])
R.case("sigusr1_det_resume_np2", run_signal, "usr1", signal.SIGUSR1, ["--deterministic"], None, 2)
R.case("mpiexec_np2_sigusr1_det", run_signal, "mpi_usr1", signal.SIGUSR1, ["--deterministic"], 2, 3)
# mpirun forwards SIGTERM to the ranks only after about a second: a larger net
# (given after BASE, so it wins) keeps the run going well past that
R.case("mpiexec_np2_sigterm_det", run_signal, "mpi_term", signal.SIGTERM, ["--deterministic", "--layers", "128,128"], 2,
       None, (75, 1))
R.finish()
