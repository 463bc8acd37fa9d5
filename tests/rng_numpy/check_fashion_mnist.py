#!/usr/bin/python3
"""dnn-fashion-mnist against numpy's own reading of the IDX files, and its errors.

usage: check_fashion_mnist.py DNN_FASHION_MNIST WORKDIR [SRC_DIR]

1. Converts SRC_DIR (default /usr/share/datasets/fashion-mnist) and checks
   train_x (60000,28,28), train_y (60000,), test_x (10000,28,28), test_y
   (10000,), all uint8 and equal to the bytes gzip+numpy read from the files.
2. For broken inputs (missing folder, wrong magic, wrong count, truncated
   data, trailing bytes, a label of 10, a corrupt gzip stream) checks exit
   status 1, a one-line message naming the broken file, an existing OUT left
   byte-for-byte intact and no OUT.tmp.
Exit 0 when everything holds, 1 otherwise.
"""
import gzip, os, shutil, subprocess, sys
import numpy as np, h5py

FILES = {
    'train_x': ('train-images-idx3-ubyte.gz', 16, (60000, 28, 28)),
    'train_y': ('train-labels-idx1-ubyte.gz', 8, (60000,)),
    'test_x': ('t10k-images-idx3-ubyte.gz', 16, (10000, 28, 28)),
    'test_y': ('t10k-labels-idx1-ubyte.gz', 8, (10000,)),
}
LABELS = 'train-labels-idx1-ubyte.gz'
IMAGES = 't10k-images-idx3-ubyte.gz'


def read_idx(src, name, offset, shape):
    with gzip.open(os.path.join(src, name)) as f:
        raw = f.read()
    return np.frombuffer(raw, np.uint8, offset=offset).reshape(shape)


def check_good(exe, workdir, src):
    out = os.path.join(workdir, 'fashion.h5')
    subprocess.run([exe, '--src', src, out], check=True)
    errors = []
    if os.path.exists(out + '.tmp'):
        errors.append('%s.tmp left behind' % out)
    with h5py.File(out, 'r') as h:
        for key, (name, offset, shape) in FILES.items():
            a = h[key][()]
            ref = read_idx(src, name, offset, shape)
            if a.dtype != np.uint8 or a.shape != shape:
                errors.append('%s is %s %s, expected uint8 %s' % (key, a.dtype, a.shape, shape))
            elif not np.array_equal(a, ref):
                errors.append('%s differs from %s at %d positions' % (key, name, int(np.sum(a != ref))))
    os.remove(out)
    return errors


def broken_cases(src):
    """(description, file to replace, its new content or None to delete, expected text)."""
    labels = gzip.open(os.path.join(src, LABELS)).read()
    images_head = gzip.open(os.path.join(src, IMAGES)).read(16)
    bad_label = bytearray(labels)
    bad_label[8 + 123] = 10
    corrupt = bytearray(gzip.compress(labels))
    corrupt[len(corrupt) // 2] ^= 0xff
    return [
        ('missing file', LABELS, None, 'cannot open'),
        ('wrong magic', LABELS, gzip.compress(images_head), 'magic'),
        ('wrong count', LABELS, gzip.compress(labels[:4] + (59999).to_bytes(4, 'big') + labels[8:-1]),
         '59999'),
        ('truncated data', LABELS, gzip.compress(labels[:30000]), 'truncated'),
        ('trailing bytes', LABELS, gzip.compress(labels + b'\0'), 'unexpected bytes'),
        ('label out of range', LABELS, gzip.compress(bytes(bad_label)), 'label 10'),
        ('corrupt gzip', LABELS, bytes(corrupt), LABELS),
        ('truncated header', IMAGES, gzip.compress(images_head[:10]), 'truncated'),
    ]


def check_broken(exe, workdir, src):
    errors = []
    out = os.path.join(workdir, 'keep.h5')
    sentinel = b'previous contents must survive a failed conversion\n'
    r = subprocess.run([exe, '--src', os.path.join(workdir, 'no-such-dir'), out],
                       capture_output=True, text=True)
    if r.returncode != 1 or 'no-such-dir' not in r.stderr:
        errors.append('missing --src folder: exit %d, stderr %r' % (r.returncode, r.stderr))
    for desc, victim, content, expect in broken_cases(src):
        bad = os.path.join(workdir, 'broken')
        shutil.rmtree(bad, ignore_errors=True)
        os.makedirs(bad)
        for name, _, _ in FILES.values():
            if name != victim:
                os.symlink(os.path.join(os.path.abspath(src), name), os.path.join(bad, name))
        if content is not None:
            with open(os.path.join(bad, victim), 'wb') as f:
                f.write(content)
        with open(out, 'wb') as f:
            f.write(sentinel)
        r = subprocess.run([exe, '--src', bad, out], capture_output=True, text=True)
        lines = r.stderr.strip().splitlines()
        problems = []
        if r.returncode != 1:
            problems.append('exit status %d, expected 1' % r.returncode)
        if len(lines) != 1 or victim not in r.stderr or expect not in r.stderr:
            problems.append('stderr %r should be one line naming %s and containing %r'
                            % (r.stderr, victim, expect))
        if open(out, 'rb').read() != sentinel:
            problems.append('existing %s was modified' % out)
        if os.path.exists(out + '.tmp'):
            problems.append('%s.tmp left behind' % out)
        if problems:
            errors.append('%s: %s' % (desc, '; '.join(problems)))
        else:
            print('ok   %s: %s' % (desc, r.stderr.strip()))
        shutil.rmtree(bad)
    os.remove(out)
    return errors


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__)
        return 1
    exe, workdir = sys.argv[1], sys.argv[2]
    src = sys.argv[3] if len(sys.argv) == 4 else '/usr/share/datasets/fashion-mnist'
    os.makedirs(workdir, exist_ok=True)
    errors = check_good(exe, workdir, src)
    if not errors:
        print('ok   conversion: 4 datasets equal to numpy reading %s' % src)
    errors += check_broken(exe, workdir, src)
    for e in errors:
        print('FAIL ' + e)
    print('%s: %d failure(s)' % ('FAILED' if errors else 'PASSED', len(errors)))
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
