#!/bin/bash
# The performance table of the README: relage (oneDNN backend) against the PyTorch peer on the
# same threads, each row by bench/vs_pytorch.py (alternating runs, medians), plus the peak memory
# of a ResNet-50 batch-32 training step. Prints one JSON object per row.
#   bench/suite.sh [THREADS]     (about 15 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-2}
vs() { /usr/bin/python3 bench/vs_pytorch.py --threads "$t" "$@"; }
vs --arch resnet50 --input 224 --batch 1 --reps 3 --iters 5 --peer-flags=--jit
vs --arch resnet50 --input 224 --batch 32 --reps 2 --iters 2 --peer-flags=--jit
vs --arch resnet18 --input 112 --batch 1 --reps 3 --iters 20 --peer-flags=--jit # the default model
vs --arch resnet50 --input 224 --batch 32 --train --reps 2 --iters 2
vs --arch resnet18 --input 112 --batch 64 --train --reps 3 --iters 3
vs --arch resnet18 --input 112 --batch 30 --train --reps 3 --iters 3
# the plain-C reference backend (the oracle) beside oneDNN, alternated: ResNet-50 inference
for _ in 1 2 3; do
  for b in ref dnnl; do
    ./build/relage bench --backend "$b" --arch resnet50 --batch 1 --iters 5 --threads "$t" --json --quiet
  done
done
rss=$( { /usr/bin/time -f '%M' ./build/relage bench --arch resnet50 --batch 32 --train --iters 1 \
        --warmup 0 --threads "$t" --quiet >/dev/null; } 2>&1 | tail -1)
echo "{\"what\": \"peak RSS, resnet50 224 batch 32 training step, dnnl fp32\", \"rss_mib\": $((rss / 1024))}"
