#!/usr/bin/env python3
"""Batch invariance through the programs (README, Batch invariance).

A small softmax net is trained with dnn-train in single, double and (on a CPU
with AVX512_BF16) bf16; dnn-predict then evaluates a set of 2100 examples
whole and in subsets: prefixes of 1, 7, 255, 256, 257 and 2003 rows and 777
rows in a shuffled order.  Every example's probabilities must be bitwise
those of the whole-set evaluation.  Independent of the BLAS kernels: the same
script must pass under every OPENBLAS_CORETYPE.

usage: batch_invariance.py DNN_TRAIN DNN_PREDICT WORKDIR
"""
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

train, predict, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
rng = np.random.default_rng(7)
M, NX, K = 2100, 40, 5
centers = rng.normal(size=(K, NX)) * 2
ytr = rng.integers(0, K, 400)
xtr = centers[ytr] + rng.normal(size=(400, NX))
yte = rng.integers(0, K, M)
xte = centers[yte] + rng.normal(size=(M, NX))
data = os.path.join(work, "data.h5")
with h5py.File(data, "w") as f:
    f["train_x"], f["train_y"] = xtr, ytr
    f["test_x"], f["test_y"] = xte, yte

subsets = [np.arange(n) for n in (1, 7, 255, 256, 257, 2003)]
subsets.append(np.random.default_rng(3).permutation(M)[:777])
with open("/proc/cpuinfo") as f:
    bf16_cpu = "avx512_bf16" in f.read()

failures = 0
for prec in ("single", "double", "bf16"):
    if prec == "bf16" and not bf16_cpu:
        print("bf16: this CPU has no AVX512_BF16; bf16 checkpoints are covered by unit_net")
        continue
    ck = os.path.join(work, f"{prec}.h5")
    subprocess.run([train, "--data", data, "--layers", "64,32", "--output", "softmax", "--classes", str(K),
                    "--iterations", "20", "--lr", "0.05", "--precision", prec, "--standardize", "--quiet",
                    "--checkpoint", ck], check=True)

    def run(x):
        src, out = os.path.join(work, "in.h5"), os.path.join(work, "out.h5")
        with h5py.File(src, "w") as f:
            f["test_x"] = x
        subprocess.run([predict, "--model", ck, "--data", src, "--output", out], check=True,
                       stdout=subprocess.DEVNULL)
        with h5py.File(out, "r") as f:
            return f["probabilities"][()]

    full = run(xte)
    assert full.shape == (M, K), full.shape
    for rows in subsets:
        got = run(xte[rows])
        bad = int(np.sum(np.any(got.view(np.uint64) != full[rows].view(np.uint64), axis=1)))
        label = "prefix of %d rows" % len(rows) if rows[0] == 0 and np.all(np.diff(rows) == 1) else \
            "%d shuffled rows" % len(rows)
        if bad:
            failures += 1
            print(f"FAIL {prec}: {label}: {bad} examples' probabilities differ from the whole-set evaluation")
        else:
            print(f"ok   {prec}: {label}")
sys.exit(1 if failures else 0)
