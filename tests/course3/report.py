#!/usr/bin/python3
"""dnn-predict's error analysis (README, Error analysis) against scikit-learn.

Every case trains a small model (--precision double), runs dnn-predict with
--report FILE.json --misclassified FILE.csv, and recomputes the predictions
here with numpy from the checkpoint's W/b; sklearn.metrics on those gives the
confusion matrix, per-class precision/recall/F1/support and the macro and
weighted averages, which must equal the report to 1e-12; the misclassified
rows must be exactly those numpy finds.
Cases:
  softmax_with_empty_class  5 classes in the data, --classes 6 (class 5 is
      never present nor predicted: precision, recall, F1 0, as sklearn with
      zero_division=0); the Markdown report and the PNG exist and decode;
  binary                    one sigmoid unit;
  multitask_missing         3 sigmoid units, 30% unlabelled: one report per
      task over its labelled entries, the overall accuracy over examples with
      a label, the misclassified (index, task) pairs;
  fashion_mnist             (--fashion DIR) the Fashion-MNIST test set with a
      softmax model trained briefly on the training set (skipped without it);
  bad_paths                 a report path in a missing folder, a wrong
      extension, or --report without --y: exit 1 with the option and the path
      named, before any work (the model file is not even read);
  train_report_dev          dnn-train --validation FILE --report FILE.json at
      N = 1 and N = 3: sklearn on the dev set with the final W/b, and the two
      reports identical;
  train_report_bad_path     dnn-train --report in a missing folder or with a
      wrong extension, at N = 1 and N = 3: exit 1 naming --report, before the
      (missing) data file is looked at; --report without a dev set.
"""
import json
import os
import struct
import sys
import zlib

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, ckpt_params  # noqa: E402

try:
    from sklearn import metrics
except ImportError:  # a skip, never a pass
    print("SKIP: scikit-learn not installed (Debian python3-sklearn)")
    sys.exit(77)

FASHION = os.environ.get("DNN_FASHION_MNIST_SRC", "")
R = Runner(__doc__)
TOL = 1e-12


def forward(params, X, out, hidden="relu"):
    A = X.reshape(X.shape[0], -1).T.astype(np.float64)
    L = len(params) // 2
    for l in range(L):
        Z = params[2 * l].astype(np.float64) @ A + params[2 * l + 1].astype(np.float64).reshape(-1, 1)
        if l < L - 1:
            A = np.maximum(Z, 0)
        elif out == "softmax":
            E = np.exp(Z - Z.max(0))
            A = E / E.sum(0)
        else:
            A = 1 / (1 + np.exp(-Z))
    return A.T  # (m, n_out)


def close(a, b, what):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    require(a.shape == b.shape, "%s: shape %s, sklearn %s" % (what, a.shape, b.shape))
    err = np.max(np.abs(a - b)) if a.size else 0.0
    require(err <= TOL, "%s: differs from sklearn by %.3g\n  dnn     %s\n  sklearn %s" % (what, err, a, b))


def check_task(rep, y_true, y_pred, K, what):
    labels = list(range(K))
    cm = metrics.confusion_matrix(y_true, y_pred, labels=labels)
    require(np.array_equal(np.array(rep["confusion_matrix"]), cm), "%s confusion matrix:\n%s\nsklearn:\n%s" % (
        what, np.array(rep["confusion_matrix"]), cm))
    p, r, f, s = metrics.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    pc = rep["per_class"]
    require([c["label"] for c in pc] == labels, "%s labels %s" % (what, [c["label"] for c in pc]))
    close([c["precision"] for c in pc], p, what + " precision")
    close([c["recall"] for c in pc], r, what + " recall")
    close([c["f1"] for c in pc], f, what + " f1")
    require([c["support"] for c in pc] == list(s), "%s support %s, sklearn %s" % (what, [c["support"] for c in pc], s))
    for avg in ("macro", "weighted"):
        ap, ar, af, _ = metrics.precision_recall_fscore_support(y_true, y_pred, labels=labels, average=avg,
                                                                zero_division=0)
        close([rep[avg]["precision"], rep[avg]["recall"], rep[avg]["f1"]], [ap, ar, af], "%s %s" % (what, avg))
    close(rep["accuracy"], metrics.accuracy_score(y_true, y_pred), what + " accuracy")
    require(rep["m"] == len(y_true), "%s m=%s, expected %d" % (what, rep["m"], len(y_true)))


def read_csv(path):
    with open(path) as f:
        head = f.readline().strip().split(",")
        rows = [l.strip().split(",") for l in f if l.strip()]
    return head, rows


def predict(ck, data, x, y, tag, extra=()):
    rep, wrong = R.path(tag + ".json"), R.path(tag + "_wrong.csv")
    R.predict(["--model", ck, "--data", data, "--x", x, "--y", y, "--report", rep, "--misclassified", wrong] +
              list(extra))
    with open(rep) as f:
        return json.load(f), read_csv(wrong)


def png_size(path):
    """Decode the PNG (chunks, CRCs, zlib): (width, height, pixels)."""
    with open(path, "rb") as f:
        b = f.read()
    require(b[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path)
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(b):
        n, t = struct.unpack(">I4s", b[pos:pos + 8])
        d = b[pos + 8:pos + 8 + n]
        require(zlib.crc32(t + d) & 0xffffffff == struct.unpack(">I", b[pos + 8 + n:pos + 12 + n])[0], "bad CRC")
        if t == b"IHDR":
            w, h = struct.unpack(">II", d[:8])
        elif t == b"IDAT":
            idat += d
        pos += 12 + n
    raw = zlib.decompress(idat)
    require(len(raw) == h * (w + 1), "PNG data of %d bytes for %dx%d" % (len(raw), w, h))
    return w, h, raw


def softmax_with_empty_class():
    rs = np.random.RandomState(3)
    K, m, nx = 5, 500, 6
    C = rs.randn(K, nx) * 1.2
    lab = rs.randint(0, K, m)
    X = C[lab] + rs.randn(m, nx)
    data, ck = R.path("sm.h5"), R.path("sm_ck.h5")
    with h5py.File(data, "w") as f:
        f["train_x"], f["train_y"] = X, lab.astype(np.int64)
    R.train(["--data", data, "--output", "softmax", "--classes", "6", "--layers", "8", "--precision", "double",
             "--iterations", "40", "--lr", "0.2", "--checkpoint", ck, "--quiet"])
    md, png = R.path("sm.md"), R.path("sm.png")
    rep, (head, rows) = predict(ck, data, "train_x", "train_y", "sm", ["--confusion-png", png])
    P = forward(ckpt_params(ck), X, "softmax")
    pred = P.argmax(1)
    require(0 < np.mean(pred != lab) < 0.5, "the model is trivial (error %.2f)" % np.mean(pred != lab))
    check_task(rep, lab, pred, 6, "softmax")
    require(head == ["index", "label", "prediction", "probability"], "header %s" % head)
    wrong = np.nonzero(pred != lab)[0]
    require([int(r[0]) for r in rows] == list(wrong), "misclassified rows differ from numpy's %s" % list(wrong[:10]))
    require(all(int(r[1]) == lab[int(r[0])] and int(r[2]) == pred[int(r[0])] for r in rows), "label/prediction")
    close([float(r[3]) for r in rows], P[wrong, pred[wrong]], "probability of the prediction")
    w, h, raw = png_size(png)
    require(w >= 6 * 8 and h >= 6 * 8 and min(raw) < 60, "the PNG (%dx%d) shows no dark cell" % (w, h))
    R.predict(["--model", ck, "--data", data, "--x", "train_x", "--y", "train_y", "--report", md])
    with open(md) as f:
        text = f.read()
    require("| macro avg |" in text and "Confusion matrix" in text, "Markdown report:\n" + text[:400])


def binary():
    rs = np.random.RandomState(4)
    m, nx = 400, 5
    X = rs.randn(m, nx)
    y = (X @ rs.randn(nx) + 0.8 * rs.randn(m) > 0).astype(np.uint8)
    data, ck = R.path("bin.h5"), R.path("bin_ck.h5")
    with h5py.File(data, "w") as f:
        f["train_x"], f["train_y"] = X, y.reshape(m, 1)
    R.train(["--data", data, "--layers", "4", "--precision", "double", "--iterations", "30", "--lr", "0.3",
             "--checkpoint", ck, "--quiet"])
    rep, (head, rows) = predict(ck, data, "train_x", "train_y", "bin")
    p = forward(ckpt_params(ck), X, "sigmoid")[:, 0]
    pred = (p > 0.5).astype(int)
    check_task(rep, y, pred, 2, "binary")
    wrong = np.nonzero(pred != y)[0]
    require(len(wrong) > 0 and [int(r[0]) for r in rows] == list(wrong), "misclassified rows differ from numpy's")


def multitask_missing():
    rs = np.random.RandomState(5)
    m, nx, T = 400, 6, 3
    X = rs.randn(m, nx)
    Y = ((X @ rs.randn(nx, T) + 0.7 * rs.randn(m, T)) > 0).astype(np.float64)
    miss = rs.rand(m, T) < 0.3
    miss[:4] = True  # examples without any label
    Y[miss] = np.nan
    data, ck = R.path("mt.h5"), R.path("mt_ck.h5")
    with h5py.File(data, "w") as f:
        f["train_x"], f["train_y"] = X, Y
    R.train(["--data", data, "--layers", "6", "--precision", "double", "--iterations", "40", "--lr", "0.3",
             "--checkpoint", ck, "--quiet"])
    rep, (head, rows) = predict(ck, data, "train_x", "train_y", "mt")
    P = forward(ckpt_params(ck), X, "sigmoid")
    pred = (P > 0.5).astype(int)
    require(len(rep.get("tasks", [])) == T, "report has %d tasks" % len(rep.get("tasks", [])))
    for t in range(T):
        lab = ~miss[:, t]
        check_task(rep["tasks"][t], Y[lab, t].astype(int), pred[lab, t], 2, "task %d" % t)
    haslab = ~miss.all(1)
    right = np.array([all(pred[j, t] == Y[j, t] for t in range(T) if not miss[j, t]) for j in range(m)])
    require(rep["m"] == haslab.sum(), "overall m=%s, %d examples have a label" % (rep["m"], haslab.sum()))
    close(rep["accuracy"], right[haslab].mean(), "overall accuracy")
    want = [(j, t) for j in range(m) for t in range(T) if not miss[j, t] and pred[j, t] != Y[j, t]]
    require(head[:2] == ["index", "task"], "header %s" % head)
    require([(int(r[0]), int(r[1])) for r in rows] == want, "misclassified (index, task) differ from numpy's")


def fashion_mnist():
    if not FASHION or not os.path.isdir(FASHION):
        print("(fashion_mnist: no Fashion-MNIST at %r; checked on the small sets only)" % FASHION)
        return
    conv = os.environ["DNN_FASHION_CONVERTER"]
    data, ck = R.path("fashion.h5"), R.path("fashion_ck.h5")
    R.run(conv, ["--src", FASHION, data], check=True, what="dnn-fashion-mnist")
    R.train(["--data", data, "--scale", "0.00392156862745098", "--output", "softmax", "--classes", "10",
             "--precision", "double", "--batch-size", "1000", "--iterations", "6", "--lr", "0.5",
             "--checkpoint", ck, "--quiet"])
    rep, (head, rows) = predict(ck, data, "test_x", "test_y", "fashion")
    with h5py.File(data, "r") as f:
        X, y = np.array(f["test_x"]) * 0.00392156862745098, np.array(f["test_y"]).astype(int)
    pred = forward(ckpt_params(ck), X, "softmax").argmax(1)
    check_task(rep, y, pred, 10, "fashion-mnist")
    require(rep["m"] == 10000, "m=%s" % rep["m"])
    require([int(r[0]) for r in rows] == list(np.nonzero(pred != y)[0]), "misclassified rows differ from numpy's")


def bad_paths():
    ck = R.path("no_such_model.h5")  # never read: the paths are checked first
    data = R.path("sm.h5")
    for opt, val, want in (("--report", R.path("nodir/r.json"), "nodir"), ("--report", R.path("r.txt"), ".md or .json"),
                           ("--misclassified", R.path("nodir/w.csv"), "nodir"),
                           ("--confusion-png", R.path("nodir/c.png"), "nodir")):
        rc, _, err, _ = R.run(R.args.predict, ["--model", ck, "--data", data, "--y", "train_y", opt, val])
        require(rc == 1 and opt in err and want in err and "no_such_model" not in err,
                "%s %s: rc=%d stderr: %s" % (opt, val, rc, err.strip()))
    rc, _, err, _ = R.run(R.args.predict, ["--model", ck, "--data", data, "--report", R.path("r.json")])
    require(rc == 1 and "--y" in err, "--report without --y: rc=%d stderr: %s" % (rc, err.strip()))


def train_report_dev():
    rs = np.random.RandomState(6)
    K, nx = 4, 5
    C = rs.randn(K, nx)
    lt, ld = rs.randint(0, K, 600), rs.randint(0, K, 300)
    Xt, Xd = C[lt] + rs.randn(600, nx), C[ld] + rs.randn(300, nx)
    data = R.path("tr.h5")
    with h5py.File(data, "w") as f:
        f["train_x"], f["train_y"], f["val_x"], f["val_y"] = Xt, lt, Xd, ld
    reps = []
    for n in (None, 3):
        ck, rep = R.path("tr_ck%s.h5" % n), R.path("tr_dev%s.json" % n)
        R.train(["--data", data, "--validation", data, "--output", "softmax", "--layers", "6", "--precision", "double",
                 "--iterations", "30", "--lr", "0.2", "--checkpoint", ck, "--report", rep, "--quiet"], n=n)
        with open(rep) as f:
            reps.append(json.load(f))
        pred = forward(ckpt_params(ck), Xd, "softmax").argmax(1)
        check_task(reps[-1], ld, pred, K, "dnn-train --report (N=%s)" % n)
    require(reps[0] == reps[1], "the dev-set reports differ between N = 1 and N = 3")


def train_report_bad_path():
    for n in (None, 3):
        for val, want in ((R.path("nodir/r.json"), "nodir"), (R.path("r.csv"), ".md or .json")):
            rc, _, err, _ = R.run(R.args.train, ["--data", R.path("no_such_data.h5"), "--validation-split", "0.1",
                                                 "--report", val], n=n, timeout=60)
            require(rc == 1 and "--report" in err and want in err and "no_such_data" not in err,
                    "N=%s --report %s: rc=%d stderr: %s" % (n, val, rc, err.strip()[-500:]))
    rc, _, err, _ = R.run(R.args.train, ["--data", R.path("x.h5"), "--report", R.path("r.json")], timeout=60)
    require(rc == 1 and "dev set" in err, "--report without a dev set: rc=%d stderr: %s" % (rc, err.strip()))


R.case("softmax_with_empty_class", softmax_with_empty_class)
R.case("binary", binary)
R.case("multitask_missing", multitask_missing)
R.case("fashion_mnist", fashion_mnist)
R.case("bad_paths", bad_paths)
R.case("train_report_dev", train_report_dev)
R.case("train_report_bad_path", train_report_bad_path)
R.finish()
