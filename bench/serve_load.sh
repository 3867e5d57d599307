#!/bin/bash
# Load test of relage serve on loopback with wrk (Debian): POSTs one image for a bounded time
# with a few connections and prints requests/s, p50/p99 latency, errors, and the server's RSS
# before and after each of ROUNDS rounds (stable memory: it must level off). Usage:
#   bench/serve_load.sh MODEL [IMAGE] [SECONDS] [CONNECTIONS] [ROUNDS] [-- relage serve options]
# e.g. bench/serve_load.sh model.safetensors examples/astronaut.png 30 4 -- --mtcnn DIR
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1
image=${2:-examples/astronaut.png}
seconds=${3:-30}
conns=${4:-4}
rounds=${5:-3}
shift $(( $# < 5 ? $# : 5 ))
[ "${1:-}" = "--" ] && shift
out=$(mktemp)
./build/relage serve --model "$model" --port 0 "$@" > "$out" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 200); do grep -q "listening on port" "$out" && break; sleep 0.1; done
port=$(sed -n 's/listening on port //p' "$out")
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
curl -s -o /dev/null -H "Content-Type: image/png" --data-binary "@$image" \
  "http://127.0.0.1:$port/v1/predict" # warm up: plans and caches
for round in $(seq "$rounds"); do
  before=$(rss)
  IMAGE=$image wrk -t "$conns" -c "$conns" -d "${seconds}s" --timeout 30s -s bench/serve_post.lua \
    "http://127.0.0.1:$port" | tail -1 > "$out.json"
  after=$(rss)
  python3 - "$out.json" "$before" "$after" "$conns" "$round" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r.update({"round": int(sys.argv[5]), "connections": int(sys.argv[4]),
          "rss_before_mib": round(int(sys.argv[2]) / 1024, 1),
          "rss_after_mib": round(int(sys.argv[3]) / 1024, 1)})
print(json.dumps(r))
PY
done
rm -f "$out.json"
