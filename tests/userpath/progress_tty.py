#!/usr/bin/python3
"""Progress output: one updating line on a terminal, plain lines otherwise.

  * stdout to a pipe and to a file: one plain `iteration ...` line per
    recorded iteration (--iterations 50 --print-every 10 records
    0,10,20,30,40,49: six lines), no carriage return, no escape sequence,
    and the last line starts with `final `;
  * on a pseudo-terminal (util-linux `script -qfec CMD /dev/null`): the
    progress is redrawn in place with `\\r` + ANSI clear-line `\\033[K`, at
    least once per record, and the whole progress takes exactly one newline
    (the one that closes it before the final line), not one per record;
  * --quiet: stdout is only the final line (on a pipe and on a terminal);
  * `mpiexec -n 2`: only rank 0 prints (one header, six progress lines, one
    final line; with Open MPI's --output-filename, rank 1's stdout is empty).
"""
import os
import re
import shlex
import shutil
import subprocess

import upcommon as U

ITER, EVERY = 50, 10
RECORDS = [0, 10, 20, 30, 40, 49]
PROG_RE = re.compile(r"^iteration (\d+)/(\d+)")


def base_args():
    return ["--data", "d.h5", "--layers", "4", "--iterations", str(ITER), "--print-every", str(EVERY),
            "--lr", "0.1", "--threads", "1"]


def plain_checks(c, label, rc, out, err):
    c.check(rc == 0, f"{label}: exit 0", f"rc={rc} stderr={U.tail(err)}")
    text = out.decode("utf-8", "replace")
    c.check(b"\r" not in out, f"{label}: no carriage return in stdout", repr(U.tail(out, 300)))
    c.check(b"\x1b" not in out, f"{label}: no escape sequence in stdout", repr(U.tail(out, 300)))
    lines = text.split("\n")
    prog = [l for l in lines if l.startswith("iteration ")]
    its = [int(PROG_RE.match(l).group(1)) for l in prog if PROG_RE.match(l)]
    c.check(its == RECORDS, f"{label}: one progress line per record ({len(RECORDS)} lines)",
            f"got {len(prog)} lines at iterations {its}")
    c.check(all(int(PROG_RE.match(l).group(2)) == ITER for l in prog if PROG_RE.match(l)),
            f"{label}: progress lines show the total ({ITER})")
    nonempty = [l for l in lines if l.strip()]
    c.check(bool(nonempty) and nonempty[-1].startswith(f"final iterations={ITER} "),
            f"{label}: last line is the final line", repr(nonempty[-1:]))


def main():
    args = U.arg_parser(__doc__).parse_args()
    c = U.Checker("progress_tty")
    wd = U.workdir("progress")
    U.make_dataset(os.path.join(wd, "d.h5"), m=300, shape=(5,), seed=2, classes=2)
    train = args.train

    # 1. a pipe
    cmd = [train] + base_args()
    rc, out, err = U.run(cmd, wd, timeout=120)
    plain_checks(c, "pipe", rc, out, err)

    # 2. a file
    with open(os.path.join(wd, "out.txt"), "wb") as f:
        rc, _, err = U.run(cmd, wd, timeout=120, stdout=f)
    with open(os.path.join(wd, "out.txt"), "rb") as f:
        out_file = f.read()
    plain_checks(c, "file", rc, out_file, err)

    # 3. --quiet on a pipe
    rc, out, err = U.run(cmd + ["--quiet"], wd, timeout=120)
    lines = [l for l in out.decode("utf-8", "replace").split("\n") if l.strip()]
    c.check(rc == 0 and len(lines) == 1 and lines[0].startswith(f"final iterations={ITER} cost="),
            "quiet: stdout is only the final line", f"rc={rc} stdout={U.tail(out)!r}")

    # 4. a pseudo-terminal via util-linux script
    script = shutil.which("script")
    ver = b""
    if script:
        _, ver, _ = U.run([script, "--version"], wd, timeout=20)
    if not script or b"util-linux" not in ver:
        c.skip("tty", "util-linux `script` is not installed (Debian: bsdutils)")
    else:
        def on_tty(extra):
            line = " ".join(shlex.quote(a) for a in [train] + base_args() + extra)
            return U.run([script, "-qfec", line, "/dev/null"], wd, timeout=120,
                         env=U.child_env(TERM="xterm"))

        rc, out, err = on_tty([])
        c.check(rc == 0, "tty: exit 0 (script -e passes it on)", f"rc={rc} stderr={U.tail(err)}")
        redraws = out.count(b"\r\x1b[K")
        c.check(redraws >= len(RECORDS), f"tty: progress redrawn with \\r\\033[K (>= {len(RECORDS)} times)",
                f"{redraws} times; output {U.tail(out, 400)!r}")
        first = out.find(b"\x1b[K")
        fin = out.find(b"final ")
        if first < 0 or fin < 0 or fin < first:
            c.check(False, "tty: progress comes before the final line", f"output {U.tail(out, 400)!r}")
        else:
            seg = out[first:fin]
            nl = seg.count(b"\n")
            c.check(nl == 1,
                    "tty: the progress is one updating line (one newline in all, not one per record)",
                    f"{nl} newlines between the first redraw and the final line: {U.tail(seg, 400)!r}")
            # every record is shown on the line, the last one included
            shown = [int(m) for m in re.findall(rb"iteration (\d+)/" + str(ITER).encode(), seg)]
            c.check(all(r in shown for r in RECORDS), "tty: every recorded iteration appears on the line",
                    f"shown {shown}")
        c.check(out.count(b"final ") == 1, "tty: one final line")

        rc, out, err = on_tty(["--quiet"])
        text = out.decode("utf-8", "replace").replace("\r", "")
        lines = [l for l in text.split("\n") if l.strip()]
        c.check(rc == 0 and b"\x1b" not in out and len(lines) == 1 and lines[0].startswith("final "),
                "tty quiet: only the final line, no escape sequences", f"rc={rc} output={U.tail(out)!r}")

    # 5. two ranks: only rank 0 prints
    if not args.mpiexec:
        c.skip("mpi", "no mpiexec given")
    else:
        odir = os.path.join(wd, "ranks")
        mcmd = [args.mpiexec, "-n", "2", "--oversubscribe", "--output-filename", odir] + cmd
        rc, out, err = U.run(mcmd, wd, timeout=180)
        text = out.decode("utf-8", "replace")
        lines = text.split("\n")
        c.check(rc == 0, "mpi2: exit 0", f"rc={rc}\ncommand: {U.show(mcmd)}\nstderr: {U.tail(err)}")
        c.check(b"\r" not in out and b"\x1b" not in out,
                "mpi2: stdout of mpiexec is a pipe: no \\r, no escape sequence",
                f"{out.count(bytes([13]))} carriage returns, {out.count(bytes([27]))} escapes; "
                f"progress part: {U.tail(out[out.find(b'iteration'):], 300)!r}")
        n_final = sum(l.startswith("final ") for l in lines)
        n_head = sum(l.startswith("# dnn-train configuration") for l in lines)
        n_prog = sum(l.startswith("iteration ") for l in lines)
        c.check(n_final == 1, "mpi2: one 'final ' line", f"{n_final}")
        c.check(n_head == 1, "mpi2: one configuration header", f"{n_head}")
        c.check(n_prog == len(RECORDS), f"mpi2: {len(RECORDS)} progress lines (not one set per rank)", f"{n_prog}")
        r1 = os.path.join(odir, "1", "rank.1", "stdout")
        r0 = os.path.join(odir, "1", "rank.0", "stdout")
        if os.path.exists(r0) and os.path.exists(r1):
            c.check(os.path.getsize(r1) == 0 and os.path.getsize(r0) > 0,
                    "mpi2: rank 1's own stdout is empty, rank 0's is not",
                    f"rank.1 {os.path.getsize(r1)} bytes, rank.0 {os.path.getsize(r0)} bytes")
        else:
            c.skip("mpi2 per-rank files", f"mpiexec --output-filename did not write {r0}")
        rc, out, err = U.run([args.mpiexec, "-n", "2", "--oversubscribe"] + cmd + ["--quiet"], wd, timeout=180)
        lines = [l for l in out.decode("utf-8", "replace").split("\n") if l.strip()]
        c.check(rc == 0 and len(lines) == 1 and lines[0].startswith("final "),
                "mpi2 quiet: stdout is one final line", f"rc={rc} stdout={U.tail(out)!r}")
    c.finish(wd)


if __name__ == "__main__":
    main()
