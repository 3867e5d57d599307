#!/bin/bash
# The speed benchmarks on another x86-64 machine that has no build tools or -dev libraries (the
# lent accelerator machines, for their CPUs), pinned to 2 physical cores like the machine the
# goals were set on.
#   bench/other_cpu.sh pack DIR [BEFORE]  here: the built programs, the shared libraries they
#                                         need (not the C runtime; oneDNN xz-compressed), the peer
#                                         script, the MTCNN weights, the detection photos and
#                                         their reference detections (for test_mtcnn), the
#                                         cascade (for tests that use it); with
#                                         BEFORE, another build folder (e.g. of the last commit),
#                                         whose bench_detect and bench_predict the ab part times
#   bench/other_cpu.sh run DIR OUT [PYTHON [PARTS]]   there: machine facts and PARTS (default all:
#                                         tests,predict,detect,fp32,bf16,ceilings,profile; also
#                                         ab, precision, flip): test_dnnl and the other unit tests (test_*),
#                                         bench_predict, bench_detect, the suite's rows against
#                                         PyTorch (PYTHON holds it) in fp32 and bf16, oneDNN's
#                                         primitives alone (convbench) beside relage, oneDNN's
#                                         verbose timings per primitive kind, and (ab) BEFORE's
#                                         and this build's bench_detect and bench_predict on the
#                                         astronaut photo, alternated over 8 rounds; and
#                                         (precision) bench_predict in fp32 and bf16, alternated
#                                         over 8 rounds, and relage eval of the default model in
#                                         both on the face caches packed (CACHES="A.rlg ...",
#                                         xz-compressed); and (flip) bench_predict without and
#                                         with --flip, alternated over 8 rounds
# Results (appended): OUT/cpu.txt, OUT/log.txt, OUT/test_dnnl.txt, OUT/tests.txt,
# OUT/predict.jsonl, OUT/detect.jsonl, OUT/suite.jsonl, OUT/kernels.txt (the oneDNN kernels one
# iteration ran), OUT/ceilings.txt, OUT/profile-verbose.txt, OUT/ab.jsonl (each line with its
# "build" and "round"), OUT/ab-summary.txt (bench/ab_summary.py), OUT/precision.jsonl,
# OUT/eval-CACHE-PRECISION.json, OUT/pred-CACHE-PRECISION.csv and OUT/flip.jsonl.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${RELAGE_SHARED:-$root/../shared}

pack() {
    local d=$1 before=${2:-}
    mkdir -p "$d/bin" "$d/lib" "$d/shared/data" "$d/shared/models/mtcnn"
    cp "$root"/build/{relage,bench_detect,bench_predict} "$root"/build/test_* "$d/bin/"
    cp /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml "$d/"
    if [ -n "$before" ]; then
        cp "$before/bench_detect" "$d/bin/bench_detect.before"
        cp "$before/bench_predict" "$d/bin/bench_predict.before"
    fi
    gcc -O2 -std=c11 -fopenmp "$shared/reference/onednn/convbench.c" -o "$d/bin/convbench" -ldnnl -lm
    ldd "$root/build/relage" | awk '$3 ~ /^\// {print $3}' |
        grep -v -E '/(libc|libm|libstdc\+\+|libgcc_s|libz)\.so' | while read -r lib; do
        if [[ $lib == *libdnnl* ]]; then xz -T2 -6 -c "$lib" > "$d/lib/$(basename "$lib").xz"
        else cp -L "$lib" "$d/lib/"; fi
    done
    local c
    for c in ${CACHES:-}; do
        mkdir -p "$d/caches"
        xz -T2 -6 -c "$c" > "$d/caches/$(basename "$c").xz"
    done
    cp "$shared/reference/cpu_peer_bench.py" "$d/"
    cp -r "$shared/models/mtcnn/face-api-tfjs" "$d/shared/models/mtcnn/"
    cp -r "$shared/data/detect" "$d/shared/data/"
    du -sh "$d"
}

run() {
    local d=$1 out=$2 py=$3 parts=$4
    local mtcnn=$d/shared/models/mtcnn/face-api-tfjs photos=$d/shared/data/detect/images
    mkdir -p "$out"
    unxz() { "$py" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; }
    # ROUND A B: "A B" in odd rounds, "B A" in even ones, so that neither always runs first
    alternated() { if [ $(($1 % 2)) = 1 ]; then echo "$2 $3"; else echo "$3 $2"; fi; }
    tagged() { sed "s/^{/{$1,/"; } # JSON lines with the fields $1 added in front
    # FILE PART A ARGS_A B ARGS_B: bench_predict on the astronaut photo with ARGS_A and with
    # ARGS_B (flags, split on spaces), alternated over 8 rounds, each JSON line with its round
    predict_alternated() {
        local file=$1 part=$2 a=$3 args_a=$4 b=$5 args_b=$6 r v args
        for r in 1 2 3 4 5 6 7 8; do
            for v in $(alternated $r "$a" "$b"); do
                args=$args_a
                [ "$v" = "$b" ] && args=$args_b
                # shellcheck disable=SC2086 # $args is flags
                lib "$d/bin/bench_predict" "$root/models/relage-default.safetensors" \
                    "$root/examples/astronaut.png" --mtcnn "$mtcnn" $args --reps 21 --json \
                    2>> "$out/log.txt" | tagged "\"round\":$r" >> "$file" ||
                    echo "$part: bench_predict ($v) failed" >> "$out/log.txt"
            done
        done
    }
    for f in "$d"/lib/*.xz; do
        [ -e "${f%.xz}" ] || unxz "$f" > "${f%.xz}"
    done
    printf '#!/bin/sh\nLD_LIBRARY_PATH=%q exec %q "$@"\n' "$d/lib" "$d/bin/relage" > "$d/bin/relage.sh"
    chmod +x "$d/bin/relage.sh"
    { lscpu; echo; lscpu -e; } > "$out/cpu.txt"
    # two CPUs this process may use, on different cores (in a virtual machine: as it reports them)
    local allowed cpus
    allowed=$(awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status)
    cpus=$(lscpu -p=CPU,CORE | grep -v '^#' | awk -F, -v allowed="$allowed" '
        BEGIN { n = split(allowed, r, ","); for (i = 1; i <= n; i++) {
                    m = split(r[i], ab, "-"); for (c = ab[1]; c <= (m > 1 ? ab[2] : ab[1]); c++) ok[c] = 1 } }
        ok[$1] && !seen[$2]++ {print $1}' | head -2 | paste -sd,)
    echo "pinned to CPUs $cpus" | tee "$out/log.txt"
    pin() { if command -v taskset > /dev/null; then taskset -c "$cpus" "$@"; else "$@"; fi; }
    lib() { LD_LIBRARY_PATH="$d/lib" pin "$@"; }
    command -v taskset > /dev/null || echo "no taskset: not pinned" >> "$out/log.txt"
    has() { [[ ,$parts, == *,$1,* ]]; }
    vs() {
        pin "$py" "$root/bench/vs_pytorch.py" --threads 2 --relage "$d/bin/relage.sh" \
            --peer "$d/cpu_peer_bench.py" --python "$py" "$@" >> "$out/suite.jsonl" 2>> "$out/log.txt" ||
            echo "row failed: $*" >> "$out/log.txt"
    }
    kernels() { # PRECISION ARGS...: the oneDNN kernels one relage bench iteration ran
        local prec=$1
        shift
        echo "== $prec $*" >> "$out/kernels.txt"
        DNNL_VERBOSE=1 lib "$d/bin/relage" bench --precision "$prec" "$@" --iters 1 --warmup 0 \
            --threads 2 --quiet 2>&1 | awk -F, '$2 == "exec" {print $4, $5}' | sort | uniq -c \
            >> "$out/kernels.txt" || true
    }
    profile() { # PRECISION ARGS...: oneDNN's own timings per primitive kind, per iteration
        local prec=$1
        shift
        echo "== $prec $*" >> "$out/profile-verbose.txt"
        DNNL_VERBOSE=1 lib "$d/bin/relage" bench --precision "$prec" "$@" --iters 2 --warmup 1 \
            --threads 2 --json 2>/dev/null | awk -F, '
            $2 == "exec" {k = $4 " " $5 " " $6; t[k] += $NF; n[k]++} /^\{/ {print}
            END {for (k in t) printf "%10.1f ms %5d %s\n", t[k] / 3, n[k] / 3, k}' | sort -rn \
            >> "$out/profile-verbose.txt" || true
    }
    if has tests; then
        lib timeout 150 "$d/bin/test_dnnl" > "$out/test_dnnl.txt" 2>&1 || echo "test_dnnl failed: $?" >> "$out/log.txt"
        grep -E 'bf16|checks' "$out/test_dnnl.txt" | tail -12 >> "$out/log.txt" || true
        # test_mtcnn finds the photos at the shared folder beside the checkout it was built in
        local shared_there
        shared_there=$(grep -a -o -m1 '/[^[:cntrl:]]*/tests/fixtures/\.\./\.\./\.\./shared' "$d/bin/test_mtcnn" |
            head -1 || true)
        shared_there=${shared_there:+$(realpath -m "$shared_there")}
        if [ -n "$shared_there" ] && [ ! -e "$shared_there" ]; then
            mkdir -p "$(dirname "$shared_there")" && ln -s "$(realpath "$d")/shared" "$shared_there"
        fi
        local cascade=/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml t
        [ -e "$cascade" ] || { mkdir -p "$(dirname "$cascade")" && cp "$d/${cascade##*/}" "$cascade"; }
        for t in "$d"/bin/test_*; do
            [ "${t##*/}" = test_dnnl ] && continue
            lib timeout 120 "$t" >> "$out/tests.txt" 2>&1 || echo "${t##*/} failed: $?" >> "$out/log.txt"
        done
        grep -E 'checks' "$out/tests.txt" >> "$out/log.txt" || true
    fi
    if has predict; then
        lib "$d/bin/bench_predict" "$root/models/relage-default.safetensors" "$root/examples/astronaut.png" \
            --mtcnn "$mtcnn" --json >> "$out/predict.jsonl" 2>> "$out/log.txt" || echo "predict failed" >> "$out/log.txt"
    fi
    if has detect; then
        local aaf=("$photos"/aaf_*.jpg)
        lib "$d/bin/bench_detect" --mtcnn "$mtcnn" --threads 2 --json "${aaf[@]:0:40}" "$photos"/{ivan,pexels}*.jpg \
            "$root/examples/astronaut.png" >> "$out/detect.jsonl" 2>> "$out/log.txt" || echo "detect failed" >> "$out/log.txt"
    fi
    if has ab && [ -x "$d/bin/bench_detect.before" ]; then # the same photo, builds alternated
        local r b
        for r in 1 2 3 4 5 6 7 8; do
            for b in $(alternated $r before after); do
                local x=${b/after/}
                lib "$d/bin/bench_detect${x:+.before}" --mtcnn "$mtcnn" --threads 2 --reps 21 \
                    --json "$root/examples/astronaut.png" 2>> "$out/log.txt" |
                    tagged "\"build\":\"$b\",\"round\":$r" >> "$out/ab.jsonl" ||
                    echo "ab: bench_detect ($b) failed" >> "$out/log.txt"
                lib "$d/bin/bench_predict${x:+.before}" "$root/models/relage-default.safetensors" \
                    "$root/examples/astronaut.png" --mtcnn "$mtcnn" --reps 21 --json 2>> "$out/log.txt" |
                    tagged "\"build\":\"$b\",\"round\":$r" >> "$out/ab.jsonl" ||
                    echo "ab: bench_predict ($b) failed" >> "$out/log.txt"
            done
        done
        "$py" "$root/bench/ab_summary.py" "$out/ab.jsonl" | tee "$out/ab-summary.txt" >> "$out/log.txt"
    fi
    if has precision; then # the network in fp32 and in bf16: speed, and accuracy on the caches
        local p c name
        predict_alternated "$out/precision.jsonl" precision fp32 "--precision fp32" bf16 "--precision bf16"
        for c in "$d"/caches/*.rlg.xz; do
            [ -e "$c" ] || continue
            name=$(basename "$c" .rlg.xz)
            unxz "$c" > "/tmp/$name.rlg"
            for p in fp32 bf16; do
                lib "$d/bin/relage" eval --model "$root/models/relage-default.safetensors" \
                    --cache "/tmp/$name.rlg" --precision "$p" --threads 2 --json \
                    --out "$out/pred-$name-$p.csv" > "$out/eval-$name-$p.json" 2>> "$out/log.txt" ||
                    echo "precision: eval $name ($p) failed" >> "$out/log.txt"
            done
        done
    fi
    if has flip; then # what test-time flip averaging costs per photo
        predict_alternated "$out/flip.jsonl" flip off "" on --flip
    fi
    if has fp32; then
        kernels fp32 --arch resnet50 --batch 1
        vs --arch resnet50 --input 224 --batch 1 --reps 3 --iters 10 --peer-flags=--jit
        vs --arch resnet18 --input 112 --batch 64 --train --reps 3 --iters 3
        vs --arch resnet50 --input 224 --batch 32 --train --reps 2 --iters 2
        vs --arch resnet50 --input 224 --batch 32 --reps 2 --iters 2 --peer-flags=--jit
    fi
    if has bf16; then
        kernels bf16 --arch resnet50 --batch 1
        kernels bf16 --arch resnet18 --input 112 --batch 64 --train
        vs --precision bf16 --arch resnet50 --input 224 --batch 1 --reps 3 --iters 10 --peer-flags="--bf16 --cl"
        vs --precision bf16 --arch resnet18 --input 112 --batch 64 --train --reps 3 --iters 3 --peer-flags="--bf16 --cl"
        vs --precision bf16 --arch resnet50 --input 224 --batch 32 --train --reps 2 --iters 2 --peer-flags="--bf16 --cl"
        vs --precision bf16 --arch resnet50 --input 224 --batch 32 --reps 2 --iters 2 --peer-flags="--bf16 --cl"
    fi
    if has ceilings; then # oneDNN's primitives alone, and relage on the same machine in the same call
        for c in "r50 1 infer" "r18 64 train"; do
            for prec in fp32 bf16; do
                local a=(--arch resnet50 --batch 1)
                [[ $c == r18* ]] && a=(--arch resnet18 --input 112 --batch 64 --train)
                # shellcheck disable=SC2086 # $c is three words
                { echo "== $c $prec"; OMP_NUM_THREADS=2 lib timeout 90 "$d/bin/convbench" $c "${prec/fp32/f32}" 2>&1 |
                    grep -E 'ESTIMATE|TOTAL'; lib "$d/bin/relage" bench "${a[@]}" --precision "$prec" \
                    --iters 5 --threads 2 --json --quiet 2>&1 | tail -1; } >> "$out/ceilings.txt" 2>&1 || true
            done
        done
    fi
    if has profile; then # verbose timings inflate the step; for shares, not speeds
        profile bf16 --arch resnet50 --batch 32 --train
        profile bf16 --arch resnet18 --input 112 --batch 64 --train
        profile fp32 --arch resnet50 --batch 1
        profile fp32 --arch resnet18 --input 112 --batch 64 --train
    fi
}

case ${1:-} in
pack) pack "$2" "${3:-}" ;;
run) run "$2" "$3" "${4:-python3}" "${5:-tests,predict,detect,fp32,bf16,ceilings,profile}" ;;
*) sed -n '/^set /q; 2,$p' "$0" >&2; exit 2 ;;
esac
