#!/bin/sh
# Validate the daily weather CSV and copy it into a clean work folder.
# Usage: sh scripts/ingest.sh [input.csv] [work-dir]   (defaults: data/weather.csv out)
set -eu

input=${1:-data/weather.csv}
work=${2:-out}
expected_header='location,date,precipitation,temp_max,temp_min,wind,weather'

if [ ! -f "$input" ]; then
  echo "ingest: input file $input does not exist; pass the path of the weather CSV as the first argument." >&2
  exit 1
fi

case $work in
  '' | / | . | ..)
    echo "ingest: refusing to use \"$work\" as the work folder, since it is emptied first; pass a dedicated folder such as out." >&2
    exit 1
    ;;
esac

echo "::progress 0 validating $input"

# Earlier runs leave split files and summaries behind; start from an empty work folder
# so that a station-year dropped from the input cannot linger in the report.
rm -rf "$work"
mkdir -p "$work"

# Lines may end in CRLF; the copy in the work folder always uses LF.
tr -d '\r' < "$input" | awk -F, -v file="$input" -v header="$expected_header" '
  function fail(message) {
    printf "ingest: %s:%d: %s\n", file, NR, message > "/dev/stderr"
    failed = 1
    exit 1
  }
  function is_number(value) {
    return value ~ /^-?[0-9]+(\.[0-9]+)?$/
  }
  NR == 1 {
    if ($0 != header) fail("expected the header \"" header "\", got \"" $0 "\"; fix the first line of the file")
    print
    next
  }
  $0 == "" { fail("empty line; remove it") }
  index($0, "\"") > 0 { fail("quoted fields are not supported, got " $0 "; remove the quotes") }
  NF != 7 { fail("expected 7 fields, got " NF "; fix the row") }
  $1 == "" { fail("expected a station name in column location, got an empty field") }
  $2 !~ /^[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]$/ {
    fail("expected a date YYYY-MM-DD in column date, got \"" $2 "\"")
  }
  !is_number($3) { fail("expected a number in column precipitation, got \"" $3 "\"") }
  !is_number($4) { fail("expected a number in column temp_max, got \"" $4 "\"") }
  !is_number($5) { fail("expected a number in column temp_min, got \"" $5 "\"") }
  !is_number($6) { fail("expected a number in column wind, got \"" $6 "\"") }
  $3 < 0 { fail("expected a precipitation of 0 or more, got " $3) }
  $4 + 0 < $5 + 0 { fail("expected temp_max >= temp_min, got " $4 " < " $5) }
  { print; rows++ }
  END {
    if (failed) exit 1
    if (NR == 0) {
      printf "ingest: %s is empty; expected the header \"%s\" and data rows.\n", file, header > "/dev/stderr"
      exit 1
    }
    if (rows == 0) {
      printf "ingest: %s has a header but no data rows; expected at least one row.\n", file > "/dev/stderr"
      exit 1
    }
  }
' > "$work/weather.csv"

rows=$(($(wc -l < "$work/weather.csv") - 1))
stations=$(tail -n +2 "$work/weather.csv" | cut -d, -f1 | LC_ALL=C sort -u | wc -l)
echo "::progress 100 validated"
echo "::file $work/weather.csv"
echo "ingest: $rows rows from $stations stations copied to $work/weather.csv"
