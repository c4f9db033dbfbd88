#!/usr/bin/env bash
# One-call GPU check (< 5 minutes on one GPU): FP32 / FP16 / INT8 TensorRT engines of the default model and of a
# random-weight ViT-B 256-CE model (`dt export ... --engine`), each engine's layers from TensorRT's engine
# inspector, DeviceTracker over TensorRTBackend (2 targets, 100 frames, torch sync-debug "warn") vs ORT CPU boxes,
# model-only and end-to-end latency with CUDA events; writes benchmarks/results/gpu_<gpu>.md.
#
#   bash benchmarks/gpu_check.sh [WORK_DIR]        # default WORK_DIR: out/gpu_check; PYTHON=... to pick python
#
# Every step logs and writes WORK_DIR/*.json; a failing step is recorded and the others still run. A time budget
# (GPU_CHECK_BUDGET_S, default 270 s) skips the remaining engine steps so the report is always written; one engine's
# steps get GPU_CHECK_STEP_S (default 150 s) and never run past the budget, a hang is recorded as a failed step. When
# $OUT is set (device machines), the step files are copied there after every step (a run cut off by its time limit
# still returns them), the report at the end. Worst case about BUDGET + 10 s + the report (the budget counts from the
# start, exports included).
set -euo pipefail

cd "$(dirname "$0")/.."
WORK="${1:-out/gpu_check}"
PY="${PYTHON:-python}"
BUDGET="${GPU_CHECK_BUDGET_S:-270}"
CALIB="${GPU_CHECK_CALIB_PAIRS:-8}"
STEP_S="${GPU_CHECK_STEP_S:-150}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-8}" MPLBACKEND=Agg
START=$SECONDS
mkdir -p "$WORK"
rm -f "$WORK"/*.json

log() { echo "[gpu_check $(( SECONDS - START ))s] $*"; }
step() { "$PY" benchmarks/gpu_check.py "$@" || log "step failed (recorded, carrying on): $1 ${*: -1}"; }
save() {   # the step files so far into $OUT (nothing else under it comes back from a device machine)
    [ -n "${OUT:-}" ] || return 0
    mkdir -p "$OUT/gpu_check"
    cp "$WORK"/*.json "$WORK"/*.log "$OUT/gpu_check/" 2>/dev/null || true
    for model in $MODELS; do
        for f in "$WORK/$model"/*.layers.json "$WORK/$model/parity.json"; do
            if [ -f "$f" ]; then cp "$f" "$OUT/gpu_check/${model}_$(basename "$f")" || true; fi
        done
    done
    return 0
}

MODELS="${GPU_CHECK_MODELS:-default vitb256ce}"   # a subset (e.g. "default") for a quick smoke run

log "environment"
step env "$WORK"; save
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true

# all exports (ONNX FP32/FP16/INT8 + parity on CPU, then the engines) run side by side: CPU and GPU both idle
PIDS=()
for model in $MODELS; do
    case "$model" in
        default) src=() ; limit=170 ;;
        vitb256ce)
            log "models: random-weight ViT-B 256-CE checkpoint"
            step models "$WORK"
            src=("$WORK/vitb256ce_random.pt") ; limit=200 ;;
        *) log "unknown model '$model' in GPU_CHECK_MODELS (default, vitb256ce)"; continue ;;
    esac
    left=$(( BUDGET - (SECONDS - START) ))   # a fixed limit alone let the exports run past the budget
    (( left < limit )) && limit=$left
    (( limit < 10 )) && limit=10
    log "export $model (FP32, FP16, INT8 graphs and engines) in the background, at most ${limit}s"
    (   # with --fp16/--int8, --engine builds only those graphs' engines: the FP32 one is built from model.onnx after
        step run "$WORK" --name "export_$model" --timeout "$limit" -- \
            "$PY" -m droptrack export ${src[@]+"${src[@]}"} --fp16 --int8 --calib-pairs "$CALIB" --engine -o "$WORK/$model"
        left=$(( BUDGET - (SECONDS - START) ))
        (( left < 10 )) && left=10
        step run "$WORK" --name "engine_fp32_$model" --timeout "$left" -- \
            "$PY" -m droptrack export "$WORK/$model/model.onnx" --engine
    ) &
    PIDS+=($!)
done
for pid in "${PIDS[@]}"; do wait "$pid" || true; done
log "exports done"; save

for model in $MODELS; do
    for name in model model_fp16 model_int8_trt; do
        engine="$WORK/$model/$name.engine"
        if [ ! -f "$engine" ]; then
            why="export_$model.log"; [ "$name" = model ] && why="engine_fp32_$model.log"
            log "no $engine ($why says why)"
            printf '{"step": "engine", "model": "%s", "ok": false, "error": "%s not built; see %s"}\n' \
                "$model" "$engine" "$WORK/$why" > "$WORK/${model}_${name}_missing.json"
            continue
        fi
        if (( SECONDS - START > BUDGET )); then
            log "time budget ${BUDGET}s spent: skipping $engine"
            continue
        fi
        log "engine $engine: inspect, track 100 frames x 2 targets vs ORT CPU, latency"
        rc=0
        limit=$(( BUDGET - (SECONDS - START) ))   # never past the budget: the whole run stays under 5 minutes
        (( limit > STEP_S )) && limit=$STEP_S
        (( limit < 10 )) && limit=10
        timeout "$limit" "$PY" benchmarks/gpu_check.py engine "$engine" --onnx "$WORK/$model/model.onnx" \
            --model "$model" --out "$WORK" || rc=$?
        if [ "$rc" -eq 124 ]; then
            log "engine $engine: over ${limit}s, stopped (recorded)"
            printf '{"step": "engine", "model": "%s", "ok": false, "error": "%s: inspect/track/latency stopped after %s s"}\n' \
                "$model" "$engine" "$limit" > "$WORK/${model}_${name}_timeout.json"
        elif [ "$rc" -ne 0 ]; then
            log "step failed (recorded, carrying on): engine $engine"
        fi
        save
    done
done

GPU_SLUG=$("$PY" -c "import json,re,sys; g=json.load(open(sys.argv[1])).get('gpu','unknown'); \
print(re.sub(r'[^a-z0-9]+','_',g.lower()).strip('_') or 'unknown')" "$WORK/00_env.json" 2>/dev/null || echo unknown)
REPORT="benchmarks/results/gpu_${GPU_SLUG}.md"
[ "$GPU_SLUG" = "no_gpu" ] && REPORT="$WORK/gpu_no_gpu.md"   # a CPU smoke run records nothing under results/
"$PY" benchmarks/gpu_check.py report "$WORK" --out "$REPORT" || log "report failed (the step files are kept)"
save
if [ -n "${OUT:-}" ]; then cp "$REPORT" "$OUT/" || true; fi
FAILED=$(grep -l '"ok": false' "$WORK"/*.json 2>/dev/null | wc -l || true)
log "done in $(( SECONDS - START )) s: $REPORT ($FAILED failed step(s); see the report)"
[ "$FAILED" -eq 0 ]
