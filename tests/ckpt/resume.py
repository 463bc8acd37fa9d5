#!/usr/bin/python3
"""Interrupt and resume ends exactly where an uninterrupted run ends (README, Checkpoints and dnn-predict).

Each scenario trains a 3-layer network (--layers 16,8, lr 0.1, 1000 examples)
  straight:     --iterations 100 (or --epochs E)           -> checkpoint S
  interrupted:  --iterations 60 (or fewer epochs) --checkpoint I,
                then --iterations 100 --resume --checkpoint I  -> checkpoint I
and asserts, as two cases:
  <scenario>_params   W/b of I and S bitwise identical (SHA-256 of the
                      concatenated W1,b1,..,WL,bL bytes), the root attribute
                      iteration = 100 (or the epoch's step count), and the final
                      line's cost and train_accuracy equal;
  <scenario>_history  /history/iteration and /history/cost of I equal S's
                      bitwise (same entries, same values), and the --metrics
                      CSV's iteration and cost columns equal too.
Scenarios:
  full_same_n            full batch, default mode, single process throughout
  full_det_n2_to_n3      --deterministic: straight at N=1, first part at N=2,
                         resume at N=3
  mini_same_n            --batch-size 64 (60 is inside epoch 3), single process
  mini_det_n3_to_n2      --batch-size 64 --deterministic, N=1 / N=3 / N=2
  epochs_mini            --epochs 6 straight; --epochs 4 then --epochs 6 --resume
  epochs_mid_epoch       --epochs 6 straight; --iterations 50 (mid-epoch) then
                         --epochs 6 --resume
  double_n2              --precision double, N=2 for all three runs
  standardize_det_n2_to_n4  --standardize --deterministic, N=1 / N=2 / N=4
                         (the stored mean/std are reused on resume)
  opt_<rule>[_<decay>]   every --optimizer (gd, momentum, rmsprop, adam, adamw)
                         with mini-batches, L2 and clipping, without and with
                         a learning-rate decay that crosses epochs (the moments
                         /optimizer/v, /optimizer/s and t must be restored)
  opt_adam_det_n2_to_n3  adam + step decay + --deterministic mini-batches,
                         N=1 / N=2 / N=3
  opt_<rule>_dropout[_exponential]  every rule with --keep-prob 0.8, without and with decay
  opt_adamw_dropout_det_n3_to_n2  adamw + dropout + --deterministic, N=1 / 3 / 2
  dev_early_stopping     --validation-split, --early-stopping, --best-checkpoint:
                         the dev bookkeeping (best cost, records since) resumes
"""
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi"))
from dnnt import (Runner, require, make_binary, params_sha, ckpt_params, rel_diff, history,
                  final_line)  # noqa: E402

R = Runner(__doc__)
DATA = R.path("train.h5")
X, Y = make_binary(DATA, 1000, 20, seed=21, dtype=np.float32)
DATA_STD = R.path("train_std.h5")
with h5py.File(DATA_STD, "w") as f:
    f.create_dataset("train_x", data=(X * 9.0 + 30.0).astype(np.float32))
    f.create_dataset("train_y", data=Y.reshape(-1, 1))
BASE = ["--layers", "16,8", "--lr", "0.1", "--print-every", "10", "--seed", "4", "--quiet"]
results = {}


def metrics_cols(path):
    with open(path) as f:
        head = f.readline().strip().split(",")
        rows = [l.strip().split(",") for l in f if l.strip()]
    i, c = head.index("iteration"), head.index("cost")
    return [(r[i], r[c]) for r in rows]


def scenario(name, extra, first, second, ns=(None, None, None), data=DATA):
    """first/second: the length options of the interrupted run's two parts;
    the straight run uses `second`."""
    s_ck, i_ck = R.path(name + "_straight.h5"), R.path(name + "_interrupted.h5")
    s_csv, i_csv = R.path(name + "_straight.csv"), R.path(name + "_interrupted.csv")
    common = ["--data", data] + BASE + extra
    s_out = R.train(common + second + ["--checkpoint", s_ck, "--metrics", s_csv], n=ns[0], what="straight run")
    R.train(common + first + ["--checkpoint", i_ck, "--metrics", i_csv], n=ns[1], what="first part")
    with h5py.File(i_ck, "r") as f:
        stop_at = int(f.attrs["iteration"])
    i_out = R.train(common + second + ["--checkpoint", i_ck, "--metrics", i_csv, "--resume"], n=ns[2],
                    what="resumed part")
    results[name] = (s_ck, i_ck, s_csv, i_csv, s_out, i_out, stop_at)


def check_params(name):
    require(name in results, "the runs of this scenario failed (see above)")
    s_ck, i_ck, _, _, s_out, i_out, stop_at = results[name]
    a, b = params_sha(i_ck), params_sha(s_ck)
    require(a == b, "resumed W/b SHA-256 %s != straight %s (max rel diff %.3g)" % (
        a[:16], b[:16], rel_diff(ckpt_params(i_ck), ckpt_params(s_ck))))
    with h5py.File(s_ck, "r") as f, h5py.File(i_ck, "r") as g:
        require(int(f.attrs["iteration"]) == int(g.attrs["iteration"]),
                "iteration attribute %s (resumed) != %s (straight)" % (g.attrs["iteration"], f.attrs["iteration"]))
        require(0 < stop_at < int(f.attrs["iteration"]), "the first part stopped at %d" % stop_at)
    fs, fi = final_line(s_out), final_line(i_out)
    for k in ("iterations", "cost", "train_accuracy"):
        require(fs.get(k) == fi.get(k), "final line %s=%s (resumed) != %s (straight)" % (k, fi.get(k), fs.get(k)))


def check_history(name):
    require(name in results, "the runs of this scenario failed (see above)")
    s_ck, i_ck, s_csv, i_csv, _, _, stop_at = results[name]
    (si, sc), (ii, ic) = history(s_ck), history(i_ck)
    sd, idd = dict(zip(si.tolist(), sc.tolist())), dict(zip(ii.tolist(), ic.tolist()))
    common = sorted(set(sd) & set(idd))
    diff = [k for k in common if sd[k] != idd[k]]
    require(not diff, "/history/cost differs at iterations %s" % diff[:5])
    extra, missing = sorted(set(idd) - set(sd)), sorted(set(sd) - set(idd))
    require(not extra and not missing,
            "/history/iteration of the resumed run %s the straight run's: extra %s, missing %s "
            "(the first part stopped at iteration %d)" % ("differs from", extra, missing, stop_at))
    require(np.array_equal(ii, si) and ic.tobytes() == sc.tobytes(), "/history differs in order or bits")
    ms, mi = metrics_cols(s_csv), metrics_cols(i_csv)
    require(ms == mi, "--metrics iteration,cost rows differ: resumed has %d rows, straight %d; first "
            "difference %s" % (len(mi), len(ms), next(((a, b) for a, b in zip(mi, ms) if a != b),
                                                       "(length)")))


IT = lambda n: ["--iterations", str(n)]  # noqa: E731
EP = lambda n: ["--epochs", str(n)]  # noqa: E731
SCENARIOS = [
    ("full_same_n", [], IT(60), IT(100), (None, None, None), DATA),
    ("full_det_n2_to_n3", ["--deterministic"], IT(60), IT(100), (None, 2, 3), DATA),
    ("mini_same_n", ["--batch-size", "64"], IT(60), IT(100), (None, None, None), DATA),
    ("mini_det_n3_to_n2", ["--batch-size", "64", "--deterministic"], IT(60), IT(100), (None, 3, 2), DATA),
    ("epochs_mini", ["--batch-size", "64"], EP(4), EP(6), (None, None, None), DATA),
    ("epochs_mid_epoch", ["--batch-size", "64"], IT(50), EP(6), (None, None, None), DATA),
    ("double_n2", ["--precision", "double"], IT(60), IT(100), (2, 2, 2), DATA),
    ("standardize_det_n2_to_n4", ["--standardize", "--deterministic"], IT(60), IT(100), (None, 2, 4), DATA_STD),
]
OPT = ["--batch-size", "64", "--l2", "0.3", "--clip-norm", "0.5", "--lr", "0.02"]
for rule in ("gd", "momentum", "rmsprop", "adam", "adamw"):
    wd = ["--weight-decay", "0.05"] if rule == "adamw" else []
    SCENARIOS.append(("opt_" + rule, OPT + ["--optimizer", rule] + wd, IT(60), IT(100), (None, None, None), DATA))
    for decay in (["inverse", "0.5"], ["exponential", "0.8"], ["step", "1", "--decay-every", "2"]):
        if rule in ("gd", "adam") or decay[0] == "step":
            SCENARIOS.append(("opt_%s_%s" % (rule, decay[0]), OPT + ["--optimizer", rule, "--lr-decay", decay[0],
                              "--decay-rate"] + decay[1:] + wd, IT(60), IT(100), (None, None, None), DATA))
SCENARIOS.append(("opt_adam_det_n2_to_n3", OPT + ["--optimizer", "adam", "--lr-decay", "step", "--decay-rate", "1",
                  "--deterministic"], IT(60), IT(100), (None, 2, 3), DATA))
for rule in ("gd", "momentum", "rmsprop", "adam", "adamw"):  # dropout: the resumed run draws the same masks
    wd = ["--weight-decay", "0.05"] if rule == "adamw" else []
    SCENARIOS.append(("opt_%s_dropout" % rule, OPT + ["--optimizer", rule, "--keep-prob", "0.8"] + wd,
                      IT(60), IT(100), (None, None, None), DATA))
    SCENARIOS.append(("opt_%s_dropout_exponential" % rule, OPT + ["--optimizer", rule, "--keep-prob", "0.8",
                      "--lr-decay", "exponential", "--decay-rate", "0.9"] + wd, IT(60), IT(100), (None, None, None),
                      DATA))
SCENARIOS.append(("opt_adamw_dropout_det_n3_to_n2", OPT + ["--optimizer", "adamw", "--weight-decay", "0.05",
                  "--keep-prob", "0.7", "--deterministic"], IT(60), IT(100), (None, 3, 2), DATA))
SCENARIOS.append(("dev_early_stopping", ["--optimizer", "adam", "--lr", "0.01", "--validation-split", "0.25",
                  "--early-stopping", "400", "--best-checkpoint", R.path("best.h5")], IT(60), IT(100),
                  (None, None, None), DATA))
for sc in SCENARIOS:
    name = sc[0]
    if R.args.only and not any(s in name for s in R.args.only):
        continue
    R.case(name + "_runs", scenario, *sc)
    R.case(name + "_params", check_params, name)
    R.case(name + "_history", check_history, name)
R.finish()
