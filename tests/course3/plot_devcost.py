#!/usr/bin/python3
"""The quickstart's learning curve shows the dev cost (README, What dnn-train prints).

launch/quickstart.sh trains with a dev set (--validation-split) and a test
set, writes --metrics and draws it with launch/plot.sh.  Here the same
options on a small data set give a real metrics file (columns cost,
train_accuracy, test_accuracy, val_cost, val_accuracy); plot.sh draws it and
the PNG is decoded (tests/userpath/plot_png.py's decoder): the dev-cost
colour (#e69f00, hue about 41 degrees) spans at least 40% of the width, and
the training cost, train/test and dev accuracy curves are there as well
(>= 5 line colours).  Without a dev set the same run's plot has no dev-cost
colour (so the colour found is the dev curve's, not another's).  The
quickstart itself must still pass --validation-split and --metrics and
plot that metrics file.  Exits 77 (skip) without gnuplot.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "userpath"))
import plot_png  # noqa: E402
import upcommon as U  # noqa: E402

DEV_BIN = 30  # hue bin of #e69f00 (30..60 degrees)

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--train", required=True)
p.add_argument("--source", required=True)
a = p.parse_args()
c = U.Checker("plot_devcost")
if not shutil.which("gnuplot"):
    print("SKIP plot_devcost: gnuplot is not installed (Debian: apt-get install gnuplot-nox)")
    sys.exit(77)
qs = open(os.path.join(a.source, "launch", "quickstart.sh")).read()
c.check("--validation-split" in qs and re.search(r'--metrics "\$metrics"', qs) and
        re.search(r'plot\.sh" "\$metrics"', qs), "quickstart.sh trains with a dev set and plots its metrics")
wd = tempfile.mkdtemp(prefix="dnn-plot-")
rs = np.random.RandomState(8)
X = rs.randn(600, 5)
y = np.argmax(X @ rs.randn(5, 3) + 0.8 * rs.randn(600, 3), axis=1)
with h5py.File(os.path.join(wd, "d.h5"), "w") as f:
    f["train_x"], f["train_y"], f["test_x"], f["test_y"] = X, y, X[:200], y[:200]
base = [a.train, "--data", "d.h5", "--test", "d.h5", "--layers", "8", "--output", "softmax", "--optimizer", "adam",
        "--lr", "0.01", "--iterations", "150", "--print-every", "5", "--threads", "1", "--quiet"]
plot = os.path.join(a.source, "launch", "plot.sh")
imgs = {}
for tag, extra in (("dev", ["--validation-split", "0.2"]), ("nodev", [])):
    rc, _, err = U.run(base + extra + ["--metrics", tag + ".csv"], wd)
    c.check(rc == 0, "dnn-train (%s) writes its metrics" % tag, U.tail(err))
    rc, _, err = U.run(["bash", plot, tag + ".csv", tag + ".png"], wd)
    c.check(rc == 0, "plot.sh %s.csv exits 0" % tag, U.tail(err))
    imgs[tag] = plot_png.check_png(c, os.path.join(wd, tag + ".png"), tag + ".png", 10 * 1024)
head = open(os.path.join(wd, "dev.csv")).readline().strip().split(",")
c.check("val_cost" in head and "val_accuracy" in head, "the metrics hold val_cost and val_accuracy", str(head))
if imgs["dev"] is not None and imgs["nodev"] is not None:
    dev, nodev = plot_png.line_colours(imgs["dev"]), plot_png.line_colours(imgs["nodev"])
    c.check(DEV_BIN in dev, "the dev-cost curve (hue bin %d) spans the plot (bins %s)" % (DEV_BIN, sorted(dev)), str(dev))
    c.check(DEV_BIN not in nodev, "no dev-cost colour without a dev set (bins %s)" % sorted(nodev), str(nodev))
    c.check(len(dev) >= 5, "training cost, dev cost and three accuracies: >= 5 line colours (%s)" % sorted(dev))
shutil.rmtree(wd, ignore_errors=True)
c.finish()
