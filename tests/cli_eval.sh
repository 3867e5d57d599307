#!/usr/bin/env bash
# relage eval and relage compare end to end on files written here, and on the PyTorch reference
# runs when ../shared is present (base vs rn over 3 seeds: Student p 0.4945, as scipy gives).
set -u
relage=$1
reference=$(dirname "$0")/../../shared/reference/utk128_pytorch_runs.json
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0 pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $1" >&2; fi; }

printf 'file_name,num_ratings,apparent_age_avg,apparent_age_std,real_age\na.jpg,3,20,2,21\nb.jpg,3,40,0,39\nc.jpg,3,60,5,58\n' > "$out/labels.csv"
printf 'file_name,predicted_age\na.jpg,22\nb.jpg,40\n' > "$out/pred.csv"
"$relage" eval --predictions "$out/pred.csv" --labels "$out/labels.csv" --json > "$out/e.json"
check "eval exits 0" "[ $? -eq 0 ]"
check "eval json" "grep -q '\"n\":2,\"mae\":1.0000,\"eps\":0.1967,\"mae_real\":1.0000,\"n_missing\":1' '$out/e.json'"
"$relage" eval --predictions "$out/pred.csv" --labels "$out/labels.csv" --json --challenge > "$out/c.json"
check "challenge counts the missing image" "grep -q '\"eps\":0.4645' '$out/c.json'"
# Figures pair labels and predictions as the metrics do (here by base name).
mkdir "$out/img"
for n in a b c; do cp "$(dirname "$0")/../examples/astronaut.png" "$out/img/$n.jpg"; done
printf 'file_name,predicted_age\nsub/a.jpg,22\nsub/b.jpg,40\nsub/c.jpg,50\n' > "$out/sub.csv"
"$relage" eval --predictions "$out/sub.csv" --labels "$out/labels.csv" --threads 1 \
  --scatter "$out/s.png" --error-by-age "$out/e.png" --grid "$out/g.png" --images "$out/img" > "$out/fig.txt"
check "figures drawn" "[ $? -eq 0 ] && [ -s '$out/s.png' ] && [ -s '$out/e.png' ] && [ -s '$out/g.png' ]"
check "figures' metrics" "grep -q '^3 images: MAE 4.000' '$out/fig.txt'"
"$relage" eval --predictions "$out/sub.csv" --labels "$out/labels.csv" --grid "$out/g2.png" 2> "$out/err"
check "--grid without --images exits 2 before any work" "[ $? -eq 2 ] && grep -q 'needs --images' '$out/err' && [ ! -e '$out/g2.png' ]"
printf 'file_name,predicted_age\nzzz.jpg,22\n' > "$out/none.csv"
"$relage" eval --predictions "$out/none.csv" --labels "$out/labels.csv" 2> "$out/err"
check "no prediction matching a label exits 1" "[ $? -eq 1 ] && grep -q 'no prediction matches a label' '$out/err'"
"$relage" eval --predictions "$out/sub.csv" --labels "$out/labels.csv" --grid "$out/g3.png" --images "$out/nowhere" 2> "$out/err"
check "--grid with a missing --images folder exits 2" "[ $? -eq 2 ] && grep -q 'not found' '$out/err'"
sum=$(md5sum < "$out/labels.csv")
"$relage" eval --predictions "$out/pred.csv" --labels "$out/labels.csv" --scatter "$out/labels.csv" 2> "$out/err"
check "a figure over an input exits 2, the input intact" "[ $? -eq 2 ] && grep -q 'also an input' '$out/err' && [ \"\$(md5sum < '$out/labels.csv')\" = '$sum' ]"
"$relage" eval --model "$out/m.safetensors" --labels "$out/labels.csv" 2> "$out/err"
check "--model with --labels needs --images" "[ $? -eq 2 ] && grep -q 'needs --images' '$out/err'"
"$relage" eval --model "$out/m.safetensors" --cache "$out/c.rlg" --mtcnn "$out" 2> "$out/err"
check "--mtcnn with a cache is refused" "[ $? -eq 2 ] && grep -q 'go with --model and a dataset' '$out/err'"
"$relage" eval --model "$out/m.safetensors" --cache "$out/c.rlg" --labels "$out/labels.csv" 2> "$out/err"
check "--cache with a dataset is refused" "[ $? -eq 2 ] && grep -q 'the cache carries its labels' '$out/err'"
"$relage" eval --predictions "$out/nothing.csv" --labels "$out/labels.csv" 2> "$out/err"
check "a missing file exits 1 naming it" "[ $? -eq 1 ] && grep -q nothing.csv '$out/err'"
cat > "$out/runs.json" <<'JSON'
{"runs": {
 "a1": {"arch": "resnet18", "head": "base", "seed": 1, "epochs": [{"epoch": 1, "test_mae": 1.5}],
        "test_names": ["a.jpg", "b.jpg", "c.jpg"], "test_pred": [21, 41, 57]},
 "a2": {"arch": "resnet18", "head": "base", "seed": 2, "epochs": [{"epoch": 1, "test_mae": 1.7}],
        "test_names": ["a.jpg", "b.jpg", "c.jpg"], "test_pred": [22, 39, 59]},
 "b1": {"arch": "resnet18", "head": "rn", "seed": 1, "epochs": [{"epoch": 1, "test_mae": 2.5}],
        "test_names": ["c.jpg", "a.jpg", "b.jpg"], "test_pred": [64, 18, 43]},
 "b2": {"arch": "resnet18", "head": "rn", "seed": 2, "epochs": [{"epoch": 1, "test_mae": 2.9}],
        "test_names": ["a.jpg", "b.jpg", "c.jpg"], "test_pred": [23, 36, 55]}}}
JSON
"$relage" compare "$out/runs.json" --labels "$out/labels.csv" --json > "$out/cmp.json"
check "compare exits 0" "[ $? -eq 0 ]"
# per-image mean |error|: base (1.5, 1, 2) vs rn (2.5, 3.5, 4.5): scipy ttest_rel p = 0.0572
check "paired test over per-image errors" "grep -q '\"paired_p\":0.057191' '$out/cmp.json'"
# Epsilon over seeds where every run of a model recorded it (x, y); z lacks it in one run.
cat > "$out/eps.json" <<'JSON'
{"runs": {
 "x1": {"arch": "resnet18", "head": "base", "seed": 1, "epochs": [{"test_mae": 5.0, "test_eps": 0.40}]},
 "x2": {"arch": "resnet18", "head": "base", "seed": 2, "epochs": [{"test_mae": 5.2, "test_eps": 0.42}]},
 "x3": {"arch": "resnet18", "head": "base", "seed": 3, "epochs": [{"test_mae": 5.1, "test_eps": 0.45}]},
 "y1": {"arch": "resnet18", "head": "rn", "seed": 1, "epochs": [{"test_mae": 5.4, "test_eps": 0.44}]},
 "y2": {"arch": "resnet18", "head": "rn", "seed": 2, "epochs": [{"test_mae": 5.3, "test_eps": 0.47}]},
 "y3": {"arch": "resnet18", "head": "rn", "seed": 3, "epochs": [{"test_mae": 5.5, "test_eps": 0.46}]},
 "z1": {"arch": "resnet18", "head": "rng", "seed": 1, "epochs": [{"test_mae": 5.6, "test_eps": 0.5}]},
 "z2": {"arch": "resnet18", "head": "rng", "seed": 2, "epochs": [{"test_mae": 5.7}]}}}
JSON
"$relage" compare "$out/eps.json" --json --kde-eps "$out/eps.png" > "$out/eps_cmp.json"
check "compare with epsilon exits 0" "[ $? -eq 0 ] && [ -s '$out/eps.png' ]"
# scipy: shapiro(x eps) W 0.986842 p 0.780440; ttest_ind(x, y) t -1.961161 p 0.121393, Welch p 0.136360
check "epsilon mean, sd and Shapiro-Wilk" "grep -q '\"eps_mean\":0.4233,\"eps_sd\":0.0252,\"eps_shapiro_w\":0.98684[12],\"eps_shapiro_p\":0.78044' '$out/eps_cmp.json'"
check "epsilon t-tests" "grep -q '\"eps_student_t\":-1.961161,\"eps_student_df\":4.0000,\"eps_student_p\":0.121393,\"eps_welch_t\":-1.961161,\"eps_welch_df\":[0-9.]*,\"eps_welch_p\":0.13636' '$out/eps_cmp.json'"
check "no epsilon for a model missing it in a run" "! grep -q 'rng\",\"n\":2,\"mae\":\[[0-9.,]*\],[^}]*eps' '$out/eps_cmp.json'"
"$relage" compare mine="$out/runs.json" --json > "$out/src.json"
check "SOURCE=PATH prefixes the models" "grep -q '\"model\":\"mine:resnet18_base\"' '$out/src.json'"
"$relage" compare "$out/runs.json" --models resnet18_rn --json > "$out/only.json"
check "--models keeps the named models" "grep -q '\"model\":\"resnet18_rn\"' '$out/only.json' && ! grep -q 'resnet18_base' '$out/only.json'"
"$relage" compare "$out/runs.json" --models resnet18_xx 2> "$out/err"
check "--models with an unknown name exits 1 listing the models" "[ $? -eq 1 ] && grep -q 'there are: resnet18_base, resnet18_rn' '$out/err'"
"$relage" compare "$out/runs.json" "$out/runs.json" 2> "$out/err"
check "a run given twice exits 1" "[ $? -eq 1 ] && grep -q 'given twice' '$out/err'"
cat > "$out/curves.json" <<'JSON'
{"runs": {
 "c1": {"arch": "resnet18", "head": "base", "seed": 1, "epochs": [{"epoch": 1, "val_mae": 9},
        {"epoch": 2, "val_mae": 7}, {"epoch": 3, "val_mae": 6, "test_mae": 6.2}]},
 "c2": {"arch": "resnet18", "head": "rn", "seed": 1, "epochs": [{"epoch": 1, "val_mae": 10},
        {"epoch": 3, "val_mae": 6.5, "test_mae": 6.4}]}}}
JSON
"$relage" compare "$out/curves.json" --curves "$out/curves.png" > /dev/null
check "learning curves drawn (an epoch without val_mae left out)" "[ $? -eq 0 ] && [ -s '$out/curves.png' ]"
"$relage" compare "$out/runs.json" --curves "$out/flat.png" > /dev/null 2> "$out/err"
check "no curve to draw (one epoch) exits 1 saying why" "[ $? -eq 1 ] && grep -q '2 or more epochs' '$out/err'"
sum=$(md5sum < "$out/runs.json")
"$relage" compare x="$out/runs.json" --kde "$out/runs.json" 2> "$out/err"
check "a figure over a runs file exits 2, the file intact" "[ $? -eq 2 ] && grep -q 'also an input' '$out/err' && [ \"\$(md5sum < '$out/runs.json')\" = '$sum' ]"
printf '{"runs": 3}' > "$out/bad.json"
"$relage" compare "$out/bad.json" 2> /dev/null
check "a bad runs file exits 1" "[ $? -eq 1 ]"
if [ -f "$reference" ]; then
  "$relage" compare "$reference" --json > "$out/ref.json"
  check "reference: base vs rn Student p" "grep -q '\"student_p\":0.49451' '$out/ref.json'"
  check "reference: Shapiro-Wilk of base" "grep -q '\"shapiro_w\":0.827540,\"shapiro_p\":0.182094' '$out/ref.json'"
else
  echo "skipped the reference runs: $reference not found"
fi
echo "cli_eval: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
