#!/bin/bash
# How relage eval scales with the number of images: N random labels and predictions (names
# matched by their part after the last '/'), scored and drawn as two figures; prints the wall
# time in seconds, the median of 3.  bench/eval_scale.sh build/relage [N]
set -euo pipefail
relage=$1
n=${2:-500000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
awk -v n="$n" 'BEGIN { srand(1); print "path,age"; for (i = 0; i < n; i++) printf "img/%07d.jpg,%d\n", i, int(rand() * 101) }' > "$dir/labels.csv"
awk -v n="$n" 'BEGIN { srand(2); print "file_name,predicted_age"; for (i = 0; i < n; i++) printf "%07d.jpg,%.2f\n", i, rand() * 100 }' > "$dir/pred.csv"
for r in 1 2 3; do
  start=$(date +%s.%N)
  "$relage" eval --predictions "$dir/pred.csv" --labels "$dir/labels.csv" \
    --scatter "$dir/s.png" --error-by-age "$dir/e.png" > /dev/null
  awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { print a - b }'
done | sort -n | sed -n 2p | xargs printf '{"images":%d,"seconds":%.2f}\n' "$n"
