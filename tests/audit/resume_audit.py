#!/usr/bin/python3
"""--resume keeps what a user would notice (issue 25, "Resume").

An uninterrupted run is the reference every time: the interrupted run must
end where it ends, with the same records.
  best_dev_cost    early stopping with a dev split, interrupted at a record
                   where the dev cost has not improved for a while and
                   improves again later: the resumed run finds that later
                   best (best_iteration, the --best-checkpoint's W/b, the
                   iteration it stops at) -- the best dev cost is restored
  patience         interrupted at a record after which the dev cost never
                   improves again: the resumed run stops at the same record
                   -- the early-stopping patience counter is restored
  metrics_rows     a run that crashed after its checkpoint at iteration 60
                   but wrote metrics rows up to 79 is resumed from 60: its
                   --metrics file equals the uninterrupted run's row for row
                   (every column but seconds) -- no duplicated row at 60
  checkpoint_epoch the checkpoint's iteration and epoch attributes (steps
                   done, complete epochs) for mini-batches and full batch
  scale_mismatch   --resume with another --scale is refused (exit 1, the
                   message names the scale); the same --scale resumes
The interruption points are chosen from the uninterrupted run's own
metrics, so the test does not depend on which BLAS kernels ran.
"""
import csv
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import Runner, require, make_binary, params_sha, final_line, tail  # noqa: E402

R = Runner(__doc__)
DATA = R.path("train.h5")
make_binary(DATA, 400, 12, seed=3)
K, EVERY = 4, 5
DEV = ["--data", DATA, "--layers", "32", "--optimizer", "adam", "--lr", "0.03", "--batch-size", "32",
       "--validation-split", "0.3", "--print-every", str(EVERY), "--early-stopping", str(K), "--seed", "1",
       "--quiet"]


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def no_seconds(path):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows(path)]


straight = {}


def run_straight():
    ck, best, met = R.path("s.h5"), R.path("s_best.h5"), R.path("s.csv")
    out = R.train(DEV + ["--iterations", "800", "--checkpoint", ck, "--best-checkpoint", best, "--metrics", met],
                  what="uninterrupted run")
    fl = final_line(out)
    require(fl.get("stopped_early") == "1", "the uninterrupted run did not stop early: " + tail(out))
    best_cost, since, improved, its = None, [], [], []
    for r in rows(met):
        v = float(r["val_cost"])
        better = best_cost is None or v < best_cost
        best_cost = v if better else best_cost
        since.append(0 if better else since[-1] + 1)
        improved.append(better)
        its.append(int(r["iteration"]))
    # r1: no improvement for >= 1 record, a better dev cost comes later
    r1 = [its[i] for i in range(len(its)) if since[i] >= 1 and any(improved[i + 1:])]
    # r2: no improvement for >= 1 record and none until the stop
    r2 = [its[i] for i in range(len(its)) if 1 <= since[i] < K and not any(improved[i + 1:])]
    require(r1 and r2, "degenerate scenario: no record to interrupt at (since-best %s)" % since)
    straight.update(fl=fl, best=best, met=met, r1=r1[0], r2=r2[-1])


def resumed(tag, at):
    """First part stops right after the record at iteration `at`, then --resume."""
    require(straight, "the uninterrupted run failed (see above)")
    ck, best, met = R.path(tag + ".h5"), R.path(tag + "_best.h5"), R.path(tag + ".csv")
    files = ["--checkpoint", ck, "--best-checkpoint", best, "--metrics", met]
    R.train(DEV + ["--iterations", str(at + 1)] + files, what="first part (to iteration %d)" % at)
    out = R.train(DEV + ["--iterations", "800", "--resume"] + files, what="resumed part")
    return final_line(out), best, met


def compare(what, at, fl, best, met):
    s = straight
    for k in ("iterations", "best_iteration", "stopped_early", "val_cost"):
        require(fl.get(k) == s["fl"].get(k), "%s: resumed after iteration %d, the final line has %s=%s, the "
                "uninterrupted run %s" % (what, at, k, fl.get(k), s["fl"].get(k)))
    require(params_sha(best) == params_sha(s["best"]), "%s: the --best-checkpoint of the resumed run differs from "
            "the uninterrupted run's" % what)
    a, b = no_seconds(met), no_seconds(s["met"])
    require(a == b, "%s: --metrics differs from the uninterrupted run's (%d rows vs %d)" % (what, len(a), len(b)))


def best_dev_cost():
    at = straight.get("r1", -1)
    fl, best, met = resumed("r1", at)
    compare("the best dev cost is not restored on --resume (a later, better dev cost is missed)", at, fl, best, met)


def patience():
    at = straight.get("r2", -1)
    fl, best, met = resumed("r2", at)
    compare("the early-stopping patience counter is not restored on --resume (patience restarts)", at, fl, best, met)


BASE = ["--data", DATA, "--layers", "8", "--lr", "0.1", "--print-every", "10", "--seed", "4", "--quiet"]


def metrics_rows():
    what = "the metrics row at the resume iteration"
    s_csv, ck, csv_ = R.path("m_s.csv"), R.path("m.h5"), R.path("m.csv")
    R.train(BASE + ["--iterations", "100", "--metrics", s_csv], what="uninterrupted run")
    R.train(BASE + ["--iterations", "60", "--checkpoint", ck, "--metrics", csv_], what="first part")
    shutil.copy(ck, ck + ".at60")
    # the run went on to 80 (rows 60 and 70 and 79 written), then "crashed": its checkpoint is the one of 60
    R.train(BASE + ["--iterations", "80", "--checkpoint", ck, "--metrics", csv_, "--resume"], what="second part")
    os.replace(ck + ".at60", ck)
    R.train(BASE + ["--iterations", "100", "--checkpoint", ck, "--metrics", csv_, "--resume"], what="resume at 60")
    got, want = no_seconds(csv_), no_seconds(s_csv)
    its = [r["iteration"] for r in got]
    require(its.count("60") == 1, "%s is written %d times: iterations %s" % (what, its.count("60"), its))
    require(got == want, "--metrics after a resume differs from the uninterrupted run's: iterations %s, expected %s"
            % (its, [r["iteration"] for r in want]))


def scale_mismatch():
    ck = R.path("sc.h5")
    R.train(BASE + ["--iterations", "20", "--scale", "0.5", "--checkpoint", ck], what="first part (--scale 0.5)")
    rc, out, err, _ = R.run(R.args.train, BASE + ["--iterations", "40", "--scale", "0.25", "--checkpoint", ck,
                                                   "--resume"])
    require(rc == 1 and "scale" in err and "0.25" in err,
            "--resume with --scale 0.25 of a checkpoint trained with --scale 0.5 must be refused (exit 1, naming the "
            "scale); got exit %d: %s" % (rc, tail(err)))
    R.train(BASE + ["--iterations", "40", "--scale", "0.5", "--checkpoint", ck, "--resume"],
            what="resume with the same --scale")


def checkpoint_epoch():
    import h5py
    for bs, it, want in (("64", 20, 20 // 7), ("0", 12, 12)):  # 400 examples: 7 steps an epoch at 64
        ck = R.path("ep%s.h5" % bs)
        R.train(BASE + ["--iterations", str(it), "--batch-size", bs, "--checkpoint", ck])
        with h5py.File(ck, "r") as f:
            got = (int(f.attrs["iteration"]), int(f.attrs["epoch"]))
        require(got == (it, want), "checkpoint after %d steps of --batch-size %s: (iteration, epoch) = %s, expected "
                "(%d, %d)" % (it, bs, got, it, want))


R.case("checkpoint_epoch", checkpoint_epoch)
R.case("straight", run_straight)
R.case("best_dev_cost", best_dev_cost)
R.case("patience", patience)
R.case("metrics_rows", metrics_rows)
R.case("scale_mismatch", scale_mismatch)
R.finish()
