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
#   DNN_NO_SKIPS=1  fail when a test was skipped (its SKIP_RETURN_CODE), and
#                   in a full run when a group only a real machine can check
#                   (label slurm; multihost once tests/multihost/ exists) has
#                   no test; default 1 when CI=true, else 0
#   DNN_ALLOW_SKIPS extended regular expression of test names that may skip
#                   even then (default: none)
#
# ctest runs with --no-tests=error (a -R selection that matches nothing
# fails) and writes BUILD/ctest-junit.xml; skipped tests are always listed.
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

no_skips=${DNN_NO_SKIPS:-}
if [[ -z "$no_skips" ]]; then
  case "${CI:-}" in 1|true|TRUE|yes) no_skips=1 ;; *) no_skips=0 ;; esac
fi
if [[ "$no_skips" == 1 ]]; then
  export DNN_SLURM_REQUIRE=1 # the Slurm test fails, with the daemons' logs, instead of skipping
fi

cd "$build"
junit="$build/ctest-junit.xml"
rm -f -- "$junit"
rc=0
ctest --output-on-failure --no-tests=error --output-junit "$junit" -j "${DNN_TEST_JOBS:-2}" "$@" || rc=$?

skipped=()
if [[ -s "$junit" ]]; then
  mapfile -t skipped < <(/usr/bin/python3 "$here/lib/ctest_skips.py" "$junit") || rc=1
elif [[ "$no_skips" == 1 ]]; then
  echo "dnn: ctest wrote no $junit, so skipped tests cannot be told from passed ones" >&2
  rc=1
fi
bad=0
for t in ${skipped[@]+"${skipped[@]}"}; do
  if [[ -n "${DNN_ALLOW_SKIPS:-}" && "${t%% *}" =~ ^(${DNN_ALLOW_SKIPS})$ ]]; then
    echo "dnn: skipped (allowed by DNN_ALLOW_SKIPS): $t" >&2
  else
    echo "dnn: SKIPPED: $t" >&2
    bad=$((bad + 1))
  fi
done
if [[ "$no_skips" == 1 ]]; then
  if (( bad > 0 )); then
    echo "dnn: $bad test(s) skipped; with DNN_NO_SKIPS=1 (CI) every test must really run" >&2
    rc=1
  fi
  if (( $# == 0 )); then # a full run: the groups only a real machine can check are there
    labels=(slurm)
    [[ -d "$root/tests/multihost" ]] && labels+=(multihost)
    for label in "${labels[@]}"; do
      n=$(ctest -N -L "^${label}\$" | sed -n 's/^Total Tests: *//p')
      if [[ "${n:-0}" -eq 0 ]]; then
        echo "dnn: no test has the label '$label'; with DNN_NO_SKIPS=1 (CI) it must run" >&2
        rc=1
      fi
    done
  fi
fi
exit "$rc"
