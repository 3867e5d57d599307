#!/usr/bin/env bash
# relage prepare end to end on the fixture images: counts of faces, whole images and unreadable
# files, the cache header, and --resume refusing a partial cache made with other settings.
set -u
relage=$1
images=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0 pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $1" >&2; fi; }

printf 'path,age\nrgb.jpg,20\ngray.jpg,30\ncmyk.jpg,40\ntruncated.jpg,50\nnot-there.png,60\n' > "$out/labels.csv"
"$relage" prepare --labels "$out/labels.csv" --images "$images" --detector none --size 32 \
  --out "$out/c.cache" --quiet > "$out/log" 2> "$out/err"
check "prepare exits 0" "[ $? -eq 0 ]"
check "counts" "grep -q '3 without (whole image), 2 unreadable' '$out/log'"
check "the missing image is reported" "grep -q 'missing (not-there.png)' '$out/err'"
check "no partial file is left" "[ ! -e '$out/c.cache.partial' ]"
check "cache size: 512 + 5 x (256 + 32*32*3)" "[ \$(stat -c %s '$out/c.cache') -eq $((512 + 5 * (256 + 3072))) ]"
check "the header records the policy" "head -c 512 '$out/c.cache' | grep -q 'largest margin=0 square=0'"
# a partial file from other settings is not resumed
cp "$out/c.cache" "$out/d.cache.partial"
"$relage" prepare --labels "$out/labels.csv" --images "$images" --detector none --size 64 \
  --out "$out/d.cache" --resume --quiet > /dev/null 2> "$out/err2"
check "mismatching resume exits 1" "[ $? -eq 1 ] && grep -q 'crop size' '$out/err2'"
# outputs that would replace an input or cannot be files are refused before any work
sum=$(md5sum < "$out/labels.csv")
"$relage" prepare --labels "$out/labels.csv" --images "$images" --detector none --out "$out/labels.csv" 2> "$out/err3"
check "--out the labels file exits 2, labels intact" "[ $? -eq 2 ] && grep -q 'also an input' '$out/err3' && [ \"\$(md5sum < '$out/labels.csv')\" = '$sum' ]"
"$relage" prepare --labels "$out/labels.csv" --images "$images" --detector none --out "$out" 2> "$out/err4"
check "--out a folder exits 2" "[ $? -eq 2 ] && grep -q 'a folder' '$out/err4'"
# no image readable (a wrong --images): an error, and no cache
"$relage" prepare --labels "$out/labels.csv" --images "$out/nowhere" --detector none --size 32 \
  --out "$out/e.cache" --quiet > /dev/null 2> "$out/err5"
check "no readable image exits 1, no cache" "[ $? -eq 1 ] && grep -q 'none of the 5 images' '$out/err5' && [ ! -e '$out/e.cache' ] && [ ! -e '$out/e.cache.partial' ]"
"$relage" prepare --out "$out/x" 2> /dev/null
check "missing inputs exit 2" "[ $? -eq 2 ]"
echo "cli_prepare: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
