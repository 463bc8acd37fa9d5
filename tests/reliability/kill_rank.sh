#!/usr/bin/env bash
# SIGKILL one rank of a 3-rank job mid-training: the whole job must end within
# a bounded time with a non-zero exit, the last checkpoint must stay valid, and
# --resume from it must reach the same final parameters, bit for bit (W/b
# bytes), as a run that was never interrupted.
#
#   kill_rank.sh DNN_TRAIN PYTHON MPIEXEC
#
# Training uses --deterministic (results independent of the rank count) and
# mini-batches of 100 out of m = 2000 (20 steps per epoch) with
# --checkpoint-every 300, so the checkpoint usually falls in the middle of an
# epoch.  The reference is an uninterrupted N = 1 run.  Two jobs: rank 1 is
# killed and the run resumed at N = 3; then rank 0 (the checkpoint writer) is
# killed and the run resumed at N = 2.  The rank to kill is found among the
# processes whose command line holds the job's unique data file name, by its
# OMPI_COMM_WORLD_RANK.
set -u
train=${1:?usage: kill_rank.sh DNN_TRAIN PYTHON MPIEXEC}
py=${2:?python}
mpiexec=${3:?mpiexec}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
rel_env
rel_workdir kill
data=killdata-$$-$RANDOM.h5
"$py" "$rel" classify "$data" 2000 50 3 || exit 1

ITER=4000
ARGS=(--data "$data" --layers 64,32 --batch-size 100 --lr 0.05 --iterations $ITER --deterministic
      --print-every 250 --quiet)
failed=0
fail() { echo "FAIL: $*"; failed=1; }
now() { date +%s.%N; }

# 1. the reference: uninterrupted, N = 1
t0=$(now)
timeout -k 5 120 "$train" "${ARGS[@]}" --checkpoint ref.h5 </dev/null >ref.out 2>ref.err
rc=$?
echo "reference run (N=1, $ITER iterations): exit $rc, $(echo "$(now) - $t0" | bc) s"
[ "$rc" -eq 0 ] || { fail "reference run exited $rc"; cat ref.err; exit 1; }

# kill_and_resume VICTIM_RANK RESUME_NP
kill_and_resume() {
  local vr=$1 rnp=$2 ck=ck$1.h5
  echo "-- kill rank $vr of 3, resume at N=$rnp"
  rm -f "$ck" "$ck.tmp"
  timeout -k 5 120 "$mpiexec" --oversubscribe -n 3 "$train" "${ARGS[@]}" --checkpoint "$ck" --checkpoint-every 300 \
    </dev/null >kill$vr.out 2>kill$vr.err &
  local job=$! t0 tk tend rc secs victim=
  t0=$(now)
  while [ ! -e "$ck" ] && kill -0 $job 2>/dev/null; do
    sleep 0.05
  done
  sleep 0.1
  for pid in $(pgrep -f -- "$data"); do
    [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = dnn-train ] || continue
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$vr"; then
      victim=$pid
    fi
  done
  if [ -z "$victim" ]; then
    fail "could not find rank $vr (the job ended before the kill?)"
    wait $job
    echo "  exit $?"; sed 's/^/  stderr: /' kill$vr.err | head
    return
  fi
  tk=$(now)
  kill -KILL "$victim"
  wait $job
  rc=$?
  tend=$(now)
  secs=$(echo "$tend - $tk" | bc)
  echo "killed rank $vr (pid $victim) $(echo "$tk - $t0" | bc) s after the start; the job ended $secs s later with exit $rc"
  # mpiexec itself exits 137 (128 + SIGKILL) when a rank died of SIGKILL; a hang
  # shows as timeout's 124, or as the elapsed time.
  [ "$rc" -eq 0 ] && fail "the job exited 0 after a rank was killed"
  [ "$rc" -eq 124 ] && fail "the job hung after a rank was killed (timeout)"
  if [ "$(echo "$secs > 20" | bc)" = 1 ]; then fail "the job took $secs s (> 20 s) to end after the kill"; fi
  grep -v '^ *$' kill$vr.err | grep -v -- '-----' | head -n 4 | sed 's/^/  job stderr: /'
  local left
  left=$(pgrep -f -- "$data" | while read -r p; do [ "$(cat /proc/"$p"/comm 2>/dev/null)" = dnn-train ] && echo "$p"; done)
  [ -z "$left" ] || fail "dnn-train processes left running: $left"
  [ -e "$ck.tmp" ] && echo "  note: $ck.tmp left by the killed job (the rename never happened; the checkpoint is intact)"

  # the checkpoint stayed valid
  "$py" "$rel" ckpt "$ck" --iteration-below $ITER || { fail "checkpoint after the kill is not valid"; return; }

  # resume: equal to the reference, bitwise
  t0=$(now)
  timeout -k 5 120 "$mpiexec" --oversubscribe -n "$rnp" "$train" "${ARGS[@]}" --checkpoint "$ck" --resume \
    </dev/null >resume$vr.out 2>resume$vr.err
  rc=$?
  echo "resume at N=$rnp: exit $rc, $(echo "$(now) - $t0" | bc) s; $(grep '^final' resume$vr.out)"
  if [ "$rc" -ne 0 ]; then
    fail "resume at N=$rnp exited $rc"; sed 's/^/  stderr: /' resume$vr.err | head; return
  fi
  "$py" "$rel" ckpt "$ck" --iteration $ITER || fail "resumed checkpoint (N=$rnp) invalid"
  "$py" "$rel" same ref.h5 "$ck" || fail "resume at N=$rnp does not reproduce the uninterrupted run"
}

kill_and_resume 1 3
kill_and_resume 0 2
grep '^final' ref.out | sed 's/^/reference: /'

if [ "$failed" -eq 0 ]; then echo "PASS kill_rank"; else echo "FAIL kill_rank"; fi
exit $failed
