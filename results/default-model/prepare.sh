#!/bin/bash
# Face caches for the default model: MTCNN, the paper's face policy (largest face, box as it is),
# 128 px crops (training crops 112 at random, evaluation resizes 128 -> 112).
#   pretrain: UTKFace train split + All-Age-Faces official train split (pretrain.csv)
#   utk_val, utk_test, aaf_val: evaluation; appa_finetune / appa_heldout: the APPA-REAL dev faces,
#   every third (sorted by name) held out.
set -euo pipefail
# Run in the folder that will hold the caches, with this folder's lists beside them:
#   RELAGE=build/relage DATA=../shared/data MTCNN=../shared/models/mtcnn/face-api-tfjs prepare.sh
R=${RELAGE:-relage}
D=${DATA:-../shared/data}
M=${MTCNN:-../shared/models/mtcnn/face-api-tfjs}
common="--detector mtcnn --mtcnn $M --size 128 --quiet"
[ -f pretrain.csv ] || "$(dirname "$0")/make_pretrain_csv.py" "$D"
$R prepare --labels pretrain.csv --images $D --out pretrain.rlg $common
for s in val test; do
  $R prepare --utkface $D/utkface/images --split $D/utkface/split_$s.txt --out utk_$s.rlg $common
done
$R prepare --aaf $D/aaf/images --split $D/aaf/split_val.txt --out aaf_val.rlg $common
for s in finetune heldout; do
  $R prepare --labels $D/appa-real/labels/gt_avg_test.csv --images $D/appa-real/dev_faces \
    --split appa_$s.txt --out appa_$s.rlg $common
done
