#!/usr/bin/env bash
# Every bad input in bad_input.table ends dnn-train with one clear message.
#
#   bad_input.sh DNN_TRAIN PYTHON MPIEXEC N [CASE...]
#
# N = 1 runs dnn-train alone (MPI singleton); N > 1 runs it under
# `MPIEXEC --oversubscribe -n N`.  CASE names restrict the run to those rows.
# A case passes when, under `timeout -k 5 60`:
#   - the exit code is exactly 1 (124 = a hang, > 128 = killed by a signal);
#   - stderr matches every key word of the row (extended regular expressions,
#     case-insensitive, '~' for alternation): the file, dataset or option at
#     fault and the bad value;
#   - exactly one line of stderr contains "dnn-train:" (one message,
#     not one per rank; mpiexec's own banner lines do not carry that prefix);
#   - the checkpoint named with --checkpoint is not created, nor its .tmp
#     (ck_NAME.h5, appended unless the row gives its own --checkpoint).
# Prints one PASS/FAIL/SKIP line per case with the seconds it took, then
# "P passed, F failed, S skipped"; exits 1 when a case failed, else 77
# (ctest's SKIP_RETURN_CODE) when a case was skipped, else 0.
set -u
train=${1:?usage: bad_input.sh DNN_TRAIN PYTHON MPIEXEC N [CASE...]}
py=${2:?python}
mpiexec=${3:?mpiexec}
np=${4:?number of ranks}
shift 4
only=" $* "
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
rel_env

work=$(mktemp -d "${TMPDIR:-/tmp}/dnn-rel-bad-XXXXXX")
trap 'chmod -R u+rwx "$work" 2>/dev/null; rm -rf "$work"' EXIT
"$py" "$here/make_bad_data.py" "$work" || { echo "FAIL: make_bad_data.py"; exit 1; }
cd "$work" || exit 1
# readable by nobody, for the unprivileged cases, and writable (sticky, like
# /tmp): dnn-train tries every output path before it reads anything
chmod 1777 "$work"

# An AddressSanitizer build reserves terabytes of address space and cannot
# start under `ulimit -v`; there, the vmem=KB limit is set through ASan's
# allocator instead (allocations above KB fail and return NULL).
asan=0
if ldd "$train" 2>/dev/null | grep -q libasan; then asan=1; fi

launcher=()
if [ "$np" -gt 1 ]; then
  launcher=("$mpiexec" --oversubscribe -n "$np")
fi

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; s=${s%"${s##*[![:space:]]}"}; printf '%s' "$s"; }

passed=0 failed=0 skipped=0
while IFS='|' read -r name args keys keys_mpi flags; do
  name=$(trim "$name")
  case $name in '' | '#'*) continue ;; esac
  if [ "$only" != "  " ] && [[ $only != *" $name "* ]]; then
    continue
  fi
  args=$(trim "$args")
  keys=$(trim "$keys")
  keys_mpi=$(trim "${keys_mpi:-}")
  flags=$(trim "${flags:-}")
  vmem= asuser=()
  for fl in $flags; do
    case $fl in
      unprivileged)
        # root reads any file whatever its mode: run this case as nobody
        if [ "$(id -u)" = 0 ]; then
          if command -v setpriv >/dev/null &&
             setpriv --reuid=65534 --regid=65534 --clear-groups test -r good.h5 2>/dev/null; then
            asuser=(setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$work")
          else
            echo "SKIP $name (N=$np): running as root, which reads any file whatever its mode, and" \
                 "cannot switch to nobody (setpriv missing or $work not reachable);" \
                 "directory_as_file covers an unopenable path instead"
            skipped=$((skipped + 1))
            continue 2
          fi
        fi ;;
      vmem=*) vmem=${fl#vmem=} ;;
    esac
  done
  ck=ck_$name.h5
  rm -f "$ck" "$ck.tmp"
  read -ra argv <<<"$args"
  ckargs=(--checkpoint "$ck") # unless the case names its own checkpoint (output-path and resume cases)
  case " $args " in *" --checkpoint "*) ckargs=() ;; esac
  t0=$(date +%s.%N)
  (
    if [ -n "$vmem" ] && [ $asan = 1 ]; then
      export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1:max_allocation_size_mb=$((vmem / 1024))"
    elif [ -n "$vmem" ]; then
      ulimit -v "$vmem" || exit 99
    fi
    exec timeout -k 5 60 "${asuser[@]}" "${launcher[@]}" "$train" "${argv[@]}" "${ckargs[@]}"
  ) </dev/null >"$name.out" 2>"$name.err"
  rc=$?
  secs=$(echo "$(date +%s.%N) - $t0" | bc)
  why=()
  if [ "$rc" -ne 1 ]; then
    case $rc in
      124 | 137) why+=("exit $rc: timed out (hang?)") ;;
      *) if [ "$rc" -gt 128 ]; then why+=("exit $rc: killed by signal $((rc - 128))"); else why+=("exit $rc, expected 1"); fi ;;
    esac
  fi
  all=$keys
  if [ "$np" -gt 1 ] && [ -n "$keys_mpi" ]; then all="$all;$keys_mpi"; fi
  IFS=';' read -ra kw <<<"$all"
  for k in "${kw[@]}"; do
    k=$(trim "$k")
    [ -z "$k" ] && continue
    [[ $k == *'~'* ]] && k="(${k//'~'/|})"
    grep -Eqi -e "$k" "$name.err" || why+=("stderr lacks /$k/")
  done
  nmsg=$(grep -c "dnn-train:" "$name.err")
  [ "$nmsg" -eq 1 ] || why+=("$nmsg lines contain 'dnn-train:', expected 1")
  [ -e "$ck" ] && why+=("checkpoint $ck was created")
  [ -e "$ck.tmp" ] && why+=("partial checkpoint $ck.tmp left behind")
  msg=$(grep -m1 'dnn-train:' "$name.err" "$name.out" 2>/dev/null | sed 's/^[^:]*://')
  if [ ${#why[@]} -eq 0 ]; then
    printf 'PASS %-20s N=%d  %5.2fs  %s\n' "$name" "$np" "$secs" "$msg"
    passed=$((passed + 1))
  else
    printf 'FAIL %-20s N=%d  %5.2fs\n' "$name" "$np" "$secs"
    for w in "${why[@]}"; do echo "  - $w"; done
    lim=
    [ -n "$vmem" ] && lim="ulimit -v $vmem; "
    [ -n "$vmem" ] && [ $asan = 1 ] && lim="ASAN_OPTIONS=...:allocator_may_return_null=1:max_allocation_size_mb=$((vmem / 1024)) "
    echo "  command: (cd data dir) $lim${asuser[*]:+${asuser[*]} }${launcher[*]} $train $args ${ckargs[*]}"
    sed 's/^/  stderr: /' "$name.err" | head -n 20
    sed 's/^/  stdout: /' "$name.out" | head -n 5
    failed=$((failed + 1))
  fi
done <"$here/bad_input.table"

echo "$passed passed, $failed failed, $skipped skipped (N=$np)"
[ "$failed" -eq 0 ] || exit 1
[ "$passed" -gt 0 ] || { echo "FAIL: no case ran (CASE names: $only)"; exit 1; }
[ "$skipped" -eq 0 ] || exit 77
exit 0
