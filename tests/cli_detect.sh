#!/usr/bin/env bash
# relage detect end to end: JSON lines for good and bad files, the exit code, --draw output.
# Uses the cascade (Debian's opencv-data) so it needs no MTCNN weights; the example photo comes
# from ../shared/examples and the check skips without it.
set -u
relage=$1
fixtures=$2
examples=$(dirname "$0")/../../shared/examples
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0 pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $1" >&2; fi; }

printf 'not an image' > "$out/bad.jpg"
"$relage" detect --detector cascade --json --quiet "$out/bad.jpg" > "$out/bad.json" 2> "$out/bad.err"
check "a bad file exits 1" "[ $? -eq 1 ]"
check "a bad file gives a JSON error naming it" "grep -q '\"error\":.*bad.jpg' '$out/bad.json'"
"$relage" detect --detector cascade --json --quiet "$fixtures/images/rgb.png" > "$out/ok.json"
check "a good file exits 0" "[ $? -eq 0 ]"
check "one JSON line per image" "[ \$(wc -l < '$out/ok.json') -eq 1 ]"
"$relage" detect --detector cascade --json --quiet - < "$fixtures/images/rgb.png" |
  sed 's|"image":"-"|"image":"'"$fixtures/images/rgb.png"'"|' > "$out/stdin.json"
check "an image on standard input (-) as its file" "cmp -s '$out/ok.json' '$out/stdin.json'"
"$relage" detect --bogus 2> /dev/null
check "an unknown option exits 2" "[ $? -eq 2 ]"
if [ -f "$examples/astronaut.png" ]; then
  "$relage" detect --detector cascade --json --quiet --draw "$out/drawn" \
    "$examples/astronaut.png" "$examples/coffee.png" "$out/bad.jpg" > "$out/many.json" 2> /dev/null
  check "keeps going past a bad file, exit 1" "[ $? -eq 1 ]"
  check "three lines" "[ \$(wc -l < '$out/many.json') -eq 3 ]"
  check "the astronaut has one face" "grep astronaut '$out/many.json' | grep -q '\"box\"'"
  check "coffee has none" "grep coffee '$out/many.json' | grep -q '\"faces\":\[\]'"
  check "drawn PNG written" "[ -s '$out/drawn/astronaut.png' ]"
else
  echo "skipped the example photos: $examples not found"
fi
echo "cli_detect: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
