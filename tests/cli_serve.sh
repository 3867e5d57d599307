#!/bin/bash
# relage serve's API end to end on loopback, with a random model (relage bench --save) and the
# cascade detector: health, model description, the page, a good PNG (raw body and multipart),
# then bad bodies: wrong content type (415), truncated PNG and JPEG, zero bytes, random bytes (400),
# 200 MB and 400,000 pixels over --max-pixels (413), unknown path (404), wrong method (405);
# overload gives 503 with one predictor and a queue of one; random requests (tests/serve_fuzz.py); the server is still healthy at the
# end and stops cleanly on SIGTERM (under ASan in CI: no leak either).
set -euo pipefail
relage=$1
examples=$2
fixtures=$3 # tests/fixtures/images (truncated.jpg)
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; cat "$dir/serve.err" >&2 || true; exit 1; }

"$relage" bench --arch resnet18 --input 64 --width 0.25 --iters 1 --warmup 0 --quiet \
    --save "$dir/model.safetensors" >/dev/null
"$relage" serve --model "$dir/model.safetensors" --detector cascade --port 0 --threads 1 \
    --queue 1 --max-pixels 300000 > "$dir/serve.out" 2> "$dir/serve.err" &
pid=$!
for _ in $(seq 100); do grep -q "listening on port" "$dir/serve.out" && break; sleep 0.1; done
port=$(sed -n 's/listening on port //p' "$dir/serve.out")
[ -n "$port" ] || fail "the server did not start"
url=http://127.0.0.1:$port

# code URL [curl options...]: prints the HTTP status, the body goes to $dir/body
# (curl's own failure, e.g. a reset while it still sends, shows as the status it got, or 000,
# and is named on stderr: set -e must not end the test without a message)
code() {
    local u=$1 rc=0; shift
    curl -s -m 120 -o "$dir/body" -w "%{http_code}" "$@" "$u" || rc=$?
    [ "$rc" = 0 ] || echo "curl exit $rc for $u" >&2
}
expect() { # STATUS URL [curl options...]
    local want=$1 got; shift
    got=$(code "$@")
    [ "$got" = "$want" ] || fail "$* -> $got, expected $want: $(head -c 300 "$dir/body")"
}

expect 200 "$url/healthz"
grep -q '"status":"ok"' "$dir/body" || fail "healthz body"
expect 200 "$url/v1/model"
grep -q '"arch":"resnet18"' "$dir/body" || fail "model body"
expect 200 "$url/"
grep -q "<title>relage" "$dir/body" || fail "page"

png=$examples/astronaut.png
expect 200 "$url/v1/predict?dist=1" -H "Content-Type: image/png" --data-binary "@$png"
python3 - "$dir/body" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = r["faces"][0]
assert r["whole_image"] is False and len(f["dist"]) == 101, r
assert abs(sum(f["dist"]) - 1) < 1e-3 and 0 <= f["age"] <= 100, f
PY
expect 200 "$url/v1/predict" -F "image=@$png"
grep -q '"image":"astronaut.png"' "$dir/body" || fail "multipart: $(cat "$dir/body")"
# only the first file field is the image: a text field before it and a file after it are ignored
head -c 3000 /dev/urandom > "$dir/junk.bin"
expect 200 "$url/v1/predict" -F "note=hello" -F "photo=@$png" -F "other=@$dir/junk.bin"
grep -q '"image":"astronaut.png"' "$dir/body" || fail "multipart fields: $(cat "$dir/body")"
expect 200 "$url/v1/predict?dist=false" -H "Content-Type: IMAGE/PNG ; x=1" --data-binary "@$png"
! grep -q '"dist"' "$dir/body" || fail "dist=false gave distributions"

head -c 5000 "$png" > "$dir/truncated.png"
head -c 100000 /dev/urandom > "$dir/random.bin"
: > "$dir/empty"
expect 415 "$url/v1/predict" -H "Content-Type: text/plain" --data-binary "@$png"
expect 400 "$url/v1/predict" -H "Content-Type: image/png" --data-binary "@$dir/truncated.png"
grep -q "truncated" "$dir/body" || fail "truncated: $(cat "$dir/body")"
expect 400 "$url/v1/predict" -H "Content-Type: image/jpeg" --data-binary "@$fixtures/truncated.jpg"
grep -q '"error"' "$dir/body" || fail "truncated JPEG: $(cat "$dir/body")"
expect 400 "$url/v1/predict" -H "Content-Type: image/jpeg" --data-binary "@$dir/empty"
expect 400 "$url/v1/predict" -F "image=@$dir/empty" -F "note=hello" # an empty image field
grep -q "no image in the multipart" "$dir/body" || fail "empty multipart image: $(cat "$dir/body")"
expect 400 "$url/v1/predict" -H "Content-Type: application/octet-stream" \
    --data-binary "@$dir/random.bin"
head -c 200000000 /dev/zero > "$dir/big.bin"
expect 413 "$url/v1/predict" -H "Content-Type: application/octet-stream" \
    --data-binary "@$dir/big.bin"
rm -f "$dir/big.bin"
# a small file of many pixels: over --max-pixels is the client's 413 (an allocation failure
# would be the server's 503)
python3 - "$dir/wide.png" <<'PY'
import struct, sys, zlib
w, h = 1000, 400
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
raw = zlib.compress(b"\0" * ((w + 1) * h))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                              + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
PY
expect 413 "$url/v1/predict" -H "Content-Type: image/png" --data-binary "@$dir/wide.png"
grep -q "exceed the limit of 300000" "$dir/body" || fail "pixel limit: $(cat "$dir/body")"
expect 404 "$url/nothing"
expect 405 "$url/v1/predict"
expect 405 "$url/healthz" -X DELETE
curl -s -D - -o /dev/null -X DELETE "$url/healthz" | grep -qi "^Allow: GET, HEAD" || fail "no Allow header"

# Eight requests at once against one predictor and a queue of one: some must get 503.
for i in $(seq 8); do
    curl -s -o /dev/null -w "%{http_code}\n" -H "Content-Type: image/png" \
        --data-binary "@$png" "$url/v1/predict" > "$dir/par$i" &
done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
cat "$dir"/par* | sort | uniq -c > "$dir/codes"
grep -q " 200$" "$dir/codes" && grep -q " 503$" "$dir/codes" || fail "overload: $(cat "$dir/codes")"
[ "$(grep -cv ' 200$\| 503$' "$dir/codes")" = 0 ] || fail "overload: $(cat "$dir/codes")"

python3 "$(dirname "$0")/serve_fuzz.py" "$port" "$png" 150 || fail "serve_fuzz"
expect 200 "$url/healthz"
kill -TERM "$pid"
wait "$pid" || fail "exit status $? after SIGTERM"
pid=
echo "cli_serve: ok"
