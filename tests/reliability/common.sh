# shellcheck shell=bash
# Shared set-up of the reliability scripts; source it after setting $here.
#   rel_env          Open MPI as root (only when root), one BLAS thread per rank,
#                    and ranks that wait in a collective yield their core (the
#                    machine may be shared)
#   rel_workdir TAG  a fresh work folder, removed on exit, made the current one
rel=$here/relcheck.py

rel_env() {
  if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
  export OPENBLAS_NUM_THREADS=1
  export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
}

rel_workdir() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/dnn-rel-$1-XXXXXX")
  trap 'rm -rf "$work"' EXIT
  cd "$work" || exit 1
}
