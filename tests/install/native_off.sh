#!/usr/bin/env bash
# install_native_off: a -DDNN_NATIVE=OFF tree (no -march=native, no AVX
# instruction: any x86-64 CPU) builds with -Werror and passes the unit
# suites; and its dnn-train trains bitwise the same parameters as the default
# (native) build's, as the README says (dnn is built without FP contraction,
# and BLAS chooses its kernels at run time either way).
#
#   native_off.sh SOURCE MAIN_BUILD WORK      (WORK is reused: a rerun is incremental)
set -euo pipefail
src=$1 main=$2 work=$3
py=/usr/bin/python3
fail() { echo "FAIL $*"; echo "0 passed, 1 failed"; exit 1; }

cmake -S "$src" -B "$work" -DDNN_NATIVE=OFF -DDNN_WERROR=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$work.configure.log" 2>&1 || { cat "$work.configure.log"; fail configure; }
grep -q -- '"command"' "$work/compile_commands.json" || fail "no compile commands in $work"
if grep -q -- '-march=native' "$work/compile_commands.json"; then
  fail "a DNN_NATIVE=OFF tree still compiles with -march=native"
fi
# the control: the default tree does use it (so the check above can see the flag)
if grep -q '^DNN_NATIVE:BOOL=ON' "$main/CMakeCache.txt" && ! grep -rq -- '-march=native' "$main/CMakeFiles/dnn.dir/flags.make"; then
  fail "the default (DNN_NATIVE=ON) build does not use -march=native"
fi
echo "PASS flags (no -march=native in $(grep -c '"command"' "$work/compile_commands.json") compile commands)"

targets=(dnn-train)
for t in "$src"/tests/test_*.c; do targets+=("$(basename "$t" .c)"); done
cmake --build "$work" -j2 --target "${targets[@]}" >"$work.build.log" 2>&1 || { tail -30 "$work.build.log"; fail build; }
echo "PASS build (${#targets[@]} targets, -Werror)"

# what runs on any x86-64 CPU: no AVX/AVX-512 register in the generic dnn-train
# outside the code that dispatches on the CPU at run time, listed here: the
# AVX-512 evaluation kernels of src/matrix.c (dot_avx512_*, run only where
# __builtin_cpu_supports finds AVX-512; the portable kernel elsewhere)
if command -v objdump >/dev/null; then
  wide=$(objdump -d "$work/dnn-train" | awk '/^[0-9a-f]+ <.*>:$/ { skip = ($2 ~ /^<dot_avx512_/) } !skip' |
    grep -cE '%[yz]mm' || true)
  [[ "$wide" == 0 ]] || fail "the DNN_NATIVE=OFF dnn-train holds $wide AVX/AVX-512 instructions"
  echo "PASS no AVX/AVX-512 instruction in the generic dnn-train (the native one holds $(objdump -d "$main/dnn-train" | grep -cE '%[yz]mm' || true))"
fi

(cd "$work" && ctest --output-on-failure -j2 -R '^unit_' --no-tests=error) || fail "unit suites of the DNN_NATIVE=OFF build"
echo "PASS unit suites"

# same training, both builds: parameters equal bit for bit
d=$work/cmp
mkdir -p "$d"
$py - "$d/data.h5" <<'PY'
import sys, h5py, numpy as np
rs = np.random.RandomState(3)
X = rs.randn(300, 9).astype(np.float32)
y = (X @ rs.randn(9) + 0.3 * np.sin(4 * X[:, 0]) > 0).astype(np.uint8)
with h5py.File(sys.argv[1], "w") as f:
    f["x"] = X
    f["y"] = y
PY
for tree in "$main" "$work"; do
  tag=$([[ "$tree" == "$main" ]] && echo native || echo generic)
  "$tree/dnn-train" --data "$d/data.h5" --x x --y y --layers 16,8 --hidden-activation tanh --lr 0.3 \
    --iterations 40 --standardize --checkpoint "$d/$tag.h5" --quiet >/dev/null || fail "dnn-train ($tag build)"
done
$py - "$d/native.h5" "$d/generic.h5" <<'PY' || fail "the two builds train different parameters"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
L = len(a.attrs["layer_dims"]) - 1
diff = [n for l in range(1, L + 1) for n in ("W%d" % l, "b%d" % l) if a[n][:].tobytes() != b[n][:].tobytes()]
if diff:
    print("differ: %s (max %.3g)" % (diff, max(np.max(np.abs(a[n][:] - b[n][:])) for n in diff)))
    sys.exit(1)
print("parameters of %d layers identical" % L)
PY
echo "PASS native and generic builds train identical parameters"
echo "5 passed, 0 failed"
