#!/usr/bin/python3
"""Transfer learning (README, Transfer learning) against numpy.

A source network 10-12-8-1 (relu, sigmoid) is trained on one task; a new task
(3 classes, softmax) on other examples of the same 10 features starts from it
with --init-from: layers 1-2 match and are transferred, the new output layer
3 is initialized by --init he with --rng numpy (its numpy draw follows those
of W1, W2 after np.random.seed(S)).  Everything in double.
Cases:
  freeze_matches_numpy      --freeze 2 --l2 0.5, 150 full-batch steps: W1,b1,W2,b2
      bitwise equal to the source; W3,b3 equal numpy's gradient descent on the
      cached A[2] = the source's hidden layers, to 1e-9;
  freeze_minibatch_n1_n3    --batch-size 64 --deterministic (A[2] gathered per
      batch): N = 1 and N = 3 give the same bits, the frozen layers the source's;
      numpy (the course's mini-batches of --rng numpy) agrees to 1e-9;
  freeze_with_dropout       --keep-prob 0.8 --clip-norm 0.05 (every step runs
      all layers, the frozen outputs dropped anew): the frozen layers are still
      bitwise the source's, W3, b3 equal numpy's (masks of include/dnn/rng.h,
      the clipping norm over the trainable layers' gradient only);
  freeze_resume_bitwise     --freeze 2 with adam: 20 steps, then --resume to 40
      at N = 3 (A[2] cached again from the checkpoint): bitwise the 40-step run;
  batch_norm_transferred    a --batch-norm source: W, beta, gamma of layers 1-2
      taken (one step at lr 1e-12 moves them by less than 1e-9), the running
      mean and var of layer 1 = 0.9 x the source's + 0.1 x the step's batch
      statistics (numpy); without --batch-norm the run is refused;
  transfer_without_freeze   --transfer-layers 1, one step: all three layers
      train, from W1, b1 = the source's and W2, W3 = --init (numpy's step);
  preprocessing_kept        a source trained with --scale 0.5: the new run
      uses it (checkpoint attribute scale = 0.5, and numpy on 0.5 X agrees);
      --scale 0.25 is refused naming both;
  bad_input                 at N = 1 and N = 3: --freeze beyond L-1,
      --init-from with another n_x, --init-from with a checkpoint whose W1 fails
      its checksum: exit 1, one clear message naming the option and the value.
"""
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "mpi"))
from dnnt import Runner, require, ckpt_params, params_sha  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "ref"))
from ref_rng import dropout_uniforms  # noqa: E402

R = Runner(__doc__)
NX, SEED, LR = 10, 6, 0.2
rs = np.random.RandomState(21)


def write(path, X, y):
    with h5py.File(path, "w") as f:
        f["train_x"], f["train_y"] = X, y


XS = rs.randn(400, NX)
YS = ((XS @ rs.randn(NX)) > 0).astype(np.uint8).reshape(-1, 1)
XT = rs.randn(300, NX)
YT = np.argmax(XT @ rs.randn(NX, 3) + 0.5 * rs.randn(300, 3), axis=1).astype(np.int64)
SRC_DATA, TGT_DATA = R.path("src.h5"), R.path("tgt.h5")
write(SRC_DATA, XS, YS)
write(TGT_DATA, XT, YT)
SRC = R.path("ck_src.h5")
R.train(["--data", SRC_DATA, "--layers", "12,8", "--precision", "double", "--iterations", "60", "--lr", "0.1",
         "--checkpoint", SRC, "--quiet"])
TGT = ["--data", TGT_DATA, "--layers", "12,8", "--output", "softmax", "--precision", "double", "--rng", "numpy",
       "--init", "he", "--seed", str(SEED), "--lr", str(LR), "--init-from", SRC, "--quiet"]


def relu_layers(params, A, upto):
    for l in range(upto):
        A = np.maximum(params[2 * l] @ A + params[2 * l + 1], 0)
    return A


def new_output_layer(dims):
    np.random.seed(SEED)
    for l in range(1, len(dims) - 1):
        np.random.randn(dims[l], dims[l - 1])
    return np.random.randn(dims[-1], dims[-2]) * np.sqrt(2.0 / dims[-2]), np.zeros((dims[-1], 1))


def softmax_head_gd(A, y, W, b, steps, batches=None, l2=0.0):
    """Gradient descent on the output layer alone (softmax + cross-entropy, L2 on W)."""
    K = W.shape[0]
    Y = np.eye(K)[:, y]
    for k in range(steps):
        idx = batches(k) if batches else np.arange(A.shape[1])
        Ab, Yb = A[:, idx], Y[:, idx]
        Z = W @ Ab + b
        E = np.exp(Z - Z.max(0))
        dZ = E / E.sum(0) - Yb
        W = W - LR * ((dZ @ Ab.T) / len(idx) + l2 / len(idx) * W)
        b = b - LR * dZ.sum(1, keepdims=True) / len(idx)
    return W, b


def check_frozen(ck, K=2):
    src, got = ckpt_params(SRC), ckpt_params(ck)
    for i in range(2 * K):
        require(got[i].dtype == src[i].dtype and np.array_equal(got[i], src[i]),
                "%s%d is not bitwise the source's" % ("Wb"[i % 2], i // 2 + 1))


def check_close(got, ref, names):
    for g, r, n in zip(got, ref, names):
        g = np.asarray(g).reshape(r.shape)
        err = np.max(np.abs(g - r) / np.maximum(1.0, np.abs(r)))
        require(err <= 1e-9, "%s differs from numpy by %.3g (relative)" % (n, err))


def freeze_matches_numpy():
    ck = R.path("ck_f.h5")
    R.train(TGT + ["--freeze", "2", "--iterations", "150", "--l2", "0.5", "--checkpoint", ck])
    check_frozen(ck)  # L2 never shrinks a frozen W
    src = ckpt_params(SRC)
    A2 = relu_layers(src, XT.T, 2)
    W, b = softmax_head_gd(A2, YT, *new_output_layer([NX, 12, 8, 3]), 150, l2=0.5)
    check_close(ckpt_params(ck)[4:], [W, b], ["W3", "b3"])


def freeze_minibatch_n1_n3():
    B, steps, m = 64, 20, len(YT)
    spe = (m + B - 1) // B
    mb = ["--freeze", "2", "--batch-size", str(B), "--deterministic", "--iterations", str(steps)]
    c1, c3 = R.path("ck_mb1.h5"), R.path("ck_mb3.h5")
    R.train(TGT + mb + ["--checkpoint", c1])
    R.train(TGT + mb + ["--checkpoint", c3], n=3)
    require(params_sha(c1) == params_sha(c3), "W/b differ between N = 1 and N = 3")
    check_frozen(c3)
    perms = {}

    def batches(k):
        e = k // spe
        if e not in perms:
            np.random.seed(SEED + e + 1)  # README, The course's mini-batch order (--rng numpy)
            perms[e] = np.random.permutation(m)
        s = k % spe
        return perms[e][s * B:min((s + 1) * B, m)]

    A2 = relu_layers(ckpt_params(SRC), XT.T, 2)
    W, b = softmax_head_gd(A2, YT, *new_output_layer([NX, 12, 8, 3]), steps, batches)
    check_close(ckpt_params(c1)[4:], [W, b], ["W3", "b3"])


def freeze_with_dropout():
    ck, kp, C, steps = R.path("ck_drop.h5"), 0.8, 0.05, 12
    R.train(TGT + ["--freeze", "2", "--keep-prob", str(kp), "--clip-norm", str(C), "--iterations", str(steps),
                   "--checkpoint", ck])
    check_frozen(ck)
    src, m = ckpt_params(SRC), len(YT)
    W, b = new_output_layer([NX, 12, 8, 3])
    g = np.arange(m)
    for k in range(steps):  # masks D = U(seed, k, l, g, i) < keep_prob (include/dnn/rng.h)
        A = XT.T
        for l in (1, 2):
            A = np.maximum(src[2 * l - 2] @ A + src[2 * l - 1], 0)
            A = A * (dropout_uniforms(SEED, k, l, g, A.shape[0]) < kp) / kp
        Z = W @ A + b
        E = np.exp(Z - Z.max(0))
        dZ = E / E.sum(0) - np.eye(3)[:, YT]
        dW, db = dZ @ A.T / m, dZ.sum(1, keepdims=True) / m
        norm = np.sqrt(np.sum(dW ** 2) + np.sum(db ** 2))  # the trainable layers' gradient only
        if norm > C:
            dW, db = dW * (C / norm), db * (C / norm)
        W, b = W - LR * dW, b - LR * db
    check_close(ckpt_params(ck)[4:], [W, b], ["W3", "b3"])


def freeze_resume_bitwise():
    a, b = R.path("ck_r40.h5"), R.path("ck_r20.h5")
    opt = ["--freeze", "2", "--optimizer", "adam", "--lr", "0.01"]
    R.train(TGT + opt + ["--iterations", "40", "--checkpoint", a])
    R.train(TGT + opt + ["--iterations", "20", "--checkpoint", b])
    R.train(TGT + opt + ["--iterations", "40", "--checkpoint", b, "--resume"], n=3)
    require(params_sha(a) == params_sha(b), "20 steps + --resume to 40 (N = 3) differ from 40 steps")
    check_frozen(b)


def batch_norm_transferred():
    src, ck = R.path("ck_src_bn.h5"), R.path("ck_bn.h5")
    R.train(["--data", SRC_DATA, "--layers", "12,8", "--batch-norm", "--precision", "double", "--iterations", "30",
             "--lr", "0.1", "--checkpoint", src, "--quiet"])
    tgt = [a if a != SRC else src for a in TGT]
    R.train(tgt + ["--batch-norm", "--lr", "1e-12", "--iterations", "1", "--checkpoint", ck])
    with h5py.File(src, "r") as a, h5py.File(ck, "r") as b:
        for name in ("W1", "beta1", "gamma1", "W2", "beta2", "gamma2"):
            x, y = np.array(a[name]), np.array(b[name])
            require(np.max(np.abs(x - y)) <= 1e-9, "%s was not taken from the source" % name)
        Z1 = np.array(a["W1"]) @ XT.T  # the one step's batch statistics of layer 1
        for name, batch in (("bn/mean1", Z1.mean(1)), ("bn/var1", Z1.var(1))):
            want = 0.9 * np.array(a[name]).ravel() + 0.1 * batch
            err = np.max(np.abs(np.array(b[name]).ravel() - want))
            require(err <= 1e-9, "%s: %.3g from 0.9 source + 0.1 batch" % (name, err))
    rc, _, err, _ = R.run(R.args.train, tgt + ["--iterations", "1"])
    require(rc == 1 and "--batch-norm" in err and src in err, "a BN source without --batch-norm: rc=%d %s" % (
        rc, err.strip()))


def transfer_without_freeze():
    ck = R.path("ck_t1.h5")
    R.train(TGT + ["--transfer-layers", "1", "--iterations", "1", "--checkpoint", ck])
    src = ckpt_params(SRC)
    dims = [NX, 12, 8, 3]
    np.random.seed(SEED)
    init = [np.random.randn(dims[l], dims[l - 1]) * np.sqrt(2.0 / dims[l - 1]) for l in (1, 2, 3)]
    W = [src[0], init[1], init[2]]
    b = [src[1], np.zeros((8, 1)), np.zeros((3, 1))]
    A0 = XT.T
    Z1 = W[0] @ A0 + b[0]
    A1 = np.maximum(Z1, 0)
    Z2 = W[1] @ A1 + b[1]
    A2 = np.maximum(Z2, 0)
    Z3 = W[2] @ A2 + b[2]
    E = np.exp(Z3 - Z3.max(0))
    dZ3 = E / E.sum(0) - np.eye(3)[:, YT]
    m = len(YT)
    dZ2 = (W[2].T @ dZ3) * (Z2 > 0)
    dZ1 = (W[1].T @ dZ2) * (Z1 > 0)
    ref = [W[0] - LR * dZ1 @ A0.T / m, b[0] - LR * dZ1.sum(1, keepdims=True) / m,
           W[1] - LR * dZ2 @ A1.T / m, b[1] - LR * dZ2.sum(1, keepdims=True) / m,
           W[2] - LR * dZ3 @ A2.T / m, b[2] - LR * dZ3.sum(1, keepdims=True) / m]
    check_close(ckpt_params(ck), ref, ["W1", "b1", "W2", "b2", "W3", "b3"])


def preprocessing_kept():
    src2, ck = R.path("ck_src_scaled.h5"), R.path("ck_scaled.h5")
    R.train(["--data", SRC_DATA, "--layers", "12,8", "--precision", "double", "--iterations", "20", "--lr", "0.1",
             "--scale", "0.5", "--checkpoint", src2, "--quiet"])
    tgt = [a if a != SRC else src2 for a in TGT]
    R.train(tgt + ["--freeze", "2", "--iterations", "10", "--checkpoint", ck])
    with h5py.File(ck, "r") as f:
        require(float(f.attrs["scale"]) == 0.5, "the new checkpoint's scale is %s" % f.attrs["scale"])
    A2 = relu_layers(ckpt_params(src2), 0.5 * XT.T, 2)
    W, b = softmax_head_gd(A2, YT, *new_output_layer([NX, 12, 8, 3]), 10)
    check_close(ckpt_params(ck)[4:], [W, b], ["W3", "b3"])
    rc, _, err, _ = R.run(R.args.train, tgt + ["--scale", "0.25"])
    require(rc == 1 and "0.5" in err and "0.25" in err and src2 in err, "rc=%d stderr: %s" % (rc, err.strip()))


def flip_w1(path, out):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    with h5py.File(path, "r") as f:
        d = f["W1"]
        require(d.fletcher32, "W1 has no checksum")
        off = d.id.get_chunk_info(0).byte_offset
    data[off + 3] ^= 0x10
    with open(out, "wb") as f:
        f.write(data)


def bad_input():
    bad_nx, corrupt = R.path("ck_nx.h5"), R.path("ck_corrupt.h5")
    write(R.path("nx7.h5"), rs.randn(50, 7), (rs.rand(50, 1) > 0.5).astype(np.uint8))
    R.train(["--data", R.path("nx7.h5"), "--layers", "12,8", "--precision", "double", "--iterations", "2",
             "--checkpoint", bad_nx, "--quiet"])
    flip_w1(SRC, corrupt)
    cases = [(["--freeze", "3"], ["--freeze 3", "L-1 = 2"]),
             (["--init-from", bad_nx], [bad_nx, "n_x = 7", "10 features", "--init-from"]),
             (["--init-from", corrupt], [corrupt, "W1", "checksum", "--init-from"])]
    for n in (None, 3):
        for extra, want in cases:
            args = TGT + extra + ["--iterations", "5", "--checkpoint", R.path("ck_never.h5")]
            rc, out, err, _ = R.run(R.args.train, args, n=n, timeout=60)
            lines = [l for l in err.splitlines() if l.strip() and "mpiexec" not in l.lower() and "prterun" not in l]
            require(rc != 0 and all(w in err for w in want), "N=%s %s: rc=%d, stderr lacks %s: %s" % (
                n, " ".join(extra), rc, want, err.strip()[-600:]))
            require(sum("dnn-train:" in l for l in lines) == 1, "N=%s %s: not one message:\n%s" % (n, extra, err))
            require(not os.path.exists(R.path("ck_never.h5")), "a checkpoint was written")


R.case("freeze_matches_numpy", freeze_matches_numpy)
R.case("freeze_minibatch_n1_n3", freeze_minibatch_n1_n3)
R.case("freeze_with_dropout", freeze_with_dropout)
R.case("freeze_resume_bitwise", freeze_resume_bitwise)
R.case("batch_norm_transferred", batch_norm_transferred)
R.case("transfer_without_freeze", transfer_without_freeze)
R.case("preprocessing_kept", preprocessing_kept)
R.case("bad_input", bad_input)
R.finish()
