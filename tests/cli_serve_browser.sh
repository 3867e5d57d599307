#!/bin/bash
# The web page of relage serve in headless Chromium (Debian's chromium, driven by
# playwright-core from npm, installed once under the build folder): upload
# examples/astronaut.png and check the drawn result; the screenshot stays in the build folder
# (serve_page.png). Skips (exit 77) when node, npm or chromium is missing.
set -euo pipefail
relage=$1
examples=$2
work=$3 # the build folder
here=$(cd "$(dirname "$0")" && pwd)
for tool in node npm chromium; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not found (scripts/install-deps installs chromium; node and npm: apt-get install nodejs npm)"; exit 77; }
done
if [ ! -d "$work/npm/node_modules/playwright-core" ]; then
    npm install --silent --no-audit --no-fund --prefix "$work/npm" playwright-core@1 >/dev/null
fi
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
"$relage" bench --arch resnet18 --input 64 --width 0.25 --iters 1 --warmup 0 --quiet \
    --save "$dir/model.safetensors" >/dev/null
"$relage" serve --model "$dir/model.safetensors" --detector cascade --port 0 \
    > "$dir/serve.out" 2> "$dir/serve.err" &
pid=$!
for _ in $(seq 100); do grep -q "listening on port" "$dir/serve.out" && break; sleep 0.1; done
port=$(sed -n 's/listening on port //p' "$dir/serve.out")
[ -n "$port" ] || { echo "FAIL: the server did not start"; cat "$dir/serve.err"; exit 1; }
cp "$here/browser/serve_page.mjs" "$work/npm/serve_page.mjs"
node "$work/npm/serve_page.mjs" "http://127.0.0.1:$port/" "$examples/astronaut.png" \
    "$work/serve_page.png"
