#!/usr/bin/python3
"""--deterministic mini-batch is bitwise the same for any rank count, thread
count and resume (README "Data-parallel training and determinism").

A batch is cut by position into groups of 64 members; each group is summed
by one rank (its columns are exchanged there) and the group sums are added
exactly.  Data: 700 examples (the last batch of an epoch is partial), 64
features, 64-512-16-3 softmax, so the first layer's products are large
enough to be cut into parts and the fixed-point pass is shared by 2 threads.
Adam, --keep-prob 0.8.  SHA-256 over W/b and the optimizer state (datasets
and attributes of /optimizer):

  groups_bB_N_threads  batch B = 64 and 256: a single process with 1 thread, and
                     mpiexec -n 1, 2, 3, 4 with --threads 1 and 2, all equal;
                     the checkpoint says deterministic_groups = 64
  resume_2_to_3      batch 128 (2 groups; every 6th batch has 60 members, one
                     group): 8 steps on 2 ranks, --resume to 25 on 3 ranks
                     == 25 steps in one process
  rounds             m = 2100 in one batch (33 groups): exchanged in 3 rounds on
                     1 rank, 2 on 2 ranks (the last round's one group on rank
                     1 alone), 1 on 3; also --comm-overlap off: all equal
  right_gradient     --precision double, batch 256: --deterministic on 3 ranks
                     within 1e-10 (relative) of the default mode (the groups
                     sum the batch's true gradient; only the order differs)
  older_checkpoint   a checkpoint without deterministic_groups (an older
                     release's per-chunk sums) resumes, exit 0, with a note
                     saying it cannot continue bitwise; a current one gets none
  bf16               --precision bf16, batch 256: 1 process x 2 threads == 3 ranks
                     x 1 thread (skipped on a CPU without AVX512_BF16)
"""
import hashlib
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "mpi"))
from dnnt import Runner, require, make_classes, ckpt_params, rel_diff  # noqa: E402

R = Runner(__doc__)
DATA = R.path("blobs.h5")
make_classes(DATA, 700, 64, 3, 5)
NET = ["--data", DATA, "--output", "softmax", "--layers", "512,16", "--hidden-activation", "relu", "--lr", "0.003",
       "--seed", "7", "--optimizer", "adam", "--keep-prob", "0.8", "--deterministic", "--quiet"]


def state_sha(path):
    """SHA-256 of W/b and everything under /optimizer (names, data, attributes)."""
    h = hashlib.sha256()
    for a in ckpt_params(path):
        h.update(np.ascontiguousarray(a).tobytes())
    with h5py.File(path, "r") as f:
        require("optimizer" in f, "%s has no /optimizer" % path)
        items = []
        f["optimizer"].visititems(lambda n, o: items.append((n, o)))
        items.append(("", f["optimizer"]))
        for name, o in sorted(items, key=lambda t: t[0]):
            h.update(name.encode())
            if isinstance(o, h5py.Dataset):
                h.update(np.ascontiguousarray(o[...]).tobytes())
            for k in sorted(o.attrs):
                h.update(k.encode() + np.asarray(o.attrs[k]).tobytes())
    return h.hexdigest()


def run(name, args, n=None):
    ck = R.path(name + ".h5")
    R.train(NET + args + ["--checkpoint", ck], n=n)
    return ck


def groups_n_threads(b):
    args = ["--batch-size", str(b), "--epochs", "3"]
    ref_ck = run("b%d_single" % b, args + ["--threads", "1"])
    ref = state_sha(ref_ck)
    with h5py.File(ref_ck, "r") as f:
        g = f.attrs.get("deterministic_groups")
    require(g is not None and int(g) == 64, "checkpoint attribute deterministic_groups is %r, expected 64" % (g,))
    for n in (1, 2, 3, 4):
        for t in (1, 2):
            s = state_sha(run("b%d_np%d_t%d" % (b, n, t), args + ["--threads", str(t)], n=n))
            require(s == ref, "batch %d: SHA-256 with mpiexec -n %d --threads %d is %s, one process with 1 thread "
                    "gives %s" % (b, n, t, s[:16], ref[:16]))
    print("# batch %d: SHA-256 %s for a single process and N = 1..4 x threads 1, 2" % (b, ref[:16]))


def resume_2_to_3():
    args = ["--batch-size", "128"]  # 2 groups, then a last batch of 60 (one group): both ways of adding
    ref = state_sha(run("straight", args + ["--iterations", "25"]))
    ck = run("split", args + ["--iterations", "8"], n=2)
    R.train(NET + args + ["--iterations", "25", "--checkpoint", ck, "--resume"], n=3)
    with h5py.File(ck, "r") as f:
        it = int(f.attrs["iteration"])
    require(it == 25, "the resumed checkpoint is at iteration %d, expected 25" % it)
    s = state_sha(ck)
    require(s == ref, "8 steps on 2 ranks + resume to 25 on 3 ranks: SHA-256 %s, 25 straight: %s" % (s[:16], ref[:16]))


def rounds():
    data = R.path("wide.h5")
    make_classes(data, 2100, 8, 3, 9)
    net = [data if a == DATA else a for a in NET]
    net[net.index("--layers") + 1] = "16"
    args = ["--batch-size", "2100", "--iterations", "3"]

    def sha(name, extra, n):
        ck = R.path(name + ".h5")
        R.train(net + args + extra + ["--checkpoint", ck], n=n)
        return state_sha(ck)
    ref = sha("rounds_single", [], None)
    for n, extra in ((2, []), (2, ["--comm-overlap", "off"]), (3, ["--comm-overlap", "test"]), (4, [])):
        s = sha("rounds_np%d" % n, extra, n)
        require(s == ref, "one batch of 2100 on %d ranks %s: SHA-256 %s, one process: %s" % (
            n, " ".join(extra), s[:16], ref[:16]))


def right_gradient():
    args = ["--batch-size", "256", "--epochs", "2", "--precision", "double", "--keep-prob", "1"]
    det = ckpt_params(run("double_det", args, n=3))
    net = [a for a in NET if a != "--deterministic"]
    ck = R.path("double_default.h5")
    R.train(net + args + ["--checkpoint", ck])
    plain = ckpt_params(ck)
    d = rel_diff(det, plain)
    require(d < 1e-10, "--deterministic (3 ranks) differs from the default mode by %.3g relative" % d)
    require(rel_diff(det, ckpt_params(run("double_det_b64", ["--batch-size", "64", "--epochs", "2", "--precision",
                                                             "double", "--keep-prob", "1"]))) > 1e-6,
            "batch 64 and batch 256 give the same parameters: the batch size is ignored")
    print("# double: deterministic vs default %.3g relative" % d)


def older_checkpoint():
    args = ["--batch-size", "64"]
    ck = run("old", args + ["--iterations", "4"], n=2)
    rc, _, err, _ = R.run(R.args.train, NET + args + ["--iterations", "6", "--checkpoint", ck, "--resume"], n=2)
    require(rc == 0, "resuming a current checkpoint: exit %d: %s" % (rc, err))
    require("older --deterministic" not in err, "a current checkpoint got the older-release note: " + err.strip())
    with h5py.File(ck, "a") as f:
        del f.attrs["deterministic_groups"]
    rc, _, err, _ = R.run(R.args.train, NET + args + ["--iterations", "8", "--checkpoint", ck, "--resume"], n=2)
    require(rc == 0, "resuming an older --deterministic checkpoint: exit %d (it must resume): %s" % (rc, err))
    require("older --deterministic" in err and "bitwise" in err and ck in err,
            "no clear note that an older --deterministic checkpoint cannot continue bitwise; stderr: " + err.strip())


def bf16():
    with open("/proc/cpuinfo") as f:
        if "avx512_bf16" not in f.read():
            print("# bf16: skipped (this CPU has no AVX512_BF16)")
            return
    args = ["--batch-size", "256", "--epochs", "2", "--precision", "bf16"]
    a = state_sha(run("bf16_1x2", args + ["--threads", "2"]))
    b = state_sha(run("bf16_3x1", args + ["--threads", "1"], n=3))
    require(a == b, "bf16: 1 process x 2 threads %s != 3 ranks x 1 thread %s" % (a[:16], b[:16]))


R.case("groups_b64_N_threads", groups_n_threads, 64)
R.case("groups_b256_N_threads", groups_n_threads, 256)
R.case("resume_2_to_3", resume_2_to_3)
R.case("rounds", rounds)
R.case("right_gradient", right_gradient)
R.case("older_checkpoint", older_checkpoint)
R.case("bf16", bf16)
if R.passed + R.failed == 0:
    print("FAIL no case matches --only %s" % " ".join(R.args.only))
    R.failed = 1
R.finish()
