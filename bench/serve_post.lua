-- wrk script for bench/serve_load.sh: POST one image to /v1/predict; prints a JSON summary.
wrk.method = "POST"
wrk.path = "/v1/predict"
wrk.headers["Content-Type"] = os.getenv("IMAGE_TYPE") or "image/png"
local f = assert(io.open(os.getenv("IMAGE"), "rb"))
wrk.body = f:read("*a")
f:close()

function done(summary, latency, requests)
  local s = summary.duration / 1e6
  io.write(string.format(
    '{"requests":%d,"seconds":%.1f,"requests_per_s":%.2f,"p50_ms":%.1f,"p99_ms":%.1f,' ..
    '"max_ms":%.1f,"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests, s, summary.requests / s, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
