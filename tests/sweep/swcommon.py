"""Shared helpers for the dnn-sweep tests (tests/sweep/*.py).

Checker, run and the PNG decoder come from the user-path tests
(tests/userpath/upcommon.py, plot_png.py); this adds the sweep's own
readers: the planar data set, a grid file, the final line, summary.csv.
Every test prints PASS/FAIL lines and "N passed, M failed"; it exits 1 on a
failure and 77 when it had to skip.
"""
import argparse
import csv
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "userpath"))
import upcommon as U  # noqa: E402
import plot_png  # noqa: E402

SKIP = U.SKIP
Checker = U.Checker
tail = U.tail


def args(desc):
    p = argparse.ArgumentParser(description=desc)
    p.add_argument("--sweep", required=True, help="path of dnn-sweep")
    p.add_argument("--train", required=True, help="path of dnn-train")
    p.add_argument("--planar", required=True, help="path of dnn-planar")
    p.add_argument("--source", default="", help="project source folder")
    return p.parse_args()


PLANAR = "data = planar.h5\nx = X\ny = Y\n"  # the grid lines naming the planar set


def begin(desc, name):
    """(args, Checker, work folder holding planar.h5) for a test."""
    a = args(desc)
    c = Checker(f"sweep_{name}")
    wd = workdir(name)
    planar(a, wd)
    return a, c, wd


def workdir(name):
    return U.tempfile.mkdtemp(prefix=f"dnn-sweep-{name}-")


def run(cmd, cwd, timeout=240):
    rc, out, err = U.run([str(c) for c in cmd], cwd, timeout=timeout)
    return rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def planar(a, wd):
    rc, _, err = run([a.planar, "planar.h5"], wd, timeout=60)
    if rc != 0:
        raise SystemExit(f"dnn-planar failed: {err}")
    return os.path.join(wd, "planar.h5")


def has_validation(a):
    """dnn-train's dev set (--validation-split, README, Course 2: optimizers, regularization, schedules, dev sets) is there."""
    rc, out, _ = run([a.train, "--help"], "/", timeout=60)
    return "--validation-split" in out


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def final_line(log_path):
    """The last `final ` line of a log, or None."""
    last = None
    if os.path.exists(log_path):
        for line in open(log_path, errors="replace"):
            if line.startswith("final "):
                last = line.strip()
    return last


def fields(line):
    """{name: value} of a final line."""
    return dict(t.split("=", 1) for t in line.split()[1:] if "=" in t)


def without_timing(line):
    """A final line without seconds= and ms_per_epoch= (they vary run to run)."""
    return " ".join(t for t in line.split() if not t.startswith(("seconds=", "ms_per_epoch=")))


def summary(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def summary_without_seconds(path):
    rows = summary(path)
    for r in rows:
        r.pop("seconds", None)
    return rows


def metrics(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def trial_dirs(out):
    return sorted(d for d in os.listdir(out) if re.fullmatch(r"trial-\d{3,}", d))


def check_png(c, path, label):
    return plot_png.check_png(c, path, label, 4 * 1024)


line_colours = plot_png.line_colours


def start(cmd, cwd, log):
    """A background process (own stdout/stderr file); returns the Popen."""
    return subprocess.Popen([str(x) for x in cmd], cwd=cwd, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            env=U.child_env())


def wait_for(pred, timeout, step=0.05):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return True
        time.sleep(step)
    return False


__all__ = ["signal"]
