#!/bin/sh
# manpage.sh PROG NAME VERSION OUT - write OUT, the man page of NAME made from
# `PROG --help` by manpage.awk (beside this script).  Run by the build (CMake).
set -eu
prog=$1 name=$2 version=$3 out=$4
here=$(dirname -- "$0")
mkdir -p -- "$(dirname -- "$out")"
if ! "$prog" --help >"$out.help" 2>"$out.err" </dev/null; then
  echo "manpage.sh: '$prog --help' failed:" >&2
  cat -- "$out.err" >&2
  rm -f -- "$out.help" "$out.err"
  exit 1
fi
awk -v name="$name" -v version="$version" -f "$here/manpage.awk" "$out.help" >"$out.tmp"
rm -f -- "$out.help" "$out.err"
mv -- "$out.tmp" "$out"
