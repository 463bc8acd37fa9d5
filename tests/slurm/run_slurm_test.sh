#!/usr/bin/env bash
# End-to-end test of launch/slurm/dnn-train.sbatch on a real one-node Slurm.
#
#   run_slurm_test.sh BIN_DIR SOURCE_DIR [PYTHON]
#
# BIN_DIR holds dnn-train; SOURCE_DIR is the project root; PYTHON has numpy
# and h5py (default /usr/bin/python3).
#
# It starts a private munged, slurmctld and slurmd (ports, state, spool, logs
# and sockets under a temporary folder; nothing in /etc or /run is touched),
# then:
#   1. submits a small 2-rank training job and checks that it COMPLETED with
#      exit 0, printed the `final ` line with test_accuracy >= 0.90 on two
#      well-separated blobs, and left a checkpoint that opens with h5py and
#      whose iteration equals the final line's;
#   1b. runs the same small job with DNN_LAUNCHER=srun (srun --mpi=pmix);
#   2. submits a job whose options come from a --config file, sends the
#      batch shell SIGUSR1 mid-run (what --signal=B:USR1@120 does before the
#      time limit), and checks that the trainer checkpointed, the job requeued
#      itself, resumed with --resume and finished; its parameters must equal,
#      bit for bit, those of the same training run without interruption
#      (README, Checkpoints and dnn-predict).
# The daemons are always stopped through their pid files.
#
# When Slurm cannot run here (not root, daemons missing or failing to start)
# the script says exactly why and runs the same two scenarios by executing
# the batch script directly with the Slurm variables set and a stand-in
# `scontrol`, so the script's mpirun command line, resume and requeue logic
# are still checked -- but sbatch never ran, so it then exits 77 (ctest's
# SKIP_RETURN_CODE: shown as skipped, never as passed) when those checks
# held, 1 when they did not.  DNN_SLURM_REQUIRE=1 (set by launch/test.sh when
# CI=true) makes a Slurm that cannot start a failure at once.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 BIN_DIR SOURCE_DIR [PYTHON]" >&2
  exit 2
fi
bin_dir=$(cd -- "$1" && pwd)
src_dir=$(cd -- "$2" && pwd)
python=${3:-/usr/bin/python3}
sbatch_script="$src_dir/launch/slurm/dnn-train.sbatch"
trainer="$bin_dir/dnn-train"

# Bounds (seconds) and tolerances, all in one place.
DAEMON_START_TIMEOUT=40     # node idle after starting the daemons
JOB_TIMEOUT=150             # one job from submission to a final state
ENDLESS_ITERATIONS=100000000  # the interrupted job's first run never ends by itself
EXTRA_ITERATIONS=1000       # iterations after the resume
MIN_ACCURACY=0.90           # blobs 6 standard deviations apart

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "slurm-test: $*"; }

[[ -x "$trainer" ]] || fail "no executable dnn-train in $bin_dir"
[[ -r "$sbatch_script" ]] || fail "no $sbatch_script"
"$python" -c 'import h5py, numpy' 2>/dev/null || fail "$python lacks h5py/numpy"

# Slurm variables of an enclosing job (CI on a cluster) must not leak into
# our private cluster's jobs.
while IFS='=' read -r name _; do
  case "$name" in SLURM_*|SBATCH_*|SALLOC_*|SRUN_*) unset "$name" ;; esac
done < <(env)

if [[ "$(id -u)" -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1
  export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# The batch script finds the trainer through DNN_BIN (sbatch exports our
# environment to the job).
export DNN_BIN="$bin_dir"
# The node claims 2 CPUs even on a 1-CPU machine (config_overrides below).
export OMPI_MCA_rmaps_base_oversubscribe=1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dnn-slurm-test.XXXXXX")
# munged requires every folder above its socket to be searchable by all.
chmod 755 "$tmp"
mode=""
jobs_submitted=()

# The daemons (stop_pidfile, free_port, start_cluster) come from cluster.sh.
source "$(dirname -- "${BASH_SOURCE[0]}")/cluster.sh"

show_logs() {
  local f
  for f in "$tmp"/log/*.log "$tmp"/munge/munged.log "$tmp"/*.out; do
    [[ -s "$f" ]] || continue
    echo "----- $f (last 40 lines)"
    tail -n 40 "$f"
  done
}

cleanup() {
  local rc=$?
  trap - EXIT
  if [[ "$mode" == slurm ]]; then
    local id
    for id in ${jobs_submitted[@]+"${jobs_submitted[@]}"}; do
      scancel "$id" 2>/dev/null || true
    done
  fi
  stop_pidfile "$tmp/slurmd.pid"
  stop_pidfile "$tmp/slurmctld.pid"
  stop_pidfile "$tmp/munge/munged.pid"
  if (( rc != 0 && rc != 77 )); then
    show_logs >&2
  fi
  if [[ -n "${DNN_SLURM_KEEP:-}" ]]; then
    echo "slurm-test: kept $tmp" >&2
  else
    rm -rf -- "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- data ----
# Two Gaussian blobs in 2-D, 6 standard deviations apart: any working
# classifier separates them; a broken launch path cannot.
"$python" - "$tmp/blobs.h5" <<'EOF'
import sys
import h5py
import numpy as np
rng = np.random.RandomState(7)
def blobs(m):
    y = (np.arange(m) % 2).astype(np.uint8)
    x = rng.randn(m, 2) + np.where(y[:, None] == 1, 3.0, -3.0)
    return x.astype(np.float32), y
with h5py.File(sys.argv[1], "w") as f:
    f["train_x"], f["train_y"] = blobs(512)
    f["test_x"], f["test_y"] = blobs(128)
EOF

# ------------------------------------------------------------- cluster ----
if start_cluster; then
  mode=slurm
  note "one-node Slurm up: $(sinfo -h -o '%P %a %D %T %N' | head -n 1) (SLURM_CONF=$SLURM_CONF)"
else
  note "REAL SLURM NOT AVAILABLE: $why_no_slurm"
  if [[ -n "${DNN_SLURM_REQUIRE:-}" ]]; then
    fail "DNN_SLURM_REQUIRE is set and Slurm could not run"
  fi
  note "falling back to running the batch script directly with a stand-in scontrol"
  stop_pidfile "$tmp/slurmd.pid"
  stop_pidfile "$tmp/slurmctld.pid"
  stop_pidfile "$tmp/munge/munged.pid"
  mode=direct
  mkdir -p "$tmp/standin"
  cat > "$tmp/standin/scontrol" <<EOF
#!/bin/sh
echo "\$*" >> "$tmp/scontrol.calls"
EOF
  chmod +x "$tmp/standin/scontrol"
fi

# ---------------------------------------------------------------- jobs ----
job_field() {  # job_field ID NAME -> value of NAME= in scontrol's one-line record
  scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# wait_state ID STATE... : waits until the job is in one of the states.
wait_state() {
  local id=$1 t s
  shift
  for (( t = 0; t < JOB_TIMEOUT * 2; t++ )); do
    s=$(job_field "$id" JobState)
    local want
    for want in "$@"; do
      [[ "$s" == "$want" ]] && return 0
    done
    case "$s" in
      FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED)
        echo "job $id ended in state $s (exit $(job_field "$id" ExitCode))" >&2
        return 1 ;;
    esac
    sleep 0.5
  done
  echo "job $id not in state $* after ${JOB_TIMEOUT}s (now: ${s:-unknown})" >&2
  return 1
}

# submit NAME ARGS... : starts the batch script and sets job_id to the job id
# (slurm) or to the pid of the batch shell (direct; not run in a subshell, so
# that `wait` can collect it).  Output goes to $tmp/NAME.out.
job_id=""
submit() {
  local name=$1
  shift
  if [[ "$mode" == slurm ]]; then
    local id
    id=$(sbatch --parsable --ntasks=2 --cpus-per-task=1 --time=10 \
           --job-name="dnn-$name" --chdir="$tmp" --output="$tmp/$name.out" \
           "$sbatch_script" "$@") || fail "sbatch failed for $name"
    id=${id%%;*}
    jobs_submitted+=("$id")
    job_id=$id
  else
    ( cd "$tmp" &&
      export SLURM_JOB_ID="direct-$name" SLURM_NTASKS=2 SLURM_CPUS_PER_TASK=1 \
             SLURM_SUBMIT_DIR="$tmp" PATH="$tmp/standin:$PATH" &&
      exec bash "$sbatch_script" "$@" >>"$tmp/$name.out" 2>&1 ) &
    job_id=$!
  fi
}

# finish NAME ID : waits for a normal end and checks exit status 0.
finish() {
  local name=$1 id=$2 rc=0
  if [[ "$mode" == slurm ]]; then
    wait_state "$id" COMPLETED || fail "$name: job $id did not complete"
    [[ "$(job_field "$id" ExitCode)" == 0:0 ]] ||
      fail "$name: job $id ExitCode=$(job_field "$id" ExitCode), expected 0:0"
  else
    wait "$id" || rc=$?
    (( rc == 0 )) || fail "$name: batch script exited $rc"
  fi
}

checkpoint_iteration() {
  "$python" -c 'import sys, h5py; print(int(h5py.File(sys.argv[1], "r").attrs["iteration"]))' "$1"
}
final_line() { grep -E '^final ' "$1" | tail -n 1; }
final_field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

common=(--data "$tmp/blobs.h5" --test "$tmp/blobs.h5" --layers 8 --hidden-activation tanh
        --output sigmoid --lr 0.3 --seed 3)

# --------------------------------------------------- 1: a plain job -------
t0=$SECONDS
submit plain "${common[@]}" --iterations 2000 --print-every 500 --metrics "$tmp/plain.csv"
id=$job_id
note "plain job: $id"
finish plain "$id"
out="$tmp/plain.out"
grep -qE 'mpirun -np 2 .*dnn-train .*--checkpoint ' "$out" ||
  fail "plain: the batch script's launch line lacks 'mpirun -np 2 ... dnn-train ... --checkpoint'"
if grep -q -- '--resume' "$out"; then fail "plain: --resume passed although no checkpoint existed"; fi
line=$(final_line "$out")
[[ -n "$line" ]] || fail "plain: no 'final ' line in $out"
note "plain: $line ($((SECONDS - t0))s)"
[[ "$(final_field "$line" iterations)" == 2000 ]] || fail "plain: expected iterations=2000 in: $line"
acc=$(final_field "$line" test_accuracy)
[[ -n "$acc" ]] || fail "plain: no test_accuracy in: $line"
awk -v a="$acc" -v min="$MIN_ACCURACY" 'BEGIN { exit !(a >= min) }' ||
  fail "plain: test_accuracy=$acc < $MIN_ACCURACY"
[[ -s "$tmp/plain.csv" ]] || fail "plain: no metrics file"
# The default checkpoint name is dnn-checkpoint.h5 in the submit folder.
"$python" - "$tmp/dnn-checkpoint.h5" 2000 <<'EOF' || fail "plain: checkpoint check failed"
import sys
import h5py
path, iters = sys.argv[1], int(sys.argv[2])
with h5py.File(path, "r") as f:
    fmt = f.attrs["format"]
    fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
    assert fmt == "dnn-checkpoint", f"format attribute is {fmt!r}"
    assert int(f.attrs["iteration"]) == iters, f"iteration={f.attrs['iteration']}, want {iters}"
    assert f["W1"].shape == (8, 2), f"W1 shape {f['W1'].shape}"
    assert f["W2"].shape == (1, 8), f"W2 shape {f['W2'].shape}"
print("checkpoint ok:", path)
EOF

# ------------------------------------------- 1b: the srun launcher -------
# DNN_LAUNCHER=srun starts the ranks with srun --mpi=pmix instead of mpirun.
if [[ "$mode" == slurm ]]; then
  t0=$SECONDS
  export DNN_CHECKPOINT="$tmp/srun.h5"
  DNN_LAUNCHER=srun submit srun "${common[@]}" --iterations 500 --print-every 100
  unset DNN_CHECKPOINT
  finish srun "$job_id"
  grep -qE 'srun --mpi=pmix --ntasks=2 .*dnn-train ' "$tmp/srun.out" ||
    fail "srun: the launch line lacks 'srun --mpi=pmix --ntasks=2 ... dnn-train'"
  line=$(final_line "$tmp/srun.out")
  [[ "$(final_field "$line" iterations)" == 500 ]] || fail "srun: expected a final line with iterations=500, got: '$line'"
  [[ "$(checkpoint_iteration "$tmp/srun.h5")" == 500 ]] || fail "srun: checkpoint iteration is not 500"
  note "srun: $line ($((SECONDS - t0))s)"
fi

# ---------------------------------------- 2: USR1, requeue, resume --------
# The options come from a config file, which the requeued job reads again:
# the first run is practically endless, so the signal surely lands mid-run,
# and before the job is released the file is edited to stop EXTRA_ITERATIONS
# after the checkpoint (--iterations counts the whole run).
write_config() {  # write_config ITERATIONS
  cat > "$tmp/long.conf" <<EOF
# dnn-train options for the interrupted job (key = value, as --config reads)
data = $tmp/blobs.h5
test = $tmp/blobs.h5
layers = 8
hidden-activation = tanh
output = sigmoid
lr = 0.3
seed = 3
iterations = $1
print-every = 200
EOF
}
write_config "$ENDLESS_ITERATIONS"
export DNN_CHECKPOINT="$tmp/long.h5"
t0=$SECONDS
submit long --config "$tmp/long.conf"
id=$job_id
note "long job: $id"
# Signal once the trainer is iterating: a progress line past iteration 0,
# or failing that 2 s after its first output.  Its signal handlers are
# installed before it prints anything.
seen=-1
for (( t = 0; t < JOB_TIMEOUT * 10; t++ )); do
  if grep -qE 'iteration [1-9][0-9]*' "$tmp/long.out" 2>/dev/null; then
    break
  fi
  if (( seen < 0 )) && grep -qv '^dnn-train.sbatch:' "$tmp/long.out" 2>/dev/null; then
    seen=$t
  fi
  (( seen >= 0 && t - seen >= 20 )) && break
  sleep 0.1
done
(( t < JOB_TIMEOUT * 10 )) || fail "long: the trainer printed nothing within ${JOB_TIMEOUT}s"
if [[ "$mode" == slurm ]]; then
  scancel --batch --signal=USR1 "$id"
  # The script requeues the job; Slurm then holds it (BeginTime, about two
  # minutes) before it may start again, so release it at once -- but only
  # once it is PENDING: while the first run is still COMPLETING, an update
  # races with the requeue.
  requeued=0
  for (( t = 0; t < JOB_TIMEOUT * 2; t++ )); do
    state=$(job_field "$id" JobState)
    restarts=$(job_field "$id" Restarts)
    if [[ "$restarts" -ge 1 && "$state" == PENDING ]] 2>/dev/null; then
      requeued=1
      break
    fi
    case "$state" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL) break ;; esac
    sleep 0.5
  done
  (( requeued )) ||
    fail "long: job $id was not requeued after SIGUSR1 (state $(job_field "$id" JobState), restarts $(job_field "$id" Restarts))"
  grep -q 'requeueing job' "$tmp/long.out" || fail "long: no 'requeueing job' message in long.out"
else
  kill -USR1 "$id"
  rc=0
  wait "$id" || rc=$?
  (( rc == 0 )) || fail "long: batch script exited $rc after SIGUSR1, expected 0 (requeued)"
  grep -q "^requeue direct-long" "$tmp/scontrol.calls" ||
    fail "long: the script did not call 'scontrol requeue direct-long'"
fi
[[ -s "$DNN_CHECKPOINT" ]] || fail "long: no checkpoint written before the requeue"
stopped=$(checkpoint_iteration "$DNN_CHECKPOINT") || fail "long: cannot read the checkpoint's iteration"
(( stopped > 0 && stopped < ENDLESS_ITERATIONS )) ||
  fail "long: checkpoint iteration $stopped is not inside the run (0, $ENDLESS_ITERATIONS)"
iters=$(( stopped + EXTRA_ITERATIONS ))
write_config "$iters"
if [[ "$mode" == slurm ]]; then
  note "long: requeued after SIGUSR1 at $((SECONDS - t0))s, checkpoint at iteration $stopped; releasing it to run to $iters"
  # slurmd revoked the first run's job credential when it was killed, and it
  # refuses ("Job credential revoked", the job FAILS) a new launch whose
  # credential is from the same second as that revocation (whole seconds):
  # release it only once the clock has moved on by two seconds.
  sleep 2
  scontrol update JobId="$id" StartTime=now
  finish long "$id"
else
  note "long: stopped at iteration $stopped and asked for a requeue; running it again as Slurm would, to $iters"
  submit long --config "$tmp/long.conf"
  id=$job_id
  finish long "$id"
fi
grep -q -- "exists: resuming" "$tmp/long.out" || fail "long: the second run did not resume"
grep -qE 'mpirun -np 2 .*--checkpoint .*--resume' "$tmp/long.out" ||
  fail "long: the second launch line lacks --resume"
line=$(final_line "$tmp/long.out")
[[ -n "$line" ]] || fail "long: no 'final ' line after the resume"
note "long: $line ($((SECONDS - t0))s)"
[[ "$(final_field "$line" iterations)" == "$iters" ]] || fail "long: expected iterations=$iters in: $line"

# The same training without interruption, launched directly.
unset DNN_CHECKPOINT
(
  cd "$tmp"
  mpirun -np 2 "$trainer" --config "$tmp/long.conf" --checkpoint "$tmp/straight.h5" \
    > "$tmp/straight.out" 2>&1
) || fail "straight: uninterrupted reference run failed (see straight.out)"
"$python" - "$tmp/long.h5" "$tmp/straight.h5" "$iters" <<'EOF' || fail "long: resumed run differs from the uninterrupted one"
import sys
import h5py
import numpy as np
a_path, b_path, iters = sys.argv[1], sys.argv[2], int(sys.argv[3])
with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
    for f in (a, b):
        assert int(f.attrs["iteration"]) == iters, f"{f.filename}: iteration={f.attrs['iteration']}"
    for name in ("W1", "b1", "W2", "b2"):
        x, y = a[name][()], b[name][()]
        assert x.dtype == y.dtype and x.shape == y.shape, name
        # Exact equality: README, Checkpoints and dnn-predict promises bitwise-identical resumes.
        if not np.array_equal(x, y):
            d = np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))
            raise AssertionError(f"{name} differs, max |diff| = {d:.3g}")
print("resumed == uninterrupted (W1, b1, W2, b2 bitwise)")
EOF

if [[ "$mode" == slurm ]]; then
  note "PASS (real Slurm: sbatch, SIGUSR1, requeue, resume)"
else
  note "SKIP: the batch script works when run directly, but sbatch did not run: $why_no_slurm"
  exit 77
fi
