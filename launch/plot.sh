#!/usr/bin/env bash
# Draws a learning curve from dnn-train's --metrics CSV:
#   launch/plot.sh METRICS.csv OUT.png
# Training cost and, with a dev set, dev cost against iteration on the left
# axis, so bias (high training cost) and variance (a dev cost above it) read
# at a glance; train/test/dev accuracy, when the CSV has those columns, on the
# right axis.  Columns are found by their header names (iteration, cost,
# train_accuracy, test_accuracy, val_cost, val_accuracy), never by position.
# Needs gnuplot (Debian: gnuplot-nox).
set -euo pipefail

usage() { echo "usage: $0 METRICS.csv OUT.png" >&2; exit 1; }
[[ $# -eq 2 ]] || usage
csv=$1
out=$2
[[ -r "$csv" ]] || { echo "plot.sh: cannot read metrics file '$csv'" >&2; exit 1; }
command -v gnuplot >/dev/null 2>&1 ||
  { echo "plot.sh: gnuplot not found (Debian: apt-get install gnuplot-nox)" >&2; exit 1; }

header=$(head -n 1 "$csv" | tr -d '\r')
# 1-based index of a header name, or 0 when absent.
col() {
  awk -F, -v name="$1" '{ for (i = 1; i <= NF; i++) { gsub(/^ +| +$/, "", $i); if ($i == name) { print i; exit } } print 0 }' <<<"$header"
}
c_iter=$(col iteration)
c_cost=$(col cost)
c_train=$(col train_accuracy)
c_test=$(col test_accuracy)
c_vcost=$(col val_cost)
c_vacc=$(col val_accuracy)
if [[ "$c_iter" == 0 || "$c_cost" == 0 ]]; then
  echo "plot.sh: '$csv' has no 'iteration' and 'cost' columns (header: $header)" >&2
  exit 1
fi
rows=$(awk 'NR > 1 && NF > 0' "$csv" | wc -l)
if (( rows == 0 )); then
  echo "plot.sh: '$csv' has a header but no rows" >&2
  exit 1
fi

# Final values for the title, taken from the last row.
last=$(awk 'NF > 0 { l = $0 } END { print l }' "$csv" | tr -d '\r')
field() { awk -F, -v i="$1" '{ print $i }' <<<"$last"; }
summary="final cost $(printf '%.4g' "$(field "$c_cost")") after $(field "$c_iter") iterations"
if [[ "$c_train" != 0 ]]; then
  summary+=", train acc $(printf '%.4f' "$(field "$c_train")")"
fi
if [[ "$c_test" != 0 ]]; then
  summary+=", test acc $(printf '%.4f' "$(field "$c_test")")"
fi
if [[ "$c_vcost" != 0 ]]; then
  summary+=", dev cost $(printf '%.4g' "$(field "$c_vcost")")"
fi

# Points as well as lines when there are few rows, so a short run still shows.
style="lines"
(( rows < 40 )) && style="linespoints"

if gnuplot -e 'set terminal' 2>/dev/null | grep -q pngcairo; then
  term='pngcairo size 1000,600 enhanced font "sans,11"'
else
  term='png size 1000,600'
fi

# gnuplot string literals: gq quotes verbatim (single quotes, doubled
# inside); gdq escapes for a double-quoted string, where \n is a newline.
gq() { printf "'%s'" "${1//\'/\'\'}"; }
gdq() { local s=${1//\\/\\\\}; printf '%s' "${s//\"/\\\"}"; }

{
  echo "set terminal $term"
  echo "set output $(gq "$out")"
  echo "set datafile separator ','"
  echo "set datafile missing 'nan'"
  # \n stays literal here: gnuplot turns it into a line break.
  printf '%s\n' "set title \"$(gdq "dnn-train learning curve: $(basename -- "$csv")")\\n$(gdq "$summary")\" noenhanced"
  echo "set xlabel 'iteration'"
  echo "set ylabel 'cost'"
  echo "set grid"
  echo "set key outside top center horizontal"
  echo "set ytics nomirror"
  plot="plot $(gq "$csv") every ::1 using $c_iter:$c_cost with $style lw 2 lc rgb '#1f77b4' title 'training cost'"
  if [[ "$c_vcost" != 0 ]]; then
    plot+=", '' every ::1 using $c_iter:$c_vcost with $style lw 2 lc rgb '#e69f00' title 'dev cost'"
  fi
  if [[ "$c_train" != 0 || "$c_test" != 0 || "$c_vacc" != 0 ]]; then
    echo "set y2label 'accuracy'"
    echo "set y2tics"
    echo "set y2range [*:1]"
    echo "set format y2 '%.2f'"
  fi
  if [[ "$c_train" != 0 ]]; then
    plot+=", '' every ::1 using $c_iter:$c_train axes x1y2 with $style lw 2 lc rgb '#2ca02c' title 'train accuracy'"
  fi
  if [[ "$c_test" != 0 ]]; then
    plot+=", '' every ::1 using $c_iter:$c_test axes x1y2 with $style lw 2 lc rgb '#d62728' title 'test accuracy'"
  fi
  if [[ "$c_vacc" != 0 ]]; then
    plot+=", '' every ::1 using $c_iter:$c_vacc axes x1y2 with $style lw 2 dt 2 lc rgb '#9467bd' title 'dev accuracy'"
  fi
  echo "$plot"
} > "$out.gp"

if ! gnuplot "$out.gp"; then
  echo "plot.sh: gnuplot failed; script kept at $out.gp" >&2
  exit 1
fi
rm -f -- "$out.gp"
echo "$out"
