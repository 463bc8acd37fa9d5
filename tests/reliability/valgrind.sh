#!/usr/bin/env bash
# dnn-train under valgrind memcheck: no invalid access, no use of
# uninitialised memory, no definite leak (outside Open MPI's own, see
# openmpi.supp), on single-process runs (MPI singleton, no mpiexec).
#
#   valgrind.sh SOURCE_DIR BUILD_DIR PYTHON
#
# The project's Release build uses -march=native, whose AVX-512 instructions
# valgrind 3.19 cannot decode (SIGILL), so dnn-train is built again in
# BUILD_DIR with CMAKE_BUILD_TYPE=Debug (-g, no -march=native); the build is
# incremental when BUILD_DIR is kept.  DNN_TRAIN_VALGRIND=/path/to/dnn-train
# skips the build.  Runs (valgrind --error-exitcode=99 --leak-check=full
# --errors-for-leak-kinds=definite):
#   train   softmax, 3 classes, 2 hidden layers, --standardize, mini-batches,
#           --test, --metrics, --checkpoint-every, double precision; exit 0
#   resume  --resume from that checkpoint to more iterations; exit 0
#   nan     an input with a NaN: the error path; exit 1 (from dnn-train)
# A run passes when valgrind reports no error (exit is not 99, "ERROR
# SUMMARY: 0 errors") and dnn-train's exit code is the expected one.
# Exit 77 when valgrind is not installed.
set -u
src=${1:?usage: valgrind.sh SOURCE_DIR BUILD_DIR PYTHON}
bld=${2:?build dir}
py=${3:?python}
here=$(cd "$(dirname "$0")" && pwd)
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; exit 77; }
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OPENBLAS_NUM_THREADS=1

train=${DNN_TRAIN_VALGRIND:-}
if [ -z "$train" ]; then
  t0=$(date +%s)
  if ! { cmake -S "$src" -B "$bld" -DCMAKE_BUILD_TYPE=Debug -DBUILD_TESTING=OFF -DDNN_SANITIZE=OFF &&
         cmake --build "$bld" --target dnn-train -j2; } >"$bld.log" 2>&1; then
    echo "FAIL: the Debug build of dnn-train for valgrind failed:"
    tail -n 20 "$bld.log"
    exit 1
  fi
  train=$bld/dnn-train
  echo "built $train (Debug, no -march=native) in $(($(date +%s) - t0)) s"
fi
echo "$(valgrind --version), suppressions $here/openmpi.supp"

work=$(mktemp -d "${TMPDIR:-/tmp}/dnn-rel-vg-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
"$py" - <<'EOF' || exit 1
import h5py, numpy as np
rng = np.random.default_rng(11)
X = rng.standard_normal((300, 6)).astype(np.float32) * 3 + 1
Y = (np.argmax(X[:, :3], axis=1)).astype(np.int64)
with h5py.File("train.h5", "w") as f:
    f["train_x"] = X
    f["train_y"] = Y
    f["test_x"] = X[:50]
    f["test_y"] = Y[:50]
Xn = X.copy()
Xn[123, 4] = np.nan
with h5py.File("nan.h5", "w") as f:
    f["train_x"] = Xn
    f["train_y"] = Y
EOF

VG=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --num-callers=50
    --suppressions="$here/openmpi.supp")
COMMON=(--layers 8,5 --hidden-activation tanh --output softmax --classes 3 --standardize --batch-size 64
        --lr 0.05 --precision double --print-every 10 --quiet --checkpoint ck.h5)
passed=0 failed=0
run() { # name want_rc args...
  local name=$1 want=$2
  shift 2
  local t0 rc
  t0=$(date +%s.%N)
  timeout -k 5 120 "${VG[@]}" "$train" "$@" </dev/null >"$name.out" 2>"$name.vg"
  rc=$?
  local secs summary
  secs=$(echo "$(date +%s.%N) - $t0" | bc)
  summary=$(grep 'ERROR SUMMARY' "$name.vg" | tail -n 1 | sed 's/^==[0-9]*== //')
  local lost
  lost=$(grep 'definitely lost:' "$name.vg" | tail -n 1 | sed 's/^==[0-9]*== *//')
  if [ "$rc" -eq "$want" ] && [[ $summary == "ERROR SUMMARY: 0 errors"* ]]; then
    printf 'PASS %-7s exit %d, %5.1fs: %s; %s\n' "$name" "$rc" "$secs" "$summary" "${lost:-no leak line}"
    passed=$((passed + 1))
  else
    printf 'FAIL %-7s exit %d (expected %d), %5.1fs: %s\n' "$name" "$rc" "$want" "$secs" "$summary"
    echo "  command: ${VG[*]} $train $*"
    grep -E -A 25 'Invalid|uninitialised|definitely lost in loss record|Mismatched|overlap|Syscall param' "$name.vg" |
      head -n 80 | sed 's/^/  /'
    grep 'dnn-train:' "$name.vg" | sed 's/^/  stderr: /'
    failed=$((failed + 1))
  fi
}

run train 0 --data train.h5 "${COMMON[@]}" --iterations 40 --checkpoint-every 15 --test train.h5 --metrics m.csv
run resume 0 --data train.h5 "${COMMON[@]}" --iterations 60 --resume --test train.h5 --metrics m.csv
run nan 1 --data nan.h5 "${COMMON[@]}" --iterations 10 --checkpoint nan-ck.h5
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
