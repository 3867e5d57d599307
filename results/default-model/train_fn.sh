# train OUT ARGS...: `relage train` with the settings every default-model step shares (ResNet-18
# at 112, base head, AdamW with weight decay 5e-4, cosine schedule, seed 1); skipped when OUT
# has finished (summary.json), resumed when it has a saved state. Sourced by train.sh,
# train_mixed.sh and train_v2.sh, which set R (the relage binary).
train() {
  local out=$1
  shift
  [ -s "$out/summary.json" ] && return
  local resume=()
  [ -f "$out/state.safetensors" ] && resume=(--resume)
  $R train --arch resnet18 --input 112 --head base --optimizer adamw --weight-decay 5e-4 \
    --schedule cosine --seed 1 --out "$out" "${resume[@]}" "$@"
}
