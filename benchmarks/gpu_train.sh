#!/usr/bin/env bash
# Fine-tune a default-model candidate on a lent GPU machine in one call (about 8 minutes on 16 cores + 1 GPU).
#
#   bash benchmarks/gpu_train.sh        # env: GPU_TRAIN_SECONDS (training time, default 270), GPU_TRAIN_JOBS (14),
#                                       # GPU_TRAIN_PLAIN / _HARD (sequences, 560 / 210), GPU_TRAIN_SEED (700),
#                                       # GPU_TRAIN_DEVICE (cuda), GPU_TRAIN_WORKERS (12), GPU_TRAIN_PROBE_ITERS
#                                       # (100), GPU_TRAIN_CONFIG (the YAML whose EPOCH / LR_DROP_EPOCH get sized;
#                                       # default benchmarks/configs/droptrack_tiny_synth_v10gpu.yaml, the
#                                       # 8-block network the packaged weights have since version 10),
#                                       # GPU_TRAIN_INIT (--pretrained; default the packaged weights, "none" = from
#                                       # scratch), GPU_TRAIN_DROP (LR drop at this share of the epochs, 0.75),
#                                       # GPU_TRAIN_BATCH (128, the batch of versions 8 and 10; an epoch is the
#                                       # config's SAMPLE_PER_EPOCH),
#                                       # GPU_TRAIN_HARD_ATTRIBUTES (the hard shards' --attributes: all, or
#                                       # all,attached to add the opt-in attribute),
#                                       # GPU_TRAIN_WORK (/tmp/gpu_train, emptied first), PYTHON,
#                                       # GPU_TRAIN_REAL (a folder of unlabelled videos, e.g. .gpu_data/debvid: each
#                                       # labelled by benchmarks/real_video_labels.py on the device and added,
#                                       # listed GPU_TRAIN_REAL_REPEAT times, default 3, as version 22's recipe;
#                                       # fill .gpu_data/debvid with the 10 videos cpu_train_v22.sh extracts under
#                                       # WORK/debvid/root, 16 MB, and carry it)
#
# 1. training data, in GPU_TRAIN_JOBS parallel shards: plain (320x240, 80 frames) and hard (640x360, 60 frames,
#    every attribute) synthetic sequences of the *train* photo groups, 1:4.5..4.5:1 targets (version 4's recipe with
#    fresh seeds). The hard set needs Debian's opencv-doc photos: where they are not installed (the device image),
#    the photos carried in .gpu_data/opencv-doc are put in their place (copy them there first: only the image files
#    of /usr/share/doc/opencv-doc/examples/data, no video). GPU_TRAIN_HARD_ATTRIBUTES=all,attached adds the opt-in
#    `attached` attribute (targets that run on into the same texture outside their box; drawn with p = 0.25 like
#    the others); the default `all` makes the shards of versions 7-9;
# 2. a two-epoch probe (GPU_TRAIN_PROBE_ITERS iterations each) measures iterations per second, and the epoch count
#    (of SAMPLE_PER_EPOCH / GPU_TRAIN_BATCH iterations) is set so that training fits
#    GPU_TRAIN_SECONDS (LR drop x0.1 at GPU_TRAIN_DROP of the epochs; 75 %, as version 4's 14 of 20);
# 3. `dt train` from GPU_TRAIN_INIT (the packaged weights) with GPU_TRAIN_CONFIG (version 4's recipe by default),
#    8 checkpoints kept (every epochs/8), then copied with the log to $OUT (or out/gpu_train).
# Nothing here chooses a model: the checkpoints are scored on validation sets afterwards (benchmarks/default_model.md).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
PY="${PYTHON:-python3}"
SECONDS_TRAIN="${GPU_TRAIN_SECONDS:-270}"; JOBS="${GPU_TRAIN_JOBS:-14}"; WORKERS="${GPU_TRAIN_WORKERS:-12}"
PLAIN="${GPU_TRAIN_PLAIN:-560}"; HARD="${GPU_TRAIN_HARD:-210}"; SEED="${GPU_TRAIN_SEED:-700}"
DEVICE="${GPU_TRAIN_DEVICE:-cuda}"; PROBE="${GPU_TRAIN_PROBE_ITERS:-100}"; DROP="${GPU_TRAIN_DROP:-0.75}"
BATCH="${GPU_TRAIN_BATCH:-128}"; HARD_ATTR="${GPU_TRAIN_HARD_ATTRIBUTES:-all}"
CONFIG="${GPU_TRAIN_CONFIG:-benchmarks/configs/droptrack_tiny_synth_v10gpu.yaml}"
INIT="${GPU_TRAIN_INIT:-droptrack/weights/droptrack_tiny_synth.pt}"
[ -f "$CONFIG" ] || { echo "GPU_TRAIN_CONFIG: $CONFIG is not a file; give a dt train YAML"; exit 2; }
INIT_ARGS=(--pretrained "$INIT"); [ "$INIT" = none ] && INIT_ARGS=()
[ "$INIT" = none ] || [ -f "$INIT" ] || { echo "GPU_TRAIN_INIT: $INIT is not a file; give a checkpoint or none"; exit 2; }
W="${GPU_TRAIN_WORK:-/tmp/gpu_train}"; DEST="${OUT:-out/gpu_train}"; DOC=/usr/share/doc/opencv-doc/examples/data
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=1
"$PY" -c "import sys; from droptrack.data.synth_hard import parse_attributes; parse_attributes(sys.argv[1])" \
    "$HARD_ATTR" 2>/dev/null || { echo "GPU_TRAIN_HARD_ATTRIBUTES: $HARD_ATTR is not a dt data synth --attributes value; \
give e.g. all or all,attached"; exit 2; }
START=$SECONDS
log() { echo "[gpu_train $(( SECONDS - START ))s] $*"; }
rm -rf "$W"; mkdir -p "$W/merged" "$DEST"

if [ "$HARD" -gt 0 ] && [ ! -d "$DOC" ]; then
    [ -d .gpu_data/opencv-doc ] || { log "no $DOC and no .gpu_data/opencv-doc to carry it"; exit 2; }
    mkdir -p "$(dirname "$DOC")" && cp -r .gpu_data/opencv-doc "$DOC"
fi

log "data: $PLAIN plain + $HARD hard sequences in $JOBS shards"
half=$(( JOBS / 2 > 0 ? JOBS / 2 : 1 )); n=$(( PLAIN / half )); h=$(( HARD / half ))   # sequences per shard
for k in $(seq 1 "$half"); do
    timeout 150 "$PY" -m droptrack data synth "$W/plain_$k" --sequences "$n" --frames 80 --seed $(( SEED + k )) --split train \
        --aspect-max 4.5 > "$W/synth_plain_$k.log" 2>&1 &
    [ "$h" -gt 0 ] && timeout 150 "$PY" -m droptrack data synth "$W/hard_$k" --split train --size 640x360 --attributes "$HARD_ATTR" --sequences "$h" \
        --frames 60 --seed $(( SEED + 100 + k )) --aspect-max 4.5 > "$W/synth_hard_$k.log" 2>&1 &
done
wait
REAL="${GPU_TRAIN_REAL:-}"; REPEAT="${GPU_TRAIN_REAL_REPEAT:-3}"
if [ -n "$REAL" ]; then   # version 22's real tracks: one labeller per video, in parallel
    [ -d "$REAL" ] || { log "GPU_TRAIN_REAL: $REAL is not a folder of videos"; exit 2; }
    i=0
    for v in "$REAL"/*; do
        [ -f "$v" ] || continue
        i=$(( i + 1 )); "$PY" benchmarks/real_video_labels.py "$W/real_$i" "$v" > "$W/label_real_$i.log" 2>&1 &
    done
    wait
    for d in "$W"/real_*; do
        [ -f "$d/list.txt" ] || { log "labels $d failed: $(tail -1 "$W/label_${d##*/}.log")"; rm -rf "$d"; continue; }
        for r in $(seq 2 "$REPEAT"); do ln -sfn "$d" "${d}_r$r"; done
    done
fi
shards=()
for d in "$W"/plain_* "$W"/hard_* "$W"/real_*; do
    [ -e "$d" ] || continue   # no hard shards when GPU_TRAIN_HARD=0
    [ -f "$d/list.txt" ] || { log "shard $d failed: $(tail -1 "$W/synth_$(basename "$d").log")"; continue; }
    shards+=("$d")
done
# links to every shard's sequences, and the completeness marker the reader needs (the shards' own markers)
"$PY" benchmarks/merge_synth_shards.py "$W/merged" ${shards[@]+"${shards[@]}"} > /dev/null || exit 1
log "data ready: $(wc -l < "$W/merged/list.txt") sequences"

train() {  # train TIMEOUT_S OUTPUT CONFIG [extra dt train options]
    local limit="$1" out="$2" cfg="$3"; shift 3
    timeout "$limit" "$PY" -m droptrack train --config "$cfg" ${INIT_ARGS[@]+"${INIT_ARGS[@]}"} --output "$out" \
        --data "$W/merged" --workers "$WORKERS" --threads 4 --device "$DEVICE" --batch-size "$BATCH" --seed 77 "$@"
}
T0=$("$PY" -c "import time; print(time.time())")
train 120 "$W/probe" "$CONFIG" --epochs 2 --samples-per-epoch $(( PROBE * BATCH )) \
    --save-every 1 --keep-last 0 > "$W/probe.log" 2>&1 || { log "probe failed:"; tail -20 "$W/probe.log"; exit 1; }
# two probe epochs of PROBE iterations: the second one's time is the steady rate, the first's excess the start-up
EPOCHS=$("$PY" - "$W/probe" "$T0" "$SECONDS_TRAIN" "$PROBE" "$CONFIG" "$BATCH" <<'EOF'
import os, sys, yaml
d, t0, budget, probe = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
iters = yaml.safe_load(open(sys.argv[5]))["DATA"]["TRAIN"]["SAMPLE_PER_EPOCH"] // int(sys.argv[6])
m1, m2 = (os.path.getmtime(f"{d}/checkpoint_ep000{k}.pt") for k in (1, 2))
epoch, startup = (m2 - m1) * iters / probe, max(0.0, (m1 - t0) - (m2 - m1))
print(max(2, min(400, int(0.92 * (budget - startup) / epoch))), f"{epoch:.2f}", f"{startup:.1f}")
EOF
)
read -r EPOCHS EPOCH_S STARTUP_S <<< "$EPOCHS"
log "probe: ${EPOCH_S}s per epoch (batch $BATCH), ${STARTUP_S}s start-up -> $EPOCHS epochs"
"$PY" - "$EPOCHS" "$CONFIG" "$DROP" "$W/sized.yaml" <<'EOF'
import sys, yaml
e, drop = int(sys.argv[1]), float(sys.argv[3])
cfg = yaml.safe_load(open(sys.argv[2]))
cfg["TRAIN"].update(EPOCH=e, LR_DROP_EPOCH=max(1, round(drop * e)), VAL_EPOCH_INTERVAL=10 ** 6)
yaml.safe_dump(cfg, open(sys.argv[4], "w"), sort_keys=False)
EOF
EVERY=$(( EPOCHS / 8 > 0 ? EPOCHS / 8 : 1 ))
train $(( SECONDS_TRAIN + 60 )) "$W/ft" "$W/sized.yaml" --save-every "$EVERY" --keep-last 0 > "$W/train.log" 2>&1
log "training ended (exit $?): $(ls "$W/ft" 2>/dev/null | tr '\n' ' ')"
tail -5 "$W/train.log"
cp "$W/sized.yaml" "$W/train.log" "$DEST/" 2>/dev/null
# epoch checkpoints without optimizer / scheduler / RNG state (final.pt's keys): 6 MB each, under the 16 MiB a file
"$PY" - "$W/ft" "$DEST" <<'EOF'
import sys
from pathlib import Path

import torch

KEEP = ("format", "format_version", "config_name", "config", "variant", "net", "meta", "epoch", "history")
for f in sorted(Path(sys.argv[1]).glob("checkpoint_ep*.pt"))[-6:]:
    ck = torch.load(f, map_location="cpu", weights_only=True)
    torch.save({k: ck[k] for k in KEEP if k in ck}, Path(sys.argv[2]) / f.name)
EOF
log "done: $(ls "$DEST" | tr '\n' ' ')"
