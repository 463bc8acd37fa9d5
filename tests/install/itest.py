"""Shared helpers of the install tests (tests/install): options, cases, data.

Every script takes the same options (some use only a few):
    --build DIR      the dnn build tree (CMAKE_BINARY_DIR)
    --source DIR     the dnn source tree
    --train PATH --predict PATH --export PATH   the programs of the build
    --keep           keep the work folder (printed)
and prints one "PASS name" or "FAIL name: why" line per case, then
"N passed, M failed"; the exit status is 1 when a case failed, and 77
(ctest's SKIP_RETURN_CODE) when a case could not run what it checks.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

SKIP = 77


class CaseError(Exception):
    pass


class Skip(Exception):
    pass


def require(cond, msg):
    if not cond:
        raise CaseError(msg)


def tail(s, n=8):
    lines = [l for l in s.splitlines() if l.strip()]
    return " | ".join(lines[-n:])


class Runner:
    def __init__(self, description):
        p = argparse.ArgumentParser(description=description)
        for opt in ("--build", "--source", "--train", "--predict", "--export"):
            p.add_argument(opt, default="")
        p.add_argument("--keep", action="store_true")
        self.args = p.parse_args()
        self.work = tempfile.mkdtemp(prefix="dnn-install-")
        self.passed = self.failed = self.skipped = 0
        env = dict(os.environ)
        if os.geteuid() == 0:
            env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
            env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        self.env = env

    def path(self, *names):
        return os.path.join(self.work, *names)

    def run(self, cmd, timeout=300, env=None, cwd=None, what=None, stdin=None):
        """Run cmd (under timeout); raises CaseError unless it exits 0; returns stdout."""
        full = ["timeout", "-k", "5", str(timeout)] + [str(c) for c in cmd]
        p = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env or self.env,
                           cwd=cwd, universal_newlines=True, input=stdin)
        if p.returncode != 0:
            raise CaseError("%s exited %d: %s\n  stdout: %s\n  stderr: %s" % (
                what or os.path.basename(str(cmd[0])), p.returncode, " ".join(map(str, cmd)),
                tail(p.stdout), tail(p.stderr)))
        return p.stdout

    def case(self, name, fn, *a, **kw):
        t0 = time.monotonic()
        try:
            fn(*a, **kw)
        except Skip as e:
            self.skipped += 1
            print("SKIP %s: %s" % (name, e), flush=True)
            return
        except Exception as e:  # CaseError, or a bug of the test: a failure either way
            self.failed += 1
            kind = "" if isinstance(e, CaseError) else type(e).__name__ + ": "
            print("FAIL %s (%.1f s): %s%s" % (name, time.monotonic() - t0, kind, e), flush=True)
            return
        self.passed += 1
        print("PASS %s (%.1f s)" % (name, time.monotonic() - t0), flush=True)

    def finish(self):
        print("%d passed, %d failed, %d skipped" % (self.passed, self.failed, self.skipped))
        if self.args.keep:
            print("work folder kept: " + self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)
        sys.exit(1 if self.failed else SKIP if self.skipped else 0)


def readme_blocks(source, heading):
    """The fenced code blocks [(lang, text)] of the README section `## heading`."""
    with open(os.path.join(source, "README.md")) as f:
        text = f.read()
    m = re.search(r"^## " + re.escape(heading) + r"\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if not m:
        raise CaseError("README.md has no section '## %s'" % heading)
    return re.findall(r"^```(\w*)\n(.*?)^```", m.group(1), re.S | re.M)


def readme_block(source, heading, lang):
    blocks = [t for l, t in readme_blocks(source, heading) if l == lang]
    require(blocks, "README section '%s' has no ```%s block" % (heading, lang))
    return blocks[0]


# ---- data sets ----

def images(path, m, seed):
    """uint8 6x6 images; binary labels from their brightness pattern."""
    rs = np.random.RandomState(seed)
    lab = rs.randint(0, 2, size=m)
    base = np.random.RandomState(99).rand(2, 6, 6)
    X = np.clip(base[lab] * 200 + rs.randn(m, 6, 6) * 50 + 20, 0, 255).astype(np.uint8)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=X)
        f.create_dataset("y", data=lab.astype(np.uint8))
    return X


def blobs(path, m, nx, K, seed, dtype=np.float64, offset=30.0, spread=6.0):
    """K classes around fixed centres, far from 0 so --standardize matters."""
    rs = np.random.RandomState(seed)
    C = np.random.RandomState(77).randn(K, nx) * 1.5
    lab = rs.randint(0, K, size=m)
    X = ((C[lab] + rs.randn(m, nx)) * spread + offset).astype(dtype)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=X)
        f.create_dataset("y", data=lab.astype(np.int32))
    return X


def regression(path, m, nx, ny, seed, dtype=np.float32):
    """(m, ny) float targets, a smooth function of X."""
    rs = np.random.RandomState(seed)
    X = rs.randn(m, nx).astype(dtype)
    W = np.random.RandomState(5).randn(nx, ny)
    Y = (np.tanh(X @ W) + 0.1 * rs.randn(m, ny)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=X)
        f.create_dataset("y", data=Y)
    return X


def predict_csv(runner, predict, ckpt, data, out):
    """dnn-predict's probabilities (m, n[L]) through its CSV output."""
    runner.run([predict, "--model", ckpt, "--data", data, "--x", "x", "--output", out], what="dnn-predict")
    C = np.loadtxt(out, delimiter=",", skiprows=1, ndmin=2)
    return C[:, 2:]
