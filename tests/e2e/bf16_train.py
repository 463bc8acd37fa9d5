#!/usr/bin/python3
"""e2e_bf16: dnn-train --precision bf16 end to end (README, Data-parallel training and determinism, issue 11).

usage: bf16_train.py DNN_TRAIN DNN_PREDICT WORKDIR [MPIEXEC]

Synthetic binary data (3000 x 48, numpy, fixed seed), network 48-32-16-1
relu/sigmoid, so layers 1 and 2 run on bf16 and the output layer of 1 on sgemm.
Checks, each able to fail:
  1. bf16 and float32 runs (full batch 40 steps; batch 256 for 2 epochs) end
     within tolerance of each other (cost within 1%, parameters within 1% in
     relative Frobenius norm), and are NOT identical (bf16 really ran);
  2. bf16 W/b are bitwise identical for --threads 1 and 2, in both modes;
  3. the checkpoint says precision "bf16" and holds float32 parameters, and
     dnn-predict reads it: its probabilities equal a float64 numpy forward
     pass over the checkpoint's parameters to 1e-5;
  4. 20 steps + --resume to 40 equals 40 straight steps, bitwise;
  5. --resume of a bf16 checkpoint with --precision single is refused, naming both;
  6. with MPIEXEC: 2 ranks at batch 100 (uneven shares every step, so many
     product shapes) end within 5% of float32 on 2 ranks;
  7. on a CPU without bf16 instructions (DNNL_MAX_CPU_ISA=AVX512_CORE makes
     oneDNN believe so) the run is refused with one message and exit 1.
Exit 0 when all hold, 1 when one fails, 77 (skip) when this CPU cannot run bf16.
"""
import os
import subprocess
import sys

import h5py
import numpy as np

TRAIN, PREDICT, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
MPIEXEC = sys.argv[4] if len(sys.argv) > 4 else None
os.makedirs(WORK, exist_ok=True)
DATA = os.path.join(WORK, 'data.h5')
failures = []


def check(ok, what):
    print(('ok   ' if ok else 'FAIL ') + what, flush=True)
    if not ok:
        failures.append(what)


def make_data():
    rng = np.random.RandomState(7)
    m, n = 3000, 48
    X = rng.randn(m, n).astype(np.float32)
    w = rng.randn(n)
    Y = ((np.tanh(X @ w / 4) + 0.3 * np.sin(3 * X[:, 0])) > 0).astype(np.uint8)
    with h5py.File(DATA, 'w') as f:
        f['train_x'] = X
        f['train_y'] = Y


def train(name, *extra, env=None, expect=0, ranks=1):
    ck = os.path.join(WORK, name + '.h5')
    cmd = ([MPIEXEC, '-n', str(ranks), '--oversubscribe'] if ranks > 1 else []) + [TRAIN, '--data', DATA, '--x', 'train_x', '--y', 'train_y', '--layers', '32,16', '--lr', '0.5',
           '--quiet', '--checkpoint', ck] + list(extra)
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **(env or {})), timeout=120)
    if expect is not None and p.returncode != expect:
        print(f'command: {" ".join(cmd)}\nexit {p.returncode}\n{p.stdout}\n{p.stderr}')
    return p, ck


def params(ck):
    with h5py.File(ck, 'r') as f:
        L = len(f.attrs['layer_dims']) - 1
        return {k: f[k][()] for l in range(1, L + 1) for k in (f'W{l}', f'b{l}')}


def final_cost(p):
    line = [l for l in p.stdout.splitlines() if l.startswith('final')][-1]
    return float(line.split('cost=')[1].split()[0])


def rel(a, b):
    return np.sqrt(sum(np.sum((a[k] - b[k]) ** 2) for k in a)) / np.sqrt(sum(np.sum(b[k] ** 2) for k in b))


def main():
    make_data()
    p, _ = train('probe', '--precision', 'bf16', '--iterations', '1', expect=None)
    if p.returncode != 0:
        if 'AVX512_BF16' in p.stderr:
            print('SKIP: ' + p.stderr.strip())
            return 77
        print(p.stderr)
        return 1
    for mode, args in (('full batch', ['--iterations', '40']),
                       ('batch 256', ['--batch-size', '256', '--epochs', '2'])):
        tag = mode.replace(' ', '')
        ps, cs = train(tag + '_single', '--precision', 'single', *args)
        p1, c1 = train(tag + '_bf16_t1', '--precision', 'bf16', '--threads', '1', *args)
        p2, c2 = train(tag + '_bf16_t2', '--precision', 'bf16', '--threads', '2', *args)
        if ps.returncode or p1.returncode or p2.returncode:
            check(False, f'{mode}: runs completed')
            continue
        s, b1, b2 = params(cs), params(c1), params(c2)
        check(all(np.array_equal(b1[k], b2[k]) for k in b1), f'{mode}: bf16 W/b bitwise equal for --threads 1 and 2')
        d, cost_s, cost_b = rel(b1, s), final_cost(ps), final_cost(p1)
        check(d < 0.01, f"{mode}: bf16 parameters within 1% of float32 (relative Frobenius {d:.2e})")
        check(abs(cost_b - cost_s) <= 0.01 * cost_s, f'{mode}: cost bf16 {cost_b:.6f} vs float32 {cost_s:.6f} (1%)')
        check(d > 0, f'{mode}: bf16 differs from float32 (the bf16 path ran)')

    # checkpoint, dnn-predict
    ck = os.path.join(WORK, 'fullbatch_bf16_t1.h5')
    with h5py.File(ck, 'r') as f:
        prec = f.attrs['precision']
        prec = prec.decode() if isinstance(prec, bytes) else str(prec)
        dtypes = {f[k].dtype for k in f if k[0] in 'Wb'}
    check(prec == 'bf16', f'checkpoint precision attribute is "bf16" (got {prec!r})')
    check(dtypes == {np.dtype('float32')}, f'checkpoint parameters are float32 ({dtypes})')
    out = os.path.join(WORK, 'pred.h5')
    p = subprocess.run([PREDICT, '--model', ck, '--data', DATA, '--x', 'train_x', '--output', out],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f'dnn-predict reads the bf16 checkpoint (exit {p.returncode} {p.stderr.strip()})')
    if p.returncode == 0:
        P = params(ck)
        with h5py.File(DATA, 'r') as f:
            A = f['train_x'][()].astype(np.float64).T
        for l in (1, 2):
            A = np.maximum(P[f'W{l}'].astype(np.float64) @ A + P[f'b{l}'].astype(np.float64), 0)
        z = P['W3'].astype(np.float64) @ A + P['b3'].astype(np.float64)
        ref = 1 / (1 + np.exp(-z))
        with h5py.File(out, 'r') as f:
            prob = f['probabilities'][()]
        err = np.max(np.abs(prob.reshape(-1) - ref.reshape(-1)))
        check(err < 1e-5, f'dnn-predict probabilities equal numpy on the checkpoint (max diff {err:.2e})')

    # resume: 20 + 20 == 40, bitwise
    pa, ca = train('resume', '--precision', 'bf16', '--iterations', '20')
    pb, _ = train('resume', '--precision', 'bf16', '--iterations', '40', '--resume')
    if pa.returncode == 0 and pb.returncode == 0:
        r, s = params(ca), params(os.path.join(WORK, 'fullbatch_bf16_t1.h5'))
        check(all(np.array_equal(r[k], s[k]) for k in r), 'bf16: 20 steps + resume to 40 == 40 steps, bitwise')
    else:
        check(False, 'bf16 resume runs completed')
    pc, _ = train('resume', '--precision', 'single', '--iterations', '60', '--resume', expect=1)
    check(pc.returncode == 1 and 'bf16' in pc.stderr and 'single' in pc.stderr,
          f'resume of a bf16 checkpoint as single refused naming both ({pc.stderr.strip()})')

    if MPIEXEC:
        args = ['--batch-size', '100', '--epochs', '3', '--threads', '1']
        ps, cs = train('np2_single', '--precision', 'single', *args, ranks=2)
        pb, cb = train('np2_bf16', '--precision', 'bf16', *args, ranks=2)
        if ps.returncode == 0 and pb.returncode == 0:
            d = rel(params(cb), params(cs))
            check(d < 0.05, f'2 ranks, batch 100: bf16 within 5% of float32 (relative Frobenius {d:.2e}; 90 steps '
                            f'at lr 0.5 amplify bf16 rounding: 1 rank gives the same 2%)')
            cb_, cs_ = final_cost(pb), final_cost(ps)
            check(abs(cb_ - cs_) <= 0.05 * cs_, f'2 ranks, batch 100: cost bf16 {cb_:.6f} vs float32 {cs_:.6f} (5%)')
        else:
            check(False, '2-rank batch-100 runs completed')

    # a CPU without bf16 instructions
    pn, _ = train('nobf16', '--precision', 'bf16', '--iterations', '2', env={'DNNL_MAX_CPU_ISA': 'AVX512_CORE'},
                  expect=1)
    lines = [l for l in pn.stderr.splitlines() if l.strip()]
    check(pn.returncode == 1 and len(lines) == 1 and 'AVX512_BF16' in pn.stderr and '--precision single' in pn.stderr,
          f'no bf16 instructions: refused with one message, exit 1 (exit {pn.returncode}: {pn.stderr.strip()})')

    print(f'{len(failures)} failure(s)')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
