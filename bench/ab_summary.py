"""Summary of before/after timings (bench/other_cpu.sh's ab part): for detection (bench_detect)
and decode-to-age (bench_predict) on one photo, each build's median over rounds of the
per-round median and minimum, and the rounds paired (after - before, measured back to back).
    python3 bench/ab_summary.py AB.jsonl..."""
import json
import statistics
import sys

rows = [json.loads(line) for path in sys.argv[1:] for line in open(path) if line.strip()]
for what, keys in (("detect", ("ms_median", "ms_min")),
                   ("predict", ("predict_ms", "predict_min_ms"))):
    for key in keys:
        got = {b: [r[key] for r in rows if r["build"] == b and key in r]
               for b in ("before", "after")}
        diffs = [a - b for a, b in zip(got["after"], got["before"])]
        if not diffs:
            continue
        print(f"{what} {key}: before {statistics.median(got['before']):.2f} ms, "
              f"after {statistics.median(got['after']):.2f} ms over {len(diffs)} rounds; "
              f"paired after - before: median {statistics.median(diffs):+.2f} ms, "
              f"after faster in {sum(d < 0 for d in diffs)}/{len(diffs)}")
