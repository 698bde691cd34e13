#!/usr/bin/env bash
# The held-out error of a latency calibration per space, from the CSV that
# `narrow calibrate --csv FILE` writes: for every space, for all spaces but `sequential`, and
# for all of them, the held-out count, the median absolute percentage error and the share
# within ±10 % (the same statistics `narrow calibrate` prints for all spaces together: the
# error of a network is 100 × |predicted − measured mean| / measured mean).
#
#   scripts/calibration_by_space.sh fig2.csv
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 FILE.csv (written by narrow calibrate --csv FILE.csv)" >&2
  exit 2
fi
file=$1
if [ ! -r "$file" ]; then
  echo "$0: error: cannot read '$file'" >&2
  exit 2
fi
header='space,law,hash,params,macs,flops,layers,activation_peak_bytes,latency_mean_s,latency_median_s,latency_cv,repeats,held_out,predicted_s'
if [ "$(head -n 1 "$file")" != "$header" ]; then
  echo "$0: error: $file:1: not the header of narrow calibrate's CSV (expected $header)" >&2
  exit 2
fi
# One line per (group, error) of the held-out networks, sorted by group then error; then the
# median and the share within 10 % of each group.
awk -F, -v file="$file" -v prog="$0" '
  NR > 1 {
    if (NF != 14 || $9 + 0 <= 0) {
      printf "%s: error: %s:%d: expected 14 fields and a positive latency_mean_s\n", prog, file, NR > "/dev/stderr"
      bad = 1
      exit 2
    }
    if ($13 != 1) next
    e = 100 * ($14 - $9) / $9
    if (e < 0) e = -e
    print $1, e
    if ($1 != "sequential") print "(all but sequential)", e
    print "(all)", e
  }
  END { if (bad) exit 2 }' "$file" |
  sort -t' ' -k1,1 -k2,2g |
  awk '
    function flush() {
      if (n == 0) return
      median = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      printf "%-22s %8d %12.2f %% %12.1f %%\n", group, n, median, 100 * within / n
    }
    BEGIN { printf "%-22s %8s %14s %14s\n", "space", "held out", "median |err|", "within 10 %" }
    {
      name = $0
      sub(/ [^ ]*$/, "", name)
      e = $NF + 0
      if (name != group) { flush(); group = name; n = 0; within = 0 }
      v[++n] = e
      within += e <= 10
    }
    END { flush() }'
