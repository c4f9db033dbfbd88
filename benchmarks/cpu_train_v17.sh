#!/usr/bin/env bash
# Version 17 candidate (issue 11): version 15 (the packaged weights) trained further on the 2-core CPU with targets
# that are a still part of the scene (`dt data synth --attributes in_scene`, droptrack/data/synth_scene.py): the real
# test clip's pole in a row of trees, a face whose box stops at the hairline (results/tracker_ext_v17/RULE.md).
#
#   bash benchmarks/cpu_train_v17.sh WORK            # version 13's shards if WORK lacks them, the new shard, training
#   CPU_TRAIN_STEP=data|train bash benchmarks/cpu_train_v17.sh WORK   # one step; `train` resumes an interrupted run
#
# Data, train split only: version 13's 1,343 sequences (seeds 901-903) plus, with seed 1701,
#   hardS  1,000 sequences, 640x360, 60 frames, --attributes all,in_scene; only the ~250 drawn with in_scene are used
# Training: benchmarks/configs/droptrack_tiny_synth_v17.yaml (6 epochs of 16,384 pairs, batch 32, LR 5e-5, x0.1
# after 4), from droptrack/weights/droptrack_tiny_synth.pt, seed 171, a checkpoint every epoch.
. "$(dirname "$0")/cpu_train_lib.sh" "$@"
if want data; then
    [ -f "$W/merged/list.txt" ] || CPU_TRAIN_STEP=data bash benchmarks/cpu_train_v13.sh "$W" || exit 1
fi
cd "$W" || exit 2
if want data; then
    "$PY" -m droptrack data synth hardS --split train --size 640x360 --attributes all,in_scene --sequences 1000 \
        --frames 60 --seed 1701 --aspect-max 4.5 > gen_hardS.log 2>&1
    [ -f hardS/list.txt ] || { echo "shard hardS failed: $(tail -1 gen_hardS.log)"; exit 1; }
    rm -rf merged17
    "$PY" "$REPO/benchmarks/merge_synth_shards.py" merged17 plain hardA hardB hardS \
        --only hardB=silhouette --only hardS=in_scene > /dev/null || exit 1
    data_summary merged17 in_scene
fi
if want train; then
    cpu_train "$REPO/benchmarks/configs/droptrack_tiny_synth_v17.yaml" \
        "$REPO/droptrack/weights/droptrack_tiny_synth.pt" ft17 merged17 171 train17.log
fi
