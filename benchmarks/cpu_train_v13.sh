#!/usr/bin/env bash
# Version 13 candidate (issue 11): the packaged weights (version 12) trained further on a 2-core CPU, on fresh
# synthetic data where a quarter of the sequences have object-shaped targets (`dt data synth --attributes silhouette`).
#
#   bash benchmarks/cpu_train_v13.sh WORK            # data (about 12 min on 2 cores), then training (about 75 min)
#   CPU_TRAIN_STEP=data|train bash benchmarks/cpu_train_v13.sh WORK   # one step; `train` resumes an interrupted run
#
# Data, train split only (the training photo groups; no video), seeds 901-903:
#   plain  400 sequences, 320x240, 80 frames, targets 1:4.5..4.5:1 (version 4's plain recipe)
#   hardA  800 sequences, 640x360, 60 frames, --attributes all,attached,silhouette (each drawn with p = 0.25; never
#          attached and silhouette together)
#   hardB  600 sequences, 640x360, 60 frames, --attributes silhouette; only the ~150 drawn with it are used
# Training: benchmarks/configs/droptrack_tiny_synth_v13sil.yaml (12 epochs of 16,384 pairs, batch 32, LR 5e-5, x0.1
# after 9), one torch thread and one loader process, seed 131, a checkpoint every epoch. Nothing here chooses a
# model: the checkpoints are scored on validation sets afterwards (benchmarks/default_model.md).
. "$(dirname "$0")/cpu_train_lib.sh" "$@"
mkdir -p "$W" && cd "$W" || exit 2
synth() { "$PY" -m droptrack data synth "$@"; }
if want data; then
    ( synth plain --sequences 400 --frames 80 --seed 901 --split train --aspect-max 4.5 > gen_plain.log 2>&1
      synth hardB --split train --size 640x360 --attributes silhouette --sequences 600 --frames 60 --seed 903 \
          --aspect-max 4.5 > gen_hardB.log 2>&1 ) &
    synth hardA --split train --size 640x360 --attributes all,attached,silhouette --sequences 800 --frames 60 \
        --seed 902 --aspect-max 4.5 > gen_hardA.log 2>&1
    wait
    for d in plain hardA hardB; do
        [ -f "$d/list.txt" ] || { echo "shard $d failed: $(tail -1 "gen_$d.log")"; exit 1; }
    done
    rm -rf merged
    "$PY" "$REPO/benchmarks/merge_synth_shards.py" merged plain hardA hardB --only hardB=silhouette > /dev/null \
        || exit 1
    data_summary merged silhouette
fi
if want train; then
    cpu_train "$REPO/benchmarks/configs/droptrack_tiny_synth_v13sil.yaml" \
        "$REPO/droptrack/weights/droptrack_tiny_synth.pt" ft merged 131 train.log
fi
