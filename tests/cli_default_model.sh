#!/bin/bash
# The shipped default model (models/relage-default.safetensors), out of the box:
# - at most 50 MB, records MTCNN crops;
# - `relage predict examples/astronaut.png` with no --model finds it; without MTCNN weights it
#   falls back to the cascade detector and says so; the one face's age is plausible (the
#   shipped model says about 27 for her; 18-65 is accepted, a regression guard, not a metric);
# - with MTCNN weights (../shared/models/mtcnn, skipped when absent) it says it used MTCNN and
#   finds the same face;
# - a photo without a face is predicted on the whole image.
set -euo pipefail
relage=$1
repo=$2
model=$repo/models/relage-default.safetensors
if [ ! -f "$model" ]; then
    echo "cli_default_model: SKIP: no $model"
    exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

[ "$(stat -c %s "$model")" -le 50000000 ] || fail "the default model is over 50 MB"
grep -q "mtcnn largest" "$model" || fail "the default model does not record MTCNN crops"
check_age() { # JSONL DETECTOR
    python3 - "$1" "$2" <<'PY'
import json, sys
row = json.loads(open(sys.argv[1]).readline())
assert row["whole_image"] is False and len(row["faces"]) == 1, row
face = row["faces"][0]
assert 18 <= face["age"] <= 65, face
x1, y1, x2, y2 = face["box"]
assert 150 <= (x1 + x2) / 2 <= 250 and 50 <= (y1 + y2) / 2 <= 150, face  # her face
print(f"cli_default_model: {sys.argv[2]}: age {face['age']:.1f}, box {face['box']}")
PY
}

(cd "$repo" && HOME="$dir" RELAGE_MTCNN= RELAGE_MODEL= \
    "$relage" predict examples/astronaut.png --json) > "$dir/cascade.jsonl" 2> "$dir/cascade.err"
grep -q "cascade" "$dir/cascade.err" || fail "no word of the cascade: $(cat "$dir/cascade.err")"
check_age "$dir/cascade.jsonl" cascade

mtcnn=$repo/../shared/models/mtcnn/face-api-tfjs
if [ -d "$mtcnn" ]; then
    (cd "$repo" && RELAGE_MTCNN="$mtcnn" RELAGE_MODEL= \
        "$relage" predict examples/astronaut.png --json) > "$dir/mtcnn.jsonl" 2> "$dir/mtcnn.err"
    grep -q "detector mtcnn" "$dir/mtcnn.err" || fail "no word of MTCNN: $(cat "$dir/mtcnn.err")"
    check_age "$dir/mtcnn.jsonl" mtcnn
else
    echo "cli_default_model: MTCNN part skipped: no $mtcnn"
fi

(cd "$repo" && HOME="$dir" RELAGE_MTCNN= RELAGE_MODEL= \
    "$relage" predict examples/coffee.png --json 2> /dev/null) > "$dir/coffee.jsonl"
grep -q '"whole_image":true' "$dir/coffee.jsonl" || fail "coffee: $(cat "$dir/coffee.jsonl")"
echo "cli_default_model: ok"
