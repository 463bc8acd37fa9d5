"""Shared helpers of the MPI and checkpoint end-to-end tests (tests/mpi, tests/ckpt).

Every test script takes the same options:
    --train PATH      dnn-train
    --predict PATH    dnn-predict (checkpoint tests)
    --export PATH     dnn-export, --sweep PATH dnn-sweep (the tests that need them)
    --mpiexec PATH    mpiexec (default: mpiexec on PATH)
    --keep            keep the work folder (printed) for inspection
and prints one "PASS name" or "FAIL name: reasons" line per case, then
"N passed, M failed"; the exit code is 1 when a case failed.

Every program is started under `timeout -k 5 T`, so a hang ends as exit 124
(or 137 after the -k grace period) and is reported as such.
Data sets are small and generated here with numpy and written with h5py.
"""
import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DIST_H = os.path.join(HERE, "..", "..", "include", "dnn", "dist.h")


def chunk_size():
    """DNN_CHUNK from include/dnn/dist.h (the shard granularity)."""
    with open(DIST_H) as f:
        m = re.search(r"#define\s+DNN_CHUNK\s+(\d+)", f.read())
    if not m:
        raise RuntimeError("DNN_CHUNK not found in " + DIST_H)
    return int(m.group(1))


def shard(m, size, r, chunk=None):
    """Python copy of dnn_dist_shard (src/dist.c): rank r's [lo, hi)."""
    chunk = chunk or chunk_size()
    chunks = (m + chunk - 1) // chunk
    c0, c1 = chunks * r // size, chunks * (r + 1) // size
    return min(c0 * chunk, m), min(c1 * chunk, m)


class Runner:
    def __init__(self, description):
        p = argparse.ArgumentParser(description=description)
        p.add_argument("--train", required=True)
        p.add_argument("--predict")
        p.add_argument("--export", help="dnn-export (tests that write ONNX files)")
        p.add_argument("--sweep", help="dnn-sweep (tests of its summaries)")
        p.add_argument("--mpiexec", default=shutil.which("mpiexec") or "mpiexec")
        p.add_argument("--np", type=int, action="append", default=[],
                       help="rank counts to test (default: the script's own)")
        p.add_argument("--keep", action="store_true")
        p.add_argument("--only", action="append", default=[], help="run only cases containing this text")
        self.args = p.parse_args()
        self.work = tempfile.mkdtemp(prefix="dnn-h5-")
        self.passed = 0
        self.failed = 0
        self.failures = []
        env = dict(os.environ)
        if os.geteuid() == 0:
            env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
            env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        env.setdefault("OMPI_MCA_rmaps_base_oversubscribe", "1")
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        self.env = env

    # ---- paths and programs ----
    def path(self, name):
        return os.path.join(self.work, name)

    def launcher(self, n):
        """None = a plain process (MPI singleton); n = mpiexec -n n."""
        if n is None:
            return []
        return [self.args.mpiexec, "--oversubscribe", "-n", str(n)]

    def run(self, prog, args, n=None, timeout=120, check=False, what=""):
        """Run prog under timeout (and mpiexec when n is given).
        Returns (rc, stdout, stderr, seconds)."""
        cmd = ["timeout", "-k", "5", str(timeout)] + self.launcher(n) + [prog] + [str(a) for a in args]
        t0 = time.monotonic()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
                           universal_newlines=True)
        dt = time.monotonic() - t0
        if check and p.returncode != 0:
            raise CaseError("%s exited %d (expected 0): %s\n  stderr: %s" % (
                what or os.path.basename(prog), p.returncode, " ".join(cmd), tail(p.stderr)))
        return p.returncode, p.stdout, p.stderr, dt

    def train(self, args, n=None, timeout=120, what="dnn-train"):
        """dnn-train that must succeed; returns stdout."""
        return self.run(self.args.train, args, n=n, timeout=timeout, check=True, what=what)[1]

    def predict(self, args, timeout=120):
        if not self.args.predict:
            raise CaseError("--predict not given")
        return self.run(self.args.predict, args, timeout=timeout, check=True, what="dnn-predict")[1]

    # ---- cases ----
    def case(self, name, fn, *a, **kw):
        if self.args.only and not any(s in name for s in self.args.only):
            return
        t0 = time.monotonic()
        try:
            fn(*a, **kw)
        except CaseError as e:
            self.failed += 1
            self.failures.append(name)
            print("FAIL %s (%.1f s): %s" % (name, time.monotonic() - t0, e), flush=True)
            return
        except Exception as e:  # a bug of the test or an unreadable output: still a failure
            self.failed += 1
            self.failures.append(name)
            print("FAIL %s (%.1f s): %s: %s" % (name, time.monotonic() - t0, type(e).__name__, e), flush=True)
            return
        self.passed += 1
        print("PASS %s (%.1f s)" % (name, time.monotonic() - t0), flush=True)

    def finish(self):
        print("%d passed, %d failed%s" % (self.passed, self.failed,
                                          (": " + ", ".join(self.failures)) if self.failures else ""))
        if self.args.keep:
            print("work folder kept: " + self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)
        sys.exit(1 if self.failed else 0)


class CaseError(Exception):
    pass


def require(cond, msg):
    if not cond:
        raise CaseError(msg)


def tail(s, n=6):
    lines = [l for l in s.splitlines() if l.strip()]
    return " | ".join(lines[-n:])


# ---- data ----

def make_binary(path, m, nx, seed, dtype=np.float32, xname="train_x", yname="train_y",
                yshape="m1", shape=None):
    """A learnable binary problem: y = [teacher(x) > 0].  X examples-first (m, nx)
    or (m,) + shape.  Returns (X, Y) as written."""
    rs = np.random.RandomState(seed)
    X = rs.randn(m, nx)
    w = rs.randn(nx)
    z = X @ w + 0.5 * np.sin(3 * X[:, 0]) - 0.2
    Y = (z > 0).astype(np.uint8)
    X = X.astype(dtype)
    if shape is not None:
        X = X.reshape((m,) + tuple(shape))
    Yw = Y.reshape(m, 1) if yshape == "m1" else Y
    with h5py.File(path, "w") as f:
        f.create_dataset(xname, data=X)
        f.create_dataset(yname, data=Yw)
    return X, Y


def make_classes(path, m, nx, K, seed, dtype=np.float32, offset=0.0, spread=1.0):
    """K-class problem (labels 0..K-1) by nearest of K random centres."""
    rs = np.random.RandomState(seed)
    C = rs.randn(K, nx) * 2.0
    lab = rs.randint(0, K, size=m)
    X = C[lab] + rs.randn(m, nx)
    X = X * spread + offset
    with h5py.File(path, "w") as f:
        f.create_dataset("train_x", data=X.astype(dtype))
        f.create_dataset("train_y", data=lab.astype(np.int64))
    return X.astype(dtype), lab


# ---- checkpoints ----

def ckpt_layers(f):
    dims = [int(v) for v in f.attrs["layer_dims"]]
    return dims, len(dims) - 1


def ckpt_params(path):
    """[W1, b1, ..., WL, bL] as stored (dtype kept)."""
    with h5py.File(path, "r") as f:
        dims, L = ckpt_layers(f)
        out = []
        for l in range(1, L + 1):
            out.append(np.array(f["W%d" % l]))
            out.append(np.array(f["b%d" % l]))
    return out


def params_sha(path):
    h = hashlib.sha256()
    for a in ckpt_params(path):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def rel_diff(pa, pb):
    """max |a-b| over all parameters / max |b| (pb is the reference)."""
    a = np.concatenate([np.asarray(x, np.float64).ravel() for x in pa])
    b = np.concatenate([np.asarray(x, np.float64).ravel() for x in pb])
    if a.shape != b.shape:
        return np.inf
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def history(path):
    with h5py.File(path, "r") as f:
        return np.array(f["history/iteration"]), np.array(f["history/cost"])


def attr_str(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.shape == ():
        return attr_str(v[()])
    return str(v)


def final_line(stdout):
    lines = [l for l in stdout.splitlines() if l.startswith("final ")]
    if not lines:
        raise CaseError("no 'final' line on stdout: " + tail(stdout))
    kv = {}
    for tok in lines[-1].split()[1:]:
        if "=" in tok:
            k, v = tok.split("=", 1)
            kv[k] = v
    return kv
