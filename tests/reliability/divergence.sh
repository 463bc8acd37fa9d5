#!/usr/bin/env bash
# A learning rate far too large makes the cost overflow: dnn-train must stop
# with exit 1 and one message that gives the iteration and suggests a smaller
# --lr, every rank must leave (no hang), and the last checkpoint written by
# --checkpoint-every must stay valid (opens, format attribute, finite W/b,
# iteration = the diverging iteration, no .tmp left).
#
#   divergence.sh DNN_TRAIN PYTHON MPIEXEC
#
# Cases, each at N = 1 and N = 3 under `timeout -k 5 60`:
#   linear  - linear regression (MSE), --lr 1e6, --rng numpy, one mini-batch of
#             all m (float sums: full batch adds exact fixed-point chunk sums,
#             which overflow first, as in det): the iteration is checked
#             against a float64 reference (relcheck.py diverge), and so are the
#             costs recorded before it (1e-3 relative);
#   relu    - a 5-8-8-1 relu net with a sigmoid output, --lr 1e6: the iteration
#             must be the first one missing from the metrics file;
#   det     - the linear case in full batch with --deterministic, whose exact fixed-point sums
#             overflow (a chunk sum beyond exact.h's bound) long before float32 does: same
#             checks as relu.
set -u
train=${1:?usage: divergence.sh DNN_TRAIN PYTHON MPIEXEC}
py=${2:?python}
mpiexec=${3:?mpiexec}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
rel_env
rel_workdir div
"$py" "$rel" regress reg.h5 || exit 1
"$py" "$rel" classify cls.h5 600 5 7 || exit 1

passed=0 failed=0
run_case() { # name np data extra-args...
  local name=$1 np=$2 data=$3
  shift 3
  local tag=${name}_np$np launcher=() why=()
  [ "$np" -gt 1 ] && launcher=("$mpiexec" --oversubscribe -n "$np")
  rm -f "$tag.ck.h5" "$tag.ck.h5.tmp" "$tag.csv"
  local t0 t1 rc
  t0=$(date +%s.%N)
  timeout -k 5 60 "${launcher[@]}" "$train" --data "$data" --lr 1e6 --iterations 200 --print-every 1 \
    --metrics "$tag.csv" --checkpoint "$tag.ck.h5" --checkpoint-every 1 "$@" </dev/null >"$tag.out" 2>"$tag.err"
  rc=$?
  t1=$(date +%s.%N)
  local secs
  secs=$(echo "$t1 - $t0" | bc)
  case $rc in
    1) ;;
    124 | 137) why+=("exit $rc: timed out (hang?)") ;;
    *) why+=("exit $rc, expected 1") ;;
  esac
  local nmsg line k
  nmsg=$(grep -c "dnn-train:" "$tag.err")
  [ "$nmsg" -eq 1 ] || why+=("$nmsg lines contain 'dnn-train:', expected 1")
  line=$(grep -m1 'dnn-train:' "$tag.err")
  k=$(printf '%s\n' "$line" | sed -n 's/.*diverged at iteration \([0-9][0-9]*\).*/\1/p')
  [ -n "$k" ] || why+=("message does not say 'diverged at iteration K': '$line'")
  grep -Eqi 'smaller --lr|smaller learning rate|reduce --lr' "$tag.err" || why+=("message does not suggest a smaller --lr")
  grep -q -- '1e+06\|1000000' "$tag.err" || why+=("message does not show the --lr value")
  [ -e "$tag.ck.h5.tmp" ] && why+=("partial checkpoint $tag.ck.h5.tmp left behind")
  if [ -n "$k" ]; then
    if [ "$name" = linear ]; then
      "$py" "$rel" diverge "$data" 1e6 "$tag.csv" "$k" >"$tag.ref" 2>&1 || why+=("reference: $(tail -n 1 "$tag.ref")")
    else
      local last
      last=$(tail -n 1 "$tag.csv" | cut -d, -f1)
      [ "$last" = $((k - 1)) ] || why+=("metrics end at iteration $last, message says $k")
    fi
    # the checkpoint of iteration k (parameters after update k-1) is the last one written
    "$py" "$rel" ckpt "$tag.ck.h5" --iteration "$k" >"$tag.ckout" 2>&1 || why+=("checkpoint: $(tail -n 1 "$tag.ckout")")
  fi
  if [ ${#why[@]} -eq 0 ]; then
    printf 'PASS %-7s N=%d  %5.2fs  %s | %s\n' "$name" "$np" "$secs" "$line" "$(tail -n 1 "$tag.ckout")"
    [ -e "$tag.ref" ] && sed 's/^/     /' "$tag.ref"
    passed=$((passed + 1))
  else
    printf 'FAIL %-7s N=%d  %5.2fs\n' "$name" "$np" "$secs"
    for w in "${why[@]}"; do echo "  - $w"; done
    echo "  command: ${launcher[*]} $train --data $data --lr 1e6 --iterations 200 --print-every 1 --metrics $tag.csv --checkpoint $tag.ck.h5 --checkpoint-every 1 $*"
    sed 's/^/  stderr: /' "$tag.err" | head -n 15
    failed=$((failed + 1))
  fi
}

for np in 1 3; do
  run_case linear "$np" reg.h5 --output linear --rng numpy --init he --batch-size 1000000000
  run_case relu "$np" cls.h5 --layers 8,8 --hidden-activation relu
  run_case det "$np" reg.h5 --output linear --deterministic
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
