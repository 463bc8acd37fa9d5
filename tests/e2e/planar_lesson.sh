#!/usr/bin/env bash
# The course's planar "flower" lesson, end to end:
#   one hidden layer of 4 tanh units, sigmoid output, lr 1.2, 10000 iterations,
#   W = randn * 0.01 after np.random.seed(2) (the course's initialize_parameters),
#   must separate the petals: train_accuracy >= 0.88 (the course reaches 0.90);
#   logistic regression on the same set must fail: train_accuracy < 0.60 (the
#   course's is 0.47), because the classes are not linearly separable.
# Both runs use dnn-train's default precision (single).
#
#   planar_lesson.sh DNN_TRAIN PYTHON [DNN_PLANAR] [LAUNCHER]
# DNN_PLANAR (the datasets/planar generator) is used when given and non-empty;
# otherwise the set is made with numpy by tests/ref/make_data.py planar.
# LAUNCHER, e.g. "mpiexec -n 2", is split on spaces and put before dnn-train.
set -u
train=${1:?usage: planar_lesson.sh DNN_TRAIN PYTHON [DNN_PLANAR] [LAUNCHER]}
py=${2:?python}
gen=${3:-}
launcher=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

work=$(mktemp -d "${TMPDIR:-/tmp}/dnn-planar-XXXXXX")
trap 'rm -rf "$work"' EXIT
data=$work/planar.h5
if [ -n "$gen" ]; then
  echo "data: $gen $data"
  "$gen" "$data" || { echo "FAIL: $gen exited $?"; exit 1; }
else
  echo "data: make_data.py planar (numpy)"
  "$py" "$here/../ref/make_data.py" planar "$data" || exit 1
fi

passed=0 failed=0
# run NAME MIN MAX ARGS...: train, take train_accuracy from the `final` line,
# assert MIN <= accuracy < MAX.
run() {
  local name=$1 lo=$2 hi=$3
  shift 3
  local out=$work/$name.out
  # shellcheck disable=SC2086
  timeout -k 5 300 $launcher "$train" --data "$data" --x X --y Y "$@" >"$out" 2>"$work/$name.err"
  local rc=$?
  local fin acc
  fin=$(grep '^final ' "$out" | tail -n 1)
  acc=$(printf '%s\n' "$fin" | tr ' ' '\n' | sed -n 's/^train_accuracy=//p')
  if [ "$rc" -ne 0 ] || [ -z "$acc" ]; then
    echo "FAIL $name: exit $rc, final line '$fin'"
    sed 's/^/  stderr: /' "$work/$name.err" | tail -n 20
    echo "  command: $launcher $train --data $data --x X --y Y $*"
    failed=$((failed + 1))
    return
  fi
  if "$py" -c "import sys; a=float(sys.argv[1]); sys.exit(0 if $lo <= a < $hi else 1)" "$acc"; then
    echo "PASS $name: train_accuracy=$acc in [$lo, $hi)   ($fin)"
    passed=$((passed + 1))
  else
    echo "FAIL $name: train_accuracy=$acc, expected in [$lo, $hi)   ($fin)"
    echo "  command: $launcher $train --data $data --x X --y Y $*"
    failed=$((failed + 1))
  fi
}

common=(--output sigmoid --lr 1.2 --iterations 10000 --print-every 1000
        --rng numpy --seed 2)
run shallow_tanh_4 0.88 1.01 --layers 4 --hidden-activation tanh \
  --init normal --init-scale 0.01 "${common[@]}"
run logistic_regression 0 0.60 --init zeros "${common[@]}"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
