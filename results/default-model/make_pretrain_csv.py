#!/usr/bin/python3
"""pretrain.csv for the default model: UTKFace's train split and All-Age-Faces' official train
split as one generic label file (path relative to ../shared/data, age), for relage prepare."""
import csv
import sys

D = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
utk_train = {l.strip() for l in open(f"{D}/utkface/split_train.txt") if l.strip()}
rows = [(f"utkface/images/{r['file']}", r["age"])
        for r in csv.DictReader(open(f"{D}/utkface/labels.csv")) if r["file"] in utk_train]
rows += [(f"aaf/images/{r['file']}", r["age"])
         for r in csv.DictReader(open(f"{D}/aaf/labels.csv")) if r["split_official"] == "train"]
with open("pretrain.csv", "w") as f:
    f.write("path,age\n")
    for p, a in rows:
        f.write(f"{p},{a}\n")
print(f"{len(rows)} images")
