#!/usr/bin/python3
"""dnn-planar's output against numpy's own run of the course's recipe, bit for bit.

usage: compare_planar.py DNN_PLANAR WORKDIR

For each (seed, m) case, dnn-planar writes an HDF5 file and numpy builds the
planar "flower" set as load_planar_dataset does (np.random.seed, linspace,
randn, sin, cos, X built (m, 2), label j for the j-th half).  Checks:

1. X has dtype float64 and shape (m, 2), Y uint8 (m,); no OUT.tmp is left.
2. X is bitwise identical (compared as uint64) to numpy's X, Y equal to its Y.
3. X is within ABS_TOL of numpy as configured on this machine.
4. Bad command lines (odd or too small --m, --seed outside [0, 2^32), no
   output file, an unwritable output folder) exit 1 with one line on stderr
   naming the value, and write nothing.

Why two numpy references: numpy (Debian 12's 1.24) on AVX512_SKX CPUs computes
float64 sin/cos with Intel's SVML, whose results differ from the C library's
in the last bits; everywhere else (and with NPY_DISABLE_CPU_FEATURES=AVX512_SKX)
numpy calls the C library, as dnn-planar does.  Check 2 uses numpy in that
C-library mode (a child python started with the variable set when needed,
which verifies its np.sin/np.cos equal math.sin/math.cos bit for bit); check
3 bounds the SVML difference.  Exit 0 when every case passes, 1 otherwise.
"""
import math, os, subprocess, sys
import numpy as np

CASES = [(1, 400), (0, 400), (3, 1000), (12345, 64)]
ABS_TOL = 1e-12  # |X| < 5; SVML differs from libm by a few ulp (~1e-15) at most


def numpy_flower(seed, m):
    """The course's recipe, examples as rows (before its final transpose)."""
    np.random.seed(seed)
    n = m // 2
    a = 4
    X = np.zeros((m, 2))
    Y = np.zeros((m,), dtype='uint8')
    thetas = []
    for j in range(2):
        rows = slice(n * j, n * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, n) + np.random.randn(n) * 0.2
        r = a * np.sin(4 * t) + np.random.randn(n) * 0.2
        X[rows, 0] = r * np.sin(t)
        X[rows, 1] = r * np.cos(t)
        Y[rows] = j
        thetas.append(t)
    return X, Y, np.concatenate(thetas)


def reference_child(out):
    """Child mode: write numpy's X, Y for every case, after proving libm mode."""
    arrays = {}
    for seed, m in CASES:
        X, Y, t = numpy_flower(seed, m)
        for name, fn, mfn in (('sin', np.sin, math.sin), ('cos', np.cos, math.cos)):
            for arg in (t, 4 * t):
                lib = np.array([mfn(v) for v in arg])
                if not np.array_equal(fn(arg).view(np.uint64), lib.view(np.uint64)):
                    print('numpy np.%s differs from the C library even with NPY_DISABLE_CPU_FEATURES=%r'
                          % (name, os.environ.get('NPY_DISABLE_CPU_FEATURES')))
                    return 1
        arrays['X_%d_%d' % (seed, m)] = X
        arrays['Y_%d_%d' % (seed, m)] = Y
    np.savez(out, **arrays)
    return 0


def libm_reference(workdir):
    from numpy.core._multiarray_umath import __cpu_features__ as feats
    env = dict(os.environ)
    if feats.get('AVX512_SKX'):
        env['NPY_DISABLE_CPU_FEATURES'] = 'AVX512_SKX'
    out = os.path.join(workdir, 'planar_numpy_libm.npz')
    subprocess.run([sys.executable, os.path.abspath(__file__), '--reference', out],
                   env=env, check=True)
    with np.load(out) as z:
        ref = {k: z[k] for k in z.files}
    os.remove(out)
    return ref, env.get('NPY_DISABLE_CPU_FEATURES')


def check(exe, workdir, seed, m, ref):
    import h5py
    path = os.path.join(workdir, 'planar_%d_%d.h5' % (seed, m))
    subprocess.run([exe, '--seed', str(seed), '--m', str(m), path], check=True)
    with h5py.File(path, 'r') as h:
        X, Y = h['X'][()], h['Y'][()]
    os.remove(path)
    if os.path.exists(path + '.tmp'):
        return 'temporary file %s.tmp left behind' % path
    if X.dtype != np.float64 or X.shape != (m, 2):
        return 'X is %s %s, expected float64 (%d, 2)' % (X.dtype, X.shape, m)
    if Y.dtype != np.uint8 or Y.shape != (m,):
        return 'Y is %s %s, expected uint8 (%d,)' % (Y.dtype, Y.shape, m)
    Xr, Yr = ref['X_%d_%d' % (seed, m)], ref['Y_%d_%d' % (seed, m)]
    bad = np.argwhere(X.view(np.uint64) != Xr.view(np.uint64))
    if bad.size:
        i, k = bad[0]
        return ('%d of %d coordinates differ from numpy (C-library sin/cos); first X[%d,%d]: '
                'dnn=%r (%s) numpy=%r (%s)' % (len(bad), X.size, i, k, X[i, k],
                                               float(X[i, k]).hex(), Xr[i, k], float(Xr[i, k]).hex()))
    if not np.array_equal(Y, Yr):
        i = np.nonzero(Y != Yr)[0][0]
        return 'Y[%d] = %d, numpy %d' % (i, Y[i], Yr[i])
    Xd, _, _ = numpy_flower(seed, m)
    dev = float(np.max(np.abs(X - Xd)))
    if not dev <= ABS_TOL:
        return 'max |X - numpy default X| = %g > %g' % (dev, ABS_TOL)
    return 'ok: bitwise equal; vs numpy with its default CPU dispatch %d coordinates differ, max %.3g' % (
        int(np.sum(X != Xd)), dev)


def check_cli(exe, workdir):
    out = os.path.join(workdir, 'planar_bad.h5')
    cases = [(['--m', '401', out], "'401'"), (['--m', '2', out], "'2'"),
             (['--m', '12x', out], "'12x'"), (['--seed', '-1', out], "'-1'"),
             (['--seed', '4294967296', out], "'4294967296'"), ([], 'output file'),
             ([os.path.join(workdir, 'no-such-dir', 'p.h5')], 'no-such-dir')]
    errors = []
    for args, expect in cases:
        r = subprocess.run([exe] + args, capture_output=True, text=True)
        lines = r.stderr.strip().splitlines()
        if r.returncode != 1 or len(lines) != 1 or expect not in r.stderr:
            errors.append('dnn-planar %s: exit %d, stderr %r (want exit 1, one line with %s)'
                          % (' '.join(args), r.returncode, r.stderr, expect))
        if os.path.exists(out) or os.path.exists(out + '.tmp'):
            errors.append('dnn-planar %s wrote %s' % (' '.join(args), out))
    return errors


def main():
    if len(sys.argv) == 3 and sys.argv[1] == '--reference':
        return reference_child(sys.argv[2])
    if len(sys.argv) != 3:
        print(__doc__)
        return 1
    exe, workdir = sys.argv[1], sys.argv[2]
    os.makedirs(workdir, exist_ok=True)
    ref, disabled = libm_reference(workdir)
    print('numpy %s reference with NPY_DISABLE_CPU_FEATURES=%s' % (np.__version__, disabled))
    failures = 0
    for seed, m in CASES:
        res = check(exe, workdir, seed, m, ref)
        ok = res.startswith('ok')
        print('%s seed=%d m=%d: %s' % ('ok  ' if ok else 'FAIL', seed, m, res[4:] if ok else res))
        failures += not ok
    cli = check_cli(exe, workdir)
    for e in cli:
        print('FAIL ' + e)
    if not cli:
        print('ok   bad command lines exit 1 with one message each')
    failures += len(cli)
    print('%s: %d failure(s)' % ('FAILED' if failures else 'PASSED', failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
