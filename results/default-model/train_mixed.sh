#!/bin/bash
# A variant of the default model's fine-tuning (train.sh step 2): the 785 APPA-REAL faces mixed
# with 1,570 real-age faces from the pre-training set (make_mixed_csv.py), 8 epochs, from the same
# adapted model (pretrain-r18). Run where train.sh ran:
#   RELAGE=build/relage DATA=../shared/data MTCNN=../shared/models/mtcnn/face-api-tfjs train_mixed.sh
# Decided before it ran: it replaces the shipped model (v1, train.sh) if its UTKFace validation
# MAE is lower than v1's; the held-out APPA-REAL faces and the test splits are only reported.
# It was (6.217 against 7.290): relage-default-mixed.safetensors is models/relage-default.safetensors.
set -euo pipefail
R=${RELAGE:-relage}
D=${DATA:-../shared/data}
M=${MTCNN:-../shared/models/mtcnn/face-api-tfjs}
here=$(dirname "$0")
[ -f mixed_finetune.csv ] || "$here/make_mixed_csv.py" "$D" "$here"
[ -f mixed_finetune.rlg ] || $R prepare --labels mixed_finetune.csv --images "$D" \
  --out mixed_finetune.rlg --detector mtcnn --mtcnn "$M" --size 128 --quiet
. "$here/train_fn.sh"
train finetune-mixed-r18 --train mixed_finetune.rlg --val appa_heldout.rlg \
  --init pretrain-r18/model.safetensors --lr 1e-4 --epochs 8 --batch 32 \
  --protocol default-finetune-mixed
[ -f relage-default-mixed.safetensors ] ||
  $R export finetune-mixed-r18/model.safetensors --out relage-default-mixed.safetensors --dtype f16
for pair in v1-f16:relage-default-v1.safetensors mixed-f16:relage-default-mixed.safetensors; do
  tag=${pair%%:*} m=${pair#*:}
  for c in utk_val appa_heldout utk_test aaf_val; do
    [ -s "eval-$tag-$c.json" ] || $R eval --model "$m" --cache "$c.rlg" --json > "eval-$tag-$c.json"
  done
done
for c in appa_heldout utk_test; do
  [ -s "eval-mixed-f16-$c-flip.json" ] ||
    $R eval --model relage-default-mixed.safetensors --cache "$c.rlg" --flip --json \
      > "eval-mixed-f16-$c-flip.json"
done
