#!/usr/bin/python3
"""Every file a run will write is proven writable before training (README, What happens when things go wrong).

A long run is configured (--layers 64,64 on 4000 examples, --iterations 10^8:
hours of training), and one output path is bad.  For each of --checkpoint,
--best-checkpoint (with --validation-split 0.2) and --metrics, in three kinds
of folder:
  missing     OUT/nosuch/NAME            (the folder does not exist)
  file        OUT/data.h5/NAME           (a file where a folder should be)
  read_only   a read-only folder: a tmpfs mounted read-only (root with
              CAP_SYS_ADMIN), else a mode-0555 folder with the run as user
              nobody (setpriv; root ignores modes); when neither is possible
              these cases are skipped and the script exits 77
each at N = 1 and N = 3, the run must: exit 1 (N = 3: 1..123), within 5 s
(measured from the start of the launcher); print one line naming the option,
the path and the reason (does not exist / not a folder / read-only or
permission); print nothing of training (no 'final' line, no progress, no
configuration dump) and leave no file in the folder.  A control case runs the
same long run with good paths and sees it still training after 4 s.  dnn-predict --output
gets the same three cases.  The measured seconds are printed per case.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, make_binary, tail  # noqa: E402

LIMIT = 5.0
R = Runner(__doc__)
os.chmod(R.work, 0o755)  # reachable by nobody for the unprivileged mechanism
DATA = R.path("data.h5")
make_binary(DATA, 4000, 30, seed=8)
os.chmod(DATA, 0o644)
LONG = ["--data", DATA, "--layers", "64,64", "--iterations", "100000000", "--print-every", "1"]
EXTRA = {"--checkpoint": [], "--metrics": [], "--best-checkpoint": ["--validation-split", "0.2"]}
REASON = {"missing": ("does not exist",), "file": ("not a folder",), "read_only": ("read-only", "permission")}


def read_only_folder():
    """(folder, runner prefix, mechanism) or None."""
    ro = R.path("ro")
    os.makedirs(ro)
    if os.geteuid() == 0:
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "dnn-test-ro", ro],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode == 0:
            return ro, [], "tmpfs mounted read-only"
        os.chmod(ro, 0o555)
        setpriv = shutil.which("setpriv")
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        if setpriv and subprocess.run(nobody + ["test", "-r", DATA]).returncode == 0:
            return ro, nobody, "mode-0555 folder, run as nobody"
        return None
    os.chmod(ro, 0o555)
    return ro, [], "mode-0555 folder"


RO = read_only_folder()
if RO:
    print("# read-only mechanism: %s" % RO[2])
else:
    print("# no read-only mechanism (no mount, no setpriv): read_only cases skipped")


def target(kind, name):
    if kind == "missing":
        return R.path(os.path.join("nosuch", name)), R.path("nosuch")
    if kind == "file":
        return os.path.join(DATA, name), None
    return os.path.join(RO[0], name), RO[0]


def bad_path(prog_kind, option, kind, n):
    name = {"--checkpoint": "ck.h5", "--best-checkpoint": "best.h5", "--metrics": "m.csv", "--output": "p.h5"}[option]
    path, folder = target(kind, name)
    prefix = RO[1] if kind == "read_only" else []
    if prog_kind == "train":
        args = LONG + EXTRA[option] + [option, path]
        prog = R.args.train
    else:
        args = ["--model", MODEL, "--data", DATA, "--x", "train_x", "--output", path]
        prog = R.args.predict
    cmd = ["timeout", "-k", "5", "60"] + prefix + R.launcher(n) + [prog] + args
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=R.env, universal_newlines=True)
    dt = time.monotonic() - t0
    rc, out, err = p.returncode, p.stdout, p.stderr
    require(rc not in (124, 137), "timed out after 60 s: it trained instead of stopping")
    require(rc == 1 if n is None else 1 <= rc <= 123, "exit %d, expected 1: %s" % (rc, tail(err)))
    require(dt < LIMIT, "took %.2f s, more than %.0f s" % (dt, LIMIT))
    tag = os.path.basename(prog) + ":"
    lines = [l for l in err.splitlines() if tag in l]
    require(len(lines) == 1, "%d '%s' lines, expected 1: %s" % (len(lines), tag, tail(err)))
    require(option in lines[0] and path in lines[0], "the message does not name %s '%s': %s" % (option, path, lines[0]))
    require(any(r in lines[0] for r in REASON[kind]), "the message gives no reason (%s): %s" % (
        " or ".join(REASON[kind]), lines[0]))
    require("final " not in out and "iteration" not in out.lower() and "#" not in out,
            "something of the run was printed before it stopped: %s" % tail(out))
    if folder and os.path.isdir(folder):
        require(not os.listdir(folder), "files were left in %s: %s" % (folder, os.listdir(folder)))
    print("#   %.2f s: %s" % (dt, lines[0][:250]))


MODEL = None


def make_model():
    global MODEL
    MODEL = R.path("model.h5")
    R.train(["--data", DATA, "--layers", "4", "--iterations", "2", "--checkpoint", MODEL, "--quiet"])


def control():
    """The same long run with good paths is still training after 4 s."""
    rc, out, err, dt = R.run(R.args.train, LONG + ["--checkpoint", R.path("good_ck.h5"), "--metrics", R.path("m.csv")],
                             timeout=4)
    require(rc in (124, 137), "the long run with good paths ended after %.1f s (exit %d): it is not long: %s" % (
        dt, rc, tail(err)))


R.case("make_model", make_model)
R.case("control_long_run_trains", control)
kinds = ["missing", "file"] + (["read_only"] if RO else [])
for n in (None, 3):
    for option in ("--checkpoint", "--best-checkpoint", "--metrics"):
        for kind in kinds:
            R.case("%s_%s_np%d" % (option.strip("-"), kind, n or 1), bad_path, "train", option, kind, n)
for kind in kinds:
    R.case("predict_output_%s" % kind, bad_path, "predict", "--output", kind, None)
if RO and not RO[1] and os.path.ismount(RO[0]):
    subprocess.run(["umount", "-l", RO[0]])
code = 1 if R.failed else (77 if not RO else 0)
print("%d passed, %d failed%s" % (R.passed, R.failed, ", read_only cases skipped" if not RO else ""))
shutil.rmtree(R.work, ignore_errors=True)
sys.exit(code)
