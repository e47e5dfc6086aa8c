#!/bin/sh
# Summarise one station-year file by month: precipitation total, highest temp_max and
# lowest temp_min. The summary goes to ../summary/<same name> next to the split folder.
# Usage: sh scripts/summarise.sh [split-file]   (default: $TASKCHART_FILE)
set -eu

input=${1:-${TASKCHART_FILE:-}}
expected_header='location,date,precipitation,temp_max,temp_min,wind,weather'

if [ -z "$input" ]; then
  echo "summarise: no input file; pass a split file as the first argument or set TASKCHART_FILE." >&2
  exit 1
fi
if [ ! -f "$input" ]; then
  echo "summarise: input file $input does not exist; run the split step first (sh scripts/split.sh)." >&2
  exit 1
fi

summary_dir=$(dirname "$(dirname "$input")")/summary
target=$summary_dir/$(basename "$input")
mkdir -p "$summary_dir"
trap 'rm -f "$target.tmp"' EXIT

echo "::progress 0 summarising $(basename "$input")"

awk -F, -v file="$input" -v header="$expected_header" '
  function fail(message) {
    printf "summarise: %s:%d: %s\n", file, NR, message > "/dev/stderr"
    failed = 1
    exit 1
  }
  NR == 1 {
    if ($0 != header) fail("expected the header \"" header "\", got \"" $0 "\"; regenerate the file with the split step")
    next
  }
  NF != 7 { fail("expected 7 fields, got " NF "; regenerate the file with the split step") }
  {
    station = $1
    year = substr($2, 1, 4) + 0
    month = substr($2, 6, 2) + 0
    if (month < 1 || month > 12) fail("expected a month from 01 to 12 in date \"" $2 "\"")
    if (!(month in rain)) {
      rain[month] = 0
      high[month] = $4 + 0
      low[month] = $5 + 0
    }
    rain[month] += $3
    if ($4 + 0 > high[month]) high[month] = $4 + 0
    if ($5 + 0 < low[month]) low[month] = $5 + 0
    if (first_station == "") {
      first_station = station
      first_year = year
    } else if (station != first_station) {
      fail("expected only station \"" first_station "\", got \"" station "\"")
    } else if (year != first_year) {
      fail("expected only year " first_year ", got " year)
    }
  }
  END {
    if (failed) exit 1
    if (first_station == "") {
      printf "summarise: %s has no data rows; expected at least one.\n", file > "/dev/stderr"
      exit 1
    }
    print "station,year,month,precipitation_mm,temp_max_c,temp_min_c"
    for (m = 1; m <= 12; m++) {
      if (m in rain) printf "%s,%d,%02d,%.1f,%.1f,%.1f\n", first_station, first_year, m, rain[m], high[m], low[m]
    }
  }
' "$input" > "$target.tmp"
mv "$target.tmp" "$target"

echo "::progress 100 done"
echo "::file $target"
echo "summarise: $(($(wc -l < "$target") - 1)) months written to $target"
