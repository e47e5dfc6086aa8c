#!/bin/sh
# Check a delivery: the outbox copies equal the reports, and the CSV holds one row per
# station-year-month of the ingested data.
# Usage: sh scripts/check.sh <configured-folder> <default-folder> [work-dir]
set -eu

if [ "$#" -lt 2 ]; then
  echo "check: expected 2 or 3 arguments (configured folder, default folder, work dir), got $#; see the usage line in scripts/check.sh." >&2
  exit 1
fi

. "$(dirname "$0")/outbox.sh"
resolve_outbox check "$1" "$2"
work=${3:-out}

for name in report.csv report.txt; do
  if [ ! -f "$outbox/$name" ]; then
    echo "check: $outbox/$name does not exist; run the delivery step first." >&2
    exit 1
  fi
  if ! cmp -s "$work/$name" "$outbox/$name"; then
    echo "check: $outbox/$name differs from $work/$name; deliver the report again." >&2
    exit 1
  fi
done

delivered=$(($(wc -l < "$outbox/report.csv") - 1))
expected=$(tail -n +2 "$work/weather.csv" | awk -F, '{ print $1 "," substr($2, 1, 7) }' | LC_ALL=C sort -u | wc -l)
if [ "$delivered" -ne "$expected" ]; then
  echo "check: $outbox/report.csv has $delivered rows, expected $expected (one per station and month in $work/weather.csv); rerun the pipeline." >&2
  exit 1
fi

sum=$(cksum < "$outbox/report.csv")
echo "::progress 100 checked"
echo "check: $outbox/report.csv matches $work/report.csv ($delivered rows, cksum ${sum% *})"
