#!/usr/bin/env bash
# Build and run a libFuzzer target for a bounded time.
#
#   run_fuzz.sh SECONDS [OUTDIR] [TARGET]
#
# TARGET (default cli):
#   cli   fuzz_cli.c: dnn-train's option and config parsers, built from
#         src/cli.c and the modules its checks call; seeds corpus/, dictionary
#         cli.dict, regressions regressions/
#   ckpt  fuzz_ckpt.c: the checkpoint reader (src/checkpoint.c, src/h5.c and
#         the model and optimizer they fill) on HDF5 file images opened in
#         memory (core driver); seeds corpus_ckpt/, regressions
#         regressions_ckpt/; LeakSanitizer ignores leaks allocated inside
#         libhdf5 (lsan_hdf5.supp: HDF5 1.10 leaks cache entries when it
#         fails to decode damaged metadata)
# Built directly with clang with -fsanitize=fuzzer,address,undefined; the main
# CMake build (gcc) is not involved.  Steps:
#   1. replay every file of the target's regressions folder once (inputs that
#      failed before: they must pass now);
#   2. fuzz for SECONDS, starting from a copy of the seeds in OUTDIR/corpus
#      (the source tree is never written).
# A crash, leak, UBSan report or a broken invariant (see the target's source)
# stops the run; the input is left in OUTDIR/artifacts/ -- copy it to the
# regressions folder to keep it.  Exit codes: 0 clean, 1 a finding or a
# build failure, 77 clang with libFuzzer is not available (ctest: skipped).
set -u
secs=${1:?usage: run_fuzz.sh SECONDS [OUTDIR] [TARGET]}
target=${3:-cli}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${2:-$(mktemp -d "${TMPDIR:-/tmp}/dnn-fuzz-XXXXXX")}
mkdir -p "$out" && out=$(cd "$out" && pwd)
cc=${CLANG:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
  echo "SKIP: $cc not found (Debian: apt-get install clang libclang-rt-14-dev)"
  exit 77
fi
probe=$out/probe.c
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe" -o "$out/probe" >"$out/probe.log" 2>&1; then
  echo "SKIP: $cc cannot link -fsanitize=fuzzer (libclang-rt missing?):"
  sed 's/^/  /' "$out/probe.log" | head -n 5
  exit 77
fi
echo "compiler: $("$cc" --version | head -n 1)"

case $target in
  cli)
    srcs=("$here/fuzz_cli.c" "$root/src/cli.c")
    # cli.c checks --batch-norm through bn.c (which brings the model) and report names through report.c
    for m in common activation atomic bn loss matrix model model_bf16 optim report rng; do srcs+=("$root/src/$m.c"); done
    read -ra cflags <<<"$(pkg-config --cflags openblas)"
    read -ra libs <<<"$(pkg-config --libs openblas) -ldnnl -ldl -lpthread -lm"
    seeds=$here/corpus regdir=$here/regressions
    fuzzopts=(-max_len=4096 -dict="$here/cli.dict") ;;
  ckpt)
    if ! pkg-config --exists hdf5 openblas; then
      echo "FAIL: pkg-config finds no hdf5 or openblas"
      exit 1
    fi
    srcs=("$here/fuzz_ckpt.c")
    for m in checkpoint atomic h5 common activation bn loss model model_bf16 optim rng matrix; do
      srcs+=("$root/src/$m.c")
    done
    read -ra cflags <<<"$(pkg-config --cflags hdf5 openblas)"
    read -ra libs <<<"$(pkg-config --libs hdf5 openblas) -ldnnl -ldl -lpthread -lm"
    seeds=$here/corpus_ckpt regdir=$here/regressions_ckpt
    # a damaged size field may ask HDF5 for terabytes: let malloc fail (HDF5
    # then reports an error) instead of stopping the run as out-of-memory
    fuzzopts=(-max_len=65536 -malloc_limit_mb=1048576)
    extra_asan=allocator_may_return_null=1
    export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$here/lsan_hdf5.supp" ;;
  *)
    echo "FAIL: unknown target '$target' (cli or ckpt)"
    exit 1 ;;
esac
# With DNN_FUZZ_LIBS (the build's static libraries, as ctest passes them),
# only the fuzzed module is compiled here, instrumented; whatever it calls
# comes from those libraries, so a new dependency of the module needs no
# change to this list.
if [ -n "${DNN_FUZZ_LIBS:-}" ]; then
  srcs=("${srcs[0]}" "$root/src/$([ "$target" = cli ] && echo cli || echo checkpoint).c")
  read -ra extra <<<"$DNN_FUZZ_LIBS"
  read -ra mpil <<<"$(pkg-config --libs ompi-c 2>/dev/null || echo -lmpi)"
  read -ra h5l <<<"$(pkg-config --libs hdf5)"
  libs=("${extra[@]}" "${extra[@]}" "${h5l[@]}" "${libs[@]}" "${mpil[@]}" -lz)
  read -ra h5c <<<"$(pkg-config --cflags hdf5)"
  cflags+=("${h5c[@]}")
fi
bin=$out/fuzz_$target
if ! "$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
     -D_GNU_SOURCE -std=gnu11 -I "$root/include" "${cflags[@]}" "${srcs[@]}" "${libs[@]}" -o "$bin"; then
  echo "FAIL: fuzz_$target does not build"
  exit 1
fi

# the target's working directory: empty, so --config NAME never finds a file
rm -rf "$out/cwd" && mkdir -p "$out/cwd"
export DNN_FUZZ_CWD=$out/cwd
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
[ -n "${extra_asan:-}" ] && export ASAN_OPTIONS="$ASAN_OPTIONS:$extra_asan"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# 1. regressions
shopt -s nullglob
regs=("$regdir"/*)
regs=("${regs[@]/*README*/}")
list=()
for f in "${regs[@]}"; do [ -n "$f" ] && [ -f "$f" ] && list+=("$f"); done
if [ ${#list[@]} -gt 0 ]; then
  if ! "$bin" -runs=1 "${list[@]}" >"$out/regressions.log" 2>&1; then
    echo "FAIL: a regression input crashes again:"
    tail -n 40 "$out/regressions.log"
    exit 1
  fi
  echo "regressions: ${#list[@]} input(s) replayed, all pass"
else
  echo "regressions: none"
fi

# 2. fuzz
mkdir -p "$out/corpus" "$out/artifacts"
cp "$seeds"/* "$out/corpus/"
echo "fuzzing fuzz_$target for $secs s: corpus $out/corpus (seeds: $(ls "$seeds" | wc -l)), artifacts $out/artifacts/"
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${fuzzopts[@]}" \
  -artifact_prefix="$out/artifacts/" "$out/corpus" >"$out/fuzz.log" 2>&1
rc=$?
grep -E '^#[0-9]+[[:space:]]+(DONE|pulse)' "$out/fuzz.log" | tail -n 2
grep -E '^(Done|stat::)' "$out/fuzz.log"
echo "corpus after the run: $(ls "$out/corpus" | wc -l) inputs"
if [ "$rc" -ne 0 ]; then
  echo "FAIL: libFuzzer exited $rc"
  grep -E -A 30 "ERROR|runtime error|fuzz_$target:" "$out/fuzz.log" | head -n 60
  for a in "$out"/artifacts/*; do
    echo "input: $a"
    od -c "$a" | head -n 10
  done
  exit 1
fi
echo "PASS: no crash in $secs s"
