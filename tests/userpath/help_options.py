#!/usr/bin/python3
"""--help of dnn-train and dnn-predict, and the parser behind it.

dnn-train --help:
  * exits 0; shows headings Data:, Model:, Training: (in that order, every
    option under a heading) and Examples:; lists every option of the
    documented CLI; shows the documented defaults in brackets;
  * the examples include planar logistic regression (no --layers), a deep
    network (>= 2 hidden layers) on Fashion-MNIST, and a cluster run (sbatch,
    srun or qsub; a job script it names exists in the source tree);
  * every long option listed is accepted by the parser: `OPTION [VALUE]
    --help` exits 0 (every choice of every enum is tried; also in the
    `--name=value` form), and the same key is accepted in a --config file.
    The probe is designed to be able to fail: --help is only honoured after
    the options before it were parsed, which controls confirm
    (`--no-such-option --help`, `--iterations abc --help` exit non-zero), and
    the help's arity is cross-checked (a value option given no value, or a
    flag given a value, must be refused);
  * every example's dnn-train arguments parse (`ARGS --help` exits 0);
  * every key of the configuration dump printed at start is a listed option.
dnn-predict --help exits 0 and its listed options are accepted the same way.
"""
import os
import re
import shlex

import upcommon as U

# The CLI contract (docs/preamble): option -> default shown in brackets (None: no default shown).
CONTRACT = {
    "data": None, "x": "train_x", "y": "train_y", "layout": "examples-first", "scale": None,
    "standardize": None, "binary-threshold": None, "layers": None, "hidden-activation": "relu",
    "leaky-slope": "0.01", "output": "sigmoid", "classes": None, "init": "he", "init-scale": "0.01",
    "rng": "default", "seed": "1", "lr": "0.0075", "iterations": "2500", "epochs": None,
    "batch-size": "0", "precision": "single", "print-every": "100", "test": None, "test-x": "test_x",
    "test-y": "test_y", "metrics": None, "checkpoint": None, "checkpoint-every": None, "resume": None,
    "deterministic": None, "threads": None, "quiet": None, "verbose": None, "config": None, "help": None,
}

# An option line: two or more leading spaces, --name, then either one space
# and a metavar (or a|b|c choice list), or two or more spaces (a flag).
OPT_RE = re.compile(r"^\s{2,}--([a-z][a-z0-9-]*)(?: ([^\s]+))?(?:\s+(.*))?$")
DEFAULT_RE = re.compile(r"\[([^\]]*)\]\s*$")


def parse_options(text):
    """[(heading, name, metavar or None, default or None)] of the option lines."""
    out, heading = [], None
    for line in text.split("\n"):
        if re.fullmatch(r"[A-Z][A-Za-z ,-]*:", line):
            heading = line[:-1]
            if heading == "Examples":
                break
            continue
        mo = OPT_RE.match(line)
        if not mo:
            continue
        name, meta, rest = mo.group(1), mo.group(2), mo.group(3) or ""
        # a flag: the name is followed by padding (two or more spaces)
        after = line[line.index("--" + name) + 2 + len(name):]
        if after.startswith("  ") or after == "":
            meta, rest = None, after.strip()
        d = DEFAULT_RE.search(line)
        out.append((heading, name, meta, d.group(1) if d else None))
    return out


def sample_values(name, meta, default):
    """Values that must parse for an option, from what --help says."""
    if meta and "|" in meta:
        return meta.split("|")
    if name == "config":
        return ["empty.cfg"]
    if default not in (None, ""):
        return [default]
    if meta is None:
        return []
    m = meta.upper()
    if "FILE" in m or "NAME" in m or "CKPT" in m or m.startswith("OUT"):
        return ["somewhere.h5"] if ".CSV" not in m else ["somewhere.csv"]
    if m.startswith("N1"):
        return ["3,2"]
    return ["1"]


def examples(text):
    """(raw line, dnn-train argument list or None) of each example command."""
    if "\nExamples:\n" not in text:
        return []
    part = []
    for line in text.split("\nExamples:\n", 1)[1].split("\n"):
        if line and not line[0].isspace():
            break  # the examples are indented; the next paragraph is not
        part.append(line)
    part = "\n".join(part)
    joined = re.sub(r"\\\n\s*", " ", part)
    cmds = []
    for line in joined.split("\n"):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        try:
            toks = shlex.split(s)
        except ValueError:
            cmds.append((s, None))
            continue
        args = None
        for i, t in enumerate(toks):
            if t.startswith("DNN_ARGS="):
                args = shlex.split(t[len("DNN_ARGS="):])
                break
            if os.path.basename(t) == "dnn-train":
                args = toks[i + 1:]
                break
        cmds.append((s, args))
    return cmds


def arg_value(args, name):
    for i, a in enumerate(args):
        if a == "--" + name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--" + name + "="):
            return a.split("=", 1)[1]
    return None


def main():
    ap = U.arg_parser(__doc__)
    args = ap.parse_args()
    c = U.Checker("help_options")
    wd = U.workdir("help")
    open(os.path.join(wd, "empty.cfg"), "w").close()
    train = args.train

    rc, out, err = U.run([train, "--help"], wd, timeout=60)
    text = out.decode("utf-8", "replace")
    c.check(rc == 0, "dnn-train --help exits 0", f"rc={rc} stderr={U.tail(err)}")
    c.check("Usage" in text or "usage" in text, "dnn-train --help shows a usage line")
    heads = [l[:-1] for l in text.split("\n") if re.fullmatch(r"[A-Z][A-Za-z ,-]*:", l)]
    want = ["Data", "Model", "Training"]
    pos = [heads.index(h) if h in heads else -1 for h in want]
    c.check(all(p >= 0 for p in pos) and pos == sorted(pos), "headings Data:, Model:, Training: in order",
            f"headings {heads}")
    c.check("Examples" in heads, "heading Examples:", f"headings {heads}")
    opts = parse_options(text)
    names = [n for _, n, _, _ in opts]
    c.check(len(opts) >= 30 and all(h is not None for h, _, _, _ in opts),
            f"{len(opts)} option lines, each under a heading",
            f"options before a heading: {[n for h, n, _, _ in opts if h is None]}")
    c.check(len(names) == len(set(names)), "each option listed once",
            f"repeated: {sorted(n for n in set(names) if names.count(n) > 1)}")
    missing = [k for k in CONTRACT if k not in names]
    c.check(not missing, "every option of the CLI contract is listed", f"missing {missing}")
    info = {n: (meta, d) for _, n, meta, d in opts}
    bad = [f"--{k}: shows [{info[k][1]}], contract {v}" for k, v in CONTRACT.items()
           if v is not None and k in info and info[k][1] != v]
    c.check(not bad, "documented defaults shown in brackets", "; ".join(bad))
    n_def = sum(1 for _, _, _, d in opts if d not in (None, ""))
    c.check(n_def >= 15, f"defaults in brackets on {n_def} option lines (>= 15)")

    # Controls: --help must not hide a parse error before it.
    for ctl in (["--no-such-option", "--help"], ["--iterations", "abc", "--help"],
                ["--hidden-activation", "softsign", "--help"]):
        rc2, o2, e2 = U.run([train] + ctl, wd, timeout=60)
        c.check(rc2 != 0 and rc2 != -999 and b"Usage" not in o2,
                f"control: `{U.show(ctl)}` is refused (so the probes below can fail)",
                f"rc={rc2} stdout={U.tail(o2, 200)!r}")

    # Every listed option, every value form.  Each dnn-train start costs an
    # MPI singleton start-up (about 0.5 s), so value options are probed
    # together (repeats are allowed, the last one wins), once as
    # `--name value` and once as `--name=value`; a failing combined run is
    # retried option by option to name the culprit.  Flags are probed one by
    # one, directly before --help: a flag that really took a value would
    # swallow "--help" and the run would fail.
    value_opts = [(n, meta, d) for _, n, meta, d in opts if meta is not None]
    flags = [n for _, n, meta, _ in opts if meta is None and n != "help"]
    failures, arity, n_runs = [], [], 0

    def probe(argv):
        nonlocal n_runs
        n_runs += 1
        rc2, o2, e2 = U.run([train] + argv + ["--help"], wd, timeout=60)
        return rc2 == 0 and b"Usage" in o2, f"rc={rc2}: {U.tail(e2, 200).strip()}"

    for form in ("space", "equals"):
        pieces = []
        for name, meta, default in value_opts:
            for v in sample_values(name, meta, default):
                pieces.append(["--" + name, v] if form == "space" else ["--" + name + "=" + v])
        ok, why = probe([a for p in pieces for a in p])
        if not ok:
            for p in pieces:
                ok1, why1 = probe(p)
                if not ok1:
                    failures.append(f"`dnn-train {U.show(p)} --help` {why1}")
            if not failures:
                failures.append(f"all value options together ({form} form) fail: {why}")
    for name in flags:
        ok, why = probe(["--" + name])
        if not ok:
            failures.append(f"`dnn-train --{name} --help` {why}")
        ok, _ = probe(["--" + name, "1"])
        if ok:
            arity.append(f"--{name} is listed as a flag but `--{name} 1 --help` exits 0")
    c.check(not failures, f"every listed option is accepted by the parser ({n_runs} runs)", "\n  ".join(failures))
    c.check(not arity, "the help's value/flag arity matches the parser", "\n  ".join(arity))

    # The same keys in a config file (one file, repeated keys allowed).
    lines = []
    for _, name, meta, default in opts:
        if name in ("help", "config"):
            continue
        for v in (sample_values(name, meta, default) if meta is not None else ["true"]):
            lines.append(f"{name} = {v}")
    with open(os.path.join(wd, "all.cfg"), "w") as f:
        f.write("\n".join(lines) + "\n")
    rc2, _, e2 = U.run([train, "--config", "all.cfg", "--help"], wd, timeout=60)
    cfail = [] if rc2 == 0 else [f"{len(lines)} keys in one config -> rc={rc2}: {U.tail(e2, 300).strip()}"]
    c.check(not cfail, f"every listed option is accepted as a config key ({len(lines)} lines)", "\n  ".join(cfail))
    with open(os.path.join(wd, "one.cfg"), "w") as f:
        f.write("no-such-key = 1\n")
    rc2, _, _ = U.run([train, "--config", "one.cfg", "--help"], wd, timeout=60)
    c.check(rc2 != 0, "control: a config with an unknown key is refused even with --help", f"rc={rc2}")

    # Examples.
    ex = examples(text)
    train_ex = [(s, a) for s, a in ex if a is not None]
    c.check(len(train_ex) >= 3, f"at least three dnn-train example commands ({len(train_ex)})",
            "\n".join(s for s, _ in ex))
    planar_lr = [s for s, a in train_ex
                 if "planar" in (arg_value(a, "data") or "") and not (arg_value(a, "layers") or "").strip()]
    c.check(planar_lr, "example: planar logistic regression (planar data, no --layers)")
    deep = [s for s, a in train_ex
            if re.search(r"fmnist|fashion", arg_value(a, "data") or "", re.I)
            and len([x for x in (arg_value(a, "layers") or "").split(",") if x.strip()]) >= 2]
    c.check(deep, "example: a deep network (>= 2 hidden layers) on Fashion-MNIST")
    cluster = [s for s, _ in ex if re.search(r"\b(sbatch|srun|qsub)\b", s)]
    c.check(cluster, "example: a cluster run (sbatch, srun or qsub)")
    if cluster and args.source:
        scripts = [t for s in cluster for t in shlex.split(s) if t.startswith("launch/")]
        gone = [t for t in scripts if not os.path.exists(os.path.join(args.source, t))]
        c.check(scripts and not gone, "the cluster example's job script exists in the source tree",
                f"named {scripts}, missing {gone}")
    exfail = []
    for s, a in train_ex:
        rc2, o2, e2 = U.run([train] + a + ["--help"], wd, timeout=60)
        if rc2 != 0:
            exfail.append(f"`{s}` -> rc={rc2}: {U.tail(e2, 200).strip()}")
    c.check(train_ex and not exfail, "every example's dnn-train arguments parse", "\n  ".join(exfail))

    # The configuration dump uses only listed options.
    U.make_dataset(os.path.join(wd, "d.h5"), m=64, shape=(3,), seed=1, classes=2)
    rc2, o2, e2 = U.run([train, "--data", "d.h5", "--iterations", "1", "--threads", "1"], wd, timeout=60)
    dump = [l.split("=", 1)[0].strip() for l in o2.decode("utf-8", "replace").split("\n")[1:]
            if re.match(r"^[a-z][a-z0-9-]*\s*=", l)]
    c.check(rc2 == 0 and len(dump) >= 20 and all(k in names for k in dump),
            "every key of the printed configuration is a listed option",
            f"rc={rc2} unlisted: {[k for k in dump if k not in names]}")

    # dnn-predict
    if args.predict:
        rc, out, err = U.run([args.predict, "--help"], wd, timeout=60)
        ptext = out.decode("utf-8", "replace")
        c.check(rc == 0 and ("Usage" in ptext or "usage" in ptext), "dnn-predict --help exits 0 with a usage",
                f"rc={rc} stderr={U.tail(err)}")
        popts = parse_options(ptext)
        pnames = [n for _, n, _, _ in popts]
        need = ["model", "data", "x", "y", "output", "help"]
        c.check(all(n in pnames for n in need), "dnn-predict --help lists --model --data --x --y --output --help",
                f"listed {pnames}")
        rc2, o2, _ = U.run([args.predict, "--no-such-option", "--help"], wd, timeout=60)
        c.check(rc2 != 0, "control: dnn-predict --no-such-option --help is refused", f"rc={rc2}")
        pf = []
        for _, name, meta, default in popts:
            if name == "help":
                continue
            for v in (sample_values(name, meta, default) or [None]):
                p = ["--" + name] + ([v] if v is not None else []) + ["--help"]
                rc2, o2, e2 = U.run([args.predict] + p, wd, timeout=60)
                if rc2 != 0 or not o2.strip():
                    pf.append(f"`dnn-predict {U.show(p)}` -> rc={rc2}: {U.tail(e2, 200).strip()}")
        c.check(popts and not pf, f"every listed dnn-predict option is accepted ({len(popts)} options)",
                "\n  ".join(pf))
    else:
        c.skip("dnn-predict", "no --predict given")
    c.finish(wd)


if __name__ == "__main__":
    main()
