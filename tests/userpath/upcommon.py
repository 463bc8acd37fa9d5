"""Shared helpers for the user-path tests (tests/userpath/*.py).

Each test script checks what a user sees from dnn-train and its helpers: the
config file, the progress output, --help, the learning-curve plot.  Every
check prints one PASS/FAIL/SKIP line; the script ends with "N passed, M
failed, S skipped" and exits 1 when a check failed, else 77 (ctest's
SKIP_RETURN_CODE: shown as skipped) when any check was skipped, so a test
that could not do everything it claims never counts as passed.
Every child process runs under a timeout; data sets are generated here, small.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

SKIP = 77


class Checker:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print(f"PASS {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {what}" + (f": {detail}" if detail else ""), flush=True)
        return bool(cond)

    def skip(self, what, why):
        self.skipped += 1
        print(f"SKIP {what}: {why}", flush=True)

    def finish(self, workdir=None):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed, {self.skipped} skipped", flush=True)
        if workdir:
            if self.failed:
                print(f"{self.name}: files kept in {workdir}", flush=True)
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        if self.failed:
            sys.exit(1)
        if self.skipped:
            sys.exit(SKIP)
        if self.passed == 0:
            print(f"{self.name}: no check ran", flush=True)
            sys.exit(1)
        sys.exit(0)


def arg_parser(desc):
    p = argparse.ArgumentParser(description=desc)
    p.add_argument("--train", required=True, help="path of dnn-train")
    p.add_argument("--predict", default="", help="path of dnn-predict")
    p.add_argument("--mpiexec", default="", help="path of mpiexec")
    p.add_argument("--source", default="", help="project source folder")
    return p


def child_env(**extra):
    """The environment of every child: DNN_PROGRESS would force the progress
    style, so it is removed; the tests decide by how stdout is connected."""
    env = dict(os.environ)
    env.pop("DNN_PROGRESS", None)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    if os.geteuid() == 0:
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    env.update(extra)
    return env


def run(cmd, cwd, timeout=120, stdout=subprocess.PIPE, env=None):
    """Runs cmd (a list), returns (returncode, stdout bytes, stderr bytes).
    A timeout is reported as return code -999 with a note on stderr."""
    try:
        p = subprocess.run(cmd, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, timeout=timeout,
                           env=env if env is not None else child_env())
        return p.returncode, p.stdout if p.stdout is not None else b"", p.stderr
    except subprocess.TimeoutExpired as e:
        return -999, e.stdout or b"", (e.stderr or b"") + f"\n[timed out after {timeout}s]".encode()


def show(cmd):
    return " ".join(shlex.quote(str(c)) for c in cmd)


def tail(b, n=600):
    s = b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)
    return s if len(s) <= n else "..." + s[-n:]


def workdir(prefix):
    return tempfile.mkdtemp(prefix=f"dnn-userpath-{prefix}-")


def make_dataset(path, m=400, shape=(4, 3), seed=0, classes=3, x="train_x", y="train_y",
                 test_x="test_x", test_y="test_y", m_test=120):
    """Small learnable set: class = which third of a random projection the
    example falls in.  X float32 (m, *shape), labels uint8 (m,) in 0..classes-1."""
    rs = np.random.RandomState(seed)
    n_x = int(np.prod(shape))
    w = rs.randn(n_x)

    def part(k):
        X = rs.randn(k, n_x).astype(np.float32) * 1.5 + 0.25
        s = X.astype(np.float64) @ w
        edges = np.quantile(s, np.linspace(0, 1, classes + 1)[1:-1])
        Y = np.searchsorted(edges, s).astype(np.uint8)
        return X.reshape((k,) + tuple(shape)), Y

    X, Y = part(m)
    Xt, Yt = part(m_test)
    with h5py.File(path, "w") as f:
        f[x] = X
        f[y] = Y
        f[test_x] = Xt
        f[test_y] = Yt


def read_checkpoint(path):
    """Everything comparable in a checkpoint: dataset bytes and attributes."""
    out = {"datasets": {}, "attrs": {}}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                a = obj[()]
                out["datasets"][name] = (str(a.dtype), a.shape, np.ascontiguousarray(a).tobytes())
        f.visititems(visit)
        for k, v in f.attrs.items():
            if isinstance(v, bytes):
                v = v.decode()
            out["attrs"][k] = v
    return out


def attr_bytes(v):
    if isinstance(v, str):
        return v.encode()
    return np.asarray(v).tobytes()


def parse_config_block(text):
    """key = value pairs of a dumped configuration, in order."""
    pairs = []
    for line in text.splitlines():
        if "=" not in line:
            continue
        k, v = line.split("=", 1)
        pairs.append((k.strip(), v.strip()))
    return pairs
