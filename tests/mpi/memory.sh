#!/usr/bin/env bash
# Peak resident memory per rank: each rank reads only its own shard, so memory
# per rank is O(m / N + parameters) (README, Data: HDF5 as you have it).  Not a ctest (it moves a few
# hundred MB and takes ~10-30 s); run it by hand:
#
#   tests/mpi/memory.sh BUILD_DIR [ITERATIONS]
#
# Data: a 60000 x 28 x 28 uint8 set -- Fashion-MNIST made with BUILD_DIR's
# datasets/dnn-fashion-mnist when it and /usr/share/datasets/fashion-mnist
# exist, else numpy random pixels with labels 0..9.  Trains
# `--layers 64,32 --scale 1/255 --binary-threshold 5` full batch for a few
# iterations under `mpiexec -n 1` and `mpiexec -n 4`, every rank under
# `/usr/bin/time -f %M` (maximum resident set size, KiB) through a wrapper
# that names the output by OMPI_COMM_WORLD_RANK.  Prints every rank's peak,
# the largest per N, and the ratio; exits 1 unless
#   max peak per rank at N=4  <  0.5 * peak at N=1.
set -u
build=${1:?usage: memory.sh BUILD_DIR [ITERATIONS]}
iters=${2:-3}
build=$(cd "$build" && pwd)
train=$build/dnn-train
py=/usr/bin/python3
mpiexec=${DNN_MPIEXEC:-mpiexec}
[ -x "$train" ] || { echo "memory.sh: $train not found (build first)"; exit 1; }
[ -x /usr/bin/time ] || { echo "memory.sh: /usr/bin/time missing (apt-get install time)"; exit 1; }
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OPENBLAS_NUM_THREADS=1 OMPI_MCA_rmaps_base_oversubscribe=1

work=$(mktemp -d "${TMPDIR:-/tmp}/dnn-mem-XXXXXX")
trap 'rm -rf "$work"' EXIT
data=$work/fmnist.h5
src=/usr/share/datasets/fashion-mnist
if [ -x "$build/datasets/dnn-fashion-mnist" ] && [ -f "$src/train-images-idx3-ubyte.gz" ]; then
  timeout 300 "$build/datasets/dnn-fashion-mnist" --src "$src" "$data" >/dev/null \
    || { echo "memory.sh: dnn-fashion-mnist failed"; exit 1; }
  what="Fashion-MNIST (dnn-fashion-mnist)"
else
  timeout 300 "$py" - "$data" <<'EOF' || { echo "memory.sh: making random data failed"; exit 1; }
import sys, h5py, numpy as np
rs = np.random.RandomState(0)
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("train_x", data=rs.randint(0, 256, size=(60000, 28, 28)).astype(np.uint8))
    f.create_dataset("train_y", data=rs.randint(0, 10, size=60000).astype(np.uint8))
EOF
  what="random uint8 60000x28x28"
fi
echo "data: $what, $(du -h "$data" | cut -f1) on disk"

cat >"$work/wrap.sh" <<EOF
#!/bin/sh
exec /usr/bin/time -f %M -o "$work/peak.\$NPROCS.\${OMPI_COMM_WORLD_RANK:-0}" "\$@"
EOF
chmod +x "$work/wrap.sh"

run() {
  local n=$1
  NPROCS=$n timeout -k 5 600 "$mpiexec" --oversubscribe -x NPROCS -n "$n" "$work/wrap.sh" "$train" \
    --data "$data" --scale 0.00392156862745098 --binary-threshold 5 --layers 64,32 \
    --iterations "$iters" --lr 0.05 --quiet >"$work/out.$n" 2>"$work/err.$n"
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "memory.sh: N=$n failed (exit $rc):"; tail -5 "$work/err.$n"; exit 1
  fi
  echo "N=$n: $(tail -1 "$work/out.$n")"
}

peak() { # largest peak (KiB) over the ranks of run N, and the list
  local n=$1 r max=0 v list=""
  for ((r = 0; r < n; r++)); do
    v=$(tail -1 "$work/peak.$n.$r" 2>/dev/null)
    [[ "$v" =~ ^[0-9]+$ ]] || { echo "memory.sh: no peak figure for N=$n rank $r" >&2; exit 1; }
    list+=" $v"
    [ "$v" -gt "$max" ] && max=$v
  done
  echo "$max$list"
}

run 1
run 4
read -r p1 l1 <<<"$(peak 1)" || exit 1
read -r p4 l4 <<<"$(peak 4)" || exit 1
[ -n "$p1" ] && [ -n "$p4" ] || exit 1
echo "peak RSS per rank, N=1: ${l1# } KiB  ($((p1 / 1024)) MiB)"
echo "peak RSS per rank, N=4: ${l4# } KiB  (max $((p4 / 1024)) MiB)"
ratio=$(awk -v a="$p4" -v b="$p1" 'BEGIN { printf "%.3f", a / b }')
raw=$((60000 * 784 * 4 / 1024))
echo "ratio max(N=4) / N=1 = $ratio   (float32 X alone: $((raw / 1024)) MiB at N=1, $((raw / 4096)) MiB per rank at N=4)"
if awk -v a="$p4" -v b="$p1" 'BEGIN { exit !(a < 0.5 * b) }'; then
  echo "PASS memory: per-rank peak at N=4 is below half of N=1"
else
  echo "FAIL memory: per-rank peak at N=4 ($p4 KiB) is not below half of N=1 ($p1 KiB)"
  exit 1
fi
