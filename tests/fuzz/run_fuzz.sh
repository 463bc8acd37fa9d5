#!/usr/bin/env bash
# Build and run the libFuzzer target fuzz_cli (dnn-train's option and config
# parsers) for a bounded time.
#
#   run_fuzz.sh SECONDS [OUTDIR]
#
# Built directly with clang from the library sources it needs (src/cli.c,
# src/common.c, src/activation.c), with -fsanitize=fuzzer,address,undefined;
# the main CMake build (gcc) is not involved.  Steps:
#   1. replay every file of tests/fuzz/regressions/ once (inputs that crashed
#      before: they must pass now);
#   2. fuzz for SECONDS, starting from a copy of tests/fuzz/corpus/ in
#      OUTDIR/corpus (the source tree is never written), with cli.dict.
# A crash, leak, UBSan report or a broken dump round trip (see fuzz_cli.c)
# stops the run; the input is left in OUTDIR/artifacts/ -- copy it to
# tests/fuzz/regressions/ to keep it.  Exit codes: 0 clean, 1 a finding or a
# build failure, 77 clang with libFuzzer is not available (ctest: skipped).
set -u
secs=${1:?usage: run_fuzz.sh SECONDS [OUTDIR]}
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

bin=$out/fuzz_cli
if ! "$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
     -D_GNU_SOURCE -std=gnu11 -I "$root/include" \
     "$here/fuzz_cli.c" "$root/src/cli.c" "$root/src/common.c" "$root/src/activation.c" -lm -o "$bin"; then
  echo "FAIL: fuzz_cli does not build"
  exit 1
fi

# the target's working directory: empty, so --config NAME never finds a file
rm -rf "$out/cwd" && mkdir -p "$out/cwd"
export DNN_FUZZ_CWD=$out/cwd
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# 1. regressions
shopt -s nullglob
regs=("$here"/regressions/*)
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
cp "$here"/corpus/* "$out/corpus/"
echo "fuzzing for $secs s: corpus $out/corpus (seeds: $(ls "$here"/corpus | wc -l)), artifacts $out/artifacts/"
"$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -dict="$here/cli.dict" -artifact_prefix="$out/artifacts/" "$out/corpus" >"$out/fuzz.log" 2>&1
rc=$?
grep -E '^#[0-9]+[[:space:]]+(DONE|pulse)' "$out/fuzz.log" | tail -n 2
grep -E '^(Done|stat::)' "$out/fuzz.log"
echo "corpus after the run: $(ls "$out/corpus" | wc -l) inputs"
if [ "$rc" -ne 0 ]; then
  echo "FAIL: libFuzzer exited $rc"
  grep -E -A 30 'ERROR|runtime error|fuzz_cli:' "$out/fuzz.log" | head -n 60
  for a in "$out"/artifacts/*; do
    echo "input: $a"
    od -c "$a" | head -n 10
  done
  exit 1
fi
echo "PASS: no crash in $secs s"
