#!/usr/bin/python3
"""Acceptance 1 of issue 14: a 2x2 grid (lr x layers) on the planar set with
`dnn-sweep --jobs 2` and a dev set (validation-split 0.25).

Checked against references computed here, not against dnn-sweep's own words:
- four trial folders, in product order (the last key varies fastest), each
  with config, train.log (a `final` line), metrics.csv and checkpoint.h5;
- each trial's config, run by hand (`dnn-train --config trial-NNN/config`,
  other checkpoint/metrics paths), prints the same final line as the trial's
  log apart from seconds= and ms_per_epoch=, and the summary row holds that
  line's figures;
- the ranking: the trials sorted here by val_cost (from each final line or
  metrics.csv; README, Course 2: optimizers, regularization, schedules, dev sets dev set) -- by the training cost when dnn-train
  has no --validation-split -- in the summary's order; the grid overfits,
  so ranking by the training cost would give another order;
- curves.png: a valid PNG (decoded here) with at least four line colours
  across the plot, and curves.gp plots the four metrics files, one titled
  curve per trial, from the val_cost (or cost) column;
- the printed best command line, run as it is, gives the best trial's final line;
- a second run starts no trial: no "started"/"resumed", logs untouched,
  summary.csv unchanged.
"""
import os
import re
import shlex

import swcommon as S


def main():
    a, c, wd = S.begin(__doc__, "grid_local")
    val = S.has_validation(a)
    grid = S.write(os.path.join(wd, "grid.conf"),
                   "# 2 x 2 on the planar set\n" +
                   S.PLANAR + "hidden-activation = tanh\n"
                   "lr = 0.3 | 1.2\n"
                   "layers = 4 | 16,16\n"
                   "iterations = 1500\nprint-every = 100\n"
                   + ("validation-split = 0.25\n" if val else ""))
    if not val:
        print("NOTE dnn-train has no --validation-split yet: the ranking by training cost is checked")
    rc, out, err = S.run([a.sweep, "--jobs", "2", "--out", "runs", grid], wd)
    c.check(rc == 0, "dnn-sweep --jobs 2 exits 0", f"rc={rc} {S.tail(err)}")
    runs = os.path.join(wd, "runs")
    trials = S.trial_dirs(runs) if os.path.isdir(runs) else []
    c.check(trials == ["trial-000", "trial-001", "trial-002", "trial-003"], "four trial folders", f"{trials}")
    c.check(out.count(" started: ") == 4, "four trials started", S.tail(out))
    threads = max(1, len(os.sched_getaffinity(0)) // 2)
    want = [("0.3", "4"), ("0.3", "16,16"), ("1.2", "4"), ("1.2", "16,16")]
    finals = {}
    for i, t in enumerate(trials):
        d = os.path.join(runs, t)
        for f in ("config", "train.log", "metrics.csv", "checkpoint.h5"):
            c.check(os.path.exists(os.path.join(d, f)), f"{t}/{f} exists")
        cfg = dict(l.split(" = ", 1) for l in open(os.path.join(d, "config")).read().splitlines() if " = " in l)
        c.check(i < 4 and float(cfg.get("lr", "nan")) == float(want[i][0]) and cfg.get("layers") == want[i][1],
                f"{t}: lr = {want[i][0]}, layers = {want[i][1]} (product order)", f"{cfg.get('lr')} {cfg.get('layers')}")
        c.check(cfg.get("checkpoint") == os.path.join(d, "checkpoint.h5") and
                cfg.get("metrics") == os.path.join(d, "metrics.csv"), f"{t}: checkpoint and metrics inside its folder")
        finals[t] = S.final_line(os.path.join(d, "train.log"))
        log = open(os.path.join(d, "train.log")).read()
        c.check(f"1 rank x {threads} BLAS thread" in log, f"{t}: ran with {threads} BLAS thread(s) = cores / 2")
        c.check(finals[t] is not None, f"{t}: train.log holds a final line")
        # by hand: the config reproduces the trial
        hand = os.path.join(wd, f"hand-{i}")
        rc, hout, herr = S.run([a.train, "--config", os.path.join(d, "config"), "--checkpoint", hand + ".h5",
                                "--metrics", hand + ".csv", "--threads", "1"], wd)
        hl = next((l for l in hout.splitlines() if l.startswith("final ")), None)
        c.check(rc == 0 and hl and finals[t] and S.without_timing(hl) == S.without_timing(finals[t]),
                f"{t}: its config run by hand prints the same final line", f"{hl} vs {finals[t]}")

    rows = S.summary(os.path.join(runs, "summary.csv")) if os.path.exists(os.path.join(runs, "summary.csv")) else []
    c.check(len(rows) == 4, "summary.csv has four rows", f"{len(rows)}")
    c.check(rows and list(rows[0].keys())[:9] == ["trial", "lr", "layers", "val_cost", "val_accuracy", "train_accuracy",
                                                  "best_iteration", "seconds", "cost"],
            "summary.csv columns: trial, the swept keys, val_cost ... seconds, cost", f"{rows[0].keys() if rows else ''}")

    def key(t):
        f = S.fields(finals[t])
        if not val:
            return float(f["cost"])
        if "val_cost" in f:
            return float(f["val_cost"])
        m = S.metrics(os.path.join(runs, t, "metrics.csv"))
        at = [r for r in m if r["iteration"] == f.get("best_iteration")] or m
        return float(at[-1]["val_cost"])
    if all(finals.get(t) for t in trials) and len(trials) == 4:
        order = sorted(trials, key=lambda t: (key(t), t))
        c.check([r["trial"] for r in rows] == order, f"ranked by {'val_cost' if val else 'cost'}: {order}",
                f"{[r['trial'] for r in rows]}")
        if val:  # this grid overfits: ranking by the training cost would give another order
            by_cost = sorted(trials, key=lambda t: (float(S.fields(finals[t])["cost"]), t))
            c.check(by_cost != order, f"the training cost ranks otherwise ({by_cost}), so the check can tell")
        for r in rows:
            f = S.fields(finals[r["trial"]])
            same = all(r[k] == f.get(k, "") for k in ("cost", "train_accuracy", "val_accuracy", "best_iteration"))
            c.check(same and r["seconds"] == f["seconds"], f"{r['trial']}: its row holds its final line's figures",
                    f"{r} vs {f}")
            if val:
                c.check(r["val_cost"] and abs(float(r["val_cost"]) - key(r["trial"])) <= 1e-8 * abs(key(r["trial"])),
                        f"{r['trial']}: val_cost {r['val_cost']} is the dev-set cost", f"{key(r['trial'])}")
            else:
                c.check(r["val_cost"] == "" and r["val_accuracy"] == "", f"{r['trial']}: no dev set, no val figures")

    # curves
    img = S.check_png(c, os.path.join(runs, "curves.png"), "curves.png")
    if img is not None:
        hues = S.line_colours(img)
        c.check(len(hues) >= 4, f"curves.png: >= 4 line colours across the plot (hue bins {sorted(hues)})", f"{hues}")
    gp = open(os.path.join(runs, "curves.gp")).read() if os.path.exists(os.path.join(runs, "curves.gp")) else ""
    for t in trials:
        mpath = os.path.join(runs, t, "metrics.csv")
        header = open(mpath).readline().strip().split(",")
        col = header.index("val_cost" if val else "cost") + 1
        pat = re.escape(f"'{mpath}' every ::1 using 1:{col} ") + r".*title '" + t + ":"
        c.check(len(re.findall(pat, gp)) == 1, f"curves.gp: one curve of {t} (column {col}) with its title")

    # the best trial's command line
    m = re.search(r"^  (dnn-train .*)$", out, re.M)
    c.check(m is not None, "the best trial's command line is printed", S.tail(out))
    if m and rows:
        cmd = shlex.split(m.group(1))
        cmd[0] = a.train
        rc, bout, _ = S.run(cmd + ["--threads", "1", "--quiet"], wd)
        bl = next((l for l in bout.splitlines() if l.startswith("final ")), "")
        c.check(rc == 0 and S.without_timing(bl) == S.without_timing(finals[rows[0]["trial"]]),
                f"the printed command line reproduces {rows[0]['trial']}", f"{bl}")

    # second run
    stamp = {t: os.stat(os.path.join(runs, t, "train.log")).st_mtime_ns for t in trials}
    before = open(os.path.join(runs, "summary.csv")).read() if rows else None
    rc, out2, err2 = S.run([a.sweep, "--jobs", "2", "--out", "runs", grid], wd)
    c.check(rc == 0 and "0 to start, 0 to resume, 4 done" in out2, "second run: 0 to start, 0 to resume, 4 done",
            f"rc={rc} {S.tail(out2 + err2)}")
    c.check(" started" not in out2 and " resumed" not in out2, "second run starts no trial")
    c.check(all(os.stat(os.path.join(runs, t, "train.log")).st_mtime_ns == stamp[t] for t in trials),
            "second run leaves every train.log untouched")
    c.check(before is not None and open(os.path.join(runs, "summary.csv")).read() == before,
            "second run writes the same summary.csv")
    c.finish(wd)


if __name__ == "__main__":
    main()
