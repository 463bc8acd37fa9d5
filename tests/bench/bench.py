#!/usr/bin/python3
"""Benchmark dnn-train against the PyTorch reference on Fashion-MNIST.

Not part of ctest.  One command, from the source tree, after a Release build:

    /usr/bin/python3 tests/bench/bench.py --build BUILD [--reps 3]

What it does (all in one session, so every number shares the same machine
state; the machine may be shared, hence medians over --reps rounds):

1. makes the Fashion-MNIST HDF5 file in a cache folder (BUILD/bench/cache),
   with BUILD/datasets/dnn-fashion-mnist, or the anchor script as a fallback;
2. compiles tests/bench/sgemm_gflops.c against OpenBLAS (cc + pkg-config) and
   measures sgemm GFLOP/s with 1 and 2 threads in every round: the per-block
   shapes of the network and the whole GEMM sequence of one full-batch epoch;
3. in every round, for each case, runs dnn-train and then the PyTorch
   reference (torch threads 1, threads 2, world 2 x threads 1), alternating;
   takes the median ms per epoch of each configuration over the rounds
   (steady state: both programs exclude their first epoch and data loading);
4. prints a table (dnn vs the best torch configuration, ratios against the
   targets, GFLOP/s against sgemm), the np=1 vs np=2 scaling with peak RSS
   per rank, the --deterministic overhead, and every raw sample; the same
   text goes to BUILD/bench/results.md.

Network: 784-256-128-1 relu, sigmoid output, labels y >= 5 (binary), or a
10-class softmax output; X scaled by 1/255; lr 0.1; float32.

FLOPs per epoch (the same for every batch size, every example passes once):
    F = 2 m (3 S - n[1] n[0]),   S = sum_l n[l] n[l-1]
(forward W A: 2 m S; dW = dZ A^T: 2 m S; dA = W^T dZ for l >= 2:
2 m (S - n[1] n[0])).  Elementwise work is not counted.
"""
import argparse, datetime, os, platform, re, shutil, signal, socket, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC_ROOT = os.path.dirname(os.path.dirname(HERE))
SCALE = '0.00392156862745098'
N_X, M_TRAIN = 784, 60000
HIDDEN = (256, 128)

# Issue targets: dnn ms/epoch <= target * torch best ms/epoch.
TARGETS = {'a': 0.60, 'b': 0.35, 'c': 0.35, 'd': 0.30}
TARGET_SGEMM_FRACTION = 0.70
TARGET_NP2_SPEEDUP = 1.8


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run(cmd, env, timeout, label):
    """Run cmd in its own process group; return stdout (raises on failure)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # only the group this harness started
        p.communicate()
        raise RuntimeError(f'{label}: timed out after {timeout} s: {" ".join(cmd)}')
    if p.returncode != 0:
        raise RuntimeError(f'{label}: exit {p.returncode}: {" ".join(cmd)}\n{err.strip()[-2000:]}')
    log(f'  {label}: {time.perf_counter() - t:.1f} s')
    return out


def field(text, key, last_line_prefix=None):
    lines = [l for l in text.splitlines() if l.strip()]
    if last_line_prefix:
        lines = [l for l in lines if l.startswith(last_line_prefix)]
    if not lines:
        raise RuntimeError(f'no output line with {key}=: {text[-500:]}')
    m = re.search(r'(?:^|\s)' + re.escape(key) + r'=(\S+)', lines[-1])
    if not m:
        raise RuntimeError(f'no {key}= in: {lines[-1]}')
    return m.group(1)


def flops_per_epoch(classes):
    dims = (N_X,) + HIDDEN + (classes,)
    S = sum(dims[l] * dims[l - 1] for l in range(1, len(dims)))
    return 2.0 * M_TRAIN * (3 * S - dims[1] * dims[0])


def cpu_times():
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), v[3] + v[4]  # total, idle + iowait


def others_busy(seconds):
    """Fraction of all CPUs busy during `seconds` while this harness sleeps (= other users' load)."""
    t0, i0 = cpu_times()
    time.sleep(seconds)
    t1, i1 = cpu_times()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def med(v):
    return statistics.median(v) if v else float('nan')


class Bench:
    def __init__(self, a):
        self.a = a
        self.build = os.path.abspath(a.build)
        self.train = os.path.join(self.build, 'dnn-train')
        if not os.access(self.train, os.X_OK):
            sys.exit(f'bench: {self.train} not found; build first: cmake -S {SRC_ROOT} -B {a.build} && '
                     f'cmake --build {a.build} -j2')
        self.outdir = os.path.join(self.build, 'bench')
        self.cache = os.path.abspath(a.cache or os.path.join(self.outdir, 'cache'))
        os.makedirs(self.cache, exist_ok=True)
        self.tmp = os.path.join(self.outdir, 'tmp')
        os.makedirs(self.tmp, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if k not in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS')}
        if a.openblas_coretype == 'auto':
            self.env.pop('OPENBLAS_CORETYPE', None)
        elif a.openblas_coretype != 'inherit':
            self.env['OPENBLAS_CORETYPE'] = a.openblas_coretype
        if os.geteuid() == 0:
            self.env.update(OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1')
        self.mpirun = shutil.which('mpirun') or shutil.which('mpiexec')
        self.torch_py = a.torch_script
        self.samples = {}  # name -> list of ms per epoch
        self.extra = {}    # name -> list of dicts (cost, rss ...)
        self.sg = {}       # (threads, kind/shape) -> list of gflops

    # ---- set-up ----
    def dataset(self):
        h5 = os.path.join(self.cache, 'fashion-mnist.h5')
        if os.path.exists(h5):
            return h5
        tool = os.path.join(self.build, 'datasets', 'dnn-fashion-mnist')
        tmp = h5 + '.tmp'
        if os.access(tool, os.X_OK):
            run([tool, tmp], self.env, 600, 'dataset (dnn-fashion-mnist)')
        else:
            run([sys.executable, '/work/shared/anchors/fashion_mnist_h5.py', tmp], self.env, 600,
                'dataset (fashion_mnist_h5.py)')
        os.replace(tmp, h5)
        return h5

    def sgemm_tool(self):
        exe = os.path.join(self.outdir, 'sgemm_gflops')
        src = os.path.join(HERE, 'sgemm_gflops.c')
        flags = subprocess.run(['pkg-config', '--cflags', '--libs', 'openblas'], capture_output=True, text=True,
                               check=True).stdout.split()
        subprocess.run([os.environ.get('CC', 'cc'), '-O2', '-std=c11', '-Wall', '-o', exe, src] + flags, check=True)
        return exe

    # ---- one measurement each ----
    def wait_idle(self):
        """Before a run: wait (up to --idle-wait s) until other processes use < --idle-threshold of the CPUs."""
        waited, busy = 0.0, others_busy(1.0)
        while busy > self.a.idle_threshold and waited < self.a.idle_wait:
            time.sleep(2.0)
            waited += 3.0
            busy = others_busy(1.0)
        self.busy = busy
        if waited:
            log(f'  (waited {waited:.0f} s for an idle machine; others use {busy:.0%} of the CPUs)')

    def add(self, name, ms, **extra):
        extra['busy'] = getattr(self, 'busy', float('nan'))
        self.samples.setdefault(name, []).append(ms)
        self.extra.setdefault(name, []).append(extra)

    def blas_core(self, exe):
        """The kernel family OpenBLAS picks in this environment (its OPENBLAS_VERBOSE=2 line)."""
        env = dict(self.env, OPENBLAS_VERBOSE='2')
        r = subprocess.run([exe, '--reps', '1', '--shape', '8,8,8,N,N', '--no-epoch'], env=env, capture_output=True,
                           text=True)
        m = re.findall(r'Core: (\S+)', r.stdout + r.stderr)
        return m[-1] if m else '?'

    def sgemm(self, exe, threads):
        self.wait_idle()
        out = run([exe, '--threads', str(threads), '--reps', '3'], self.env, 300, f'sgemm threads={threads}')
        for line in out.splitlines():
            kv = dict(re.findall(r'(\w+)=(\S+)', line))
            if not kv:
                continue
            key = 'epoch' if kv['kind'] == 'epoch' else f"{kv['M']}x{kv['N']}x{kv['K']} {kv['op']}"
            self.sg.setdefault((threads, key), []).append(float(kv['gflops']))

    def dnn(self, name, data, case, epochs, np=1, threads=None, deterministic=False):
        args = [self.train, '--data', data, '--scale', SCALE, '--layers', ','.join(map(str, HIDDEN)),
                '--lr', '0.1', '--epochs', str(epochs), '--batch-size', str(case['batch']),
                '--print-every', '1000000000', '--quiet', '--precision', 'single']
        args += case['dnn']
        if threads:
            args += ['--threads', str(threads)]
        if deterministic:
            args += ['--deterministic']
        rss = os.path.join(self.tmp, 'rss')
        for f in os.listdir(self.tmp):
            if f.startswith('rss.'):
                os.remove(os.path.join(self.tmp, f))
        # /usr/bin/time wraps each rank: peak RSS (KiB) per rank
        wrap = ['sh', '-c', 'exec /usr/bin/time -f %M -o "$0.${OMPI_COMM_WORLD_RANK:-0}" "$@"', rss]
        cmd = ([self.mpirun, '-np', str(np)] if np > 1 else []) + wrap + args
        self.wait_idle()
        out = run(cmd, self.env, self.a.timeout, name)
        ranks = sorted(f for f in os.listdir(self.tmp) if f.startswith('rss.'))
        rss_kb = [int(open(os.path.join(self.tmp, f)).read().split()[-1]) for f in ranks]
        self.add(name, float(field(out, 'ms_per_epoch', 'final')), cost=float(field(out, 'cost', 'final')),
                 rss_kb=rss_kb, cmd=' '.join(([self.mpirun, '-np', str(np)] if np > 1 else []) + args))

    def torch(self, name, data, case, epochs, threads, world):
        args = [sys.executable, self.torch_py, '--data', data, '--scale', SCALE,
                '--layers', ','.join(map(str, HIDDEN)), '--lr', '0.1', '--epochs', str(epochs),
                '--batch-size', str(case['batch']), '--threads', str(threads), '--world', str(world),
                '--port', str(free_port())] + case['torch']
        self.wait_idle()
        out = run(args, self.env, self.a.timeout, name)
        self.add(name, float(field(out, 'ms_per_epoch', 'torch')), cost=float(field(out, 'final_loss', 'torch')),
                 cmd=' '.join(args))


CASES = {
    'a': dict(title='(a) full batch, binary', batch=0, dnn=['--binary-threshold', '5'],
              torch=['--binary-threshold', '5'], classes=1),
    'b': dict(title='(b) batch 256, binary', batch=256, dnn=['--binary-threshold', '5'],
              torch=['--binary-threshold', '5'], classes=1),
    'c': dict(title='(c) batch 256, softmax 10', batch=256, dnn=['--output', 'softmax', '--classes', '10'],
              torch=['--output', 'softmax', '--classes', '10'], classes=10),
    'd': dict(title='(d) batch 64, binary', batch=64, dnn=['--binary-threshold', '5'],
              torch=['--binary-threshold', '5'], classes=1),
}
TORCH_CONFIGS = [('threads 1', 1, 1), ('threads 2', 2, 1), ('world 2 x threads 1', 1, 2)]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--build', default='build', help='dnn build folder (Release) [build]')
    p.add_argument('--reps', type=int, default=3, help='rounds; every number is a median over them [3]')
    p.add_argument('--cases', default='abcde', help='subset of a,b,c,d,e (e = a and b with mpirun -np 2) [abcde]')
    p.add_argument('--cache', help='folder for the dataset [BUILD/bench/cache]')
    p.add_argument('--out', help='markdown report [BUILD/bench/results.md]')
    p.add_argument('--torch-script', default='/work/shared/anchors/torch_mlp.py', help='PyTorch reference')
    p.add_argument('--epochs-scale', type=float, default=1.0, help='multiply every epoch count (longer runs)')
    p.add_argument('--idle-threshold', type=float, default=0.15,
                   help='before each run, wait until other processes use less than this fraction of the CPUs [0.15]')
    p.add_argument('--idle-wait', type=float, default=90, help='longest wait for that, seconds; 0 = never wait [90]')
    p.add_argument('--openblas-coretype', default='inherit',
                   help='OPENBLAS_CORETYPE for every run (dnn, torch, sgemm): inherit (as in this shell), auto '
                        '(unset: OpenBLAS detects the CPU) or a name such as Haswell, SkylakeX [inherit]')
    p.add_argument('--note', help='a line of text added to the report (e.g. which commit was built)')
    p.add_argument('--timeout', type=int, default=600, help='seconds per run before it is killed [600]')
    a = p.parse_args()
    b = Bench(a)
    out_md = a.out or os.path.join(b.outdir, 'results.md')
    E = lambda n: max(1, int(round(n * a.epochs_scale)))
    # dnn epochs (>= 3, first excluded); torch epochs (after its own untimed warm-up epoch)
    dnn_epochs = {'a': E(10), 'b': E(5), 'c': E(5), 'd': E(5)}
    dnn_epochs = {k: max(3, v) for k, v in dnn_epochs.items()}
    torch_epochs = {'a': E(3), 'b': E(2), 'c': E(2), 'd': E(1)}
    cases = [c for c in 'abcd' if c in a.cases]
    do_e = 'e' in a.cases

    log(f'bench: build {b.build}, {a.reps} rounds, cases {a.cases}')
    data = b.dataset()
    sg_exe = b.sgemm_tool()
    core = b.blas_core(sg_exe)
    blas_env = ' '.join(f'{k}={v}' for k, v in sorted(b.env.items()) if k.startswith('OPENBLAS_')) or '(none)'
    load0 = os.getloadavg()
    t_start = time.time()
    for r in range(a.reps):
        log(f'round {r + 1}/{a.reps}')
        b.sgemm(sg_exe, 1)
        b.sgemm(sg_exe, 2)
        for c in cases:
            case = CASES[c]
            b.dnn(f'dnn {c}', data, case, dnn_epochs[c])
            for label, th, world in TORCH_CONFIGS:
                b.torch(f'torch {c} {label}', data, case, torch_epochs[c], th, world)
            if c in 'ab' and do_e:
                b.dnn(f'dnn {c} np2', data, case, dnn_epochs[c], np=2, threads=1)
            if c == 'a':
                b.dnn('dnn a np1 threads 1', data, case, dnn_epochs[c], threads=1)
            if c in 'ab':
                b.dnn(f'dnn {c} deterministic', data, case, dnn_epochs[c], deterministic=True)
    elapsed = time.time() - t_start
    load1 = os.getloadavg()

    # ---- report ----
    L = []
    w = L.append
    S = {k: med(v) for k, v in b.samples.items()}
    sg = {k: med(v) for k, v in b.sg.items()}
    src = next((l.split('=', 1)[1].strip() for l in open(os.path.join(b.build, 'CMakeCache.txt'))
                if l.startswith('CMAKE_HOME_DIRECTORY:')), '?')
    rev = subprocess.run(['git', '-C', src, 'rev-parse', '--short', 'HEAD'], capture_output=True,
                         text=True).stdout.strip() or 'not a git checkout'
    try:
        import torch
        tv = torch.__version__
    except Exception:
        tv = '?'
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
    w(f'# dnn benchmark ({datetime.datetime.now().strftime("%Y-%m-%d %H:%M")})')
    w('')
    w(f'- command: `{" ".join([sys.executable] + sys.argv)}`')
    built = datetime.datetime.fromtimestamp(os.path.getmtime(b.train)).strftime('%Y-%m-%d %H:%M')
    w(f'- dnn source {src} ({rev}), binary {b.train} built {built}; torch {tv}, {cpu}, {os.cpu_count()} CPUs, load average '
      f'{load0[0]:.2f} at start, {load1[0]:.2f} at end; {a.reps} rounds in {elapsed / 60:.1f} min')
    w(f'- OpenBLAS kernels: {core} (--openblas-coretype {a.openblas_coretype}; environment of every run: '
      f'{blas_env}); the same environment for dnn, torch and sgemm_gflops')
    w(f'- data {data}: 60000 x 784, scale 1/255; net 784-256-128-1 relu + sigmoid (labels y >= 5) or '
      f'784-256-128-10 softmax; lr 0.1; float32')
    w(f'- every number is the median over the rounds of ms per epoch at steady state (dnn: `ms_per_epoch` of its '
      f'final line, first epoch and loading excluded; torch: its `ms_per_epoch`, warm-up epoch excluded)')
    busy = [e['busy'] for ex in b.extra.values() for e in ex]
    w(f'- other processes used a median {med(busy):.0%} (max {max(busy, default=0):.0%}) of the CPUs in the second '
      f'before each run (waits up to {a.idle_wait:.0f} s for < {a.idle_threshold:.0%} before each run)')
    w(f'- epochs per run: dnn {dnn_epochs}, torch {torch_epochs} (+1 warm-up)')
    w(f'- dnn single process: default threads (BLAS threads = cores / ranks = {os.cpu_count()}); '
      f'np 2: `mpirun -np 2 ... --threads 1`')
    w(f'- torch best = lowest median among: threads 1, threads 2, world 2 x threads 1 (DDP, gloo)')
    w(f'- GFLOP/s: F = 2 m (3 S - n1 n0) per epoch, S = sum n[l] n[l-1] (F = {flops_per_epoch(1) / 1e9:.3f} GFLOP '
      f'binary, {flops_per_epoch(10) / 1e9:.3f} GFLOP softmax); sgemm column = `sgemm_gflops` epoch mix '
      f'(the exact GEMM sequence of one full-batch epoch, 1024-column blocks) at the same total thread count '
      f'(2 threads; 2 ranks x 1 thread: twice the 1-thread number)')
    if a.note:
        w(f'- note: {a.note}')
    w('')
    sg1, sg2 = sg.get((1, 'epoch'), float('nan')), sg.get((2, 'epoch'), float('nan'))
    w('## dnn vs PyTorch')
    w('')
    w('| case | dnn ms/epoch | torch best ms/epoch (config) | dnn/torch | target | met | dnn GFLOP/s | sgemm GFLOP/s | dnn/sgemm |')
    w('|---|---:|---:|---:|---:|---|---:|---:|---:|')
    rows = [(c, f'dnn {c}', CASES[c]['title'], sg2) for c in cases]
    if do_e:
        rows += [(c, f'dnn {c} np2', CASES[c]['title'] + ', np 2 x 1 thread', 2 * sg1) for c in 'ab' if c in cases]
    for c, key, title, ceil in rows:
        d = S.get(key, float('nan'))
        tb = min(((S[f'torch {c} {lab}'], lab) for lab, _, _ in TORCH_CONFIGS if f'torch {c} {lab}' in S),
                 default=(float('nan'), '-'))
        ratio = d / tb[0]
        tgt = TARGETS[c]
        gf = flops_per_epoch(CASES[c]['classes']) / (d * 1e6)
        w(f'| {title} | {d:.1f} | {tb[0]:.1f} ({tb[1]}) | {ratio:.3f} | <= {tgt:.2f} | '
          f'{"yes" if ratio <= tgt else "NO (" + format(ratio / tgt, ".2f") + "x the target)"} | {gf:.1f} | '
          f'{ceil:.1f} | {gf / ceil:.0%} |')
    w('')
    if 'a' in cases:
        gf = flops_per_epoch(1) / (S['dnn a'] * 1e6)
        ok = gf / sg2 >= TARGET_SGEMM_FRACTION
        w(f'Full batch (a): dnn {gf:.1f} GFLOP/s = {gf / sg2:.0%} of the sgemm epoch mix at 2 threads ({sg2:.1f}); '
          f'target >= {TARGET_SGEMM_FRACTION:.0%}: {"met" if ok else "NOT met"}.')
        w('')
    w('### torch, every configuration (median ms/epoch)')
    w('')
    w('| case | ' + ' | '.join(lab for lab, _, _ in TORCH_CONFIGS) + ' |')
    w('|---|' + '---:|' * len(TORCH_CONFIGS))
    for c in cases:
        w(f'| {CASES[c]["title"]} | ' + ' | '.join(f'{S.get(f"torch {c} {lab}", float("nan")):.1f}'
                                                 for lab, _, _ in TORCH_CONFIGS) + ' |')
    w('')
    if 'a' in cases:
        w('## Scaling, full batch (a), 1 BLAS thread per rank')
        w('')
        one, two = S.get('dnn a np1 threads 1', float('nan')), S.get('dnn a np2', float('nan'))

        def rss(key):
            ex = b.extra.get(key, [])
            if not ex or not ex[0]['rss_kb']:
                return '-'
            per_rank = list(zip(*[e['rss_kb'] for e in ex]))
            return ', '.join(f'{max(v) / 1024:.0f}' for v in per_rank)
        w('| run | ms/epoch | speedup | GFLOP/s | sgemm GFLOP/s | peak RSS per rank (MiB, max over rounds) |')
        w('|---|---:|---:|---:|---:|---|')
        w(f'| np 1 x 1 thread | {one:.1f} | 1.00 | {flops_per_epoch(1) / (one * 1e6):.1f} | {sg1:.1f} | '
          f'{rss("dnn a np1 threads 1")} |')
        if do_e:
            sp = one / two
            w(f'| np 2 x 1 thread | {two:.1f} | {sp:.2f} | {flops_per_epoch(1) / (two * 1e6):.1f} | {2 * sg1:.1f} | '
              f'{rss("dnn a np2")} |')
            w(f'| np 1 x 2 threads (default) | {S["dnn a"]:.1f} | {one / S["dnn a"]:.2f} | '
              f'{flops_per_epoch(1) / (S["dnn a"] * 1e6):.1f} | {sg2:.1f} | {rss("dnn a")} |')
            w('')
            w(f'np 2 speedup over np 1 (1 thread each): {sp:.2f}x; target >= {TARGET_NP2_SPEEDUP}x: '
              f'{"met" if sp >= TARGET_NP2_SPEEDUP else "NOT met"}. sgemm itself: 2 threads / 1 thread = '
              f'{sg2 / sg1:.2f}x on this machine now.')
        w('')
    det = [c for c in 'ab' if c in cases and f'dnn {c} deterministic' in S]
    if det:
        w('## --deterministic overhead (single process, default threads)')
        w('')
        w('| case | default ms/epoch | --deterministic ms/epoch | overhead |')
        w('|---|---:|---:|---:|')
        for c in det:
            d0, d1 = S[f'dnn {c}'], S[f'dnn {c} deterministic']
            w(f'| {CASES[c]["title"]} | {d0:.1f} | {d1:.1f} | {d1 / d0 - 1:+.1%} |')
        w('')
    w('## sgemm (OpenBLAS, tests/bench/sgemm_gflops.c), median GFLOP/s')
    w('')
    keys = sorted({k for _, k in sg}, key=lambda k: (k == 'epoch', k))
    w('| product (M x N x K, op) | 1 thread | 2 threads |')
    w('|---|---:|---:|')
    for k in keys:
        name = 'epoch mix (all products of one full-batch epoch)' if k == 'epoch' else k
        w(f'| {name} | {sg.get((1, k), float("nan")):.1f} | {sg.get((2, k), float("nan")):.1f} |')
    w('')
    w('## Raw samples (ms/epoch per round; final cost/loss of the last round)')
    w('')
    w('Busy = share of the CPUs used by other processes in the second before each run.')
    w('')
    w('| run | samples (busy) | median | final cost | command (last round) |')
    w('|---|---|---:|---:|---|')
    for k, v in b.samples.items():
        ex = b.extra[k][-1]
        smp = ", ".join(f"{x:.1f} ({e['busy']:.0%})" for x, e in zip(v, b.extra[k]))
        w(f'| {k} | {smp} | {med(v):.1f} | {ex.get("cost", float("nan")):.4f} | `{ex.get("cmd", "")}` |')
    text = '\n'.join(L) + '\n'
    print(text)
    with open(out_md, 'w') as f:
        f.write(text)
    log(f'bench: report written to {out_md}')


if __name__ == '__main__':
    main()
