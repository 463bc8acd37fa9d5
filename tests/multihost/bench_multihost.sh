#!/usr/bin/env bash
# Epoch time over a (shaped) network against shared memory, in the same run
# (issue 12, acceptance 2).  Not a ctest; root only (network namespaces).
#
#   tests/multihost/bench_multihost.sh [--build BUILD] [--reps N] [--epochs E]
#                                      [--batch B] [--variants LIST] [--data FILE]
#
# Cases, alternated within every round so that both see the same machine:
#   hosts2   2 hosts x 1 rank: network namespaces joined by a veth pair
#            (tests/multihost/mh.py), started by launch/multinode/run.sh over
#            TCP; each host's link shaped like a cluster network with
#            `tc qdisc ... netem delay 50us rate 10gbit` -- or, where the
#            kernel has no sch_netem (the error is printed), with
#            `tbf rate 10gbit` (rate only, no delay)
#   local2   mpirun -np 2 on one host (shared memory)
# Variants (--variants, comma-separated, default "thread,off"): the value of
# dnn-train's --comm-overlap (thread, the default: buckets reduced during
# backward, moved on by a progress thread; test: by MPI_Testall between
# products; off: one allreduce after backward); a "+bf16" suffix adds
# --comm-precision bf16 (e.g. thread+bf16).
# The network is 784-256-128-1 relu/sigmoid on Fashion-MNIST (labels y >= 5,
# X / 255; BUILD/datasets/dnn-fashion-mnist makes the file), float32, lr 0.1,
# --batch-size 256, one BLAS thread per rank, ranks yielding when idle
# (mpi_yield_when_idle 1: the machine has 2 cores).  ms per epoch is
# dnn-train's own steady-state figure (the first epoch and loading excluded).
# Prints every sample, then median and minimum per case and the ratios
# hosts2 / local2 (target <= 1.3).
set -euo pipefail
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$here/../.." && pwd)

if [[ "${1:-}" != --inner ]]; then
  build=$root/build reps=3 epochs=4 batch=256 variants=thread,off data=
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --build) build=$2; shift 2 ;;
      --reps) reps=$2; shift 2 ;;
      --epochs) epochs=$2; shift 2 ;;
      --batch) batch=$2; shift 2 ;;
      --variants) variants=$2; shift 2 ;;
      --data) data=$2; shift 2 ;;
      -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
      *) echo "bench_multihost.sh: unknown option '$1' (see --help)" >&2; exit 1 ;;
    esac
  done
  [[ "$(id -u)" -eq 0 ]] || { echo "bench_multihost.sh: needs root (network namespaces)" >&2; exit 77; }
  build=$(cd -- "$build" && pwd)
  [[ -x "$build/dnn-train" ]] || { echo "bench_multihost.sh: no dnn-train in '$build'" >&2; exit 1; }
  if [[ -z "$data" ]]; then
    data=$build/bench/fashion-mnist.h5
    if [[ ! -s "$data" ]]; then
      mkdir -p "$build/bench"
      "$build/datasets/dnn-fashion-mnist" "$data.tmp" && mv "$data.tmp" "$data"
    fi
  fi
  # the shaping this kernel allows
  shape="netem delay 50us rate 10gbit"
  probe=dnnmhbench$$
  ip netns add "$probe"
  trap 'ip netns del "$probe" 2>/dev/null || true' EXIT INT TERM
  ip -n "$probe" link add eth0 type veth peer name eth1
  if ! err=$(ip netns exec "$probe" tc qdisc add dev eth0 root $shape 2>&1); then
    echo "bench_multihost.sh: 'tc qdisc add dev eth0 root $shape' failed here: $err" >&2
    shape="tbf rate 10gbit burst 1mb latency 1ms"
    echo "bench_multihost.sh: shaping with '$shape' instead (rate only, no added delay)" >&2
  fi
  ip netns del "$probe"
  trap - EXIT INT TERM
  export BENCH_BUILD=$build BENCH_REPS=$reps BENCH_EPOCHS=$epochs BENCH_BATCH=$batch
  export BENCH_VARIANTS=$variants BENCH_DATA=$data BENCH_SHAPE=$shape
  exec /usr/bin/python3 "$here/mh.py" run 2 --shape "$shape" -- bash "$0" --inner
fi

# ---- inside: the cluster is up (mh.py run exported DNN_MH_*) ----
if [[ "$(id -u)" -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export DNN_THREADS=1 OPENBLAS_NUM_THREADS=1 DNN_BIN=$BENCH_BUILD
ln -f "$BENCH_DATA" "$DNN_MH_HOST1/fm.h5" 2>/dev/null || cp "$BENCH_DATA" "$DNN_MH_HOST1/fm.h5"
ln -f "$BENCH_DATA" "$DNN_MH_HOST2/fm.h5" 2>/dev/null || cp "$BENCH_DATA" "$DNN_MH_HOST2/fm.h5"
train=(--scale 0.00392156862745098 --layers 256,128 --binary-threshold 5 --lr 0.1 --precision single
       --epochs "$BENCH_EPOCHS" --batch-size "$BENCH_BATCH" --print-every 1000000000 --quiet --threads 1)
samples=$(mktemp)
trap 'rm -f "$samples"' EXIT

ms() { sed -n 's/.*ms_per_epoch=\([0-9.]*\).*/\1/p' | tail -n 1; }
one() { # CASE VARIANT -> ms per epoch
  local out v=(--comm-overlap "${2%+bf16}")
  [[ "$2" == *+bf16 ]] && v+=(--comm-precision bf16)
  if [[ "$1" == hosts2 ]]; then
    out=$($DNN_MH_ENTER "$root/launch/multinode/run.sh" "$DNN_MH_HOSTFILE" \
          --data "$DNN_MH_DATA/fm.h5" "${train[@]}" "${v[@]}" 2>&1) ||
      { echo "hosts2 failed: $out" >&2; return 1; }
  else
    out=$(mpirun -np 2 --bind-to none --mca mpi_yield_when_idle 1 -x OPENBLAS_NUM_THREADS \
          "$BENCH_BUILD/dnn-train" --data "$BENCH_DATA" "${train[@]}" "${v[@]}" 2>&1) ||
      { echo "local2 failed: $out" >&2; return 1; }
  fi
  echo "$out" | ms
}

echo "bench_multihost: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "network: 2 namespaces, veth, shaping: $BENCH_SHAPE (applied: $DNN_MH_SHAPED)"
echo "training: 784-256-128-1, batch $BENCH_BATCH, $BENCH_EPOCHS epochs, float32, 1 thread per rank"
IFS=, read -r -a vs <<<"$BENCH_VARIANTS"
for ((rep = 1; rep <= BENCH_REPS; rep++)); do
  for v in "${vs[@]}"; do
    for c in hosts2 local2; do
      t=$(one "$c" "$v")
      printf '%s %s %s\n' "$c" "$v" "$t" >>"$samples"
      printf 'round %d  %-7s %-9s %10s ms/epoch\n' "$rep" "$c" "$v" "$t"
    done
  done
done
/usr/bin/python3 - "$samples" "${vs[@]}" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
print("\n| variant | case | median ms/epoch | min ms/epoch | samples |")
print("|---|---|---|---|---|")
got = {}
for v in sys.argv[2:]:
    for c in ("hosts2", "local2"):
        xs = [float(r[2]) for r in rows if r[0] == c and r[1] == v]
        got[c, v] = (statistics.median(xs), min(xs))
        print("| %s | %s | %.1f | %.1f | %s |" % (v, c, got[c, v][0], got[c, v][1], " ".join("%.0f" % x for x in xs)))
print()
for v in sys.argv[2:]:
    (hm, hn), (lm, ln) = got["hosts2", v], got["local2", v]
    print("%-9s hosts2/local2: median %.2f, min %.2f (target <= 1.3)" % (v, hm / lm, hn / ln))
EOF
