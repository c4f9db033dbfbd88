#!/usr/bin/env bash
# One-call GPU check (< 5 minutes on one GPU): FP32 / FP16 / INT8 TensorRT engines of the default model and of a
# random-weight ViT-B 256-CE model (`dt export ... --engine`), each engine's layers from TensorRT's engine
# inspector, DeviceTracker over TensorRTBackend (2 targets, 100 frames, torch sync-debug "warn") vs ORT CPU boxes,
# model-only and end-to-end latency with CUDA events; writes benchmarks/results/gpu_<gpu>.md.
#
#   bash benchmarks/gpu_check.sh [WORK_DIR]        # default WORK_DIR: out/gpu_check; PYTHON=... to pick python
#
# One model after the other, one step at a time: the default model first and completely (export with its FP16 /
# INT8 engines, the FP32 engine, then each engine's inspect / track / latency), then the ViT-B model, so a run cut
# short still has the default model's results, and no engine is built beside other GPU work (TensorRT times its
# kernel choices on the GPU), with a timing cache of this run's own (WORK_DIR/trt_cache, emptied first; the engines
# in WORK_DIR are rebuilt). The report is rewritten after every step (marked unfinished until the end).
#
# Every step logs and writes WORK_DIR/*.json; a failing step is recorded and the others still run. A time budget
# (GPU_CHECK_BUDGET_S, default 270 s, counted from the start) caps each step's time limit; a step with under 10 s of
# it left is skipped and recorded as such. One engine's checks get at most GPU_CHECK_STEP_S (default 150 s), a hang
# is recorded as a failed step. When $OUT is set (device machines), the report and $OUT/gpu_check.tgz (the step
# files, logs and layer dumps) are written there after every step (a run cut off by its time limit still returns
# them). Worst case about BUDGET + 10 s.
set -euo pipefail

cd "$(dirname "$0")/.."
WORK="${1:-out/gpu_check}"
PY="${PYTHON:-python}"
BUDGET="${GPU_CHECK_BUDGET_S:-270}"
CALIB="${GPU_CHECK_CALIB_PAIRS:-8}"
STEP_S="${GPU_CHECK_STEP_S:-150}"
MODELS="${GPU_CHECK_MODELS:-default vitb256ce}"   # a subset (e.g. "default") for a quick smoke run
MIN_S=10
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-8}" MPLBACKEND=Agg
START=$SECONDS
if [ -d "$WORK" ] && [ -n "$(ls -A "$WORK")" ] && [ ! -e "$WORK/.gpu_check_work" ]; then
    echo "gpu_check: $WORK holds files this script did not write; name an empty or new folder" >&2
    exit 2
fi
mkdir -p "$WORK"
touch "$WORK/.gpu_check_work"   # marks the folder as this script's, whose files a later run may replace
rm -f "$WORK"/*.json "$WORK"/*.log "$WORK"/*/*.engine*   # this run's steps and engines only
# TensorRT's engine and timing caches of this run alone, emptied first: no kernel choice timed in an earlier run
# (perhaps beside other GPU work) is reused, and the user's cache (~/.cache/droptrack/tensorrt) is left untouched
DT_CACHE_DIR="$(cd "$WORK" && pwd)/trt_cache"
rm -rf "$DT_CACHE_DIR"
export DT_CACHE_DIR
REPORT="$WORK/gpu_check.md"   # until the GPU's name is known

log() { echo "[gpu_check $(( SECONDS - START ))s] $*"; }
step() { "$PY" benchmarks/gpu_check.py "$@" || log "step failed (recorded, carrying on): $1 ${*: -1}"; }
limit() {   # CAP: a step's time limit, CAP or the budget left; fails when under MIN_S seconds are left
    local left=$(( BUDGET - (SECONDS - START) ))
    (( left >= MIN_S )) || return 1
    echo $(( left < $1 ? left : $1 ))
}
skipped() {   # MODEL WHAT: a step not started for want of time, recorded as failed
    log "time budget ${BUDGET}s spent: skipping $2 of $1"
    printf '{"step": "skipped", "model": "%s", "ok": false, "error": "%s not run: the %s s budget was spent"}\n' \
        "$1" "$2" "$BUDGET" > "$WORK/${1}_${2}_skipped.json"
}
save() {   # the step files so far as one $OUT/gpu_check.tgz, and the report (a device machine returns 8 files at most)
    [ -n "${OUT:-}" ] || return 0
    local dest
    dest=$(mkdir -p "$OUT" && cd "$OUT" && pwd) || return 0
    if (cd "$WORK" && shopt -s nullglob && tar czf "$dest/.gpu_check.tgz.part" ./*.json ./*.log ./*/*.layers.json \
            ./*/parity.json); then
        mv -f "$dest/.gpu_check.tgz.part" "$dest/gpu_check.tgz"
    fi
    if [ -f "$REPORT" ]; then cp "$REPORT" "$dest/" || true; fi
    return 0
}
report() {   # the report of what finished so far ("$@": --partial until the end), then everything into $OUT
    "$PY" benchmarks/gpu_check.py report "$WORK" --out "$REPORT" "$@" >/dev/null \
        || log "report failed (the step files are kept)"
    save
}

check_engine() {   # MODEL NAME: inspect, track and time WORK/MODEL/NAME.engine
    local model=$1 name=$2 engine="$WORK/$1/$2.engine" by=export secs rc=0
    [ "$name" = model ] && by=engine_fp32
    if [ ! -f "$engine" ]; then
        [ ! -f "$WORK/${model}_${by}_skipped.json" ] || return 0   # its build was skipped (recorded)
        log "no $engine (${by}_$model.log says why)"
        printf '{"step": "engine", "model": "%s", "ok": false, "error": "%s not built; see %s"}\n' \
            "$model" "$engine" "$WORK/${by}_$model.log" > "$WORK/${model}_${name}_missing.json"
        return 0
    fi
    if ! secs=$(limit "$STEP_S"); then skipped "$model" "${name}_checks"; return 0; fi
    log "engine $engine: inspect, track 100 frames x 2 targets vs ORT CPU, latency (at most ${secs}s)"
    timeout "$secs" "$PY" benchmarks/gpu_check.py engine "$engine" --onnx "$WORK/$model/model.onnx" \
        --model "$model" --out "$WORK" || rc=$?
    if [ "$rc" -eq 124 ]; then
        log "engine $engine: over ${secs}s, stopped (recorded)"
        printf '{"step": "engine", "model": "%s", "ok": false, "error": "%s: %s stopped after %s s"}\n' \
            "$model" "$engine" "inspect/track/latency" "$secs" > "$WORK/${model}_${name}_timeout.json"
    elif [ "$rc" -ne 0 ]; then
        log "step failed (recorded, carrying on): engine $engine"
    fi
}

check_model() {   # MODEL: export (ONNX graphs, parity, FP16 / INT8 engines), FP32 engine, each engine's checks
    local model=$1 src=() cap secs
    case "$model" in
        default) cap=170 ;;
        vitb256ce)
            cap=200
            if ! secs=$(limit 60); then skipped "$model" models; return 0; fi
            log "models: random-weight ViT-B 256-CE checkpoint (at most ${secs}s)"
            timeout "$secs" "$PY" benchmarks/gpu_check.py models "$WORK" \
                || log "step failed (recorded, carrying on): models"
            src=("$WORK/vitb256ce_random.pt") ;;
        *) log "unknown model '$model' in GPU_CHECK_MODELS (default, vitb256ce)"; return 0 ;;
    esac
    if secs=$(limit "$cap"); then
        log "export $model (FP32, FP16, INT8 graphs, FP16 / INT8 engines), at most ${secs}s"
        step run "$WORK" --name "export_$model" --timeout "$secs" -- \
            "$PY" -m droptrack export ${src[@]+"${src[@]}"} --fp16 --int8 --calib-pairs "$CALIB" --engine \
            -o "$WORK/$model"
    else
        skipped "$model" export
    fi
    report --partial
    # with --fp16/--int8, --engine builds only those graphs' engines: the FP32 one is built from model.onnx after
    if secs=$(limit "$BUDGET"); then
        log "engine_fp32 $model, at most ${secs}s"
        step run "$WORK" --name "engine_fp32_$model" --timeout "$secs" -- \
            "$PY" -m droptrack export "$WORK/$model/model.onnx" --engine
    else
        skipped "$model" engine_fp32
    fi
    report --partial
    for name in model model_fp16 model_int8_trt; do
        check_engine "$model" "$name"
        report --partial
    done
}

log "environment"
step env "$WORK"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
GPU_SLUG=$("$PY" -c "import json,re,sys; g=json.load(open(sys.argv[1])).get('gpu','unknown'); \
print(re.sub(r'[^a-z0-9]+','_',g.lower()).strip('_') or 'unknown')" "$WORK/00_env.json" 2>/dev/null || echo unknown)
REPORT="benchmarks/results/gpu_${GPU_SLUG}.md"
[ "$GPU_SLUG" = "no_gpu" ] && REPORT="$WORK/gpu_no_gpu.md"   # a CPU smoke run records nothing under results/
report --partial

for model in $MODELS; do
    check_model "$model"
done

report
FAILED=$(grep -l '"ok": false' "$WORK"/*.json 2>/dev/null | wc -l || true)
log "done in $(( SECONDS - START )) s: $REPORT ($FAILED failed step(s); see the report)"
[ "$FAILED" -eq 0 ]
