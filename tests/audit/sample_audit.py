#!/usr/bin/python3
"""Behaviours the seeded mutation sample (tests/mutation/sample.py) found
unguarded: one case each, named in its failure message.

  sample_audit.py --train T --predict P   (dnn-export and dnn-sweep come in
  the environment variables DNN_EXPORT and DNN_SWEEP)

  tool_args        dnn-predict and dnn-export (src/args.c): an unknown option,
                   an option without its value and a stray argument each end
                   with exit 1 and one line naming exactly what was typed
                   (the option, or the argument), and nothing of getopt's own
  damaged_checkpoint  dnn-predict --model and dnn-train --resume of a
                   checkpoint damaged after its superblock: exit 1 and one
                   line naming the file, no HDF5 error stack
  confusion_png    dnn-predict --confusion-png: decoded here (zlib), every
                   cell's gray is 255 - 255 count / row total of the confusion
                   matrix numpy counts from the predictions, edges 200,
                   white margins, filter bytes 0; cells of 8 pixels for 12
                   classes and of 2 for 60
  stdin_closed     dnn-train and dnn-predict started with descriptor 0 closed
                   write their checkpoint, metrics and predictions (a file
                   they open may get descriptor 0)
  sweep_curves     dnn-sweep with a stand-in gnuplot on PATH: curves.gp's
                   title (1 trial, 2 trials), one curve per trial on the
                   iteration and cost columns of its metrics.csv, log scale;
                   nothing said when gnuplot succeeds, "(exit 3)" when it
                   exits 3, "(exit -1)" when it is killed, "not found" with
                   the script's path when PATH has none; exit 0 each time;
                   summary.md says how many trials finished
  float_update_options  gd in float32 with --l2 2 or --clip-norm 0.05 is
                   within 1e-4 of float64 and over 1e-2 from float32 without
  bn_transfer      --init-from a --batch-norm checkpoint (--transfer-layers 1,
                   8 inputs, 5 units): W1, γ1, β1 equal the source's; after
                   one step the running mean and var are 0.9 x (the source's
                   for layer 1; 0 and 1 for layer 2) + 0.1 x numpy's batch
                   statistics
  bn_running_start --batch-norm in float32 and float64: after one full-batch
                   step the running mean is 0.1 x numpy's batch mean and the
                   running var 0.9 + 0.1 x its variance (they start at 0, 1)
  transfer_message --transfer-layers beyond the matching layers names layer
                   2 and both its shapes (3 x 5 there, 4 x 5 here)
  onnx_node_names  dnn-export names every ONNX node, each name once
  resume_history   /history after 60 + 60 iterations (--resume) equals an
                   uninterrupted run's of 120
  sweep_long_metrics  a trial's metrics file over 64 KiB: summary.csv's cost
                   is the trial's final cost
  sweep_failures   dnn-sweep: --train not on PATH refused naming it before
                   any trial, a bare name found on PATH taken; an unwritable summary.csv gives exit 1 naming
                   it; SIGINT gives exit 75 and "run the same command again"
  bf16_freeze      --precision bf16 --freeze 1 with a test set: exit 0, W1
                   and b1 the source's bit for bit, W2 trained
  damaged_data     a training X whose chunk changed on disk: "fails its
                   Fletcher32 checksum" with one, "cannot read examples" of a
                   damaged deflate chunk without one (dataset and file named)
  sweep_throttle   dnn-sweep --slurm --array=%1, --array %2, -a %3 accepted
                   (--dry-run); %0, %, 0-3, %x, %-2 refused naming the value;
                   with trial-002 of 4 done the planned array is 0-1,3(%2)
  train_report_ranks  dnn-train --report R.md at N = 1 and N = 3: the
                   accuracy line equals numpy's from the final parameters
                   (every count summed over the ranks), the files equal
  comm_paths       2 ranks against one process, --batch-size 64, a model of
                   120k parameters (several overlapped buckets): float32 sums
                   within 1e-5 with --comm-overlap thread, test and off;
                   --comm-precision bf16 (overlap thread and off) within 2e-2
                   but not 1e-6, all 8 steps run; bf16 sums refused with
                   --precision double
  predict_short_csv  dnn-predict --output a.csv writes CSV
  bf16_one_hidden  --precision bf16 --layers 32 (bf16 hidden product, sgemm
                   output) with batches of 40: within 2e-2 of float32
  option_bounds    --rng numpy --shuffle-seed 2^32 - 1 taken, 2^32 refused;
                   --transfer-layers -1 and --freeze -1 refused naming each
  predict_layout   dnn-predict --layout with an unknown value: exit 1, one
                   line naming --layout and the value
"""
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, make_binary, make_classes, tail  # noqa: E402

R = Runner(__doc__)
EXPORT, SWEEP = os.environ.get("DNN_EXPORT", ""), os.environ.get("DNN_SWEEP", "")
DATA = R.path("bin.h5")
make_binary(DATA, 200, 4, seed=3)
CK = R.path("ck.h5")


def checkpoint():
    if not os.path.exists(CK):
        R.train(["--data", DATA, "--layers", "3", "--iterations", "20", "--seed", "2", "--quiet", "--checkpoint", CK])
    return CK


def tool_args():
    ck = checkpoint()
    progs = [("dnn-predict", R.args.predict, ["--model", ck, "--data", DATA, "--x", "train_x"])]
    if EXPORT:
        progs.append(("dnn-export", EXPORT, ["--model", ck, "--onnx", R.path("m.onnx")]))
    require(len(progs) == 2, "DNN_EXPORT=%r is not dnn-export" % EXPORT)
    for name, prog, good in progs:
        for extra, named in ((["--bogus-option"], "'--bogus-option'"),
                             (["--bogus-option", "--data", DATA], "'--bogus-option'"),
                             (["--model"], "'--model'"),
                             (["stray-argument"], "unexpected argument 'stray-argument'")):
            args = good + extra
            rc, out, err, _ = R.run(prog, args, timeout=30)
            lines = [l for l in err.splitlines() if l.strip()]
            require(rc == 1 and len(lines) == 1 and named in lines[0] and lines[0].startswith(name + ":"),
                    "%s %s must end with exit 1 and one line naming %s (the argument loop, src/args.c): exit %d, "
                    "stderr %r" % (name, " ".join(extra), named, rc, err))


def predict_layout():
    ck = checkpoint()
    rc, out, err, _ = R.run(R.args.predict, ["--model", ck, "--data", DATA, "--x", "train_x", "--layout", "rows"],
                            timeout=30)
    lines = [l for l in err.splitlines() if l.strip()]
    require(rc == 1 and len(lines) == 1 and "--layout" in lines[0] and "'rows'" in lines[0],
            "dnn-predict --layout rows must end with exit 1 and one line naming --layout and 'rows': exit %d, %r" % (
                rc, err))


def damaged_checkpoint():
    ck = checkpoint()
    with open(ck, "rb") as f:
        head = f.read()
    bad = R.path("damaged.h5")
    with open(bad, "wb") as f:  # the superblock, then garbage
        f.write(head[:512] + bytes(range(256)) * 8)
    runs = [("dnn-predict", R.args.predict, ["--model", bad, "--data", DATA, "--x", "train_x"]),
            ("dnn-train", R.args.train, ["--data", DATA, "--layers", "3", "--iterations", "30", "--checkpoint", bad,
                                         "--resume"])]
    for name, prog, args in runs:
        rc, out, err, _ = R.run(prog, args, timeout=30)
        lines = [l for l in err.splitlines() if l.strip()]
        require(rc == 1 and len(lines) == 1 and lines[0].startswith(name + ":") and bad in lines[0],
                "%s with a damaged checkpoint must end with exit 1 and one line naming it (no HDF5 error stack): "
                "exit %d, %d lines: %s" % (name, rc, len(lines), tail(err, 4)))


def confusion_png():
    """The picture's pixels from the confusion matrix numpy counts."""
    import struct
    import zlib
    data = R.path("k3.h5")
    X, lab = make_classes(data, 240, 4, 3, seed=11, spread=1.6)
    ck = R.path("k3.h5.ck")
    R.train(["--data", data, "--layers", "4", "--output", "softmax", "--classes", "3", "--iterations", "15",
             "--seed", "1", "--quiet", "--checkpoint", ck])
    png, pred = R.path("cm.png"), R.path("pred.h5")
    R.predict(["--model", ck, "--data", data, "--x", "train_x", "--y", "train_y", "--output", pred,
               "--confusion-png", png])
    import h5py
    with h5py.File(pred, "r") as f:
        p = f["predictions"][:]
    K, cell, gap = 3, 40, 16
    cm = np.zeros((K, K), np.int64)
    np.add.at(cm, (lab, p), 1)
    require(len(set(p.tolist())) > 1, "the model predicts one class only: pick another seed")
    raw = open(png, "rb").read()
    require(raw[:8] == b"\x89PNG\r\n\x1a\n", "--confusion-png: not a PNG signature")
    chunks, at = {}, 8
    while at < len(raw):
        n, kind = struct.unpack(">I4s", raw[at:at + 8])
        chunks.setdefault(kind, b"")
        chunks[kind] += raw[at + 8:at + 8 + n]
        at += 12 + n
    w, h, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    side = K * cell
    require((w, h, depth, color) == (side + 2 * gap, side + 2 * gap, 8, 0),
            "--confusion-png: IHDR %s, want %dx%d 8-bit gray" % ((w, h, depth, color), side + 2 * gap, side + 2 * gap))
    pix = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, w + 1)
    require((pix[:, 0] == 0).all(), "--confusion-png: a row's filter byte is not 0 (none)")
    img = pix[:, 1:]
    for i in range(K):
        for k in range(K):
            want = int(255.0 - 255.0 * cm[i, k] / cm[i].sum() + 0.5) if cm[i].sum() else 255
            y0, x0 = gap + i * cell, gap + k * cell
            inner = img[y0 + 1:y0 + cell, x0 + 1:x0 + cell]
            require((inner == want).all() and (img[y0, x0:x0 + cell] == 200).all(),
                    "--confusion-png: cell (true %d, predicted %d) should be gray %d (count %d of %d) with an edge "
                    "of 200; got %s" % (i, k, want, cm[i, k], cm[i].sum(), np.unique(inner)))
    require((img[:gap] == 255).all() and (img[:, :gap] == 255).all(), "--confusion-png: the margin is not white")
    # the cell size: 40 pixels up to 10 classes, 8 up to 50, 2 above
    for K, cell in ((12, 8), (60, 2)):
        data = R.path("k%d.h5" % K)
        make_classes(data, 600, 6, K, seed=K)
        ck = R.path("k%d.h5.ck" % K)
        R.train(["--data", data, "--layers", "8", "--output", "softmax", "--classes", str(K), "--iterations", "3",
                 "--quiet", "--checkpoint", ck])
        png = R.path("cm%d.png" % K)
        R.predict(["--model", ck, "--data", data, "--x", "train_x", "--y", "train_y", "--confusion-png", png])
        raw = open(png, "rb").read()
        w, h = struct.unpack(">II", raw[16:24])
        require((w, h) == (K * cell + 2 * gap, K * cell + 2 * gap),
                "--confusion-png of %d classes: %dx%d pixels, want cells of %d: %dx%d" % (
                    K, w, h, cell, K * cell + 2 * gap, K * cell + 2 * gap))


def stdin_closed():
    """Started with file descriptor 0 closed (some schedulers and daemons do): a
    file opened then gets descriptor 0, which is a valid one."""
    import subprocess
    ck, met = R.path("fd0.h5"), R.path("fd0.csv")
    cmd = [R.args.train, "--data", DATA, "--layers", "3", "--iterations", "20", "--quiet", "--checkpoint", ck,
           "--metrics", met]
    p = subprocess.run(cmd, env=R.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       preexec_fn=lambda: os.close(0), timeout=60)
    require(p.returncode == 0 and os.path.exists(ck) and os.path.exists(met),
            "dnn-train with standard input closed: exit %d %s" % (p.returncode, tail(p.stderr)))
    pred = R.path("fd0_pred.csv")
    cmd = [R.args.predict, "--model", ck, "--data", DATA, "--x", "train_x", "--output", pred]
    p = subprocess.run(cmd, env=R.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       preexec_fn=lambda: os.close(0), timeout=60)
    require(p.returncode == 0 and os.path.exists(pred),
            "dnn-predict --output with standard input closed: exit %d %s" % (p.returncode, tail(p.stderr)))


FAKE_GNUPLOT = """#!/bin/sh
# a gnuplot stand-in: the terminal probe (-e) succeeds; a script run copies
# the script beside it and ends as FAKE_GNUPLOT says (an exit code, or kill)
case "$1" in -e) exit 0 ;; esac
cp "$1" "$1.seen"
[ "$FAKE_GNUPLOT" = kill ] && kill -9 $$
exit "${FAKE_GNUPLOT:-0}"
"""


def sweep_curves():
    """dnn-sweep's curves.gp (title, one curve per trial, log scale) and what
    it says when gnuplot fails or is killed (a stand-in gnuplot on PATH)."""
    require(SWEEP and os.access(SWEEP, os.X_OK), "DNN_SWEEP=%r is not dnn-sweep" % SWEEP)
    bin_dir = R.path("fakebin")
    os.makedirs(bin_dir, exist_ok=True)
    with open(os.path.join(bin_dir, "gnuplot"), "w") as f:
        f.write(FAKE_GNUPLOT)
    os.chmod(os.path.join(bin_dir, "gnuplot"), 0o755)
    saved = R.env
    try:
        empty = R.path("emptybin")  # no gnuplot: only the timeout R.run starts programs with
        os.makedirs(empty, exist_ok=True)
        if not os.path.exists(os.path.join(empty, "timeout")):
            import shutil
            os.symlink(shutil.which("timeout", path=saved.get("PATH")), os.path.join(empty, "timeout"))
        for n, (lrs, how) in enumerate((("0.1", "0"), ("0.05 | 0.1", "3"), ("0.05 | 0.1", "kill"),
                                        ("0.05 | 0.1", "missing"))):
            R.env = dict(saved, PATH=empty if how == "missing" else bin_dir + os.pathsep + saved.get("PATH", ""),
                         FAKE_GNUPLOT=how)
            grid, out = R.path("curves%d.conf" % n), R.path("curves%d" % n)
            with open(grid, "w") as f:
                f.write("data = %s\nlayers = 3\nlr = %s\niterations = 20\nprint-every = 5\nquiet = true\n"
                        % (DATA, lrs))
            train = R.args.train
            if how == "missing":  # dnn-train itself needs PATH (MPI's singleton start): a wrapper gives it back
                train = R.path("train-with-path.sh")
                with open(train, "w") as f:
                    f.write("#!/bin/sh\nPATH='%s' exec '%s' \"$@\"\n" % (saved.get("PATH", ""),
                                                                        os.path.abspath(R.args.train)))
                os.chmod(train, 0o755)
            rc, o, err, _ = R.run(SWEEP, ["--train", train, "--out", out, grid], timeout=60)
            trials = lrs.count("|") + 1
            gp = os.path.join(out, "curves.gp")
            require(rc == 0 and (os.path.exists(gp + ".seen") or how == "missing"),
                    "dnn-sweep (gnuplot %s) must end with exit 0 and run gnuplot on %s: exit %d %s" % (
                        how, gp, rc, tail(err)))
            text = open(gp).read()
            title = "dnn-sweep curves%d: %d trial%s, training cost" % (n, trials, "" if trials == 1 else "s")
            require("set title '%s'" % title in text,
                    "curves.gp's title must read %r: %s" % (title, [l for l in text.splitlines() if "title '" in l][:1]))
            curves = re.findall(r"'([^']*metrics\.csv)' every ::1 using (\d+):(\d+)", text)
            require(len(curves) == trials and "set logscale y" in text,
                    "curves.gp must plot %d metrics files, on a log scale (positive costs): %r" % (trials, curves))
            for path, ci, cc in curves:
                head = open(path).readline().strip().split(",")
                require(head[int(ci) - 1] == "iteration" and head[int(cc) - 1] == "cost",
                        "curves.gp plots columns %s:%s of %s, whose header is %s" % (ci, cc, path, head))
            md = open(os.path.join(out, "summary.md")).read()
            require("%d of %d trials finished" % (trials, trials) in md,
                    "summary.md must say %d of %d trials finished: %s" % (trials, trials, md.splitlines()[:3]))
            said = [l for l in err.splitlines() if "gnuplot" in l]
            want = {"0": [], "3": ["dnn-sweep: gnuplot failed on %s (exit 3)" % gp],
                    "kill": ["dnn-sweep: gnuplot failed on %s (exit -1)" % gp],
                    "missing": ["dnn-sweep: cannot run 'gnuplot': No such file or directory",
                                "dnn-sweep: gnuplot not found (Debian: gnuplot-nox): no curves.png; the script is %s"
                                % gp]}[how]
            require(said == want, "dnn-sweep with a gnuplot that %s must say %s, said %s" % (
                {"0": "succeeds", "3": "exits 3", "kill": "is killed", "missing": "is not on PATH"}[how], want, said))
    finally:
        R.env = saved


def float_update_options():
    """gd in float32 with --l2 or --clip-norm follows float64 (to float32
    rounding) and differs from the run without the option."""
    from dnnt import ckpt_params, rel_diff
    base = ["--data", DATA, "--layers", "5,3", "--iterations", "60", "--lr", "0.5", "--seed", "9", "--quiet"]
    def params(tag, extra, prec):
        ck = R.path("fu_%s_%s.h5" % (tag, prec))
        R.train(base + extra + ["--precision", prec, "--checkpoint", ck])
        return ckpt_params(ck)
    plain = params("plain", [], "single")
    for tag, extra in (("l2", ["--l2", "2.0"]), ("clip", ["--clip-norm", "0.05"])):
        single, double = params(tag, extra, "single"), params(tag, extra, "double")
        near, away = rel_diff(single, double), rel_diff(single, plain)
        require(near < 1e-4 and away > 1e-2,
                "--precision single with %s: relative difference %.3g to float64 (want < 1e-4) and %.3g to the run "
                "without it (want > 1e-2): the float32 update must apply it" % (" ".join(extra), near, away))


def bn_transfer():
    """--init-from a --batch-norm checkpoint (--transfer-layers 1, 8 inputs
    into 5 units): W1, γ1, β1 are the source's; after one step (lr 1e-300,
    full batch) the running statistics are B running + (1 - B) batch with
    numpy's batch statistics: layer 1 continuing the source's, layer 2 (not
    transferred) from 0 and 1."""
    import h5py
    data, src, dst = R.path("bn8.h5"), R.path("bn_src.h5"), R.path("bn_dst.h5")
    make_binary(data, 200, 8, seed=5)
    R.train(["--data", data, "--layers", "5,3", "--batch-norm", "--precision", "double", "--iterations", "30",
             "--seed", "4", "--quiet", "--checkpoint", src])
    R.train(["--data", data, "--layers", "5,4", "--batch-norm", "--precision", "double", "--init-from", src,
             "--transfer-layers", "1", "--iterations", "1", "--lr", "1e-300", "--quiet", "--checkpoint", dst])
    with h5py.File(data, "r") as f:
        X = np.asarray(f["train_x"], np.float64)
    with h5py.File(src, "r") as a, h5py.File(dst, "r") as b:
        for name in ("W1", "gamma1", "beta1"):
            require(np.array_equal(a[name][:], b[name][:]), "--init-from a --batch-norm checkpoint: %s of the "
                    "transferred layer differs from the source's" % name)
        z1 = X @ a["W1"][:].T
        mu, var = z1.mean(0), z1.var(0)
        a1 = np.maximum(a["gamma1"][:].ravel() * (z1 - mu) / np.sqrt(var + 1e-5) + a["beta1"][:].ravel(), 0)
        z2 = a1 @ b["W2"][:].T
        for stat, start, batch in (("mean1", a["bn"]["mean1"][:].ravel(), mu), ("var1", a["bn"]["var1"][:].ravel(), var),
                                   ("mean2", 0.0, z2.mean(0)), ("var2", 1.0, z2.var(0))):
            want = 0.9 * start + 0.1 * batch
            got = b["bn"][stat][:].ravel()
            require(np.allclose(got, want, rtol=1e-10, atol=1e-13),
                    "--init-from a --batch-norm checkpoint: after one step the running %s must be 0.9 x %s + 0.1 x "
                    "the batch's = %s, got %s" % (stat, "the source's" if stat.endswith("1") else "its start", want,
                                                  got))


def transfer_message():
    """--transfer-layers beyond the matching layers names the first layer that
    does not match, with both shapes."""
    src = R.path("tm_src.h5")
    R.train(["--data", DATA, "--layers", "5,3", "--iterations", "5", "--quiet", "--checkpoint", src])
    rc, out, err, _ = R.run(R.args.train, ["--data", DATA, "--layers", "5,4", "--init-from", src,
                                           "--transfer-layers", "2", "--iterations", "5", "--quiet"], timeout=30)
    want = "only the first 1 layer of '%s' match this network's shapes (layer 2 is 3 x 5 there, 4 x 5 here)" % src
    require(rc == 1 and want in err, "--transfer-layers 2 over a 5,3 source into 5,4: want exit 1 and %r, got exit "
            "%d: %s" % (want, rc, tail(err)))


def onnx_node_names():
    """dnn-export names every node, each name once (viewers and error messages
    of ONNX runtimes show them)."""
    import onnx
    require(EXPORT and os.access(EXPORT, os.X_OK), "DNN_EXPORT=%r is not dnn-export" % EXPORT)
    ck, out = R.path("nn_ck.h5"), R.path("nn.onnx")
    R.train(["--data", DATA, "--layers", "5,3", "--batch-norm", "--iterations", "5", "--quiet", "--checkpoint", ck])
    R.run(EXPORT, ["--model", ck, "--onnx", out], check=True)
    names = [n.name for n in onnx.load(out).graph.node]
    require(len(names) >= 6 and all(names) and len(set(names)) == len(names),
            "dnn-export must name every ONNX node, each name once: %s" % names)


def resume_history():
    """--resume keeps the checkpoint's cost history: /history after 60 + 60
    iterations equals an uninterrupted run's of 120."""
    import h5py
    base = ["--data", DATA, "--layers", "4", "--print-every", "10", "--seed", "6", "--quiet"]
    one, two = R.path("rh_one.h5"), R.path("rh_two.h5")
    R.train(base + ["--iterations", "120", "--checkpoint", one])
    R.train(base + ["--iterations", "60", "--checkpoint", two])
    R.train(base + ["--iterations", "120", "--checkpoint", two, "--resume"])
    with h5py.File(one, "r") as a, h5py.File(two, "r") as b:
        ia, ib = a["history/iteration"][:], b["history/iteration"][:]
        ca, cb = a["history/cost"][:], b["history/cost"][:]
    require(np.array_equal(ia, ib) and np.array_equal(ca, cb) and ia[0] == 0,
            "the cost history after a resume must equal the uninterrupted run's: iterations %s vs %s" % (
                ia.tolist(), ib.tolist()))


def sweep_long_metrics():
    """A trial whose metrics file is over 64 KiB (5000 records): the summary's
    cost is the trial's final cost, read from the end of that file."""
    require(SWEEP and os.access(SWEEP, os.X_OK), "DNN_SWEEP=%r is not dnn-sweep" % SWEEP)
    grid, out = R.path("long.conf"), R.path("longsw")
    with open(grid, "w") as f:
        f.write("data = %s\nlayers = 3\nlr = 0.05\niterations = 5000\nprint-every = 1\nquiet = true\n" % DATA)
    rc, o, err, _ = R.run(SWEEP, ["--train", R.args.train, "--out", out, grid], timeout=120)
    met = os.path.join(out, "trial-000", "metrics.csv")
    require(rc == 0 and os.path.getsize(met) > 65536, "dnn-sweep with a 5000-record trial: exit %d, metrics %s bytes "
            "%s" % (rc, os.path.getsize(met) if os.path.exists(met) else None, tail(err)))
    log = open(os.path.join(out, "trial-000", "train.log")).read()
    final = re.search(r"^final .*cost=(\S+)", log, re.M).group(1)
    rows = open(os.path.join(out, "summary.csv")).read().splitlines()
    head, row = rows[0].split(","), rows[1].split(",")
    require(float(row[head.index("cost")]) == float(final), "summary.csv's cost %s must be the trial's final cost %s"
            % (row[head.index("cost")], final))


def sweep_failures():
    """dnn-sweep: a --train that is not on PATH is refused before anything
    runs; a summary that cannot be written ends with exit 1; a stopped sweep
    says how to continue."""
    import signal
    import subprocess
    import time
    require(SWEEP and os.access(SWEEP, os.X_OK), "DNN_SWEEP=%r is not dnn-sweep" % SWEEP)
    grid = R.path("sf.conf")
    with open(grid, "w") as f:
        f.write("data = %s\nlayers = 3\nlr = 0.05 | 0.1\niterations = 20\nquiet = true\n" % DATA)
    rc, out, err, _ = R.run(SWEEP, ["--train", "dnn-train-not-installed", "--out", R.path("sf0"), grid], timeout=60)
    require(rc == 1 and "dnn-train-not-installed" in err and not os.path.exists(R.path("sf0/trial-000")),
            "dnn-sweep --train dnn-train-not-installed (not on PATH) must be refused naming it, before any trial: "
            "exit %d %s" % (rc, tail(err)))
    bin_dir = R.path("sf_bin")  # a bare name found on PATH is taken
    os.makedirs(bin_dir, exist_ok=True)
    if not os.path.exists(os.path.join(bin_dir, "dnn-train-here")):
        os.symlink(os.path.abspath(R.args.train), os.path.join(bin_dir, "dnn-train-here"))
    saved = R.env
    R.env = dict(saved, PATH=os.pathsep.join(["/nonexistent-dir", bin_dir, saved.get("PATH", "")]))
    try:
        rc, out, err, _ = R.run(SWEEP, ["--train", "dnn-train-here", "--out", R.path("sfp"), grid], timeout=60)
    finally:
        R.env = saved
    require(rc == 0 and "2 to start" in out, "dnn-sweep --train dnn-train-here (on PATH, in its second folder) must "
            "run: exit %d %s" % (rc, tail(err)))
    os.makedirs(R.path("sf1/summary.csv"))  # a folder where the summary goes
    rc, out, err, _ = R.run(SWEEP, ["--train", R.args.train, "--out", R.path("sf1"), grid], timeout=60)
    require(rc == 1 and "summary.csv" in err, "dnn-sweep whose summary.csv cannot be written must end with exit 1 "
            "naming it: exit %d %s" % (rc, tail(err)))
    with open(grid, "w") as f:
        f.write("data = %s\nlayers = 3\nlr = 0.05 | 0.1\niterations = 100000000\nquiet = true\n" % DATA)
    p = subprocess.Popen([SWEEP, "--train", R.args.train, "--out", R.path("sf2"), grid], env=R.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    log = R.path("sf2/trial-000/train.log")
    for _ in range(200):
        if os.path.exists(log):
            break
        time.sleep(0.05)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    require(p.returncode == 75 and "stopped; run the same command again to continue" in err,
            "dnn-sweep interrupted (SIGINT) must end with exit 75 and say how to continue: exit %s %s" % (
                p.returncode, tail(err)))


def bf16_freeze():
    """--freeze with --precision bf16: the frozen layer stays the source's bit
    for bit and the run (with a test set) ends normally, as in float32."""
    from dnnt import ckpt_params
    src, dst = R.path("bz_src.h5"), R.path("bz_dst.h5")
    R.train(["--data", DATA, "--layers", "6,4", "--iterations", "20", "--quiet", "--checkpoint", src])
    rc, out, err, _ = R.run(R.args.train, ["--data", DATA, "--layers", "6,4", "--precision", "bf16", "--init-from",
                                           src, "--freeze", "1", "--batch-size", "64", "--epochs", "4", "--test",
                                           DATA, "--x", "train_x", "--test-x", "train_x", "--test-y", "train_y",
                                           "--checkpoint", dst], timeout=60)
    if rc == 0 or "AVX512_BF16" not in err:
        require(rc == 0, "--precision bf16 --freeze 1: exit %d %s" % (rc, tail(err)))
        a, b = ckpt_params(src), ckpt_params(dst)
        require(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and not np.array_equal(a[2], b[2]),
                "--precision bf16 --freeze 1: W1, b1 must stay the source's and W2 must train")


def damaged_data():
    """A training file whose X chunk changed on disk: with Fletcher32 the
    message says the checksum fails (dataset, file); a damaged deflate chunk
    without one says which examples could not be read."""
    import h5py
    rs = np.random.RandomState(2)
    X, Y = rs.randn(400, 6).astype(np.float32), (rs.rand(400, 1) > 0.5).astype(np.float32)
    for tag, opts, want in (("sum", dict(fletcher32=True), "dataset 'train_x' in '%s' fails its Fletcher32 checksum"),
                            ("zip", dict(compression="gzip"), "cannot read examples 0..400 of 'train_x' in '%s'")):
        path = R.path("dmg_%s.h5" % tag)
        with h5py.File(path, "w") as f:
            f.create_dataset("train_x", data=X, chunks=(400, 6), **opts)
            f.create_dataset("train_y", data=Y)
            off = f["train_x"].id.get_chunk_info(0).byte_offset
            size = f["train_x"].id.get_chunk_info(0).size
        with open(path, "r+b") as f:
            f.seek(off + size // 2)
            b = f.read(8)
            f.seek(off + size // 2)
            f.write(bytes(x ^ 0x5a for x in b))
        rc, out, err, _ = R.run(R.args.train, ["--data", path, "--layers", "3", "--iterations", "5", "--quiet"],
                                timeout=30)
        require(rc == 1 and (want % path) in err, "dnn-train on a training file with a damaged %s chunk: want exit 1 "
                "and %r, got exit %d: %s" % ("checksummed" if tag == "sum" else "deflate", want % path, rc, tail(err)))


def sweep_throttle():
    """dnn-sweep --slurm takes sbatch's --array only as a throttle %P, P >= 1
    (--array=%P, --array %P, -a %P); anything else is refused naming it."""
    require(SWEEP and os.access(SWEEP, os.X_OK), "DNN_SWEEP=%r is not dnn-sweep" % SWEEP)
    grid = R.path("thr.conf")
    with open(grid, "w") as f:
        f.write("data = %s\nlayers = 3\nlr = 0.05 | 0.1\niterations = 20\nquiet = true\n" % DATA)
    for n, args in enumerate((["--array=%1"], ["--array", "%2"], ["-a", "%3"], ["--array=%1", "--time=5"])):
        rc, out, err, _ = R.run(SWEEP, ["--out", R.path("thr%d" % n), "--dry-run", "--slurm"] + args + [grid],
                                timeout=30)
        require(rc == 0 and "2 to start" in out, "dnn-sweep --slurm %s --dry-run must be accepted: exit %d %s" % (
            " ".join(args), rc, tail(err)))
    # the job array lists the unfinished trials: with trial-002 done, 0-1,3
    grid4, d4 = R.path("thr4.conf"), R.path("thr4")
    with open(grid4, "w") as f:
        f.write("data = %s\nlayers = 3\nlr = 0.1 | 0.2 | 0.3 | 0.4\niterations = 20\nquiet = true\n" % DATA)
    R.run(SWEEP, ["--out", d4, "--dry-run", grid4], check=True)
    R.run(SWEEP, ["--train", R.args.train, "--run-trial", os.path.join(d4, "trial-002")], check=True, timeout=60)
    for args, spec in ((["--array=%2"], "0-1,3%2"), ([], "0-1,3")):
        rc, out, err, _ = R.run(SWEEP, ["--out", d4, "--dry-run", "--slurm"] + args + [grid4], timeout=30)
        require(rc == 0 and "1 done; as a Slurm job array (--array=%s)" % spec in out,
                "dnn-sweep --slurm %s --dry-run with trial-002 done must plan --array=%s: %s" % (
                    " ".join(args), spec, out.splitlines()[:1]))
    for n, (args, bad) in enumerate(((["--array=%0"], "'%0'"), (["--array=%"], "'%'"), (["--array=0-3"], "'0-3'"),
                                     (["--array", "%x"], "'%x'"), (["-a", "%-2"], "'%-2'"))):
        rc, out, err, _ = R.run(SWEEP, ["--out", R.path("thb%d" % n), "--dry-run", "--slurm"] + args + [grid],
                                timeout=30)
        require(rc == 1 and "--array takes only a throttle %P" in err and ("(got %s)" % bad) in err,
                "dnn-sweep --slurm %s must be refused naming %s: exit %d %s" % (" ".join(args), bad, rc, tail(err)))


def train_report_ranks():
    """dnn-train --report R.md on 3 ranks: the accuracy line (an example is
    right when its prediction is) equals numpy's on the final parameters, as
    on one rank: every count is summed over the ranks."""
    import h5py
    from dnnt import ckpt_params
    rs = np.random.RandomState(8)
    C = rs.randn(3, 5) * 1.5
    lt, ld = rs.randint(0, 3, 500), rs.randint(0, 3, 301)
    data = R.path("rr.h5")
    with h5py.File(data, "w") as f:
        f["train_x"], f["train_y"] = C[lt] + rs.randn(500, 5), lt
        f["val_x"], f["val_y"] = C[ld] + rs.randn(301, 5), ld
        Xd = f["val_x"][:]
    lines = []
    for n in (None, 3):
        ck, rep = R.path("rr_ck%s.h5" % n), R.path("rr%s.md" % n)
        R.train(["--data", data, "--validation", data, "--output", "softmax", "--layers", "6", "--precision", "double",
                 "--iterations", "25", "--lr", "0.1", "--quiet", "--checkpoint", ck, "--report", rep], n=n)
        W = ckpt_params(ck)
        A = Xd
        for l in range(0, len(W) - 2, 2):
            A = np.maximum(A @ W[l].T + W[l + 1].ravel(), 0)
        pred = (A @ W[-2].T + W[-1].ravel()).argmax(1)
        want = "301 examples, 301 with a label; accuracy %.6f" % np.mean(pred == ld)
        text = open(rep).read()
        require(want in text, "dnn-train --report (N=%s) must say %r: %s" % (n, want, text.splitlines()[2:3]))
        lines.append(text)
    require(lines[0] == lines[1], "dnn-train --report differs between N = 1 and N = 3")


def comm_paths():
    """The gradient sums over 2 ranks, each path against one process:
    float32 sums cut into several overlapped buckets (a model over 65536
    parameters) agree to rounding, with --comm-overlap thread, test and off;
    --comm-precision bf16 (overlapped or not) agrees to bf16 rounding but not
    to float32's, and runs every step; it is refused with --precision double."""
    from dnnt import ckpt_params, rel_diff, final_line
    rs = np.random.RandomState(12)
    big = R.path("big.h5")
    make_binary(big, 256, 100, seed=12)
    base = ["--data", big, "--layers", "400,200", "--batch-size", "64", "--epochs", "2", "--lr", "0.05",
            "--seed", "3", "--quiet"]
    one = R.path("cp_one.h5")
    R.train(base + ["--checkpoint", one])
    ref = ckpt_params(one)
    for overlap in ("thread", "test", "off"):
        ck = R.path("cp_%s.h5" % overlap)
        R.train(base + ["--comm-overlap", overlap, "--checkpoint", ck], n=2)
        d = rel_diff(ckpt_params(ck), ref)
        require(d < 1e-5, "float32 sums over 2 ranks in several buckets (--comm-overlap %s) differ from one process "
                "by %.3g (want < 1e-5)" % (overlap, d))
    for overlap in ("thread", "off"):
        ck = R.path("cp_bf16_%s.h5" % overlap)
        out = R.train(base + ["--comm-overlap", overlap, "--comm-precision", "bf16", "--checkpoint", ck], n=2)
        d = rel_diff(ckpt_params(ck), ref)
        fin = final_line(out)
        require(1e-6 < d < 2e-2 and fin.get("iterations") == "8",
                "--comm-precision bf16 --comm-overlap %s on 2 ranks: %s steps (want 8), difference %.3g to one "
                "process (want bf16 rounding: between 1e-6 and 2e-2)" % (overlap, fin.get("iterations"), d))
    rc, out, err, _ = R.run(R.args.train, base + ["--precision", "double", "--comm-precision", "bf16"], n=2,
                            timeout=60)
    require(rc == 1 and "--comm-precision bf16" in err, "--comm-precision bf16 --precision double must be refused: "
            "exit %d %s" % (rc, tail(err)))


def bn_running_start():
    """--batch-norm in float32 and float64: the running statistics start at 0
    and 1, so after one full-batch step they are 0.1 x numpy's batch mean and
    0.9 + 0.1 x its (biased) variance."""
    import h5py
    data = R.path("bn8.h5")
    if not os.path.exists(data):
        make_binary(data, 200, 8, seed=5)
    with h5py.File(data, "r") as f:
        X = np.asarray(f["train_x"], np.float64)
    for prec, tol in (("single", 1e-5), ("double", 1e-12)):
        ck = R.path("bnr_%s.h5" % prec)
        R.train(["--data", data, "--layers", "5", "--batch-norm", "--precision", prec, "--iterations", "1",
                 "--lr", "1e-30", "--seed", "2", "--quiet", "--checkpoint", ck])
        with h5py.File(ck, "r") as f:
            z = X @ np.asarray(f["W1"], np.float64).T
            for stat, want in (("mean1", 0.1 * z.mean(0)), ("var1", 0.9 + 0.1 * z.var(0))):
                got = np.asarray(f["bn"][stat], np.float64).ravel()
                require(np.allclose(got, want, rtol=tol, atol=tol * 1e-2),
                        "--batch-norm --precision %s: after one step the running %s must be %s (from 0 and 1), got "
                        "%s" % (prec, stat, want, got))


def predict_short_csv():
    """dnn-predict --output a.csv (the shortest .csv name, in the working
    folder) writes CSV, not HDF5."""
    import subprocess
    ck = checkpoint()
    p = subprocess.run([R.args.predict, "--model", ck, "--data", DATA, "--x", "train_x", "--output", "a.csv"],
                       cwd=R.work, env=R.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=60)
    head = open(R.path("a.csv"), "rb").read(16) if os.path.exists(R.path("a.csv")) else b""
    require(p.returncode == 0 and head.startswith(b"index,prediction"),
            "dnn-predict --output a.csv must write CSV: exit %d, file starts %r %s" % (p.returncode, head,
                                                                                     tail(p.stderr)))


def bf16_one_hidden():
    """--precision bf16 with one hidden layer (its product in bf16, the output
    layer of 1 on sgemm) and batches of 40 (not a multiple of the 16 columns
    bf16 products are padded to): within bf16 rounding of float32."""
    from dnnt import ckpt_params, rel_diff
    data = R.path("b24.h5")
    make_binary(data, 400, 24, seed=21)
    base = ["--data", data, "--layers", "32", "--batch-size", "40", "--epochs", "3", "--lr", "0.1", "--seed", "5",
            "--quiet"]
    ref = R.path("b24_single.h5")
    R.train(base + ["--precision", "single", "--checkpoint", ref])
    ck = R.path("b24_bf16.h5")
    rc, out, err, _ = R.run(R.args.train, base + ["--precision", "bf16", "--checkpoint", ck], timeout=60)
    if rc != 0 and "AVX512_BF16" in err:
        return  # this CPU has no bf16 products (e2e_bf16 reports the skip)
    require(rc == 0, "--precision bf16 --layers 32 --batch-size 40: exit %d %s" % (rc, tail(err)))
    d = rel_diff(ckpt_params(ck), ckpt_params(ref))
    require(d < 2e-2, "--precision bf16 with one hidden layer and batches of 40 differs from float32 by %.3g "
            "(want bf16 rounding, < 2e-2)" % d)


def option_bounds():
    """--shuffle-seed with --rng numpy takes 0 .. 2^32 - 1; --transfer-layers
    and --freeze below 0 are refused naming the option that is."""
    base = ["--data", DATA, "--layers", "3", "--iterations", "2", "--batch-size", "50", "--quiet"]
    rc, out, err, _ = R.run(R.args.train, base + ["--rng", "numpy", "--shuffle-seed", "4294967295"], timeout=30)
    require(rc == 0, "--rng numpy --shuffle-seed 4294967295 (2^32 - 1) must be taken: exit %d %s" % (rc, tail(err)))
    rc, out, err, _ = R.run(R.args.train, base + ["--rng", "numpy", "--shuffle-seed", "4294967296"], timeout=30)
    require(rc == 1 and "--shuffle-seed must be below 2^32" in err, "--rng numpy --shuffle-seed 2^32 must be refused: "
            "exit %d %s" % (rc, tail(err)))
    ck = checkpoint()
    for opt in ("--transfer-layers", "--freeze"):
        rc, out, err, _ = R.run(R.args.train, base + ["--init-from", ck, opt, "-1"], timeout=30)
        require(rc == 1 and ("%s must be >= 0, got -1" % opt) in err,
                "%s -1 must be refused naming it: exit %d %s" % (opt, rc, tail(err)))


R.case("tool_args", tool_args)
R.case("option_bounds", option_bounds)
R.case("bf16_one_hidden", bf16_one_hidden)
R.case("predict_short_csv", predict_short_csv)
R.case("bn_running_start", bn_running_start)
R.case("comm_paths", comm_paths)
R.case("train_report_ranks", train_report_ranks)
R.case("sweep_throttle", sweep_throttle)
R.case("damaged_data", damaged_data)
R.case("onnx_node_names", onnx_node_names)
R.case("resume_history", resume_history)
R.case("sweep_failures", sweep_failures)
R.case("sweep_long_metrics", sweep_long_metrics)
R.case("bf16_freeze", bf16_freeze)
R.case("bn_transfer", bn_transfer)
R.case("transfer_message", transfer_message)
R.case("float_update_options", float_update_options)
R.case("sweep_curves", sweep_curves)
R.case("confusion_png", confusion_png)
R.case("stdin_closed", stdin_closed)
R.case("damaged_checkpoint", damaged_checkpoint)
R.case("predict_layout", predict_layout)
R.finish()
