#!/bin/bash
# dt demo and a small dt bench, an older tree vs this one, interleaved rounds, 1 thread: wall and process CPU
# (/usr/bin/time), for the single-pass dt bench (results/bench_single_pass_cpu.md). Outputs stay in WORK for
# benchmarks/compare_bench_outputs.py.
# Usage: benchmarks/bench_single_pass.sh OLD_TREE NEW_TREE WORK [ROUNDS]
#   OLD_TREE: a checkout of the commit before (git archive | tar -x), NEW_TREE: this tree, WORK: an empty folder.
set -euo pipefail
OLD=$(realpath "$1") NEW=$(realpath "$2") WORK=$3 ROUNDS=${4:-3}
export MPLBACKEND=Agg OMP_NUM_THREADS=1
mkdir -p "$WORK" && cd "$WORK"
CK=$NEW/droptrack/weights/droptrack_tiny_synth.pt
if [ ! -f exp/model.onnx ]; then
  PYTHONPATH=$NEW python -m droptrack export --fp16 --int8 --output exp > export.log 2>&1
fi
PYTHONPATH=$NEW python -c "
from droptrack.data.synth import ensure_synth
from droptrack.eval.bench_data import SYNTH_SEED, SYNTH_SIZE
ensure_synth('synth_4x30', 4, 30, SYNTH_SEED, SYNTH_SIZE, split='val', progress=False)"
for r in $(seq 1 "$ROUNDS"); do
  for T in OLD NEW; do
    if [ "$T" = OLD ]; then TREE=$OLD; else TREE=$NEW; fi
    rm -rf "demo_${T}_$r" "bench_${T}_$r"
    /usr/bin/time -f "demo $T $r wall %e user %U sys %S" -a -o times.txt env PYTHONPATH="$TREE" nice -n 10 \
      python -m droptrack demo -o "demo_${T}_$r" > "demo_${T}_$r.log" 2>&1 || true
    /usr/bin/time -f "bench $T $r wall %e user %U sys %S" -a -o times.txt env PYTHONPATH="$TREE" nice -n 10 \
      python -m droptrack bench "$CK" exp/model.onnx exp/model_int8_ort.onnx --data synthetic --root synth_4x30 \
      --sequences 4 --frames 30 --threads 1 -o "bench_${T}_$r" > "bench_${T}_$r.log" 2>&1 || true
    echo "load $(cut -d' ' -f1 /proc/loadavg)" >> times.txt
  done
done
