#!/bin/bash
# Finished relage runs, end to end on four fixture images (whole images, 48 px crops): two tiny
# runs (base and rn heads, one epoch, with a test cache) write summary.json and
# test_predictions.csv.
# - Prediction crops as training did: the model records its crop, and `relage predict` on the
#   original files gives the ages `relage eval --model --cache` gives on the cache, image by image.
# - relage compare takes the run folders, groups them by model and runs the paired test over
#   their per-image errors against the labels.
set -euo pipefail
relage=$1
images=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
printf 'path,age\nrgb.jpg,20\ngray.jpg,30\ncmyk.jpg,40\nexif6.png,50\n' > "$dir/labels.csv"
"$relage" prepare --labels "$dir/labels.csv" --images "$images" --detector none --size 48 \
    --out "$dir/faces.rlg" --quiet > /dev/null
for head in base rn; do
    "$relage" train --train "$dir/faces.rlg" --test "$dir/faces.rlg" --out "$dir/$head" \
        --arch resnet18 --width 0.125 --input 40 --epochs 1 --batch 2 --head "$head" \
        --protocol tiny --quiet > /dev/null
    [ -s "$dir/$head/summary.json" ] || fail "no summary for $head"
    [ "$(wc -l < "$dir/$head/test_predictions.csv")" = 5 ] || fail "test predictions for $head"
done
grep -q '"protocol":"tiny"' "$dir/base/summary.json" || fail "summary: $(cat "$dir/base/summary.json")"

model=$dir/base/model.safetensors
grep -q "none largest margin=0 square=0 size=48" "$model" || fail "the model does not record its crop"
"$relage" eval --model "$model" --cache "$dir/faces.rlg" --out "$dir/eval.csv" > /dev/null 2>&1
(cd "$images" && "$relage" predict --model "$model" --csv --quiet \
    rgb.jpg gray.jpg cmyk.jpg exif6.png) > "$dir/predict.csv"
"$relage" compare "$dir/base" "$dir/rn" --labels "$dir/labels.csv" --json > "$dir/cmp.json"
python3 - "$dir" <<'PY'
import csv, json, sys
d = sys.argv[1]
ev = {r["file_name"]: float(r["predicted_age"]) for r in csv.DictReader(open(f"{d}/eval.csv"))}
pr = {r["image"]: float(r["age"]) for r in csv.DictReader(open(f"{d}/predict.csv"))}
assert set(ev) == set(pr) and len(ev) == 4, (ev, pr)
for k in ev:
    assert abs(ev[k] - pr[k]) < 0.01, (k, ev[k], pr[k])
c = json.load(open(f"{d}/cmp.json"))
assert [m["model"] for m in c["models"]] == ["resnet18_base", "resnet18_rn"], c
t = c["tests"][0]
assert t["paired_df"] == 3 and 0 <= t["paired_p"] <= 1, t
print("cli_runs: ok; predict = eval:", ", ".join(f"{k} {pr[k]:.2f}" for k in sorted(pr)),
      "; paired p", t["paired_p"])
PY
