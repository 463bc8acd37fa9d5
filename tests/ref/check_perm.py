#!/usr/bin/python3
"""dnn's --rng numpy mini-batch order against numpy, at test time.

usage: check_perm.py PERM_DUMP WORKDIR

For --shuffle-seed S and epoch e (from 1), dnn must give exactly
np.random.seed(S + e); np.random.permutation(m), the course's
random_mini_batches(X, Y, B, seed=S + e).  Sizes cover the empty and
one-element cases, small m, and m just above powers of two (the rejection
mask grows there).  Exit 0 when every order matches, 1 otherwise.
"""
import os, subprocess, sys
import numpy as np

CASES = [(S, e, m) for S in (0, 10, 4294967290) for e in (1, 2, 7)
         for m in (0, 1, 2, 3, 10, 64, 257, 1000, 4097, 65537)]


def main():
    exe, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, 'perm.bin')
    bad = 0
    for S, e, m in CASES:
        subprocess.run([exe, 'numpy', str(S), str(e), str(m), out], check=True)
        got = np.fromfile(out, dtype=np.uint64)
        np.random.seed((S + e) % 2**32)
        ref = np.random.permutation(m).astype(np.uint64)
        if got.shape != ref.shape or not np.array_equal(got, ref):
            i = int(np.argmax(got[:m] != ref)) if got.shape == ref.shape else -1
            print('FAIL S=%d e=%d m=%d: first difference at %d' % (S, e, m, i))
            bad += 1
    os.remove(out)
    print('%s: %d of %d orders equal numpy %s' % ('FAILED' if bad else 'PASSED', len(CASES) - bad, len(CASES),
                                                np.__version__))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
