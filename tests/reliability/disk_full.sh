#!/usr/bin/env bash
# A checkpoint that cannot be written (disk full, file size limit) gives an
# error -- non-zero exit, a message that names the checkpoint file and says
# the previous one is kept -- and the previous checkpoint stays intact: same
# bytes as before, still a valid checkpoint, and no NAME.tmp left behind.
#
#   disk_full.sh DNN_TRAIN PYTHON MPIEXEC [tmpfs|ulimit|all]
#
# The last argument picks the mechanisms (default all).  Exit 1 when a case
# failed, else 77 (ctest's SKIP_RETURN_CODE) when a case could not run here
# (tmpfs without mount privilege), else 0.
#
# Mechanisms (each case prints the one it uses):
#   tmpfs   - when `mount -t tmpfs -o size=256k` is permitted (root with
#             CAP_SYS_ADMIN): a good checkpoint is written, the file system is
#             then filled completely ("full") or up to 8 KiB ("nearly-full",
#             so the HDF5 file is created and fails part-way), and a --resume
#             run with more iterations tries to replace the checkpoint; also at
#             N = 3 with --checkpoint-every, where rank 0's failure must end
#             every rank.
#   ulimit  - RLIMIT_FSIZE (`ulimit -f`), usable without privileges.  Open MPI
#             itself needs a few MiB of files at start-up (PMIx segments), so
#             the limit is 8 MiB and the checkpoint about 12 MiB.  Run twice:
#             as a user would (SIGXFSZ at its default action, which kills the
#             process unless dnn-train ignores it), and with SIGXFSZ ignored
#             by the parent (inherited across exec), which makes write()
#             return EFBIG -- the path dnn-train takes once it ignores SIGXFSZ.
set -u
train=${1:?usage: disk_full.sh DNN_TRAIN PYTHON MPIEXEC}
py=${2:?python}
mpiexec=${3:?mpiexec}
what=${4:-all}
case $what in tmpfs | ulimit | all) ;; *) echo "disk_full.sh: unknown mechanism '$what' (tmpfs, ulimit or all)"; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
rel_env
work=$(mktemp -d "${TMPDIR:-/tmp}/dnn-rel-disk-XXXXXX")
mnt=$work/mnt
mkdir -p "$mnt"
cleanup() {
  mountpoint -q "$mnt" 2>/dev/null && umount -l "$mnt"
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1
"$py" "$rel" classify data.h5 600 50 3 || exit 1
"$py" "$rel" classify small.h5 20 50 4 || exit 1

passed=0 failed=0 skipped=0
finish() {
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ] || exit 1
  [ "$skipped" -eq 0 ] || exit 77
  exit 0
}

# check_failed_write NAME RC CKPT SAVED_COPY: the assertions after a failed write
check_failed_write() {
  local name=$1 rc=$2 ck=$3 saved=$4 why=()
  case $rc in
    0) why+=("exit 0: the failed checkpoint write went unnoticed") ;;
    124 | 137) why+=("exit $rc: timed out (hang?)") ;;
    153) why+=("exit 153: killed by SIGXFSZ (dnn-train does not ignore SIGXFSZ, so write() cannot return EFBIG)") ;;
    1) ;;
    *) [ "$rc" -gt 128 ] && why+=("exit $rc: killed by signal $((rc - 128))") ;;
  esac
  grep -q "$(basename "$ck")" "$name.err" || why+=("message does not name the checkpoint $(basename "$ck")")
  grep -Eqi 'previous.*kept|kept' "$name.err" || why+=("message does not say the previous checkpoint is kept")
  [ "$(grep -c 'dnn-train:' "$name.err")" -eq 1 ] || why+=("$(grep -c 'dnn-train:' "$name.err") 'dnn-train:' lines on stderr, expected 1")
  cmp -s "$ck" "$saved" || why+=("the previous checkpoint $ck changed (or is gone)")
  "$py" "$rel" ckpt "$ck" >"$name.ck" 2>&1 || why+=("previous checkpoint invalid: $(tail -n 1 "$name.ck")")
  [ -e "$ck.tmp" ] && why+=("$(basename "$ck").tmp left behind ($(stat -c %s "$ck.tmp") bytes)")
  if [ ${#why[@]} -eq 0 ]; then
    echo "PASS $name: exit $rc; $(grep -m1 'dnn-train:' "$name.err"); previous checkpoint intact"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    for w in "${why[@]}"; do echo "  - $w"; done
    sed 's/^/  stderr: /' "$name.err" | grep -v '^  stderr: *$' | head -n 8
    failed=$((failed + 1))
  fi
}

fill() { # fill the mounted file system, leaving about $1 KiB free
  local keep=$1 avail
  avail=$(df -k --output=avail "$mnt" | tail -n 1 | tr -d ' ')
  if [ "$keep" -eq 0 ]; then
    dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null
  else
    dd if=/dev/zero of="$mnt/filler" bs=1k count=$((avail - keep)) 2>/dev/null
  fi
  echo "  filled: $(df -k --output=avail "$mnt" | tail -n 1 | tr -d ' ') KiB free"
}

# ---- tmpfs ----
SMALL=(--data data.h5 --layers 64,32 --quiet)
if [ "$what" = ulimit ]; then
  : # not asked for
elif [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=256k dnn-test-full "$mnt" 2>/dev/null; then
  for mode in full nearly-full; do
    name=tmpfs-$mode
    echo "mechanism: tmpfs of 256 KiB at $mnt, $mode"
    rm -f "$mnt"/*
    ck=$mnt/ck.h5
    timeout -k 5 60 "$train" "${SMALL[@]}" --iterations 50 --checkpoint "$ck" </dev/null >"$name.out0" 2>&1 ||
      { echo "FAIL $name: could not write the first checkpoint"; cat "$name.out0"; failed=$((failed + 1)); continue; }
    cp "$ck" "$name.saved"
    if [ $mode = full ]; then fill 0; else fill 8; fi
    timeout -k 5 60 "$train" "${SMALL[@]}" --iterations 100 --checkpoint "$ck" --resume </dev/null >"$name.out" 2>"$name.err"
    check_failed_write "$name" $? "$ck" "$name.saved"
  done
  # N = 3, periodic checkpoints: the second one cannot be written
  name=tmpfs-nearly-full-np3
  echo "mechanism: tmpfs of 256 KiB, nearly full, N = 3 with --checkpoint-every 20"
  rm -f "$mnt"/*
  ck=$mnt/ck.h5
  timeout -k 5 60 "$train" "${SMALL[@]}" --iterations 20 --checkpoint "$ck" </dev/null >"$name.out0" 2>&1
  cp "$ck" "$name.saved"
  fill 8
  t0=$(date +%s.%N)
  timeout -k 5 60 "$mpiexec" --oversubscribe -n 3 "$train" "${SMALL[@]}" --iterations 100 --checkpoint "$ck" --resume \
    --checkpoint-every 20 </dev/null >"$name.out" 2>"$name.err"
  rc=$?
  echo "  the job ended after $(echo "$(date +%s.%N) - $t0" | bc) s"
  check_failed_write "$name" $rc "$ck" "$name.saved"
  umount -l "$mnt"
else
  echo "SKIP tmpfs cases: mount -t tmpfs is not permitted here (not root or no CAP_SYS_ADMIN)"
  skipped=$((skipped + 3))
fi

[ "$what" = tmpfs ] && finish

# ---- RLIMIT_FSIZE ----
BIG=(--data small.h5 --layers 1800,1600 --quiet) # about 2.97e6 parameters: a 12 MB checkpoint
ck=$work/big.h5
timeout -k 5 60 "$train" "${BIG[@]}" --iterations 2 --checkpoint "$ck" </dev/null >big.out0 2>&1 ||
  { echo "FAIL: could not write the first (12 MB) checkpoint"; cat big.out0; exit 1; }
cp "$ck" big.saved
echo "mechanism: ulimit -f 8192 (KiB), checkpoint of $(stat -c %s "$ck") bytes, SIGXFSZ at its default action"
(
  ulimit -f 8192
  exec timeout -k 5 60 "$train" "${BIG[@]}" --iterations 4 --checkpoint "$ck" --resume
) </dev/null >ulimit.out 2>ulimit.err
check_failed_write ulimit $? "$ck" big.saved
rm -f "$ck.tmp"
echo "mechanism: ulimit -f 8192 (KiB), SIGXFSZ ignored by the parent (write() returns EFBIG)"
(
  ulimit -f 8192
  trap '' XFSZ
  exec timeout -k 5 60 "$train" "${BIG[@]}" --iterations 4 --checkpoint "$ck" --resume
) </dev/null >ulimit-efbig.out 2>ulimit-efbig.err
check_failed_write ulimit-efbig $? "$ck" big.saved

finish
