#!/usr/bin/python3
"""mixed_finetune.csv: the 785 APPA-REAL fine-tuning faces (apparent age: mean and spread of the
votes) with twice as many real-age faces drawn from pretrain.csv (seed 1; spread left empty), so
that fine-tuning on apparent ages does not make the model forget the young and the old.
Paths are relative to ../shared/data; run in the folder that holds pretrain.csv."""
import csv
import random
import sys

D = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
here = sys.argv[2] if len(sys.argv) > 2 else "."
names = [l.strip() for l in open(f"{here}/appa_finetune.txt") if l.strip()]
votes = {r["file_name"]: r for r in csv.DictReader(open(f"{D}/appa-real/labels/gt_avg_test.csv"))}
rows = [(f"appa-real/dev_faces/{n}", votes[n]["apparent_age_avg"], votes[n]["apparent_age_std"])
        for n in names]
real = list(csv.DictReader(open("pretrain.csv")))
random.Random(1).shuffle(real)
rows += [(r["path"], r["age"], "") for r in real[:2 * len(names)]]
with open("mixed_finetune.csv", "w") as f:
    f.write("path,age,std\n")
    for p, a, s in rows:
        f.write(f"{p},{a},{s}\n")
print(f"{len(names)} apparent-age and {len(rows) - len(names)} real-age faces")
