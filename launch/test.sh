#!/usr/bin/env bash
# Installs what the build and the tests need (Debian packages), configures
# and builds dnn with warnings as errors, and runs the whole test suite.
#
#   launch/test.sh                 build into build/ and run ctest
#   launch/test.sh -R unit_        extra arguments go to ctest
#
# Environment:
#   DNN_BUILD_DIR   build folder (default: <project>/build)
#   DNN_SANITIZE=ON build with ASan+UBSan (default build folder build-sanitize)
#   DNN_TEST_JOBS   tests run at once (default 2)
#   DNN_CMAKE_ARGS  extra arguments for the cmake configure step
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$here/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/deps.sh
source "$here/lib/deps.sh"

dnn_require_packages "${DNN_BUILD_PACKAGES[@]}" "${DNN_TEST_PACKAGES[@]}"
dnn_mpi_root_env

sanitize=${DNN_SANITIZE:-OFF}
case "$sanitize" in
  1|ON|on|yes|true) sanitize=ON ;;
  *) sanitize=OFF ;;
esac
if [[ "$sanitize" == ON ]]; then
  build=${DNN_BUILD_DIR:-$root/build-sanitize}
  # Open MPI keeps allocations alive until exit; leak reports from it are noise.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
else
  build=${DNN_BUILD_DIR:-$root/build}
fi

extra_cmake=()
if [[ -n "${DNN_CMAKE_ARGS:-}" ]]; then
  read -r -a extra_cmake <<<"$DNN_CMAKE_ARGS"
fi

echo "dnn: configuring $root into $build" >&2
cmake -S "$root" -B "$build" -DDNN_WERROR=ON -DDNN_SANITIZE="$sanitize" \
  ${extra_cmake[@]+"${extra_cmake[@]}"}
cmake --build "$build" -j "$(dnn_ncpus)"

cd "$build"
ctest --output-on-failure -j "${DNN_TEST_JOBS:-2}" "$@"
