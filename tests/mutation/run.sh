#!/usr/bin/env bash
# Mutation check: does the suite catch deliberate one-line bugs?
#
#   tests/mutation/run.sh [--full] [--only ID]... [--jobs N] [--keep] [--report FILE]
#
# Copies the project (the files git tracks plus untracked, unignored ones, as
# they are in the working tree) into a temporary folder -- the real tree is
# never touched -- configures one build folder there and builds it.  It then
# checks that every pattern of tests/mutation/mutants.txt occurs exactly once
# (else it stops at once: a renamed line must be noticed, not skipped), runs
# every mutant's ctest selection on the unmutated copy (all must pass), and
# for each mutant in turn: applies it, rebuilds incrementally, runs its
# selection (ctest -R, --no-tests=error) and restores the file.
#   killed    a selected test failed (or timed out)
#   killed*   only the whole suite caught it (--full): the selection is too weak
#   SURVIVED  every selected test passed (with --full: the whole suite did)
#   INVALID   the mutant does not build (fix the list)
# A table (id, result, seconds, failing tests, what the mutant breaks) is
# printed and written to --report FILE.  Exit 0 when every mutant was
# killed, 1 when one survived or was invalid, 2 when the run could not start.
#
#   --full      after a selection that passed, run the whole suite too
#   --only ID   run only these mutants (repeatable)
#   --jobs N    ctest -j N (default 2)
#   --keep      keep the temporary folder (printed)
#   --list FILE another list of mutants (default tests/mutation/mutants.txt)
# Not part of ctest (one build and test run per mutant: tens of minutes).
set -uo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$here/../.." && pwd)
list=$here/mutants.txt
python=/usr/bin/python3
full=0 keep=0 jobs=2 report="" only=()
usage() { sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit "${1:-2}"; }
while (($#)); do
  case $1 in
    --full) full=1 ;;
    --keep) keep=1 ;;
    --jobs) jobs=${2:?--jobs N}; shift ;;
    --only) only+=("${2:?--only ID}"); shift ;;
    --list) list=${2:?--list FILE}; shift ;;
    --report) report=${2:?--report FILE}; shift ;;
    -h | --help) usage 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
  shift
done
[[ -r "$list" ]] || { echo "run.sh: cannot read the list '$list'" >&2; exit 2; }
list=$(cd -- "$(dirname -- "$list")" && pwd)/$(basename -- "$list")

# shellcheck source=../../launch/lib/deps.sh
source "$root/launch/lib/deps.sh"
dnn_mpi_root_env

work=$(mktemp -d "${TMPDIR:-/tmp}/dnn-mutation-XXXXXX")
chmod 755 "$work" # some tests run the programs as nobody (reliability_bad_input's unprivileged cases)
tree=$work/tree build=$work/build logs=$work/logs
mkdir -p "$tree" "$logs"
cleanup() {
  if ((keep)); then echo "run.sh: kept $work" >&2; else rm -rf -- "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { echo "mutation: $*" >&2; }

# ---- the copy ----
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$root" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -C "$tree" -xf - ||
    { say "copying the tree failed"; exit 2; }
else
  tar -C "$root" --exclude='./build' --exclude='./build-*' -cf - . | tar -C "$tree" -xf - ||
    { say "copying the tree failed"; exit 2; }
fi
say "copied $root to $tree"

mutants_tsv=$work/mutants.tsv
if ! "$python" "$here/mutants.py" check "$list" "$tree" >"$mutants_tsv"; then
  say "the list $list does not match the tree (see above); fix the patterns first"
  exit 2
fi
ids=() files=() sels=() whats=()
while IFS=$'\t' read -r id file sel what; do
  if ((${#only[@]})); then
    keep_it=0
    for o in "${only[@]}"; do [[ "$o" == "$id" ]] && keep_it=1; done
    ((keep_it)) || continue
  fi
  ids+=("$id") files+=("$file") sels+=("$sel") whats+=("$what")
done <"$mutants_tsv"
((${#ids[@]})) || { say "no mutant selected (--only ${only[*]})"; exit 2; }
say "${#ids[@]} mutants, every pattern found exactly once"

# ---- build and baseline ----
t_start=$SECONDS
cmake -S "$tree" -B "$build" -DDNN_WERROR=OFF >"$logs/configure.log" 2>&1 ||
  { say "configure failed:"; tail -n 20 "$logs/configure.log" >&2; exit 2; }
cmake --build "$build" -j "$(dnn_ncpus)" >"$logs/build.log" 2>&1 ||
  { say "the unmutated copy does not build:"; tail -n 30 "$logs/build.log" >&2; exit 2; }

run_ctest() { # run_ctest LOG [ctest args]: ctest in the copy's build folder
  local log=$1
  shift
  (cd "$build" && ctest --no-tests=error --timeout 600 -j "$jobs" "$@") >"$log" 2>&1
}
failed_tests() { # names of the tests a ctest log reports as failed (not the skipped ones)
  sed -n 's/^[[:space:]]*[0-9][0-9]* - \([^ ]*\) (\(.*\))$/\1 \2/p' "$1" | awk '$2 != "Skipped" { print $1 }' |
    sort -u | paste -sd, -
}

# Every selection must name tests (a renamed test must be noticed too); the
# baseline runs their union (by name: ctest's regular expressions allow only
# a few groups).
names=()
for i in "${!ids[@]}"; do
  mapfile -t got < <(cd "$build" && ctest -N -R "${sels[$i]}" | sed -n 's/^ *Test *#[0-9]*: *//p')
  if ((${#got[@]} == 0)); then
    say "${ids[$i]}: the selection '${sels[$i]}' matches no test; fix the list"
    exit 2
  fi
  names+=("${got[@]}")
done
union=$(printf '%s\n' "${names[@]}" | sort -u | paste -sd'|' -)
say "baseline: the $(tr '|' '\n' <<<"$union" | wc -l) selected tests on the unmutated copy"
if ! run_ctest "$logs/baseline.log" -R "^($union)\$"; then
  say "the unmutated copy fails its own selection: $(failed_tests "$logs/baseline.log")"
  tail -n 30 "$logs/baseline.log" >&2
  exit 2
fi
say "baseline passed ($(grep -c ' Passed ' "$logs/baseline.log") tests, $((SECONDS - t_start)) s with the build)"

# ---- the mutants ----
results=() killed=0 bad=0
for i in "${!ids[@]}"; do
  id=${ids[$i]} file=${files[$i]} sel=${sels[$i]}
  t0=$SECONDS
  cp -- "$tree/$file" "$work/original"
  "$python" "$here/mutants.py" apply "$list" "$tree" "$id" || { say "$id: could not apply"; exit 2; }
  status="" by=""
  if ! cmake --build "$build" -j "$(dnn_ncpus)" >"$logs/$id.build.log" 2>&1; then
    status=INVALID by="does not build: $(grep -m1 -E 'error' "$logs/$id.build.log" | cut -c1-120)"
  elif ! run_ctest "$logs/$id.test.log" -R "$sel"; then
    status=killed by=$(failed_tests "$logs/$id.test.log")
  elif ((full)) && ! run_ctest "$logs/$id.full.log"; then
    status=killed* by=$(failed_tests "$logs/$id.full.log")
  else
    status=SURVIVED by="-"
  fi
  cp -- "$work/original" "$tree/$file" # a new mtime: the next build recompiles it
  secs=$((SECONDS - t0))
  case $status in killed*) killed=$((killed + 1)) ;; *) bad=$((bad + 1)) ;; esac
  results+=("$(printf '%-28s %-9s %5ss  %s  [%s]' "$id" "$status" "$secs" "${by:--}" "${whats[$i]}")")
  say "$(printf '%2d/%d %s' $((i + 1)) "${#ids[@]}" "${results[-1]}")"
done
# the copy builds again after the last restore (a mutant must not linger in a kept build)
cmake --build "$build" -j "$(dnn_ncpus)" >"$logs/final-build.log" 2>&1

{
  echo "mutation report: $(date -u '+%Y-%m-%d %H:%M UTC'), tree $root$(git -C "$root" rev-parse --short HEAD 2>/dev/null | sed 's/^/ @ /')"
  printf '%-28s %-9s %6s  %s  [%s]\n' id result time "killed by (failing tests)" "what the mutant breaks"
  printf '%s\n' "${results[@]}"
  echo "$killed killed, $bad survived or invalid, of ${#ids[@]}; $((SECONDS - t_start)) s in all"
} | tee ${report:+"$report"}
((bad == 0))
