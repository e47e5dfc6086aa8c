#!/bin/sh
# Deliver the report (CSV and text) into an outbox folder.
# Usage: sh scripts/deliver.sh <configured-folder> <default-folder> [work-dir]
# An empty <configured-folder> means "use <default-folder>", which is created when missing.
# A configured folder must already exist: a typo in OUTBOX_A or OUTBOX_B fails the delivery
# instead of quietly creating a new folder.
set -eu

if [ "$#" -lt 2 ]; then
  echo "deliver: expected 2 or 3 arguments (configured folder, default folder, work dir), got $#; see the usage line in scripts/deliver.sh." >&2
  exit 1
fi

. "$(dirname "$0")/outbox.sh"
resolve_outbox deliver "$1" "$2" 1
work=${3:-out}

for name in report.csv report.txt; do
  if [ ! -f "$work/$name" ]; then
    echo "deliver: $work/$name does not exist; run the report step first (sh scripts/report.sh)." >&2
    exit 1
  fi
done

trap 'rm -f "$outbox/.report.csv.tmp" "$outbox/.report.txt.tmp"' EXIT
step=0
for name in report.csv report.txt; do
  # Copy under a hidden name and rename, so the outbox never holds a partial report.
  cp "$work/$name" "$outbox/.$name.tmp"
  mv "$outbox/.$name.tmp" "$outbox/$name"
  step=$((step + 1))
  echo "::progress $((step * 50)) delivered $name"
  echo "::file $outbox/$name"
done

echo "deliver: copied $work/report.csv and $work/report.txt to $outbox"
