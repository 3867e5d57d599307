#!/bin/bash
# Finished relage runs, end to end on four fixture images (whole images, 48 px crops): two tiny
# runs (base and rn heads, one epoch, with a test cache) write summary.json and
# test_predictions.csv.
# - Prediction crops as training did: the model records its crop, and `relage predict` on the
#   original files gives the ages `relage eval --model --cache` gives on the cache, image by image;
#   so does `relage eval --model` on the dataset itself (--labels with --images), whose metrics
#   equal the cache's.
# - A run started from another model (--init) records its own training faces' crop, not the
#   crop of the model it started from.
# - relage export writes the model with 16-bit weights: about half the size, the same crop
#   record, ages within 0.05 years of the float32 model's; bad arguments are refused.
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
"$relage" eval --model "$model" --labels "$dir/labels.csv" --images "$images" \
    --out "$dir/eval_files.csv" --json > "$dir/eval_files.json" 2> /dev/null
"$relage" eval --model "$model" --cache "$dir/faces.rlg" --json > "$dir/eval_cache.json" 2> /dev/null
cmp -s "$dir/eval_files.json" "$dir/eval_cache.json" ||
    fail "eval on the files: $(cat "$dir/eval_files.json") vs the cache: $(cat "$dir/eval_cache.json")"
printf 'path,age\nrgb.jpg,20\nnowhere.jpg,30\n' > "$dir/gap.csv"
"$relage" eval --model "$model" --labels "$dir/gap.csv" --images "$images" --json \
    > "$dir/gap.json" 2> "$dir/err"
grep -q '"n":1,.*"n_missing":1' "$dir/gap.json" && grep -q "1 of 2 images could not be predicted" \
    "$dir/err" || fail "eval with a missing image: $(cat "$dir/gap.json" "$dir/err")"
"$relage" prepare --labels "$dir/labels.csv" --images "$images" --detector none --size 44 \
    --out "$dir/faces44.rlg" --quiet > /dev/null
"$relage" train --train "$dir/faces44.rlg" --out "$dir/init" --init "$model" --arch resnet18 \
    --width 0.125 --input 40 --epochs 1 --batch 2 --quiet > /dev/null
grep -q "none largest margin=0 square=0 size=44" "$dir/init/model.safetensors" ||
    fail "a run from --init kept the crop of the model it started from"
"$relage" export "$model" --out "$dir/half.safetensors" 2> /dev/null
[ "$(stat -c %s "$dir/half.safetensors")" -lt "$(( $(stat -c %s "$model") * 6 / 10 ))" ] ||
    fail "the f16 export is not smaller"
grep -q "none largest margin=0 square=0 size=48" "$dir/half.safetensors" || fail "export lost the crop"
"$relage" eval --model "$dir/half.safetensors" --cache "$dir/faces.rlg" --out "$dir/half.csv" \
    > /dev/null 2>&1
if "$relage" export "$model" --out "$dir/x.safetensors" --dtype f8 2> "$dir/err"; then
    fail "export accepted --dtype f8"
fi
grep -q "f16, bf16 or f32" "$dir/err" || fail "export error: $(cat "$dir/err")"
if "$relage" export "$dir/missing.safetensors" --out "$dir/x.safetensors" 2> "$dir/err"; then
    fail "export of a missing model succeeded"
fi
grep -q "missing.safetensors" "$dir/err" || fail "export error: $(cat "$dir/err")"
[ ! -e "$dir/x.safetensors" ] || fail "a failed export left a file"
"$relage" compare "$dir/base" "$dir/rn" --labels "$dir/labels.csv" --json > "$dir/cmp.json"
python3 - "$dir" <<'PY'
import csv, json, sys
d = sys.argv[1]
ev = {r["file_name"]: float(r["predicted_age"]) for r in csv.DictReader(open(f"{d}/eval.csv"))}
pr = {r["image"]: float(r["age"]) for r in csv.DictReader(open(f"{d}/predict.csv"))}
files = {r["file_name"]: float(r["predicted_age"])
         for r in csv.DictReader(open(f"{d}/eval_files.csv"))}
assert set(ev) == set(pr) == set(files) and len(ev) == 4, (ev, pr, files)
for k in ev:
    assert abs(ev[k] - pr[k]) < 0.01 and abs(files[k] - ev[k]) < 1e-3, (k, ev[k], pr[k], files[k])
half = {r["file_name"]: float(r["predicted_age"]) for r in csv.DictReader(open(f"{d}/half.csv"))}
assert set(half) == set(ev) and all(abs(half[k] - ev[k]) < 0.05 for k in ev), (half, ev)
c = json.load(open(f"{d}/cmp.json"))
assert [m["model"] for m in c["models"]] == ["resnet18_base", "resnet18_rn"], c
t = c["tests"][0]
assert t["paired_df"] == 3 and 0 <= t["paired_p"] <= 1, t
print("cli_runs: ok; predict = eval:", ", ".join(f"{k} {pr[k]:.2f}" for k in sorted(pr)),
      "; paired p", t["paired_p"])
PY
