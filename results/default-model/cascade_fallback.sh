#!/bin/bash
# What the cascade fallback costs: the shipped model's MAE against the real age (the file name's
# "A02" is 2 years) on the 300 All-Age-Faces photos of ../shared/data/detect (children aged 2-6),
# with the paper's face policy (--largest), three ways:
#   mtcnn     MTCNN (the detector the model was trained with);
#   cascade   the cascade's raw boxes (--detector cascade);
#   fallback  no MTCNN weights found: the cascade, its boxes reshaped like MTCNN's.
# Run from the repository root:
#   results/default-model/cascade_fallback.sh [RELAGE] > results/default-model/cascade-fallback.txt
set -euo pipefail
R=${1:-build/relage}
D=${SHARED:-../shared}
mtcnn=$D/models/mtcnn/face-api-tfjs
[ -d "$D/data/detect/images" ] && [ -d "$mtcnn" ] || {
  echo "cascade_fallback.sh: needs $D/data/detect/images and $mtcnn" >&2
  exit 2
}
images=("$D"/data/detect/images/aaf_*.jpg)
model=${MODEL:-models/relage-default.safetensors}
# CSV rows (image,face,whole_image,...,age,...) -> MAE against the age in the file name.
mae() {
  awk -F, 'NR > 1 { n = split($1, p, "/"); a = p[n]; sub(/^aaf_[0-9]+A/, "", a); sub(/\.jpg$/, "", a)
                    s += ($9 > a ? $9 - a : a - $9); k++ }
           END { printf "%d images, MAE %.3f", k, s / k }'
}
echo "model $model, ${#images[@]} photos"
printf 'mtcnn     %s\n' "$($R predict --quiet --largest --csv --model "$model" --mtcnn "$mtcnn" "${images[@]}" | mae)"
printf 'cascade   %s\n' "$($R predict --quiet --largest --csv --model "$model" --detector cascade "${images[@]}" | mae)"
printf 'fallback  %s\n' "$(env -u RELAGE_MTCNN HOME=/nonexistent $R predict --quiet --largest --csv \
  --model "$model" "${images[@]}" 2> /dev/null | mae)"
