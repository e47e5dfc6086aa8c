#!/bin/sh
# Split the validated CSV into one file per station and year, announcing each file as soon
# as it is complete so that its summary can start while the next file is being written.
# Usage: sh scripts/split.sh [work-dir]   (default: out)
# SPLIT_PAUSE: seconds to wait after each file (default 0.2), which keeps the producer running
# long enough to watch summaries start in the terminal; 0 turns it off.
set -eu

work=${1:-out}
input=$work/weather.csv
pause=${SPLIT_PAUSE:-0.2}
split_dir=$work/split

if [ ! -f "$input" ]; then
  echo "split: $input does not exist; run the ingest step first (sh scripts/ingest.sh)." >&2
  exit 1
fi

case $pause in
  '' | *[!0-9.]* | *.*.*)
    echo "split: SPLIT_PAUSE must be a number of seconds such as 0.2, got \"$pause\"." >&2
    exit 1
    ;;
esac

rm -rf "$split_dir"
mkdir -p "$split_dir"

header=$(head -n 1 "$input")
keys=$work/station-years.txt

# One line per station-year, in the order of the input: "Seattle,2012".
tail -n +2 "$input" | awk -F, '
  { key = $1 "," substr($2, 1, 4) }
  !(key in seen) { seen[key] = 1; print key }
' > "$keys"

total=$(wc -l < "$keys")
if [ "$total" -eq 0 ]; then
  echo "split: $input has no data rows; expected at least one." >&2
  exit 1
fi

done_count=0
while IFS=, read -r station year; do
  # File names keep letters, digits, dots and dashes: "New York" becomes "New_York".
  slug=$(printf '%s' "$station" | tr -c 'A-Za-z0-9.-' '_')
  target=$split_dir/$slug-$year.csv
  if [ -e "$target" ]; then
    echo "split: stations \"$station\" and another one both map to $target; rename one of them in the input." >&2
    exit 1
  fi

  # Write under a temporary name and rename, so a reader never sees a half-written file.
  {
    printf '%s\n' "$header"
    tail -n +2 "$input" | awk -F, -v station="$station" -v year="$year" \
      '$1 == station && substr($2, 1, 4) == year'
  } > "$target.tmp"
  mv "$target.tmp" "$target"

  done_count=$((done_count + 1))
  echo "::file $target"
  echo "::progress $((done_count * 100 / total)) $station $year"
  if [ "$done_count" -lt "$total" ] && [ "$pause" != 0 ]; then
    sleep "$pause"
  fi
done < "$keys"

echo "split: wrote $total station-year files to $split_dir"
