#!/bin/sh
# Join the monthly summaries of every station-year into one sorted CSV report and a
# plain-text table for people.
# Usage: sh scripts/report.sh [work-dir]   (default: out)
set -eu

work=${1:-out}
split_dir=$work/split
summary_dir=$work/summary
csv=$work/report.csv
txt=$work/report.txt
header='station,year,month,precipitation_mm,temp_max_c,temp_min_c'

if [ ! -d "$split_dir" ]; then
  echo "report: $split_dir does not exist; run the split and summarise steps first." >&2
  exit 1
fi

# Every split file needs its summary; a missing one means a summarise instance did not run.
count=0
for split_file in "$split_dir"/*.csv; do
  [ -e "$split_file" ] || continue
  summary=$summary_dir/$(basename "$split_file")
  if [ ! -f "$summary" ]; then
    echo "report: summary $summary is missing for $split_file; run sh scripts/summarise.sh $split_file." >&2
    exit 1
  fi
  if [ "$(head -n 1 "$summary")" != "$header" ]; then
    echo "report: $summary starts with \"$(head -n 1 "$summary")\", expected \"$header\"; rerun the summarise step." >&2
    exit 1
  fi
  count=$((count + 1))
done
if [ "$count" -eq 0 ]; then
  echo "report: $split_dir holds no station-year files; run the split step first." >&2
  exit 1
fi

echo "::progress 0 joining $count summaries"

trap 'rm -f "$csv.tmp" "$txt.tmp"' EXIT
{
  echo "$header"
  for split_file in "$split_dir"/*.csv; do
    tail -n +2 "$summary_dir/$(basename "$split_file")"
  done | LC_ALL=C sort -t, -k1,1 -k2,2n -k3,3n
} > "$csv.tmp"
mv "$csv.tmp" "$csv"
echo "::progress 50 wrote $csv"
echo "::file $csv"

awk -F, '
  function rule() { print "--------------------------------------------------------" }
  function year_total() {
    printf "%-10s %4s  %-5s %10.1f %8.1f %8.1f\n", station, year, "total", rain_sum, year_high, year_low
    rule()
  }
  NR == 1 {
    print "Monthly weather by station (NOAA Climate Data Online)"
    print "precipitation: monthly total; temperatures: highest maximum and lowest minimum"
    print ""
    printf "%-10s %4s  %-5s %10s %8s %8s\n", "station", "year", "month", "precip mm", "max C", "min C"
    rule()
    next
  }
  $1 != station || $2 != year {
    if (NR > 2) year_total()
    station = $1; year = $2; years++
    rain_sum = 0; year_high = $5 + 0; year_low = $6 + 0
  }
  {
    printf "%-10s %4s  %-5s %10.1f %8.1f %8.1f\n", $1, $2, $3, $4, $5, $6
    rain_sum += $4
    if ($5 + 0 > year_high) year_high = $5 + 0
    if ($6 + 0 < year_low) year_low = $6 + 0
    rows++
  }
  END {
    if (rows > 0) year_total()
    printf "%d months from %d station-years\n", rows, years
  }
' "$csv" > "$txt.tmp"
mv "$txt.tmp" "$txt"

rows=$(($(wc -l < "$csv") - 1))
echo "::progress 100 wrote $txt"
echo "::file $txt"
echo "report: $rows months from $count station-years in $csv and $txt"
