# shellcheck shell=bash disable=SC2034
# Shared helpers for the launch scripts: Debian package checks and the
# Open MPI settings for root.  Source it from bash; it defines functions and
# changes nothing until they are called.
#
#   dnn_require_packages PKG...   installs the missing ones (root), or prints
#                                 the apt-get command and returns 1
#   dnn_mpi_root_env              exports OMPI_ALLOW_RUN_AS_ROOT* only as root

# Packages the build, the test suite and the launch scripts use (python3-torch:
# the batch-norm cross-check against BatchNorm1d and the benchmarks in tests/bench).
DNN_BUILD_PACKAGES=(
  cmake pkg-config gcc libc6-dev make
  libopenmpi-dev openmpi-bin openssh-client
  libopenblas-dev
  libdnnl-dev
  libhdf5-dev hdf5-tools
  zlib1g-dev
  protobuf-c-compiler libprotobuf-c-dev
)
DNN_TEST_PACKAGES=(
  libcunit1-dev
  python3-numpy python3-h5py python3-sklearn
  dataset-fashion-mnist
  gnuplot-nox
  slurm-wlm munge
  procps valgrind
  clang libclang-rt-14-dev
  iproute2 util-linux
  man-db python3-onnx
  python3-torch
)
DNN_RUN_PACKAGES=(
  python3-numpy python3-h5py
  dataset-fashion-mnist
  gnuplot-nox
)

# Prints the packages among "$@" that dpkg does not report as installed
# (removed-but-configured ones count as missing).
dnn_missing_packages() {
  local pkg status
  for pkg in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != "installed" ]]; then
      printf '%s\n' "$pkg"
    fi
  done
}

dnn_require_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "dnn: dpkg-query not found; this script expects Debian or Ubuntu." >&2
    echo "dnn: install by hand: $*" >&2
    return 1
  fi
  local missing=()
  mapfile -t missing < <(dnn_missing_packages "$@")
  if (( ${#missing[@]} == 0 )); then
    return 0
  fi
  local cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "dnn: missing Debian packages: ${missing[*]}" >&2
    echo "dnn: install them with:" >&2
    echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive ${cmd[*]}" >&2
    return 1
  fi
  echo "dnn: installing missing Debian packages: ${missing[*]}" >&2
  if [[ -z "${DNN_APT_UPDATED:-}" ]]; then
    apt-get update
    DNN_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive "${cmd[@]}"
  # Verify: apt-get can succeed yet leave a package half-configured.
  mapfile -t missing < <(dnn_missing_packages "$@")
  if (( ${#missing[@]} > 0 )); then
    echo "dnn: still missing after apt-get: ${missing[*]}" >&2
    return 1
  fi
}

# Open MPI refuses to run as root unless told twice; only ever say so as root.
dnn_mpi_root_env() {
  if [[ "$(id -u)" -eq 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1
    export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
}

# Number of online CPUs (getconf works where nproc is missing).
dnn_ncpus() {
  nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1
}
