#!/usr/bin/python3
"""Small HDF5 data sets for the end-to-end tests, made with numpy alone.

  make_data.py binary OUT.h5 [--m 300] [--n-x 5] [--seed 7] [--label-shape m|m1|1m]
                                [--x-uint8]   X as 8-bit "pixels" 128 + 40 x, clipped
  make_data.py softmax OUT.h5 [--m 300] [--n-x 5] [--classes 3]
  make_data.py regression OUT.h5 [--m 300] [--n-x 5] [--n-y 2]
  make_data.py planar OUT.h5           the course's flower set, datasets X and Y
  make_data.py mismatch OUT.h5 --m-x 100 --m-y 99
  make_data.py nan OUT.h5              one NaN in X
  make_data.py badlabel OUT.h5         a label 2 in a binary set

All files are examples-first (X is (m, n_x)), as h5py writes numpy arrays;
dataset names are train_x / train_y except for planar (X / Y).
"""
import argparse
import sys

import h5py
import numpy as np


def binary_set(m, n_x, seed):
    """Labels from a nonlinear rule (a product, a sine and a square): a
    logistic regression cannot fit it, a small network can."""
    rng = np.random.RandomState(seed)
    X = rng.randn(m, n_x)
    s = X[:, 0] * X[:, 1] + np.sin(2.0 * X[:, 2 % n_x]) - 0.5 * X[:, 3 % n_x] ** 2 \
        + 0.3 * X[:, 4 % n_x]
    y = (s > -0.4).astype(np.uint8)
    return X, y


def softmax_set(m, n_x, classes, seed):
    rng = np.random.RandomState(seed)
    X = rng.randn(m, n_x)
    angle = np.arctan2(X[:, 1], X[:, 0]) + 0.5 * X[:, 2 % n_x]
    y = (np.floor((angle + np.pi) / (2 * np.pi) * classes).astype(np.int64)) % classes
    return X, y.astype(np.uint8)


def regression_set(m, n_x, n_y, seed):
    rng = np.random.RandomState(seed)
    X = rng.randn(m, n_x)
    Y = np.empty((m, n_y))
    for k in range(n_y):
        Y[:, k] = np.tanh(X[:, k % n_x] - 0.5 * X[:, (k + 1) % n_x]) \
            + 0.1 * X[:, (k + 2) % n_x] ** 2
    return X, Y


def planar_set():
    """The course's planar "flower": m = 400, two petal classes of 200, a = 4,
    np.random.seed(1); per class j the theta noise is drawn, then the r noise."""
    np.random.seed(1)
    m, a = 400, 4
    half = m // 2
    X = np.zeros((m, 2))
    Y = np.zeros((m,), dtype=np.uint8)
    for j in range(2):
        rows = slice(half * j, half * (j + 1))
        theta = np.linspace(j * 3.12, (j + 1) * 3.12, half) + np.random.randn(half) * 0.2
        r = a * np.sin(4 * theta) + np.random.randn(half) * 0.2
        X[rows, 0] = r * np.sin(theta)
        X[rows, 1] = r * np.cos(theta)
        Y[rows] = j
    return X, Y


def write(path, X, Y, xname="train_x", yname="train_y"):
    with h5py.File(path, "w") as f:
        f[xname] = X
        f[yname] = Y


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["binary", "softmax", "regression", "planar",
                                    "mismatch", "nan", "badlabel"])
    p.add_argument("out")
    p.add_argument("--m", type=int, default=300)
    p.add_argument("--n-x", type=int, default=5)
    p.add_argument("--n-y", type=int, default=2)
    p.add_argument("--classes", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--label-shape", default="m", choices=["m", "m1", "1m"])
    p.add_argument("--x-uint8", action="store_true")
    p.add_argument("--m-x", type=int, default=100)
    p.add_argument("--m-y", type=int, default=99)
    a = p.parse_args(argv)

    if a.kind == "binary":
        X, y = binary_set(a.m, a.n_x, a.seed)
        y = {"m": y, "m1": y.reshape(-1, 1), "1m": y.reshape(1, -1)}[a.label_shape]
        if a.x_uint8:
            X = np.clip(np.rint(128.0 + 40.0 * X), 0, 255).astype(np.uint8)
        write(a.out, X, y)
    elif a.kind == "softmax":
        write(a.out, *softmax_set(a.m, a.n_x, a.classes, a.seed))
    elif a.kind == "regression":
        write(a.out, *regression_set(a.m, a.n_x, a.n_y, a.seed))
    elif a.kind == "planar":
        X, Y = planar_set()
        write(a.out, X, Y, "X", "Y")
    elif a.kind == "mismatch":
        X, _ = binary_set(a.m_x, a.n_x, a.seed)
        _, y = binary_set(a.m_y, a.n_x, a.seed)
        write(a.out, X, y)
    elif a.kind == "nan":
        X, y = binary_set(a.m, a.n_x, a.seed)
        X[a.m // 2, 1] = np.nan
        write(a.out, X, y)
    elif a.kind == "badlabel":
        X, y = binary_set(a.m, a.n_x, a.seed)
        y[a.m // 3] = 2
        write(a.out, X, y)
    return 0


if __name__ == "__main__":
    sys.exit(main())
