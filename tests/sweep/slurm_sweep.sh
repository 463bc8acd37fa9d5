#!/usr/bin/env bash
# dnn-sweep --slurm on a real one-node Slurm (tests/slurm/cluster.sh):
#
#   slurm_sweep.sh DNN_SWEEP DNN_PLANAR [PYTHON]
#
# A 2x2 grid (lr x layers) on the planar set runs twice: locally with
# --jobs 2, and as ONE job array (sbatch --array=0-3%2, with --time passed
# through to sbatch).  Checks: the submission line names 4 tasks and the
# throttle; Slurm's own record of the job (scontrol) is an array with
# ArrayTaskThrottle=2 and 4 tasks that COMPLETED with exit 0; every trial's
# train.log holds a final line; summary.csv equals the local one apart from
# the seconds column, ranked by val_cost (validation-split 0.25); a second
# --slurm run submits nothing; a grid with a trial that fails under Slurm
# ends with exit 1 naming it; SIGINT during a job says it stops the job and
# ends with exit 75.  Exits 77
# (skipped) when Slurm cannot run here, unless DNN_SLURM_REQUIRE=1.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 DNN_SWEEP DNN_PLANAR [PYTHON]" >&2
  exit 2
fi
sweep=$1
planar=$2
python=${3:-/usr/bin/python3}
SWEEP_TIMEOUT=240     # seconds for the Slurm sweep (4 trials of ~1 s, 2 at a time, plus Slurm's latency)

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "slurm-sweep: $*"; }
[[ -x "$sweep" ]] || fail "no executable dnn-sweep at $sweep"
[[ -x "$planar" ]] || fail "no executable dnn-planar at $planar"

while IFS='=' read -r name _; do
  case "$name" in SLURM_*|SBATCH_*|SALLOC_*|SRUN_*) unset "$name" ;; esac
done < <(env)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dnn-slurm-sweep.XXXXXX")
chmod 755 "$tmp"
# shellcheck source=../slurm/cluster.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../slurm/cluster.sh"
job=""
cleanup() {
  local rc=$?
  trap - EXIT
  [[ -n "$job" ]] && scancel "$job" 2>/dev/null
  stop_cluster
  if (( rc != 0 && rc != 77 )); then
    for f in "$tmp"/log/*.log "$tmp"/*.out "$tmp"/slurm/slurm-*.out "$tmp"/slurm/trial-*/train.log; do
      [[ -s "$f" ]] && { echo "----- $f (last 20 lines)"; tail -n 20 "$f"; }
    done >&2
  fi
  if [[ -n "${DNN_SLURM_KEEP:-}" ]]; then echo "kept $tmp" >&2; else rm -rf -- "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! start_cluster; then
  note "REAL SLURM NOT AVAILABLE: $why_no_slurm"
  [[ -n "${DNN_SLURM_REQUIRE:-}" ]] && fail "DNN_SLURM_REQUIRE is set and Slurm could not run"
  echo "SKIP: dnn-sweep --slurm needs a running Slurm"
  exit 77
fi
note "one-node Slurm up (SLURM_CONF=$SLURM_CONF)"

cd "$tmp"
"$planar" planar.h5 >/dev/null
cat > grid.conf <<'CONF'
# 2 x 2: learning rate x hidden layers, on the course's planar set
data = planar.h5
x = X
y = Y
hidden-activation = tanh
lr = 0.3 | 1.2
layers = 4 | 8,4
iterations = 1500
print-every = 100
validation-split = 0.25
CONF

"$sweep" --jobs 2 --out local grid.conf > local.out 2>&1 || fail "local sweep failed: $(tail -n 3 local.out)"

t0=$SECONDS
rc=0
timeout "$SWEEP_TIMEOUT" "$sweep" --slurm --time=5 --array=%2 --out slurm grid.conf > slurm.out 2>&1 || rc=$?
(( rc == 0 )) || fail "dnn-sweep --slurm exited $rc: $(tail -n 5 slurm.out)"
note "slurm sweep done in $((SECONDS - t0)) s"
line=$(grep -E '^dnn-sweep: submitted job array [0-9]+: 4 trials \(--array=0-3%2\)$' slurm.out) ||
  fail "no 'submitted job array N: 4 trials (--array=0-3%2)' line in slurm.out: $(grep submitted slurm.out || true)"
job=$(sed -E 's/.*job array ([0-9]+):.*/\1/' <<<"$line")
note "$line"

# Slurm's own record: one array job, throttle 2, four tasks that completed.
rec=$(scontrol show job -o "$job" 2>/dev/null || true)
[[ $(grep -c "ArrayJobId=$job " <<<"$rec") == 4 ]] || fail "scontrol lists $(grep -c "ArrayJobId=$job " <<<"$rec") tasks of job $job, expected 4"
grep -q 'ArrayTaskThrottle=2' <<<"$rec" || fail "job $job has no ArrayTaskThrottle=2: $(head -c 400 <<<"$rec")"
for t in 0 1 2 3; do
  r=$(grep -E "ArrayTaskId=$t " <<<"$rec" || true)
  grep -q 'JobState=COMPLETED' <<<"$r" && grep -q 'ExitCode=0:0' <<<"$r" ||
    fail "array task $t: $(grep -oE 'JobState=[A-Z_]+|ExitCode=[0-9:]+' <<<"$r" | tr '\n' ' ')"
  grep -q '^final ' "slurm/trial-00$t/train.log" || fail "slurm/trial-00$t/train.log has no final line"
done
job=""

# Same summary as the local sweep, apart from the seconds column.
"$python" - local/summary.csv slurm/summary.csv <<'PY' || fail "summaries differ"
import csv, sys
rows = [list(csv.DictReader(open(p))) for p in sys.argv[1:]]
for r in rows:
    assert len(r) == 4, f"{len(r)} rows"
    for row in r:
        row.pop("seconds")
        assert row["cost"] and row["train_accuracy"], row
assert rows[0] == rows[1], f"local {rows[0]}\nslurm {rows[1]}"
costs = [float(r["val_cost"]) for r in rows[0]]
assert costs == sorted(costs), f"not ranked by val_cost: {costs}"
print("summary.csv: local == slurm (4 rows, ranked by val_cost, seconds aside)")
PY

# A second run: every trial is done, nothing is submitted.
"$sweep" --slurm --array=%2 --out slurm grid.conf > again.out 2>&1 || fail "second --slurm run failed: $(tail -n 3 again.out)"
grep -q '0 to start, 0 to resume, 4 done' again.out || fail "second run: $(head -n 1 again.out)"
if grep -q 'submitted' again.out; then fail "second run submitted a job"; fi
# A trial that fails under Slurm (its X dataset does not exist): exit 1, and
# the trial is named with its log and Slurm's output file.
cat > bad.conf <<'CONF'
data = planar.h5
x = X | no_such_x
y = Y
layers = 4
iterations = 20
CONF
rc=0
timeout "$SWEEP_TIMEOUT" "$sweep" --slurm --time=5 --out bad bad.conf > bad.out 2>&1 || rc=$?
(( rc == 1 )) || fail "a --slurm sweep with a failing trial must exit 1, exited $rc: $(tail -n 5 bad.out)"
grep -qE '^dnn-sweep: trial-001 did not finish \(see .*/bad/trial-001/train.log and .*/bad/slurm-[0-9]+_1.out\)$' bad.out ||
  fail "no 'trial-001 did not finish (see ...train.log and ...slurm-JOB_1.out)' line: $(grep -v '^ ' bad.out | tail -n 5)"
# Ctrl-C while the job array runs: dnn-sweep says it stops the job, the
# running trials checkpoint, and it ends with exit 75.
cat > long.conf <<'CONF'
data = planar.h5
x = X
y = Y
layers = 4
lr = 0.1 | 0.2
iterations = 100000000
print-every = 100000
CONF
"$sweep" --slurm --time=5 --out long long.conf > long.out 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  grep -q 'submitted job array' long.out && ls long/trial-00*/train.log > /dev/null 2>&1 && break
  sleep 0.2
done
job=$(sed -nE 's/.*submitted job array ([0-9]+):.*/\1/p' long.out)
sleep 1
kill -INT "$pid"
rc=0
for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; fail "dnn-sweep --slurm did not stop within 120 s of SIGINT"; }
wait "$pid" || rc=$?
(( rc == 75 )) || fail "dnn-sweep --slurm after SIGINT must exit 75, exited $rc: $(tail -n 5 long.out)"
grep -qE "^dnn-sweep: stopping job $job: pending tasks cancelled, running trials signalled to checkpoint\$" long.out ||
  fail "no 'stopping job $job: ...' line after SIGINT: $(tail -n 5 long.out)"
job=""
note "PASS (job array $line)"
