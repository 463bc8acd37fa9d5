#!/usr/bin/env bash
# The course's planar "flower" lesson, end to end:
#   one hidden layer of 4 tanh units, sigmoid output, lr 1.2, 10000 iterations,
#   W = randn * 0.01 after np.random.seed(2) (the course's initialize_parameters),
#   must separate the petals: train_accuracy >= 0.90 (the course's 90%; dnn
#   measures 0.905), and its cost curve must follow the float64 numpy
#   reference (tests/ref/ref_dnn.py) at iterations 0..7000 within relative
#   1e-5 (measured 1.6e-6, float32 rounding; the reference prints the course's
#   own 0.693048, 0.288083, ..., 0.217504).  After 7000 the course's trajectory
#   turns sensitive (its cost rises at 8000): dnn double and numpy double, both
#   correct, differ there by 7e-4, so later records are not compared.  An
#   accuracy bound alone is weak: with the layer-1 bias gradient removed the
#   accuracy is 0.91, but the cost at 1000 moves by 1e-2.
#   Logistic regression on the same set must fail: train_accuracy in
#   [0.45, 0.50) (the course's 0.47, measured 0.47), because the classes are
#   not linearly separable; its costs follow the reference within 3e-7 over
#   the whole run (measured 5.2e-8).
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

check_curve='
import csv, sys
import numpy as np
csv_path, ref_path, upto, tol = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
with open(csv_path, newline="") as f:
    rows = list(csv.DictReader(f))
it = np.array([int(r["iteration"]) for r in rows])
c = np.array([float(r["cost"]) for r in rows])
ref = np.load(ref_path)
if list(it) != list(ref["iterations"]):
    print("recorded iterations %s, reference %s" % (list(it), list(ref["iterations"])))
    sys.exit(1)
keep = it <= upto
rel = np.abs(c[keep] - ref["costs"][keep]) / ref["costs"][keep]
k = int(np.argmax(rel))
print("cost vs numpy float64 at iterations <= %d: max rel %.2e at %d (tol %.0e)"
      % (upto, rel[k], it[keep][k], tol))
sys.exit(0 if np.all(rel <= tol) else 1)
'

passed=0 failed=0
# run NAME MIN MAX UPTO TOL ARGS...: train, take train_accuracy from the `final`
# line, assert MIN <= accuracy < MAX and that the recorded costs at iterations
# <= UPTO agree with the numpy reference's within relative TOL.
run() {
  local name=$1 lo=$2 hi=$3 upto=$4 tol=$5
  shift 5
  local out=$work/$name.out
  # shellcheck disable=SC2086
  timeout -k 5 300 $launcher "$train" --data "$data" --x X --y Y "$@" --metrics "$work/$name.csv" \
    >"$out" 2>"$work/$name.err"
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
  local curve ok=1
  if ! "$py" "$here/../ref/ref_dnn.py" --data "$data" --x X --y Y "$@" --out "$work/$name-ref.npz" \
      >"$work/$name-ref.out" 2>&1; then
    curve="numpy reference failed: $(tail -n 3 "$work/$name-ref.out")"
    ok=0
  elif ! curve=$("$py" -c "$check_curve" "$work/$name.csv" "$work/$name-ref.npz" "$upto" "$tol"); then
    ok=0
  fi
  if ! "$py" -c "import sys; a=float(sys.argv[1]); sys.exit(0 if $lo <= a < $hi else 1)" "$acc"; then
    curve="train_accuracy=$acc, expected in [$lo, $hi); $curve"
    ok=0
  fi
  if [ "$ok" = 1 ]; then
    echo "PASS $name: train_accuracy=$acc in [$lo, $hi); $curve   ($fin)"
    passed=$((passed + 1))
  else
    echo "FAIL $name: $curve   ($fin)"
    echo "  command: $launcher $train --data $data --x X --y Y $*"
    failed=$((failed + 1))
  fi
}

common=(--output sigmoid --lr 1.2 --iterations 10000 --print-every 1000
        --rng numpy --seed 2)
run shallow_tanh_4 0.90 1.01 7000 1e-5 --layers 4 --hidden-activation tanh \
  --init normal --init-scale 0.01 "${common[@]}"
run logistic_regression 0.45 0.50 10000 3e-7 --init zeros "${common[@]}"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
