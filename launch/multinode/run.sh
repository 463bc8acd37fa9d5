#!/usr/bin/env bash
# Multi-node training without a batch system: mpirun over ssh with a hostfile.
#
#   launch/multinode/run.sh HOSTFILE [dnn-train options...]
#   DNN_THREADS=4 launch/multinode/run.sh hosts --data /shared/fmnist.h5 \
#       --scale 0.00392156862745098 --layers 256,128 --output softmax \
#       --epochs 20 --batch-size 256 --checkpoint /shared/run1/ckpt.h5
#
# Requirements on the nodes:
# - Shared filesystem (NFS, Lustre, ...) or identical copies: the dnn-train
#   binary, the training/test HDF5 files and the folder of --checkpoint and
#   --metrics must be at the same path everywhere.  Every rank reads its own
#   hyperslab of the data file; only rank 0 writes the checkpoint and metrics,
#   but --resume reads the checkpoint on every rank, so it must be visible to
#   all.  HDF5 file locking over NFS can fail: export HDF5_USE_FILE_LOCKING=FALSE
#   (done below) if reads stall or fail with "unable to lock file".
# - Passwordless ssh from this machine to each node, and the same Open MPI
#   version on all of them.
# Ranks per node: the hostfile's slots=N.  Total ranks default to the sum of
# slots (DNN_NP overrides).  Threads: DNN_THREADS BLAS threads per rank
# (default 1); keep slots * threads <= cores per node, because ranks and
# BLAS threads compete for the same cores.
#
# Network: DNN_NET names the network the ranks talk over, as a subnet
# (10.1.0.0/16) or interface names (eth1,ib0), for both the MPI traffic
# (btl_tcp_if_include) and Open MPI's own start-up traffic
# (oob_tcp_if_include).  Set it whenever a node has more than one network
# (a management and a fast network, docker0, virbr0...): without it Open MPI
# may pick an interface the other nodes cannot reach and hang or crawl.
# Binding: DNN_BIND (core by default, none when DNN_THREADS > 1) is passed as
# --bind-to; use none when several "nodes" share one machine's cores (each
# node's daemon would bind its first rank to core 0).
#
# Environment: DNN_BIN (folder with dnn-train; default: the build folder next
# to this script's project, then PATH), DNN_NP, DNN_THREADS, DNN_NET, DNN_BIND,
# DNN_MPIRUN_ARGS (extra mpirun arguments, split on blanks, e.g.
# "--mca btl tcp,self --mca mpi_yield_when_idle 1").
# Tested by tests/multihost/ (namespaces as hosts, a hostfile, TCP only).
set -euo pipefail

if [[ $# -lt 1 ]]; then
  sed -n '2,8p' "$0" >&2
  exit 1
fi
hostfile=$1
shift
[[ -r "$hostfile" ]] || { echo "run.sh: cannot read hostfile '$hostfile'" >&2; exit 1; }

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$here/../.." && pwd)
if [[ -n "${DNN_BIN:-}" ]]; then
  trainer="$DNN_BIN/dnn-train"
elif [[ -x "$root/build/dnn-train" ]]; then
  trainer="$root/build/dnn-train"
else
  trainer=$(command -v dnn-train || true)
fi
[[ -n "$trainer" && -x "$trainer" ]] ||
  { echo "run.sh: cannot find dnn-train (set DNN_BIN)" >&2; exit 1; }

if [[ "$(id -u)" -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1
  export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
threads=${DNN_THREADS:-1}
export OPENBLAS_NUM_THREADS=$threads
export OMP_NUM_THREADS=$threads
export HDF5_USE_FILE_LOCKING=${HDF5_USE_FILE_LOCKING:-FALSE}

# Sum of slots=N over the hostfile's non-comment lines (a line without
# slots= counts as one slot, as Open MPI does).
slots=$(awk '!/^[[:space:]]*(#|$)/ { n = 1; for (i = 2; i <= NF; i++) if ($i ~ /^slots=/) { sub(/^slots=/, "", $i); n = $i } s += n } END { print s + 0 }' "$hostfile")
np=${DNN_NP:-$slots}
(( np > 0 )) || { echo "run.sh: no slots in '$hostfile'" >&2; exit 1; }

extra=()
if [[ -n "${DNN_MPIRUN_ARGS:-}" ]]; then
  read -r -a extra <<<"$DNN_MPIRUN_ARGS"
fi
# -x copies the named variables to the remote ranks (local environment is not
# sent over ssh otherwise).  --map-by node would place consecutive ranks on
# different nodes; the default (by slot) keeps neighbours together.
cmd=(mpirun --hostfile "$hostfile" -np "$np"
     -x OPENBLAS_NUM_THREADS -x OMP_NUM_THREADS -x HDF5_USE_FILE_LOCKING)
if [[ "$(id -u)" -eq 0 ]]; then
  cmd+=(-x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM)
fi
if [[ -n "${DNN_NET:-}" ]]; then
  # the MPI traffic (btl) and the launcher's own (oob) on the same network
  cmd+=(--mca btl_tcp_if_include "$DNN_NET" --mca oob_tcp_if_include "$DNN_NET")
fi
bind=${DNN_BIND:-}
if [[ -z "$bind" ]]; then
  bind=core
  (( threads > 1 )) && bind=none
fi
case "$bind" in
  core|socket|numa|none|hwthread|l3cache) cmd+=(--bind-to "$bind") ;;
  *) echo "run.sh: DNN_BIND must be core, socket, numa, l3cache, hwthread or none, not '$bind'" >&2; exit 1 ;;
esac
cmd+=(${extra[@]+"${extra[@]}"} "$trainer" "$@")
echo "run.sh: ${cmd[*]}" >&2
exec "${cmd[@]}"
