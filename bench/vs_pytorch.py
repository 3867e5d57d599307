#!/usr/bin/python3
"""relage against the PyTorch peer on the same cores, in one run.

    /usr/bin/python3 bench/vs_pytorch.py [--arch resnet50] [--head base] [--input 224]
        [--batch 1] [--train] [--reps 3] [--threads 2] [--backend dnnl] [--precision fp32] [--relage build/relage]
        [--peer ../shared/reference/cpu_peer_bench.py] [--peer-flags "--jit"]
        [--python /usr/bin/python3]

Alternates `relage bench --json` and the peer script (Debian's python3-torch) --reps times with
the same architecture, head, input, batch, mode and threads, takes the median ms/img of each,
and prints both with the ratio (peer / relage: above 1 means relage is faster). Each side's own
median over its iterations is one sample; the printed number is the median of the samples."""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_relage(a):
    cmd = [a.relage, "bench", "--arch", a.arch, "--head", a.head, "--input", str(a.input),
           "--batch", str(a.batch), "--threads", str(a.threads), "--iters", str(a.iters),
           "--warmup", "1", "--backend", a.backend, "--precision", a.precision, "--json", "--quiet"] + (["--train"] if a.train else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["ms_per_img"]


def run_peer(a):
    head = {"base": "base", "rn": "rn"}.get(a.head)
    if head is None:
        sys.exit(f"the peer script has no '{a.head}' head")
    cmd = [a.python, a.peer, "--arch", a.arch, "--head", head, "--res", str(a.input),
           "--batch", str(a.batch), "--threads", str(a.threads), "--iters", str(a.iters),
           "--warmup", "1", "--mode", "train" if a.train else "infer"] + a.peer_flags.split()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    line = [l for l in out.splitlines() if l.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])["ms_per_img"]


def peer_version(a):
    cmd = [a.python, "-c", "import torch; print(torch.__version__)"]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="resnet50")
    p.add_argument("--head", default="base")
    p.add_argument("--input", type=int, default=224)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--train", action="store_true")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--backend", default="dnnl", help="relage's backend: dnnl or ref")
    p.add_argument("--precision", default="fp32", help="relage's precision: fp32 or bf16")
    p.add_argument("--relage", default=os.path.join(ROOT, "build", "relage"))
    p.add_argument("--peer", default=os.path.join(ROOT, "..", "shared", "reference",
                                                  "cpu_peer_bench.py"))
    p.add_argument("--peer-flags", default="", help="e.g. --jit, or --bf16 --cl")
    p.add_argument("--python", default="/usr/bin/python3", help="the Python that has PyTorch")
    a = p.parse_args()
    ours, theirs = [], []
    for rep in range(a.reps):
        ours.append(run_relage(a))
        theirs.append(run_peer(a))
        print(f"rep {rep + 1}/{a.reps}: relage {ours[-1]:.2f} ms/img, "
              f"pytorch {theirs[-1]:.2f} ms/img", file=sys.stderr, flush=True)
    o, t = statistics.median(ours), statistics.median(theirs)
    mode = "train" if a.train else "infer"
    print(json.dumps({"arch": a.arch, "head": a.head, "input": a.input, "batch": a.batch,
                      "backend": a.backend, "precision": a.precision,
                      "mode": mode, "threads": a.threads, "reps": a.reps,
                      "relage_ms_per_img": round(o, 3), "pytorch_ms_per_img": round(t, 3),
                      "pytorch_flags": a.peer_flags, "pytorch_version": peer_version(a),
                      "ratio_pytorch_over_relage": round(t / o, 3)}))


if __name__ == "__main__":
    main()
