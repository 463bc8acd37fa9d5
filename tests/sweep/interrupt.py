#!/usr/bin/python3
"""Acceptance 2 of issue 14: Ctrl-C mid-sweep, then a rerun finishes with the
same summary as an uninterrupted sweep.

A 2x2 grid of trials long enough to be caught running runs twice:
- straight: `dnn-sweep --jobs 2` to the end;
- cut: the same sweep gets SIGINT once both first trials are iterating (a
  second dnn-sweep on the folder meanwhile is refused: it is locked).  It
  must forward the signal: exit 75 within seconds, the two running trials
  stopped with a checkpoint inside the run (0 < iteration < N, read with
  h5py) and no final line, the other two never started.  The rerun resumes
  the two (their logs say "resuming from") and starts the others.
Then summary.csv of cut equals that of straight apart from the seconds
column, and every trial's metrics.csv equals straight's apart from the
seconds column (resumed training is bitwise the uninterrupted one, README, Checkpoints and dnn-predict).
"""
import os
import signal

import h5py

import swcommon as S

ITERATIONS = 30000


def main():
    a, c, wd = S.begin(__doc__, "interrupt")
    grid = S.write(os.path.join(wd, "grid.conf"),
                   S.PLANAR + "hidden-activation = tanh\n"
                   "lr = 0.3 | 1.2\nlayers = 4 | 8\n"
                   f"iterations = {ITERATIONS}\nprint-every = 500\n"
                   + ("validation-split = 0.25\n" if S.has_validation(a) else ""))
    rc, out, err = S.run([a.sweep, "--jobs", "2", "--out", "straight", grid], wd)
    c.check(rc == 0, "uninterrupted sweep exits 0", f"rc={rc} {S.tail(err)}")

    cut = os.path.join(wd, "cut")
    log = os.path.join(wd, "cut.out")
    p = S.start([a.sweep, "--jobs", "2", "--out", "cut", grid], wd, log)

    def iterating(t):
        path = os.path.join(cut, t, "train.log")
        return os.path.exists(path) and "iteration 500/" in open(path, errors="replace").read()
    running = S.wait_for(lambda: iterating("trial-000") and iterating("trial-001"), 120)
    c.check(running, "both first trials are iterating")
    rc2, _, err2 = S.run([a.sweep, "--jobs", "2", "--out", "cut", grid], wd, timeout=60)
    c.check(rc2 == 1 and "another dnn-sweep is working on" in err2, "a second dnn-sweep on the same folder is refused",
            f"rc={rc2} {err2.strip()!r}")
    p.send_signal(signal.SIGINT)
    try:
        rc = p.wait(timeout=60)
    except Exception:
        p.kill()
        rc = None
    text = open(log).read()
    c.check(rc == 75, "SIGINT: dnn-sweep exits 75", f"rc={rc} {S.tail(text)}")
    for t in ("trial-000", "trial-001"):
        d = os.path.join(cut, t)
        c.check(S.final_line(os.path.join(d, "train.log")) is None, f"{t} stopped before its final line")
        ck = os.path.join(d, "checkpoint.h5")
        it = int(h5py.File(ck, "r").attrs["iteration"]) if os.path.exists(ck) else -1
        c.check(0 < it < ITERATIONS, f"{t}: checkpoint written mid-run (iteration {it})")
        c.check(f"{t} stopped" in text, f"{t}: dnn-sweep reports it stopped")
    for t in ("trial-002", "trial-003"):
        c.check(not os.path.exists(os.path.join(cut, t, "train.log")), f"{t} was not started")

    rc, out2, err2 = S.run([a.sweep, "--jobs", "2", "--out", "cut", grid], wd)
    c.check(rc == 0, "rerun exits 0", f"rc={rc} {S.tail(err2)}")
    c.check("2 to start, 2 to resume, 0 done" in out2, "rerun: 2 to start, 2 to resume", S.tail(out2))
    for t in ("trial-000", "trial-001"):
        c.check("resuming from" in open(os.path.join(cut, t, "train.log")).read(), f"{t} resumed from its checkpoint")
    a_rows = S.summary_without_seconds(os.path.join(wd, "straight", "summary.csv"))
    b_rows = S.summary_without_seconds(os.path.join(cut, "summary.csv")) if rc == 0 else []
    c.check(len(a_rows) == 4 and a_rows == b_rows, "summary.csv: interrupted + rerun == uninterrupted (seconds aside)",
            f"\n{a_rows}\n{b_rows}")
    for t in ("trial-000", "trial-001", "trial-002", "trial-003"):
        ma = [dict(r, seconds=None) for r in S.metrics(os.path.join(wd, "straight", t, "metrics.csv"))]
        path = os.path.join(cut, t, "metrics.csv")
        mb = [dict(r, seconds=None) for r in S.metrics(path)] if os.path.exists(path) else []
        c.check(len(ma) == ITERATIONS // 500 + 1 and ma == mb, f"{t}: metrics.csv equals the uninterrupted one "
                f"({len(mb)} rows, seconds aside)")
    c.finish(wd)


if __name__ == "__main__":
    main()
