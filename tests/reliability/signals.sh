#!/usr/bin/env bash
# SIGTERM, SIGINT and SIGUSR1 stop a training run cleanly: dnn-train finishes
# the current step, writes --checkpoint, prints where it stopped and exits 75;
# the checkpoint validates (format attribute, W/b shapes from layer_dims,
# finite values, iteration = the one in the message, 0 < iteration < total);
# --resume then completes the run with the same W/b bytes as a run that was
# never interrupted, and the same metrics rows (iteration, cost, accuracy).
#
#   signals.sh DNN_TRAIN PYTHON MPIEXEC
#
# Cases (each under a 60 s watchdog):
#   TERM, INT, USR1  single process (MPI singleton), signal sent to dnn-train;
#                    default (non --deterministic) mode, same N on resume;
#   mpi2-USR1        `mpiexec -n 2`, SIGUSR1 sent to mpiexec, which Open MPI
#                    forwards to the ranks (ess_base_forward_signals default);
#                    --deterministic, resumed at N = 2, compared with N = 1;
#   mpi2-TERM        `mpiexec -n 2`, SIGTERM sent to mpiexec: Open MPI 4.1
#                    passes SIGTERM on to the ranks, about a second later
#                    (observed), while it tears the job down; the checkpoint
#                    is written and validated (no resume: mpi2-USR1 covers
#                    it); mpiexec itself then exits 1, not 75 (observed), so
#                    only "non-zero" is checked.
# The signal is sent once the metrics file shows iteration 200 was reached.
set -u
train=${1:?usage: signals.sh DNN_TRAIN PYTHON MPIEXEC}
py=${2:?python}
mpiexec=${3:?mpiexec}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
rel_env
rel_workdir sig
"$py" "$rel" classify data.h5 2000 50 3 || exit 1

ITER=12000
ARGS=(--data data.h5 --layers 64,32 --batch-size 100 --lr 0.05 --iterations $ITER --print-every 100 --quiet)
now() { date +%s.%N; }
passed=0 failed=0

reference() { # tag extra-args...
  local tag=$1
  shift
  timeout -k 5 120 "$train" "${ARGS[@]}" "$@" --checkpoint "$tag.h5" --metrics "$tag.csv" </dev/null >"$tag.out" 2>"$tag.err"
  local rc=$?
  echo "reference $tag: exit $rc; $(grep '^final' "$tag.out")"
  [ "$rc" -eq 0 ] || { echo "FAIL: reference run $tag exited $rc"; cat "$tag.err"; exit 1; }
}

# columns iteration, cost, train_accuracy of a metrics file (seconds differ)
rows() { cut -d, -f1-3 "$1"; }

# run_case NAME SIGNAL NP REF WANT_RC extra-args...
#   REF: the reference run to compare with after --resume, or - for no resume;
#   WANT_RC: the exit code expected after the signal, or "nonzero"
run_case() {
  local name=$1 sig=$2 np=$3 ref=$4 want=$5
  shift 5
  local launcher=() why=() total=$ITER prev=
  [ "$np" -gt 1 ] && launcher=("$mpiexec" --oversubscribe -n "$np")
  for a in "$@"; do [ "$prev" = --iterations ] && total=$a; prev=$a; done
  rm -f "$name.h5" "$name.csv"
  # timeout is the watchdog; the signal goes to its child (dnn-train or mpiexec)
  timeout -k 5 60 "${launcher[@]}" "$train" "${ARGS[@]}" "$@" --checkpoint "$name.h5" --metrics "$name.csv" \
    </dev/null >"$name.out" 2>"$name.err" &
  local tpid=$! pid=
  while kill -0 $tpid 2>/dev/null && [ "$(grep -c '^200,' "$name.csv" 2>/dev/null)" != 1 ]; do
    sleep 0.02
  done
  pid=$(pgrep -P $tpid | head -n 1)
  local ts rc te
  ts=$(now)
  [ -n "$pid" ] && kill -"$sig" "$pid" 2>/dev/null
  wait $tpid
  rc=$?
  te=$(now)
  local secs
  secs=$(echo "$te - $ts" | bc)
  if [ "$want" = nonzero ]; then
    [ "$rc" -ne 0 ] || why+=("exit 0, expected non-zero")
  else
    [ "$rc" -eq "$want" ] || why+=("exit $rc, expected $want")
  fi
  [ -n "$pid" ] || why+=("the run ended before the signal could be sent")
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && why+=("exit $rc: killed by the 60 s timeout (hang?)")
  local line k
  line=$(grep -m1 'stopped by a signal' "$name.err")
  k=$(printf '%s\n' "$line" | sed -n 's/.*at iteration \([0-9][0-9]*\).*/\1/p')
  [ -n "$k" ] || why+=("no 'stopped by a signal at iteration K' message")
  grep -q -- '--resume' "$name.err" || why+=("message does not mention --resume")
  grep -q "$name.h5" "$name.err" || why+=("message does not name the checkpoint $name.h5")
  [ "$(grep -c 'dnn-train:' "$name.err")" -eq 1 ] || why+=("$(grep -c 'dnn-train:' "$name.err") 'dnn-train:' lines on stderr, expected 1")
  if [ -n "$k" ]; then
    "$py" "$rel" ckpt "$name.h5" --iteration "$k" --iteration-below "$total" >"$name.ck" 2>&1 ||
      why+=("checkpoint: $(tail -n 1 "$name.ck")")
  fi
  resume_s=
  if [ ${#why[@]} -eq 0 ] && [ "$ref" != - ]; then
    local rs rrc
    rs=$(now)
    timeout -k 5 120 "${launcher[@]}" "$train" "${ARGS[@]}" "$@" --checkpoint "$name.h5" --metrics "$name.csv" --resume \
      </dev/null >"$name.rout" 2>"$name.rerr"
    rrc=$?
    [ "$rrc" -eq 0 ] || why+=("resume exited $rrc: $(head -n 3 "$name.rerr")")
    if [ "$rrc" -eq 0 ]; then
      "$py" "$rel" same "$ref.h5" "$name.h5" >"$name.same" 2>&1 || why+=("$(tail -n 1 "$name.same")")
      diff <(rows "$ref.csv") <(rows "$name.csv") >"$name.diff" ||
        why+=("metrics after resume differ from the reference: $(head -n 4 "$name.diff" | tr '\n' ' ')")
    fi
    resume_s=$(echo "$(now) - $rs" | bc)
  fi
  if [ ${#why[@]} -eq 0 ]; then
    local after="checkpoint valid (no resume)"
    [ -n "$resume_s" ] && after=$(printf 'resumed to equal W/b and metrics in %.1fs' "$resume_s")
    printf 'PASS %-10s N=%d  ended %.2fs after SIG%s, stopped at iteration %s, exit %d; %s\n' \
      "$name" "$np" "$secs" "$sig" "$k" "$rc" "$after"
    echo "     $line"
    passed=$((passed + 1))
  else
    printf 'FAIL %-10s N=%d  SIG%s, ended %.2fs after it\n' "$name" "$np" "$sig" "$secs"
    for w in "${why[@]}"; do echo "  - $w"; done
    echo "  command: ${launcher[*]} $train ${ARGS[*]} $* --checkpoint $name.h5 --metrics $name.csv   (then kill -$sig)"
    sed 's/^/  stderr: /' "$name.err" | head -n 12
    failed=$((failed + 1))
  fi
}

reference ref
for sig in TERM INT USR1; do
  run_case "sig$sig" "$sig" 1 ref 75
done
MPI_ARGS=(--deterministic --iterations 1500)
reference refdet "${MPI_ARGS[@]}"
run_case mpi2-USR1 USR1 2 refdet 75 "${MPI_ARGS[@]}"
# mpiexec passes SIGTERM on only after about a second (observed): run longer;
# resuming at N = 2 is already covered by mpi2-USR1
run_case mpi2-TERM TERM 2 - nonzero --deterministic --iterations 30000

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
