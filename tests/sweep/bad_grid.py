#!/usr/bin/python3
"""Bad grids and bad command lines fail before any trial starts (issue 14).

Each bad grid must exit 1 with one message line on stderr that names
grid.conf:LINE (the line written here) and what is wrong, and must leave no
trial behind (the --out folder is not even created).  Covered: an unknown
key, a value dnn-train refuses (an unknown activation; --lr <= 0 and
--print-every 0 from dnn-train's own cross-checks), an empty alternative, a
range without --random, a malformed or unknown range with --random, a key
dnn-sweep owns (checkpoint), a key given twice, a line without '=', a data
file that is not there.  A trial that fails while running (it diverges) is
named with dnn-train's message, the other trial is still summarized, and
the exit status is 1.
Bad command lines (no --out, --jobs 0, --seed without --random, --jobs with
--slurm, an unknown option, a missing grid file, a --train that is not
there) exit 1 naming the option.
--help lists every option.
"""
import os

import swcommon as S

HEAD = "data = planar.h5\nx = X\ny = Y\niterations = 5\n"  # lines 1-4
CASES = [  # (line 5 onward, extra args, line named, words in the message)
    ("lrr = 0.1 | 0.2\n", [], 5, "unknown key 'lrr'"),
    ("hidden-activation = tanh | swish\n", [], 5, "unknown value 'swish'"),
    ("lr = 0.1 | -1\n", [], 5, "--lr must be"),
    ("\n# a comment\nprint-every = 5 | 0\n", [], 7, "--print-every must be >= 1"),
    ("layers = 4 | | 8\n", [], 5, "empty alternative"),
    ("layers = 4 |\n", [], 5, "empty alternative"),
    ("lr = loguniform(1e-3, 1)\n", [], 5, "ranges need --random"),
    ("lr = uniform(1)\n", ["--random", "3"], 5, "is not uniform(a, b)"),
    ("lr = loguniform(0, 1)\n", ["--random", "3"], 5, "loguniform needs 0 < a"),
    ("lr = gauss(0, 1)\n", ["--random", "3"], 5, "unknown range 'gauss'"),
    ("lr = 0.1 | uniform(0, 1)\n", ["--random", "3"], 5, "cannot be one of several alternatives"),
    ("batch-size = randint(1.5, 9)\n", ["--random", "3"], 5, "integer bounds"),
    ("checkpoint = mine.h5\n", [], 5, "set by dnn-sweep"),
    ("lr = 0.1\nlr = 0.2 | 0.3\n", [], 6, "already given at line 5"),
    ("lr 0.1\n", [], 5, "expected 'key = value'"),
]


def main():
    a, c, wd = S.begin(__doc__, "bad_grid")
    for n, (body, extra, line, words) in enumerate(CASES):
        grid = S.write(os.path.join(wd, "grid.conf"), HEAD + body)
        out = f"out{n}"
        rc, so, se = S.run([a.sweep, "--out", out] + extra + [grid], wd, timeout=60)
        lines = se.strip().splitlines()
        c.check(rc == 1 and len(lines) == 1 and f"grid.conf:{line}:" in se and words in se,
                f"{body.strip().splitlines()[-1]!r} {' '.join(extra)}: exit 1, grid.conf:{line}: ... {words}",
                f"rc={rc} stderr={se.strip()!r}")
        c.check(not os.path.exists(os.path.join(wd, out)), f"  ... and no trial folder (nothing started)")
    missing = S.write(os.path.join(wd, "grid.conf"), "x = X\ny = Y\ndata = nothere.h5\nlr = 0.1 | 0.2\n")
    rc, so, se = S.run([a.sweep, "--out", "outm", missing], wd, timeout=60)
    c.check(rc == 1 and "grid.conf:3: data: cannot read" in se and "nothere.h5" in se and
            not os.path.exists(os.path.join(wd, "outm")), "a data file that is not there: exit 1, grid.conf:3, "
            "nothing started", f"rc={rc} {se.strip()!r}")

    # A trial that fails while running (lr 1e30 diverges) is named with dnn-train's error;
    # the other trial finishes and is summarized; the exit status is 1.
    div = S.write(os.path.join(wd, "div.conf"), HEAD + "layers = 4\nlr = 0.5 | 1e30\nprint-every = 1\n")
    rc, so, se = S.run([a.sweep, "--jobs", "2", "--out", "div", div], wd, timeout=120)
    c.check(rc == 1 and "trial-001 failed (exit 1): dnn-train: training diverged" in se,
            "a diverging trial: exit 1, named with dnn-train's message", f"rc={rc} {se.strip()!r}")
    rows = S.summary(os.path.join(wd, "div", "summary.csv")) if os.path.exists(os.path.join(wd, "div",
                                                                                              "summary.csv")) else []
    md = open(os.path.join(wd, "div", "summary.md")).read() if rows else ""
    c.check([r["trial"] for r in rows] == ["trial-000"] and "Not finished: trial-001" in md,
            "  ... the other trial is summarized, summary.md names the unfinished one", f"{rows} {md!r}")

    good = S.write(os.path.join(wd, "good.conf"), HEAD + "lr = 0.1 | 0.2\n")
    for args, words in [([good], "--out DIR is required"),
                        (["--jobs", "0", "--out", "o", good], "--jobs: '0' is not an integer >= 1"),
                        (["--seed", "3", "--out", "o", good], "--seed needs --random"),
                        (["--jobs", "2", "--slurm", "--out", "o", good], "exclude each other"),
                        (["--bogus", "--out", "o", good], "unknown option '--bogus'"),
                        (["--out", "o", "missing.conf"], "cannot open grid 'missing.conf'"),
                        (["--slurm", "--array=0-3", "--out", "o", good], "takes only a throttle"),
                        (["--train", "/nonexistent/dnn-train", "--out", "o", good], "cannot run '/nonexistent")]:
        rc, so, se = S.run([a.sweep] + args, wd, timeout=60)
        c.check(rc == 1 and words in se and len(se.strip().splitlines()) == 1, f"{' '.join(args)}: exit 1, {words}",
                f"rc={rc} {se.strip()!r}")
    rc, so, _ = S.run([a.sweep, "--help"], wd, timeout=60)
    missing = [o for o in ("--out", "--jobs", "--oversubscribe", "--slurm", "--random", "--seed", "--train",
                           "--dry-run", "--run-trial", "--help", "loguniform(", "uniform(", "randint(") if o not in so]
    c.check(rc == 0 and not missing, "--help lists every option and range", f"missing {missing}")
    c.finish(wd)


if __name__ == "__main__":
    main()
