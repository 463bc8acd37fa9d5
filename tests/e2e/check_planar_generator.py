#!/usr/bin/python3
"""The planar generator (datasets/planar, dnn-planar) against numpy.

  check_planar_generator.py DNN_PLANAR

Runs `DNN_PLANAR OUT.h5` and compares with the course's recipe evaluated by
numpy itself (tests/ref/make_data.py planar): X must be (400, 2) float64 and
equal numpy's points to 1e-12 absolute (|X| <= 4.5; the random draws are
bit-identical by contract, only sin/cos of the C library and of numpy may
differ in the last bit), Y must be (400,) uint8 and equal exactly.
"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ref"))
import make_data  # noqa: E402

TOL = 1e-12


def main():
    gen = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="dnn-planar-gen-") as work:
        out = os.path.join(work, "planar.h5")
        subprocess.run([gen, out], check=True, timeout=60)
        with h5py.File(out, "r") as f:
            X, Y = f["X"][...], f["Y"][...]
    Xr, Yr = make_data.planar_set()
    problems = []
    if X.shape != (400, 2) or X.dtype != np.float64:
        problems.append("X is %s %s, expected (400, 2) float64" % (X.shape, X.dtype))
    if Y.shape != (400,) or Y.dtype != np.uint8:
        problems.append("Y is %s %s, expected (400,) uint8" % (Y.shape, Y.dtype))
    if not problems:
        d = np.max(np.abs(X - Xr))
        print("max |X - numpy| = %.3e (tol %.0e), %d labels differ"
              % (d, TOL, int(np.sum(Y != Yr))))
        if not d <= TOL:
            i = int(np.argmax(np.max(np.abs(X - Xr), axis=1)))
            problems.append("X row %d: %s, numpy %s" % (i, X[i], Xr[i]))
        if np.any(Y != Yr):
            problems.append("labels differ from numpy's")
    for p in problems:
        print("FAIL:", p)
    print("%d passed, %d failed" % (0 if problems else 1, 1 if problems else 0))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
