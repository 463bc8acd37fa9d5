#!/usr/bin/env bash
# Bad input gives one clear message and exit code 1, never a crash or a hang.
#   bad_input.sh DNN_TRAIN PYTHON [LAUNCHER]
# Table-driven: each case is run under `timeout -k 5 60` and reported on its
# own PASS/FAIL line.  A case passes when
#   - the exit code is exactly 1 (single process) -- with a LAUNCHER such as
#     "mpiexec -n 2" any code in 1..127 except 124 is accepted, since mpiexec
#     reports the ranks' failure in its own way; 124 (timeout, i.e. a hang)
#     and anything above 128 (a signal, a core dump) always fail;
#   - stderr contains every key word of the case (case-insensitive, fixed
#     strings): the file, dataset or option at fault and the bad value;
#   - single process only: stderr holds at most 4 non-empty lines (one clear
#     message, perhaps a hint such as "see --help"), not a stack of noise;
#   - no checkpoint file is left behind (the runs pass --checkpoint).
set -u
train=${1:?usage: bad_input.sh DNN_TRAIN PYTHON [LAUNCHER]}
py=${2:?python}
launcher=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
max_lines=4

work=$(mktemp -d "${TMPDIR:-/tmp}/dnn-bad-XXXXXX")
trap 'rm -rf "$work"' EXIT
mk() { "$py" "$here/../ref/make_data.py" "$@" || { echo "make_data.py $* failed"; exit 1; }; }
mk binary "$work/good.h5" --m 100
mk mismatch "$work/uneven.h5" --m-x 100 --m-y 99
mk badlabel "$work/labels_bad.h5" --m 100
mk nan "$work/x_has_gap.h5" --m 100

passed=0 failed=0
# case NAME "KEY1|KEY2|..." dnn-train ARGS...
case_() {
  local name=$1 keys=$2
  shift 2
  local ckpt=$work/$name.ckpt.h5 err=$work/$name.err
  # shellcheck disable=SC2086
  timeout -k 5 60 $launcher "$train" "$@" --iterations 5 --checkpoint "$ckpt" \
    >"$work/$name.out" 2>"$err"
  local rc=$? why=()
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    why+=("timed out after 60 s (hang)")
  elif [ "$rc" -gt 128 ]; then
    why+=("exit $rc: killed by signal $((rc - 128)) (crash)")
  elif [ -z "$launcher" ] && [ "$rc" -ne 1 ]; then
    why+=("exit code $rc, expected 1")
  elif [ "$rc" -eq 0 ]; then
    why+=("exit code 0, expected an error")
  fi
  local IFS='|' k
  for k in $keys; do
    grep -qiF -- "$k" "$err" || why+=("stderr lacks '$k'")
  done
  unset IFS
  local n
  n=$(grep -c . "$err")
  [ "$n" -ge 1 ] || why+=("stderr is empty")
  if [ -z "$launcher" ] && [ "$n" -gt "$max_lines" ]; then
    why+=("stderr has $n lines, expected at most $max_lines")
  fi
  if ls "$ckpt"* >/dev/null 2>&1; then why+=("left a checkpoint: $(ls "$ckpt"*)"); fi
  if [ ${#why[@]} -eq 0 ]; then
    echo "PASS $name (exit $rc): $(head -n 1 "$err")"
    passed=$((passed + 1))
  else
    echo "FAIL $name (exit $rc): ${why[*]}"
    echo "  command: $launcher $train $* --iterations 5 --checkpoint $ckpt"
    sed 's/^/  stderr: /' "$err" | head -n 15
    failed=$((failed + 1))
  fi
}

good=(--data "$work/good.h5")
case_ missing_file "no_such_file.h5" --data "$work/no_such_file.h5"
case_ wrong_dataset "no_such_x|good.h5" "${good[@]}" --x no_such_x
case_ count_mismatch "uneven.h5|100|99" --data "$work/uneven.h5"
case_ layers_zero "layers|0" "${good[@]}" --layers 0
case_ negative_lr "lr|-1" "${good[@]}" --lr -1
case_ unknown_activation "hidden-activation|foo" "${good[@]}" --hidden-activation foo
case_ zeros_with_hidden "zeros|symmetr" "${good[@]}" --init zeros --layers 4
# README, Data: HDF5 as you have it: a label outside its range and NaN in X are input problems too
case_ label_out_of_range "labels_bad.h5|train_y|2" --data "$work/labels_bad.h5"
case_ nan_in_x "x_has_gap.h5|train_x|nan" --data "$work/x_has_gap.h5"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
