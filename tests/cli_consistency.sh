#!/bin/bash
# Prediction crops as training did: a tiny model trained one epoch on a face cache (whole
# images, 48 px crops) records the crop in its file; `relage eval --model --cache` (the cached
# crops through the loader's evaluation transform) and `relage predict` (fresh crops of the
# original files through the public API) must then give the same ages, image by image.
set -euo pipefail
relage=$1
images=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
printf 'path,age\nrgb.jpg,20\ngray.jpg,30\ncmyk.jpg,40\nexif6.png,50\n' > "$dir/labels.csv"
"$relage" prepare --labels "$dir/labels.csv" --images "$images" --detector none --size 48 \
    --out "$dir/faces.rlg" --quiet > /dev/null
"$relage" train --train "$dir/faces.rlg" --out "$dir/run" --arch resnet18 --width 0.125 \
    --input 40 --epochs 1 --batch 2 --quiet > /dev/null
grep -q "none largest margin=0 square=0 size=48" "$dir/run/model.safetensors" \
    || fail "the model does not record its crop"
"$relage" eval --model "$dir/run/model.safetensors" --cache "$dir/faces.rlg" \
    --out "$dir/eval.csv" > /dev/null 2>&1
(cd "$images" && "$relage" predict --model "$dir/run/model.safetensors" --csv --quiet \
    rgb.jpg gray.jpg cmyk.jpg exif6.png) > "$dir/predict.csv"
python3 - "$dir/eval.csv" "$dir/predict.csv" <<'PY'
import csv, sys
ev = {r["file_name"]: float(r["predicted_age"]) for r in csv.DictReader(open(sys.argv[1]))}
pr = {r["image"]: float(r["age"]) for r in csv.DictReader(open(sys.argv[2]))}
assert set(ev) == set(pr) and len(ev) == 4, (ev, pr)
for k in ev:
    assert abs(ev[k] - pr[k]) < 0.01, (k, ev[k], pr[k])
print("cli_consistency: ok,", ", ".join(f"{k} {pr[k]:.2f}" for k in sorted(pr)))
PY
