#!/usr/bin/python3
"""Where does MTCNN put a face that the OpenCV cascade also finds? A check of the cascade
fallback's box reshaping (src/detect/detector.c: same centre, 0.818 of the width, 1.019 of the
height, fitted earlier on another half of these photos): this script refits the ratios and
compares both.

Runs `relage detect --largest --json` with each detector over the All-Age-Faces originals in
../shared/data/detect/images (aaf_*.jpg), keeps the photos where both find a face, fits the
width and height ratios (medians of MTCNN's side over the cascade's) on the first half by name,
and reports on the other half the median IoU of the cascade's box with MTCNN's, raw and
reshaped with the fitted ratios and with the ratios relage uses.

  /usr/bin/python3 tools/cascade_reshape.py build/relage ../shared/data/detect/images \
      ../shared/models/mtcnn/face-api-tfjs
"""
import json
import statistics
import subprocess
import sys
from pathlib import Path

USED = (0.818, 1.019)


def boxes(relage, photos, detector, mtcnn):
    cmd = [relage, "detect", "--largest", "--json", "--quiet", "--detector", detector]
    if detector == "mtcnn":
        cmd += ["--mtcnn", mtcnn]
    out = subprocess.run(cmd + photos, check=True, capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        r = json.loads(line)
        if r.get("faces"):
            found[Path(r["image"]).name] = r["faces"][0]["box"]
    return found


def reshape(b, rw, rh):
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    hw, hh = rw * (b[2] - b[0]) / 2, rh * (b[3] - b[1]) / 2
    return [cx - hw, cy - hh, cx + hw, cy + hh]


def iou(a, b):
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])
    return inter / (area(a) + area(b) - inter)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    relage, folder, mtcnn = sys.argv[1:]
    photos = sorted(str(p) for p in Path(folder).glob("aaf_*.jpg"))
    if not photos:
        sys.exit(f"no aaf_*.jpg in {folder}")
    m = boxes(relage, photos, "mtcnn", mtcnn)
    c = boxes(relage, photos, "cascade", mtcnn)
    both = sorted(set(m) & set(c))
    fit, held = both[: len(both) // 2], both[len(both) // 2 :]
    side = lambda b, i: b[i + 2] - b[i]
    rw = statistics.median(side(m[n], 0) / side(c[n], 0) for n in fit)
    rh = statistics.median(side(m[n], 1) / side(c[n], 1) for n in fit)
    med = lambda f: statistics.median(iou(m[n], f(c[n])) for n in held)
    print(f"photos {len(photos)}, MTCNN found {len(m)}, cascade {len(c)}, both {len(both)}")
    print(f"fitted on {len(fit)}: width ratio {rw:.3f}, height ratio {rh:.3f}")
    print(f"median IoU with MTCNN's box on the other {len(held)}:")
    print(f"  raw cascade box            {med(lambda b: b):.3f}")
    print(f"  reshaped, fitted ratios    {med(lambda b: reshape(b, rw, rh)):.3f}")
    print(f"  reshaped, relage's {USED[0]}/{USED[1]} {med(lambda b: reshape(b, *USED)):.3f}")


if __name__ == "__main__":
    main()
