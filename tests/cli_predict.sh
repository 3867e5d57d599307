#!/bin/bash
# relage predict end to end on a random model (made by relage bench --save) with the cascade
# detector (Debian's opencv-data): the table, JSON lines, CSV, --dist, @LIST, standard input,
# --draw, a bad file (reported, skipped, exit code 1). (CI builds the installed API example
# with pkg-config.)
set -euo pipefail
relage=$1
examples=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$relage" bench --arch resnet18 --input 64 --width 0.25 --iters 1 --warmup 0 --quiet \
    --save "$dir/model.safetensors" >/dev/null
run() { "$relage" predict --model "$dir/model.safetensors" --detector cascade --quiet "$@"; }

run "$examples/astronaut.png" > "$dir/table.txt"
grep -q "astronaut.png: 1 face$" "$dir/table.txt" || fail "table: $(cat "$dir/table.txt")"

run "$examples/astronaut.png" "$examples/coffee.png" --json --flip > "$dir/out.jsonl"
[ "$(wc -l < "$dir/out.jsonl")" = 2 ] || fail "two JSON lines expected"
python3 - "$dir/out.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
face = rows[0]["faces"][0]
assert set(face) == {"box", "prob", "age", "spread", "interval", "regression"}, face
assert 0 <= face["age"] <= 100 and face["interval"][0] <= face["age"] <= face["interval"][1]
assert rows[0]["whole_image"] is False and rows[1]["whole_image"] is True, rows
assert rows[1]["faces"][0]["box"] == [0, 0, 600, 400], rows[1]
PY

printf '%s\n' "$examples/astronaut.png" "# a comment" "$dir/missing.jpg" > "$dir/list.txt"
printf 'not an image' > "$dir/bad.jpg"
set +e
run "@$dir/list.txt" "$dir/bad.jpg" --csv --dist > "$dir/out.csv" 2> "$dir/err.txt"
rc=$?
set -e
[ $rc = 1 ] || fail "exit code $rc with bad files, expected 1"
grep -q "2 of 3 images failed" "$dir/err.txt" || fail "stderr: $(cat "$dir/err.txt")"
head -1 "$dir/out.csv" | grep -q "^image,face,whole_image,x1,y1,x2,y2,prob,age,spread,p10,p90,regression,p0,p1," \
    || fail "csv header"
[ "$(wc -l < "$dir/out.csv")" = 2 ] || fail "one CSV row expected"

run "$examples/astronaut.png" --draw "$dir/drawn" > /dev/null
[ -s "$dir/drawn/astronaut.png" ] || fail "no drawn image"
# JSON stays UTF-8 whatever a file name holds: a byte that is not UTF-8 becomes U+FFFD
cp "$examples/astronaut.png" "$dir/"$'caf\xe9-\xc3\xa9'".png"
run "$dir/"$'caf\xe9-\xc3\xa9'".png" --json > "$dir/names.jsonl"
grep -q 'caf\\ufffd-'$'\xc3\xa9''\.png' "$dir/names.jsonl" || fail "name not made UTF-8: $(cat "$dir/names.jsonl")"
# a list that names itself, and a folder with a link back up, end with an error or a skip
echo "@$dir/self.txt" > "$dir/self.txt"
if run "@$dir/self.txt" 2> "$dir/err.txt"; then fail "a self-naming list accepted"; fi
grep -q "nested more than 8 deep" "$dir/err.txt" || fail "self list: $(cat "$dir/err.txt")"
mkdir -p "$dir/loop/sub" && cp "$examples/astronaut.png" "$dir/loop/sub/" && ln -s .. "$dir/loop/sub/up"
[ "$(run "$dir/loop" --csv 2> /dev/null | wc -l)" = 2 ] || fail "a link loop: not one image"
# --draw never overwrites an input, and inputs with the same name get their own drawings
mkdir -p "$dir/a" "$dir/b"
cp "$examples/astronaut.png" "$dir/a/x.png"
cp "$examples/astronaut.png" "$dir/b/x.png"
sum=$(md5sum < "$dir/a/x.png")
run "$dir/a/x.png" "$dir/b/x.png" --draw "$dir/a" > /dev/null
[ "$(md5sum < "$dir/a/x.png")" = "$sum" ] || fail "--draw overwrote an input"
[ -s "$dir/a/x-2.png" ] && [ -s "$dir/a/x-3.png" ] || fail "drawings: $(ls "$dir/a")"
# a --draw that is a file is refused before any work; a drawing that fails keeps the ages
if run "$examples/astronaut.png" --draw "$dir/a/x.png" 2> "$dir/err.txt"; then fail "--draw FILE accepted"; fi
grep -q "not a folder" "$dir/err.txt" || fail "--draw FILE: $(cat "$dir/err.txt")"
mkdir -p "$dir/c/astronaut.png" # a folder where the drawing would go
if run "$examples/astronaut.png" --json --draw "$dir/c" > "$dir/c.jsonl" 2> "$dir/err.txt"; then
  fail "a failed drawing exits 0"
fi
grep -q '"faces"' "$dir/c.jsonl" || fail "a failed drawing lost the ages"
grep -q "drawing .*astronaut.png" "$dir/err.txt" || fail "drawing error: $(cat "$dir/err.txt")"
# standard input: "-" is an image (the same ages as the file), "@-" a list; not both
run "$examples/astronaut.png" --json | sed 's|"image":"[^"]*"|"image":"-"|' > "$dir/file.jsonl"
run - --json --draw "$dir/d" < "$examples/astronaut.png" > "$dir/stdin.jsonl"
cmp -s "$dir/file.jsonl" "$dir/stdin.jsonl" || fail "-: $(cat "$dir/stdin.jsonl")"
[ -s "$dir/d/stdin.png" ] || fail "-: no drawing $(ls "$dir/d")"
echo "$examples/astronaut.png" | run @- | cmp -s - "$dir/table.txt" || fail "@-"
if run - @- < "$examples/astronaut.png" 2> "$dir/err.txt"; then fail "- and @- accepted"; fi
grep -q "can be given once only" "$dir/err.txt" || fail "- @-: $(cat "$dir/err.txt")"
# on a terminal (script gives the command one) "-" is refused at once instead of waiting
script -qc "$relage predict - --model $dir/model.safetensors" /dev/null < /dev/null > "$dir/tty.txt" || true
grep -q "standard input, which is a terminal" "$dir/tty.txt" || fail "- on a terminal: $(cat "$dir/tty.txt")"
if run - --json < /dev/null > "$dir/empty.jsonl"; then fail "an empty standard input exits 0"; fi
grep -q '"error":"standard input: empty' "$dir/empty.jsonl" || fail "empty -: $(cat "$dir/empty.jsonl")"

set +e
"$relage" predict --model "$dir/nope.safetensors" "$examples/astronaut.png" 2> "$dir/err.txt"
rc=$?
set -e
[ $rc = 1 ] && grep -q "nope.safetensors" "$dir/err.txt" || fail "missing model: rc $rc"

# --precision: fp32 gives the same table; bf16 runs where the CPU has AVX512-BF16 or AMX and is
# refused with the reason elsewhere; other names are refused with the choices.
run "$examples/astronaut.png" --precision fp32 | cmp -s - "$dir/table.txt" || fail "--precision fp32"
if run "$examples/astronaut.png" --precision bf16 > "$dir/bf16.txt" 2> "$dir/err.txt"; then
    grep -q "astronaut.png: 1 face$" "$dir/bf16.txt" || fail "bf16 table: $(cat "$dir/bf16.txt")"
else
    grep -q "precision bf16 needs AVX512-BF16 or AMX" "$dir/err.txt" || fail "bf16: $(cat "$dir/err.txt")"
fi
if run "$examples/astronaut.png" --precision fp16 2> "$dir/err.txt"; then fail "fp16 accepted"; fi
grep -q "unknown precision 'fp16' (choose fp32 or bf16)" "$dir/err.txt" || fail "fp16: $(cat "$dir/err.txt")"
echo "cli_predict: ok"
