#!/usr/bin/env bash
# Bad input across the commands: a clear error and a failing exit code, nothing replaced or
# damaged. Outputs that are not regular files (a pipe, a link to one, a link to nothing) are
# refused and a link to a file is written through; an output that is one of the dataset's
# images, a run folder's record or the model read is refused; figures are not drawn when the
# evaluation fails; standard output that cannot be written fails the command; a NUL byte in a
# text file, implausible metrics in a runs file and a damaged label in a face cache are named;
# a named MTCNN folder without weights does not fall back; a pipe among the images does not hang.
set -u
relage=$1
repo=$2
images=$repo/tests/fixtures/images
model=$repo/models/relage-default.safetensors
photo=$repo/examples/astronaut.png
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0 pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $1" >&2; fi; }

# ---- outputs that are not regular files ----
mkfifo "$out/fifo"
ln -s fifo "$out/fifo_link"
ln -s nothing.png "$out/dangling.png"
echo old > "$out/real.png"
ln -s real.png "$out/link.png"
timeout 60 "$relage" explain "$photo" --model "$model" --out "$out/fifo" > /dev/null 2> "$out/err"
check "explain --out a pipe exits 1, the pipe kept" "[ $? -eq 1 ] && grep -q 'not a regular file' '$out/err' && [ -p '$out/fifo' ]"
timeout 60 "$relage" export "$model" --out "$out/fifo_link" 2> "$out/err"
check "export --out a link to a pipe exits 1, the link kept" "[ $? -eq 1 ] && grep -q 'not a regular file' '$out/err' && [ -L '$out/fifo_link' ]"
timeout 60 "$relage" explain "$photo" --model "$model" --out "$out/dangling.png" > /dev/null 2> "$out/err"
check "a link to nothing exits 1" "[ $? -eq 1 ] && grep -q 'a symbolic link to nothing' '$out/err' && [ -L '$out/dangling.png' ]"
timeout 60 "$relage" explain "$photo" --model "$model" --out "$out/link.png" > /dev/null 2>&1
check "a link to a file: the file replaced, the link kept" "[ $? -eq 0 ] && [ -L '$out/link.png' ] && head -c 4 '$out/real.png' | grep -q PNG"
echo previous > "$out/app.log"
timeout 60 "$relage" explain "$photo" --model "$model" --out /dev/stdout >> "$out/app.log" 2> "$out/err"
check "--out /dev/stdout redirected to a file exits 1, the file kept" "[ $? -eq 1 ] && grep -q 'standard output' '$out/err' && grep -q previous '$out/app.log'"
ls "$out" | grep -q '\.tmp\.' && tmp_left=1 || tmp_left=0
check "no temporary file left" "[ $tmp_left -eq 0 ]"

# ---- outputs that are inputs ----
mkdir "$out/ds"
cp "$images/rgb.jpg" "$images/gray.jpg" "$out/ds/"
printf 'path,age\nrgb.jpg,20\ngray.jpg,30\n' > "$out/labels.csv"
sum=$(md5sum < "$out/ds/gray.jpg")
"$relage" prepare --labels "$out/labels.csv" --images "$out/ds" --detector none --size 32 \
  --out "$out/ds/gray.jpg" --quiet 2> "$out/err"
check "prepare --out an image of the dataset exits 1, the image intact" "[ $? -eq 1 ] && grep -q 'an image of the dataset' '$out/err' && [ \"\$(md5sum < '$out/ds/gray.jpg')\" = '$sum' ]"
cp "$model" "$out/m.safetensors"
"$relage" export "$out/m.safetensors" --out "$out/m.safetensors" 2> "$out/err"
check "export --out its own input exits 2" "[ $? -eq 2 ] && grep -q 'also an input' '$out/err' && cmp -s '$model' '$out/m.safetensors'"
mkdir "$out/run"
echo '{"arch":"resnet18","head":"base","seed":1,"test_mae":5.5}' > "$out/run/summary.json"
cp -r "$out/run" "$out/run2"
"$relage" compare "$out/run" "$out/run2" --kde "$out/run2/summary.json" > /dev/null 2> "$out/err"
check "compare --kde onto a run's summary exits 2" "[ $? -eq 2 ] && grep -q 'also an input' '$out/err' && grep -q test_mae '$out/run2/summary.json'"
echo keep > "$out/h.png"
"$relage" eval --labels "$out/labels.csv" --hist "$out/h.png" --predictions "$out/nothing.csv" 2> /dev/null
check "a failed eval draws no figure" "[ $? -eq 1 ] && grep -q keep '$out/h.png'"

# ---- standard output ----
printf 'file_name,predicted_age\nrgb.jpg,22\ngray.jpg,31\n' > "$out/pred.csv"
"$relage" eval --predictions "$out/pred.csv" --labels "$out/labels.csv" --json > /dev/full 2> "$out/err"
check "a full standard output exits 1" "[ $? -eq 1 ] && grep -q 'writing standard output' '$out/err'"
"$relage" eval --predictions "$out/pred.csv" --labels "$out/labels.csv" --json >&- 2> "$out/err"
check "a closed standard output exits 1" "[ $? -eq 1 ] && grep -q 'standard output: it is closed' '$out/err'"

# ---- text files ----
printf 'path,age\nrgb.jpg,2\0000\ngray.jpg,30\n' > "$out/nul.csv"
"$relage" eval --predictions "$out/pred.csv" --labels "$out/nul.csv" 2> "$out/err"
check "a NUL byte in labels exits 1 naming the line" "[ $? -eq 1 ] && grep -q 'nul.csv:2: a NUL byte' '$out/err'"
printf '%s\n' "$images/rgb.jpg" > "$out/list.txt"
printf '\xEF\xBB\xBF%s\n' "$images/rgb.jpg" > "$out/bom.txt"
"$relage" detect --detector cascade @"$out/bom.txt" --json > "$out/bom.json" 2> "$out/err"
check "a list's UTF-8 byte order mark is skipped" "[ $? -eq 0 ] && grep -q rgb.jpg '$out/bom.json'"
printf '%s\n\0\n' "$images/rgb.jpg" > "$out/nul.txt"
"$relage" detect --detector cascade @"$out/nul.txt" > /dev/null 2> "$out/err"
check "a NUL byte in a list exits 2 naming the line" "[ $? -eq 2 ] && grep -q 'nul.txt:2: a NUL byte' '$out/err'"
sed 's/5.5/1e308/' "$out/run/summary.json" > "$out/run2/summary.json"
"$relage" compare "$out/run" "$out/run2" --json > /dev/null 2> "$out/err"
check "an implausible test MAE exits 1" "[ $? -eq 1 ] && grep -q 'not a MAE in years' '$out/err'"

mkdir "$out/elsewhere"
ln -s elsewhere/cache.rlg "$out/linked.rlg"
printf 'path,age\nrgb.jpg,20\n' > "$out/junk.csv"
"$relage" prepare --labels "$out/junk.csv" --images "$out/nowhere" --detector none --size 32 \
  --out "$out/linked.rlg" --quiet > /dev/null 2> "$out/err"
check "a failed prepare through a link leaves no partial file" "[ $? -eq 1 ] && [ -z \"\$(ls '$out/elsewhere')\" ]"
# a run whose log.jsonl holds a crash's zeros: the lines after them still count
printf '{"epoch":1,"val_mae":9}\n\0\0\0\0\n{"epoch":2,"val_mae":8}\n{"epoch":3,"val_mae":7}\n' > "$out/run/log.jsonl"
cp "$out/run/log.jsonl" "$out/run3.log"
echo '{"arch":"resnet18","head":"base","seed":2,"test_mae":5.6}' > "$out/run2/summary.json"
cp "$out/run3.log" "$out/run2/log.jsonl"
"$relage" compare "$out/run" "$out/run2" --curves "$out/curves.png" > /dev/null 2> "$out/err"
check "NUL bytes in log.jsonl spoil their own line only" "[ $? -eq 0 ] && [ -s '$out/curves.png' ]"

# ---- a damaged face cache label ----
"$relage" prepare --labels "$out/labels.csv" --images "$out/ds" --detector none --size 128 \
  --out "$out/c.rlg" --quiet > /dev/null 2>&1
printf '\x00\x00\xc0\x7f' | dd of="$out/c.rlg" bs=1 seek=$((512 + 176)) conv=notrunc 2> /dev/null
"$relage" eval --model "$model" --cache "$out/c.rlg" 2> "$out/err"
check "a NaN age in a cache exits 1 naming the record" "[ $? -eq 1 ] && grep -q 'record 0 (rgb.jpg): age nan' '$out/err'"

# ---- detection settings ----
RELAGE_MTCNN="$out/none" "$relage" predict "$photo" --model "$model" --quiet > /dev/null 2> "$out/err"
check "RELAGE_MTCNN naming a folder without weights exits 1" "[ $? -eq 1 ] && grep -q 'MTCNN weights not found in $out/none' '$out/err'"
"$relage" detect "$photo" --factor 0.99 2> "$out/err"
check "--factor above 0.95 exits 2" "[ $? -eq 2 ] && grep -q 'at most\\|(0, 0.95\\]' '$out/err'"
mkdir "$out/folder"
cp "$images/rgb.jpg" "$out/folder/a.jpg"
mkfifo "$out/folder/b.jpg"
timeout 60 "$relage" detect --detector cascade "$out/folder" --json > "$out/f.json" 2> "$out/err"
check "a pipe among the images is reported, not waited on" "[ $? -eq 1 ] && grep -q 'b.jpg: not a regular file' '$out/err' && grep -q 'a.jpg' '$out/f.json'"

echo "cli_bad_input: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
