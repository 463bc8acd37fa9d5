#!/usr/bin/env bash
# behaviour.sh - the same runs with two builds of dnn-train must give the same
# bits: W/b SHA-256, metrics CSVs (without the seconds column) and the `final`
# line (without seconds= and ms_per_epoch=).  A check for refactorings that
# promise no change in behaviour; not part of ctest (it takes a minute or two).
#
#   tests/redesign/behaviour.sh --base BUILD_DIR --new BUILD_DIR [--work DIR]
#
# BUILD_DIR holds dnn-train (a CMake build folder).  Exit 0 when every run
# agrees, 1 when one differs (its diff is printed), 2 on a usage error.
set -euo pipefail
PY=${DNN_PYTHON:-/usr/bin/python3}
base= new= work=
while [ $# -gt 0 ]; do
  case $1 in
    --base) base=$2; shift 2 ;;
    --new) new=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "usage: $0 --base BUILD --new BUILD [--work DIR]" >&2; exit 2 ;;
  esac
done
[ -x "$base/dnn-train" ] && [ -x "$new/dnn-train" ] || { echo "$0: need --base and --new build folders with dnn-train" >&2; exit 2; }
[ -n "$work" ] || work=$(mktemp -d)
mkdir -p "$work"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none

# Data: a binary set with a test set, and a 4-class set.
"$PY" - "$work" <<'PYEOF'
import sys, numpy as np, h5py
w = sys.argv[1]
r = np.random.RandomState(7)
def blobs(m, n, k):
    X = r.randn(m, n).astype(np.float32) * 2 + 3
    y = (X[:, :k].sum(1) > 3 * k).astype(np.uint8) if k == 1 else np.argmax(X[:, :k], 1).astype(np.uint8)
    return X, y
X, y = blobs(600, 12, 1); Xt, yt = blobs(200, 12, 1)
with h5py.File(w + "/bin.h5", "w") as f:
    f["train_x"] = X; f["train_y"] = y; f["test_x"] = Xt; f["test_y"] = yt
X, y = blobs(700, 10, 4)
with h5py.File(w + "/cls.h5", "w") as f:
    f["train_x"] = X; f["train_y"] = y
PYEOF

bf16=1
grep -q avx512_bf16 /proc/cpuinfo || { bf16=0; echo "behaviour: the CPU lacks AVX512_BF16: the bf16 run is skipped" >&2; }

B="--data $work/bin.h5 --print-every 10 --quiet"
C="--data $work/cls.h5 --print-every 10 --quiet"
# name|ranks|arguments (CK and MET stand for the run's checkpoint and metrics paths)
cases=(
  "fullbatch|1|$B --layers 8,4 --lr 0.05 --iterations 60 --test $work/bin.h5"
  "minibatch_course2|1|$B --layers 16,8 --batch-size 64 --optimizer adam --lr 0.05 --keep-prob 0.8 --l2 0.05 --lr-decay inverse --decay-rate 0.3 --validation-split 0.2 --early-stopping 3 --epochs 40"
  "softmax|1|$C --layers 16 --output softmax --batch-size 100 --lr 0.1 --epochs 8"
  "rmsprop_std_clip|1|$B --layers 8 --optimizer rmsprop --lr 0.005 --standardize --clip-norm 0.5 --batch-size 128 --epochs 6"
  "np1|1|$B --layers 8 --batch-size 100 --lr 0.05 --epochs 5 --deterministic"
  "np2|2|$B --layers 8 --batch-size 100 --lr 0.05 --epochs 5 --deterministic"
  "np3|3|$B --layers 8 --batch-size 100 --lr 0.05 --epochs 5 --deterministic"
  "np2_minibatch|2|$B --layers 8 --batch-size 100 --lr 0.05 --epochs 5 --optimizer momentum"
  "np3_fullbatch|3|$C --layers 8 --output softmax --lr 0.1 --iterations 40 --standardize"
)
[ $bf16 = 1 ] && cases+=("bf16|1|$B --layers 32,16 --precision bf16 --batch-size 64 --lr 0.05 --epochs 4")

# One run: its checkpoint's W/b digests, metrics without seconds, final line without timings.
run_case() { # build name ranks args out
  local bin=$1/dnn-train name=$2 np=$3 args=$4 out=$5
  mkdir -p "$out"
  local ck=$out/ckpt.h5 met=$out/metrics.csv
  local launch=()
  [ "$np" -gt 1 ] && launch=(mpirun -np "$np")
  # shellcheck disable=SC2086
  "${launch[@]}" "$bin" $args --checkpoint "$ck" --metrics "$met" > "$out/stdout" 2> "$out/stderr" || echo "exit $?" >> "$out/stdout"
  summarize "$out"
}

resume_case() { # build out: 30 iterations, then --resume to 60, with adam
  local bin=$1/dnn-train out=$2
  mkdir -p "$out"
  local args="$B --layers 8,4 --optimizer adam --lr 0.01 --batch-size 128 --checkpoint $out/ckpt.h5 --metrics $out/metrics.csv"
  # shellcheck disable=SC2086
  { "$bin" $args --iterations 30 && "$bin" $args --iterations 60 --resume; } > "$out/stdout" 2> "$out/stderr" || echo "exit $?" >> "$out/stdout"
  summarize "$out"
}

summarize() { # out: writes out/summary
  local out=$1
  {
    "$PY" - "$out/ckpt.h5" <<'PYEOF'
import sys, hashlib, h5py
try:
    with h5py.File(sys.argv[1], "r") as f:
        for k in sorted(f.keys()):
            if k[0] in "Wb" and k[1:].isdigit():
                print(k, hashlib.sha256(f[k][()].tobytes()).hexdigest())
except OSError as e:
    print("no checkpoint:", e)
PYEOF
    [ -f "$out/metrics.csv" ] && sed -E 's/,[^,]*$//' "$out/metrics.csv"
    grep -E '^final|^exit' "$out/stdout" | sed -E 's/ seconds=[^ ]*//; s/ ms_per_epoch=[^ ]*//'
  } > "$out/summary"
}

total=0 differ=0
for c in "${cases[@]}" "resume|1|"; do
  IFS='|' read -r name np args <<< "$c"
  for side in base new; do
    dir=$base; [ $side = new ] && dir=$new
    if [ "$name" = resume ]; then resume_case "$dir" "$work/$side/$name"; else run_case "$dir" "$name" "$np" "$args" "$work/$side/$name"; fi
  done
  total=$((total + 1))
  if grep -q '^final' "$work/base/$name/summary" && cmp -s "$work/base/$name/summary" "$work/new/$name/summary"; then
    echo "same    $name"
  else
    differ=$((differ + 1))
    echo "DIFFERS $name"
    diff "$work/base/$name/summary" "$work/new/$name/summary" | head -20 || true
    grep -q '^final' "$work/base/$name/summary" || { echo "  (no final line from base)"; head -5 "$work/base/$name/stderr"; }
  fi
done
echo "behaviour: $differ of $total runs differ (work folder $work)"
[ $differ = 0 ]
