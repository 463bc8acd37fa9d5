#!/usr/bin/python3
"""A config file and the equivalent command line train the same network.

For two settings covering most keys (binary sigmoid with --binary-threshold,
leaky_relu, numpy rng, double precision, mini-batches, --deterministic, a
test set; and softmax with --standardize, tanh, --epochs, single precision,
--checkpoint-every, --verbose):
  * `--config FILE` and the same options on the command line give bitwise
    identical checkpoints: every W/b dataset (dtype, shape, bytes), the
    `config` attribute, every other root attribute and /history/cost;
    and identical metrics CSVs (every column except the wall-clock seconds);
  * the checkpoint shows the settings really took effect (layer_dims,
    activations, precision, learning_rate, seed, rng, recorded iterations),
    so the comparison cannot pass with both runs ignoring the options;
  * the command line wins over the config, wherever --config stands;
  * stdout starts with `# dnn-train configuration` and `key = value` lines;
    that block, saved to a file, is a valid config reproducing the same
    checkpoint, and it equals the checkpoint's `config` attribute.
"""
import math
import os
import re
import shutil

import numpy as np

import upcommon as U

KEY_RE = re.compile(r"^([a-z][a-z0-9-]*)\s*=\s?(.*)$")

# Settings for the two cases.  Values are strings as a user writes them;
# True marks a flag.  Paths are relative to the work folder, and the same
# paths are used by every run of a case (so the `config` attribute, which
# records them, can be compared).
CASE_A = [
    ("data", "d.h5"), ("x", "feats"), ("y", "labels"), ("layout", "examples-first"),
    ("scale", "0.5"), ("binary-threshold", "1"),
    ("test", "d.h5"), ("test-x", "tx"), ("test-y", "ty"),
    ("layers", "5,3"), ("hidden-activation", "leaky_relu"), ("leaky-slope", "0.05"),
    ("output", "sigmoid"), ("init", "normal"), ("init-scale", "0.3"),
    ("rng", "numpy"), ("seed", "7"), ("precision", "double"),
    ("lr", "0.05"), ("iterations", "40"), ("batch-size", "64"), ("deterministic", True),
    ("print-every", "7"), ("metrics", "met.csv"), ("checkpoint", "ck.h5"), ("threads", "1"),
]
CASE_B = [
    ("data", "d.h5"), ("x", "feats"), ("y", "labels"), ("standardize", True),
    ("layers", "6"), ("hidden-activation", "tanh"), ("output", "softmax"), ("classes", "3"),
    ("init", "xavier"), ("rng", "default"), ("seed", "3"), ("precision", "single"),
    ("lr", "0.2"), ("epochs", "3"), ("batch-size", "96"), ("print-every", "2"),
    ("checkpoint", "ck.h5"), ("checkpoint-every", "4"), ("metrics", "met.csv"),
    ("threads", "1"), ("verbose", True),
]


def config_text(pairs, title):
    """A config file as a user writes it: comments, blank lines, trailing
    comments, uneven spacing, one `key=value` without spaces, a tab."""
    out = [f"# {title}", "", "   # an indented comment line", ""]
    for i, (k, v) in enumerate(pairs):
        v = "true" if v is True else v
        if i % 5 == 1:
            out.append(f"{k}={v}")
        elif i % 5 == 2:
            out.append(f"  {k}\t=   {v}   # trailing comment")
        elif i % 5 == 3:
            out.append(f"{k} = {v}")
            out.append("")
        else:
            out.append(f"{k} = {v}")
    out.append("# end")
    return "\n".join(out) + "\n"


def cli_args(pairs):
    """The same settings as command-line options; some in --key=value form."""
    args = []
    for i, (k, v) in enumerate(pairs):
        if v is True:
            args.append(f"--{k}")
        elif i % 3 == 0:
            args.append(f"--{k}={v}")
        else:
            args += [f"--{k}", v]
    return args


def replace(pairs, key, value):
    return [(k, value if k == key else v) for k, v in pairs]


def printed_block(stdout):
    """(header, [(key, value)], text) of the configuration printed at start."""
    lines = stdout.decode("utf-8", "replace").split("\n")
    if not lines or not lines[0].startswith("# dnn-train configuration"):
        return None, [], ""
    pairs, kept = [], []
    for line in lines[1:]:
        mo = KEY_RE.match(line)
        if not mo:
            break
        pairs.append((mo.group(1), mo.group(2).strip()))
        kept.append(line)
    return lines[0], pairs, "\n".join([lines[0]] + kept) + "\n"


def metrics_rows(path):
    with open(path) as f:
        rows = [l.rstrip("\r\n").split(",") for l in f if l.strip()]
    header = rows[0]
    keep = [i for i, h in enumerate(header) if h.strip() != "seconds"]
    return [[r[i] for i in keep] for r in rows]


class Runner:
    def __init__(self, c, train, wd):
        self.c, self.train, self.wd = c, train, wd

    def go(self, label, args):
        """Runs dnn-train in the work folder; keeps its checkpoint and metrics
        as LABEL.h5 / LABEL.csv and its stdout.  Returns stdout or None."""
        for f in ("ck.h5", "met.csv"):
            if os.path.exists(os.path.join(self.wd, f)):
                os.remove(os.path.join(self.wd, f))
        cmd = [self.train] + args
        rc, out, err = U.run(cmd, self.wd, timeout=120)
        ok = self.c.check(rc == 0 and os.path.exists(os.path.join(self.wd, "ck.h5")),
                          f"{label}: dnn-train exits 0 and writes the checkpoint",
                          f"rc={rc}\ncommand: {U.show(cmd)}\nstderr: {U.tail(err)}")
        if not ok:
            return None
        shutil.move(os.path.join(self.wd, "ck.h5"), os.path.join(self.wd, f"{label}.h5"))
        if os.path.exists(os.path.join(self.wd, "met.csv")):
            shutil.move(os.path.join(self.wd, "met.csv"), os.path.join(self.wd, f"{label}.csv"))
        with open(os.path.join(self.wd, f"{label}.out"), "wb") as f:
            f.write(out)
        return out

    def same(self, a, b, what):
        """Bitwise comparison of two kept checkpoints (and metrics)."""
        c = self.c
        pa, pb = os.path.join(self.wd, f"{a}.h5"), os.path.join(self.wd, f"{b}.h5")
        if not (os.path.exists(pa) and os.path.exists(pb)):
            c.check(False, f"{what}: both checkpoints exist", f"{pa} / {pb}")
            return
        A, B = U.read_checkpoint(pa), U.read_checkpoint(pb)
        params = sorted(n for n in A["datasets"] if re.fullmatch(r"[Wb]\d+", n))
        c.check(len(params) >= 2 and params == sorted(n for n in B["datasets"] if re.fullmatch(r"[Wb]\d+", n)),
                f"{what}: same W/b datasets", f"{params} vs {sorted(B['datasets'])}")
        diff = [n for n in params if A["datasets"][n] != B["datasets"].get(n)]
        c.check(not diff, f"{what}: W/b bitwise identical ({len(params)} datasets)", f"differ: {diff}")
        for h in ("history/cost", "history/iteration"):
            c.check(h in A["datasets"] and A["datasets"][h] == B["datasets"].get(h),
                    f"{what}: /{h} bitwise identical")
        ca, cb = A["attrs"].get("config"), B["attrs"].get("config")
        la, lb = (ca or "").splitlines(), (cb or "").splitlines()
        c.check(ca is not None and ca == cb, f"{what}: `config` attribute identical",
                "differing lines: " + "; ".join(f"{x!r} vs {y!r}" for x, y in zip(la, lb) if x != y)
                + (f" ({len(la)} vs {len(lb)} lines)" if len(la) != len(lb) else ""))
        other = sorted((set(A["attrs"]) | set(B["attrs"])) - {"config"})
        bad = [k for k in other if k not in A["attrs"] or k not in B["attrs"]
               or U.attr_bytes(A["attrs"][k]) != U.attr_bytes(B["attrs"][k])]
        c.check(not bad, f"{what}: all {len(other)} root attributes identical",
                "; ".join(f"{k}: {A['attrs'].get(k)!r} vs {B['attrs'].get(k)!r}" for k in bad))
        ma, mb = os.path.join(self.wd, f"{a}.csv"), os.path.join(self.wd, f"{b}.csv")
        if os.path.exists(ma) or os.path.exists(mb):
            ok = os.path.exists(ma) and os.path.exists(mb) and metrics_rows(ma) == metrics_rows(mb)
            c.check(ok, f"{what}: metrics CSVs identical (all columns but seconds)")


def check_effect(c, path, label, expect):
    """The checkpoint records the requested settings."""
    if not os.path.exists(path):
        return
    ck = U.read_checkpoint(path)
    at = ck["attrs"]
    for k, v in expect.items():
        got = at.get(k)
        if isinstance(v, float):
            ok = got is not None and math.isclose(float(got), v, rel_tol=0, abs_tol=0)
        elif isinstance(v, list):
            ok = got is not None and list(np.asarray(got).ravel()) == v
        else:
            ok = got == v if not isinstance(got, (np.integer, int)) else int(got) == v
        c.check(ok, f"{label}: checkpoint attribute {k} = {v!r}", f"got {got!r}")


def history_iterations(path):
    ck = U.read_checkpoint(path)
    dt, shape, raw = ck["datasets"]["history/iteration"]
    return list(np.frombuffer(raw, dtype=np.dtype(dt)).astype(int))


def run_case(c, r, name, pairs, expect, hist):
    wd = r.wd
    with open(os.path.join(wd, f"{name}.cfg"), "w") as f:
        f.write(config_text(pairs, f"case {name}: every setting from this file"))
    out_cfg = r.go(f"{name}_config", ["--config", f"{name}.cfg"])
    out_cli = r.go(f"{name}_cli", cli_args(pairs))
    r.same(f"{name}_config", f"{name}_cli", f"{name} config file vs command line")
    p = os.path.join(wd, f"{name}_cli.h5")
    check_effect(c, p, f"{name}", expect)
    if os.path.exists(p):
        got = history_iterations(p)
        c.check(got == hist, f"{name}: recorded iterations follow print-every", f"got {got}, want {hist}")

    # Command line wins: the config says lr = 0.5, the command line 0.1.
    cfg5 = replace(pairs, "lr", "0.5")
    with open(os.path.join(wd, f"{name}_lr05.cfg"), "w") as f:
        f.write(config_text(cfg5, f"case {name} with lr = 0.5"))
    r.go(f"{name}_cfg05", ["--config", f"{name}_lr05.cfg"])
    r.go(f"{name}_cfg05_cli01", ["--config", f"{name}_lr05.cfg", "--lr", "0.1"])
    r.go(f"{name}_cli01_cfg05", ["--lr=0.1", "--config", f"{name}_lr05.cfg"])
    r.go(f"{name}_pure01", cli_args(replace(pairs, "lr", "0.1")))
    r.same(f"{name}_cfg05_cli01", f"{name}_pure01", f"{name} --config (lr 0.5) --lr 0.1 vs command line lr 0.1")
    r.same(f"{name}_cli01_cfg05", f"{name}_pure01", f"{name} --lr 0.1 --config (lr 0.5) vs command line lr 0.1")
    check_effect(c, os.path.join(wd, f"{name}_cfg05_cli01.h5"), f"{name} override", {"learning_rate": 0.1})
    check_effect(c, os.path.join(wd, f"{name}_cfg05.h5"), f"{name} config alone", {"learning_rate": 0.5})
    pa, pb = os.path.join(wd, f"{name}_cfg05.h5"), os.path.join(wd, f"{name}_pure01.h5")
    if os.path.exists(pa) and os.path.exists(pb):
        A, B = U.read_checkpoint(pa), U.read_checkpoint(pb)
        c.check(A["datasets"]["W1"] != B["datasets"]["W1"],
                f"{name}: lr 0.5 and lr 0.1 train different W1 (the override is observable)")

    # The configuration printed at start.
    for label, out in ((f"{name}_cli", out_cli), (f"{name}_config", out_cfg)):
        if out is None:
            continue
        header, got, text = printed_block(out)
        c.check(header is not None, f"{label}: stdout starts with '# dnn-train configuration'",
                "first line: " + U.tail(out.split(b"\n")[0], 200))
        if header is None:
            continue
        keys = [k for k, _ in got]
        c.check(len(keys) == len(set(keys)) and len(keys) >= 20,
                f"{label}: printed block has >= 20 distinct key = value lines", f"keys {keys}")
        d = dict(got)
        missing = [k for k, _ in pairs if k not in d]
        c.check(not missing, f"{label}: every key set by the user is printed", f"missing {missing}")
        wrong = []
        for k, v in pairs:
            if k not in d:
                continue
            pv = d[k]
            if v is True:
                ok = pv in ("true", "1", "yes", "on")
            else:
                try:
                    ok = float(pv) == float(v)
                except ValueError:
                    ok = pv == v
            if not ok:
                wrong.append(f"{k}: printed {pv!r}, set {v!r}")
        c.check(not wrong, f"{label}: printed values equal the values used", "; ".join(wrong))
        ck = os.path.join(wd, f"{label}.h5")
        if os.path.exists(ck):
            attr = U.read_checkpoint(ck)["attrs"].get("config", "")
            c.check(U.parse_config_block(attr) == got,
                    f"{label}: printed block equals the checkpoint's config attribute")

    # The printed block, saved as it is, reproduces the run.
    if out_cli is not None:
        header, got, text = printed_block(out_cli)
        with open(os.path.join(wd, f"{name}_printed.cfg"), "w") as f:
            f.write(text)
        r.go(f"{name}_printed", ["--config", f"{name}_printed.cfg"])
        r.same(f"{name}_printed", f"{name}_cli", f"{name} printed config vs command line")
        # and a config file with a bad key is refused (the files are read)
        with open(os.path.join(wd, "bad.cfg"), "w") as f:
            f.write(text + "learning-rate = 0.1\n")
        rc, _, err = U.run([r.train, "--config", "bad.cfg"], wd, timeout=60)
        c.check(rc == 1 and b"learning-rate" in err,
                f"{name}: a config with an unknown key exits 1 naming the key", f"rc={rc} stderr={U.tail(err)}")


def main():
    args = U.arg_parser(__doc__).parse_args()
    c = U.Checker("config_equivalence")
    wd = U.workdir("config")
    U.make_dataset(os.path.join(wd, "d.h5"), m=400, shape=(4, 3), seed=5, classes=3,
                   x="feats", y="labels", test_x="tx", test_y="ty")
    r = Runner(c, args.train, wd)
    run_case(c, r, "A", CASE_A,
             {"layer_dims": [12, 5, 3, 1], "activations": "leaky_relu,leaky_relu,sigmoid",
              "precision": "double", "learning_rate": 0.05, "seed": 7, "rng": "numpy",
              "iteration": 40, "batch_size": 64, "scale": 0.5, "binary_threshold": 1.0,
              "leaky_slope": 0.05, "deterministic": 1},
             [0, 7, 14, 21, 28, 35, 39])
    # m = 400, batch 96: 5 steps per epoch, 3 epochs = 15 iterations.
    run_case(c, r, "B", CASE_B,
             {"layer_dims": [12, 6, 3], "activations": "tanh,softmax", "precision": "single",
              "learning_rate": 0.2, "seed": 3, "rng": "default", "iteration": 15, "epoch": 3,
              "standardize": 1, "batch_size": 96},
             [0, 2, 4, 6, 8, 10, 12, 14])
    c.finish(wd)


if __name__ == "__main__":
    main()
