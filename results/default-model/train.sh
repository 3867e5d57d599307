#!/bin/bash
# The default model, from the face caches made by prepare.sh (run in the same folder):
#   RELAGE=build/relage INIT=init-parity-ep7.safetensors train.sh
# 1. adapt a utk128 parity model (ResNet-18 trained on whole UTKFace train images, the paper's
#    recipe; the shipped model started from its epoch 7 of 20) to MTCNN crops of UTKFace +
#    All-Age-Faces train (real ages), with AdamW, the reference's better recipe;
# 2. fine-tune on 785 APPA-REAL dev faces (apparent ages);
# 3. store the weights as float16 (relage export; the first shipped model, v1, replaced by
#    train_mixed.sh's) and evaluate both files on the held-out
#    APPA-REAL faces, the UTKFace test split and the All-Age-Faces val split (eval-*.json).
# Each step is skipped when its output exists, and training resumes where it stopped.
set -euo pipefail
R=${RELAGE:-relage}
INIT=${INIT:-init-parity-ep7.safetensors}
. "$(dirname "$0")/train_fn.sh"
train pretrain-r18 --train pretrain.rlg --val utk_val.rlg --init "$INIT" \
  --lr 3e-4 --epochs 5 --batch 30 --protocol default-pretrain
train finetune-r18 --train appa_finetune.rlg --val appa_heldout.rlg \
  --init pretrain-r18/model.safetensors --lr 1e-4 --epochs 10 --batch 32 \
  --protocol default-finetune
$R export finetune-r18/model.safetensors --out relage-default-v1.safetensors --dtype f16
evaluate() { # TAG MODEL CACHE...
  local tag=$1 m=$2
  shift 2
  for c in "$@"; do
    [ -s "eval-$tag-$c.json" ] || $R eval --model "$m" --cache "$c.rlg" --json > "eval-$tag-$c.json"
  done
}
evaluate v1-f16 relage-default-v1.safetensors appa_heldout utk_test aaf_val
evaluate finetune-r18 finetune-r18/model.safetensors appa_heldout utk_test
evaluate pretrain-r18 pretrain-r18/model.safetensors appa_heldout utk_test
[ -s eval-v1-f16-appa_heldout-flip.json ] ||
  $R eval --model relage-default-v1.safetensors --cache appa_heldout.rlg --flip --json \
    > eval-v1-f16-appa_heldout-flip.json
