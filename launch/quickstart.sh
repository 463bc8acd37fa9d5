#!/usr/bin/env bash
# The first command to run: installs what is missing (Debian/Ubuntu), builds
# dnn, converts Fashion-MNIST to HDF5, trains a 784-256-128-10 softmax
# network on 2 MPI ranks, evaluates it on the test set and draws the
# learning curve.
#
#   launch/quickstart.sh
#
# Environment:
#   DNN_BUILD_DIR  build folder (default <project>/build)
#   DNN_OUT        results folder (default <build>/quickstart)
#   DNN_NP         MPI ranks (default 2)
#   DNN_EPOCHS     training epochs (default 20)
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$here/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/deps.sh
source "$here/lib/deps.sh"

start=$SECONDS
step() { printf '\n== %s\n' "$*"; }

step "checking Debian packages"
# libcunit1-dev: the default configure also sets up the test suite.
dnn_require_packages "${DNN_BUILD_PACKAGES[@]}" "${DNN_RUN_PACKAGES[@]}" libcunit1-dev
dnn_mpi_root_env

build=${DNN_BUILD_DIR:-$root/build}
out=${DNN_OUT:-$build/quickstart}
np=${DNN_NP:-2}
epochs=${DNN_EPOCHS:-20}

step "building (Release) in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(dnn_ncpus)" --target dnn-train dnn-predict dnn-fashion-mnist

find_program() {  # the target's file, wherever the generator put it
  local p
  for p in "$build/$1" "$build/src/$1" "$build/datasets/$1"; do
    [[ -x "$p" ]] && { echo "$p"; return 0; }
  done
  echo "quickstart: built $1 not found under $build" >&2
  return 1
}
train=$(find_program dnn-train)
predict=$(find_program dnn-predict)
convert=$(find_program dnn-fashion-mnist)

mkdir -p "$out"
data="$out/fashion-mnist.h5"
checkpoint="$out/checkpoint.h5"
best="$out/best-checkpoint.h5"
metrics="$out/metrics.csv"
plot="$out/learning-curve.png"
predictions="$out/test-predictions.csv"

step "dataset"
if [[ -s "$data" ]]; then
  echo "using $data"
else
  # Converts /usr/share/datasets/fashion-mnist/*.gz (dataset-fashion-mnist).
  "$convert" "$data.tmp"
  mv -f -- "$data.tmp" "$data"
  echo "wrote $data"
fi

# One BLAS thread per rank when the ranks fill the cores.
ncpu=$(dnn_ncpus)
threads=$(( ncpu / np > 0 ? ncpu / np : 1 ))
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$threads}
mpirun=(mpirun -np "$np")
if (( np > ncpu )); then
  mpirun+=(--oversubscribe)
fi
if (( OPENBLAS_NUM_THREADS > 1 )); then
  mpirun+=(--bind-to none)
fi

# Under mpirun the ranks' stdout is a pty even when ours is a file or pipe;
# ask for plain progress lines unless a person is watching.
if [[ ! -t 1 ]]; then
  export DNN_PROGRESS=${DNN_PROGRESS:-lines}
fi

step "training: ${mpirun[*]} dnn-train ($epochs epochs)"
rm -f -- "$checkpoint" "$best" "$metrics"
# Course 2's recipe: Adam with an exponentially decaying learning rate, and a
# dev set of 10% held out of the training examples (its cost and accuracy are
# printed at every record; the best parameters go to best-checkpoint.h5).
# 211 mini-batches of 256 make one epoch of the 54000 training examples;
# accuracy is measured at every print, so printing twice per epoch keeps
# evaluation cheap.
"${mpirun[@]}" "$train" \
  --data "$data" --scale 0.00392156862745098 \
  --layers 256,128 --hidden-activation relu --output softmax --classes 10 \
  --init he --seed 1 --optimizer adam --lr 0.002 --lr-decay exponential --decay-rate 0.85 \
  --batch-size 256 --epochs "$epochs" \
  --validation-split 0.1 --best-checkpoint "$best" \
  --print-every 106 \
  --test "$data" \
  --metrics "$metrics" --checkpoint "$checkpoint" | tee "$out/train.log"
final=$(grep -E '^final ' "$out/train.log" | tail -n 1 || true)

step "evaluating on the test set"
"$predict" --model "$checkpoint" --data "$data" --x test_x --y test_y \
  --output "$predictions" | tee "$out/predict.log"

step "plotting"
"$here/plot.sh" "$metrics" "$plot" >/dev/null

step "done in $(( SECONDS - start )) s"
echo "${final:-final line missing, see $out/train.log}"
cat <<EOF
checkpoint:      $checkpoint
best (dev set):  $best
metrics (CSV):   $metrics
learning curve:  $plot
predictions:     $predictions
training log:    $out/train.log
EOF
