#!/usr/bin/python3
"""Write the input files of tests/reliability/bad_input.table into OUTDIR.

    make_bad_data.py OUTDIR

Every file is small and made from a fixed seed.  The per-rank cases use
m = 800 examples: with DNN_CHUNK = 256 (src/dist.c, dnn_dist_shard) the
chunks are [0,256) [256,512) [512,768) [768,800), and at N = 3 rank 0 holds
[0,256), rank 1 [256,512), rank 2 [512,800).  The bad values are put at
examples >= 512 so that only the last rank sees them.
"""
import os
import sys

import h5py
import numpy as np

M = 800            # examples of the per-rank files
NAN_AT = (700, 2)  # (example, feature) of the NaN, inside rank 2's shard at N = 3
INF_AT = (600, 1)
BIN_BAD_AT = 750   # binary label 2
SOFT_BAD_AT = 790  # softmax label 5 with --classes 3


def base(m=M, n_x=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n_x)).astype(np.float32)
    Y = (X[:, 0] > 0).astype(np.uint8)
    return X, Y


def write(path, **datasets):
    with h5py.File(path, "w") as f:
        for k, v in datasets.items():
            f[k] = v


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)

    X, Y = base()
    write(p("good.h5"), train_x=X, train_y=Y)

    # test set with 5 features instead of 4
    Xt, Yt = base(m=50, n_x=5, seed=1)
    write(p("other.h5"), test_x=Xt, test_y=Yt)

    # not HDF5: text, empty, a directory
    with open(p("text.h5"), "w") as f:
        f.write("train_x,train_y\n1,0\n2,1\n")
    open(p("empty.h5"), "wb").close()
    os.makedirs(p("adir.h5"), exist_ok=True)
    # unreadable (only meaningful when not root)
    write(p("noperm.h5"), train_x=X, train_y=Y)
    os.chmod(p("noperm.h5"), 0)

    # truncated: the first half of a valid file
    Xb, Yb = base(m=4000, n_x=8, seed=2)
    write(p("full.h5"), train_x=Xb, train_y=Yb)
    with open(p("full.h5"), "rb") as f:
        blob = f.read()
    with open(p("truncated.h5"), "wb") as f:
        f.write(blob[: len(blob) // 2])
    os.remove(p("full.h5"))

    # X of strings, a compound X
    with h5py.File(p("strings.h5"), "w") as f:
        f.create_dataset("train_x", data=np.array([b"abc", b"def", b"ghi"] * 10, dtype="S3"))
        f["train_y"] = np.zeros(30, np.uint8)
    with h5py.File(p("compound.h5"), "w") as f:
        dt = np.dtype([("a", np.float32), ("b", np.int32)])
        c = np.zeros(30, dtype=dt)
        c["a"] = np.arange(30)
        f["train_x"] = c
        f["train_y"] = np.zeros(30, np.uint8)

    # 3-D X for --layout features-first
    write(p("rank3.h5"), train_x=np.ones((4, 5, 6), np.float32), train_y=np.zeros(6, np.uint8))

    # 100 examples in X, 99 in Y
    Xm, Ym = base(m=100)
    write(p("mismatch.h5"), train_x=Xm, train_y=Ym[:99])

    # non-finite X
    Xn = X.copy()
    Xn[NAN_AT] = np.nan
    write(p("nan.h5"), train_x=Xn, train_y=Y)
    Xi = X.copy()
    Xi[INF_AT] = np.inf
    write(p("inf.h5"), train_x=Xi, train_y=Y)

    # labels out of range
    Yb2 = Y.copy()
    Yb2[BIN_BAD_AT] = 2
    write(p("label2.h5"), train_x=X, train_y=Yb2)
    Ys = (np.arange(M) % 3).astype(np.int64)
    Ys[SOFT_BAD_AT] = 5
    write(p("label5.h5"), train_x=X, train_y=Ys)

    # m = 0
    write(p("m0.h5"), train_x=np.zeros((0, 4), np.float32), train_y=np.zeros((0,), np.uint8))

    # n_x = 1000 for the 1e11-parameter case
    Xw, Yw = base(m=300, n_x=1000, seed=3)
    write(p("wide.h5"), train_x=Xw, train_y=Yw)

    # config files
    with open(p("cfg_unknown.cfg"), "w") as f:
        f.write("data = good.h5\nbogus_key = 3\n")
    with open(p("cfg_noeq.cfg"), "w") as f:
        f.write("# a comment\ndata = good.h5\nlr 0.1\n")


if __name__ == "__main__":
    main()
