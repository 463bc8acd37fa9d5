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


def flip_byte(path, offset, mask=0xFF):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)[0] ^ mask
        f.seek(offset)
        f.write(bytes([b]))


def checkpoint(path, inf_at=None):
    """A dnn checkpoint for good.h5 with --layers 3 (README, Checkpoints and dnn-predict), every dataset
    chunked with a Fletcher32 checksum as dnn writes them."""
    rng = np.random.default_rng(5)
    W1 = rng.standard_normal((3, 4)).astype(np.float32)
    if inf_at:
        W1[inf_at] = np.inf
    with h5py.File(path, "w") as f:
        for name, v in (("W1", W1), ("b1", np.zeros((3, 1), np.float32)),
                        ("W2", rng.standard_normal((1, 3)).astype(np.float32)),
                        ("b2", np.zeros((1, 1), np.float32))):
            f.create_dataset(name, data=v, chunks=v.shape, fletcher32=True)
        a = f.attrs
        a["format"] = np.bytes_(b"dnn-checkpoint")
        a["format_version"] = np.int64(1)
        a["layer_dims"] = np.array([4, 3, 1], np.int64)
        a["activations"] = np.bytes_(b"relu,sigmoid")
        a["loss"] = np.bytes_(b"cross_entropy")
        a["precision"] = np.bytes_(b"single")
        for k in ("iteration", "epoch", "seed", "standardize"):
            a[k] = np.int64(5 if k == "iteration" else 0)
        a["learning_rate"] = 0.0075
        a["scale"] = 1.0


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

    # README, What happens when things go wrong (integrity).  X compressed with h5py's lzf, which the HDF5 C
    # library lacks (filter id 32000)
    with h5py.File(p("lzf.h5"), "w") as f:
        f.create_dataset("train_x", data=X, compression="lzf")
        f["train_y"] = Y
    # labels as an h5py enum (numpy bool is one too), value 2 in rank 2's shard
    Ye = Y.astype(np.int8)
    Ye[BIN_BAD_AT] = 2
    with h5py.File(p("enum2.h5"), "w") as f:
        f["train_x"] = X
        f.create_dataset("train_y", data=Ye, dtype=h5py.enum_dtype({"no": 0, "yes": 1, "maybe": 2}, basetype="i1"))
    # X with Fletcher32 checksums and one byte changed in the chunk holding
    # example 700 (rank 2's shard at N = 3)
    with h5py.File(p("badsum.h5"), "w") as f:
        f.create_dataset("train_x", data=X, chunks=(64, 4), fletcher32=True, compression="gzip", shuffle=True)
        f["train_y"] = Y
        off = f["train_x"].id.get_chunk_info_by_coord((NAN_AT[0] // 64 * 64, 0)).byte_offset
    flip_byte(p("badsum.h5"), off + 5)
    # a folder nobody may write in (the unprivileged --metrics case)
    os.makedirs(p("rodir"), exist_ok=True)
    os.chmod(p("rodir"), 0o555)
    # checkpoints to --resume from, written here with h5py in the layout of
    # README, Checkpoints and dnn-predict (n_x = 4, --layers 3, sigmoid output), datasets checksummed:
    # one with a bit of W2 flipped (still a valid float), one with an Inf in W1
    checkpoint(p("resume_flip.h5"))
    with h5py.File(p("resume_flip.h5"), "r") as f:
        off = f["W2"].id.get_chunk_info(0).byte_offset
    flip_byte(p("resume_flip.h5"), off + 4, 0x01)  # lowest mantissa bit of W2[0, 1]
    checkpoint(p("resume_inf.h5"), inf_at=(2, 1))

    # config files
    with open(p("cfg_unknown.cfg"), "w") as f:
        f.write("data = good.h5\nbogus_key = 3\n")
    with open(p("cfg_noeq.cfg"), "w") as f:
        f.write("# a comment\ndata = good.h5\nlr 0.1\n")


if __name__ == "__main__":
    main()
