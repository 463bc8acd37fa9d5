#!/usr/bin/python3
"""Acceptance 4 of issue 14: `--random 6 --seed 1` over ranges gives the same
six trials on every run, and different ones for another seed.

The reference is a sampler written here from the contract of sweep.h and
rng.h: xoshiro256** seeded through splitmix64 (dnn's default generator),
uniforms (x >> 11) * 2^-53, one draw per swept parameter in file order:
alternatives floor(u n), uniform(a, b) = a + u (b - a), loguniform(a, b) =
exp(ln a + u (ln b - ln a)), randint(a, b) = floor(a + u (b - a + 1)); values
printed %.6g.  Checked: the six trials' values (each config's header and its
dnn-train keys) equal the reference for seed 1 and, in another folder, for
seed 1 again and for seed 2; seed 1 and seed 2 differ; every value lies in
its range and randint values are integers; the sweep runs all six
(summary.csv: six rows with those values); --random 4 --seed 1 gives the
first four of the six; reusing a folder with another seed is refused.
"""
import math
import os
import re

import swcommon as S

M64 = (1 << 64) - 1
GRID = [  # (key, kind, arguments) in file order
    ("lr", "loguniform", (0.01, 1.0)),
    ("layers", "list", ["4", "8", "4,4"]),
    ("hidden-activation", "list", ["tanh"]),  # one alternative: not swept, draws nothing
    ("init-scale", "uniform", (0.001, 0.1)),
    ("batch-size", "randint", (50, 400)),
]


class Xoshiro:
    def __init__(self, seed):
        x, self.s = seed & M64, []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    def next(self):
        s = self.s
        rotl = lambda v, k: ((v << k) | (v >> (64 - k))) & M64
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53


def reference(k, seed):
    rng, trials = Xoshiro(seed), []
    for _ in range(k):
        t = {}
        for key, kind, arg in GRID:
            if kind == "list":
                if len(arg) > 1:
                    t[key] = arg[min(int(rng.uniform() * len(arg)), len(arg) - 1)]
                continue
            u = rng.uniform()
            lo, hi = arg
            if kind == "uniform":
                t[key] = "%.6g" % (lo + u * (hi - lo))
            elif kind == "loguniform":
                t[key] = "%.6g" % math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
            else:
                t[key] = "%.0f" % min(math.floor(lo + u * (hi - lo + 1)), hi)
        trials.append(t)
    return trials


def drawn(out):
    """{key: value} of every trial, from the config header `# dnn-sweep trial-NNN: k = v, ...`."""
    res = []
    for t in S.trial_dirs(out):
        head = open(os.path.join(out, t, "config")).readline().strip()
        m = re.match(r"# dnn-sweep (trial-\d+): (.*)$", head)
        res.append(dict(kv.split(" = ", 1) for kv in re.split(r", (?=[a-z-]+ = )", m.group(2))) if m else {})
    return res


def config_keys(path):
    return dict(l.split(" = ", 1) for l in open(path).read().splitlines() if " = " in l and not l.startswith("#"))


def main():
    a, c, wd = S.begin(__doc__, "random")
    grid = S.write(os.path.join(wd, "grid.conf"),
                   S.PLANAR +
                   "lr = loguniform(0.01, 1)\nlayers = 4 | 8 | 4,4\nhidden-activation = tanh\n"
                   "init = normal\ninit-scale = uniform(0.001, 0.1)\nbatch-size = randint(50, 400)\n"
                   "iterations = 20\nprint-every = 5\n")
    ref1, ref2 = reference(6, 1), reference(6, 2)
    c.check(ref1 != ref2, "the reference sampler differs between seeds 1 and 2")

    rc, out, err = S.run([a.sweep, "--random", "6", "--seed", "1", "--jobs", "2", "--out", "r1", grid], wd)
    c.check(rc == 0, "--random 6 --seed 1 runs and exits 0", f"rc={rc} {S.tail(err)}")
    got1 = drawn(os.path.join(wd, "r1"))
    c.check(got1 == ref1, "seed 1: the six trials equal the reference sampler", f"\n{got1}\n{ref1}")
    for i, t in enumerate(got1):
        cfg = config_keys(os.path.join(wd, "r1", f"trial-{i:03d}", "config"))
        lr, scale, bs = float(t.get("lr", "nan")), float(t.get("init-scale", "nan")), t.get("batch-size", "x")
        c.check(0.01 <= lr <= 1 and 0.001 <= scale <= 0.1 and bs.isdigit() and 50 <= int(bs) <= 400 and
                t.get("layers") in ("4", "8", "4,4"), f"trial-{i:03d}: every value in its range ({t})")
        c.check(math.isclose(float(cfg["lr"]), lr, rel_tol=1e-15) and cfg["batch-size"] == bs and
                cfg["layers"] == t.get("layers") and math.isclose(float(cfg["init-scale"]), scale, rel_tol=1e-15),
                f"trial-{i:03d}: its dnn-train config holds the drawn values")
    rows = S.summary(os.path.join(wd, "r1", "summary.csv")) if rc == 0 else []
    c.check(len(rows) == 6 and all(rows[j]["lr"] == got1[int(rows[j]["trial"][6:])]["lr"] for j in range(len(rows))),
            "summary.csv: six rows with the drawn values", f"{rows}")
    c.check(rows and list(rows[0])[:5] == ["trial", "lr", "layers", "init-scale", "batch-size"],
            "summary.csv: a column per swept key, fixed keys left out", f"{list(rows[0]) if rows else ''}")

    rc, _, err = S.run([a.sweep, "--random", "6", "--seed", "1", "--dry-run", "--out", "r1b", grid], wd)
    c.check(rc == 0 and drawn(os.path.join(wd, "r1b")) == got1, "seed 1 again: the same six trials")
    rc, _, err = S.run([a.sweep, "--random", "6", "--seed", "2", "--dry-run", "--out", "r2", grid], wd)
    got2 = drawn(os.path.join(wd, "r2"))
    c.check(rc == 0 and got2 == ref2, "seed 2: the six trials equal the reference for seed 2", f"{got2}")
    c.check(got2 != got1 and all(x != y for x, y in zip(got1, got2)), "seed 2 gives six other trials")
    rc, _, err = S.run([a.sweep, "--random", "4", "--seed", "1", "--dry-run", "--out", "r4", grid], wd)
    c.check(rc == 0 and drawn(os.path.join(wd, "r4")) == got1[:4], "--random 4 --seed 1: the first four of the six")
    rc, _, err = S.run([a.sweep, "--random", "6", "--seed", "2", "--out", "r1", grid], wd)
    c.check(rc == 1 and "differs from what the grid gives now" in err, "seed 2 into the seed-1 folder is refused",
            f"rc={rc} {S.tail(err)}")
    c.finish(wd)


if __name__ == "__main__":
    main()
