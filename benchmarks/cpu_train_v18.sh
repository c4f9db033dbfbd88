#!/usr/bin/env bash
# Version 18 candidate (issue 11): version 17's recipe with half the training draws on `in_scene` targets (a still part
# of the scene, droptrack/data/synth_scene.py) and twice its LR (results/tracker_ext_v18/RULE.md).
#
#   bash benchmarks/cpu_train_v18.sh WORK            # version 17's shards if WORK lacks them, a second in_scene shard,
#                                                     # training
#   CPU_TRAIN_STEP=data|train bash benchmarks/cpu_train_v18.sh WORK   # one step; `train` resumes an interrupted run
#
# Data, train split only: version 17's (version 13's 1,343 sequences + hardS's in_scene ones, seed 1701) plus
#   hardS2  1,000 sequences, 640x360, 60 frames, --attributes all,in_scene, seed 1801; only those with in_scene
# and every in_scene sequence listed three times (links under three shard names), so that about half the sequences
# drawn for training pairs have an in_scene target. Training: benchmarks/configs/droptrack_tiny_synth_v18.yaml (6
# epochs of 16,384 pairs, batch 32, LR 1e-4, x0.1 after 4), from droptrack/weights/droptrack_tiny_synth.pt, seed 181.
. "$(dirname "$0")/cpu_train_lib.sh" "$@"
if want data; then
    [ -f "$W/merged17/list.txt" ] || CPU_TRAIN_STEP=data bash benchmarks/cpu_train_v17.sh "$W" || exit 1
fi
cd "$W" || exit 2
if want data; then
    [ -f hardS2/list.txt ] || "$PY" -m droptrack data synth hardS2 --split train --size 640x360 \
        --attributes all,in_scene --sequences 1000 --frames 60 --seed 1801 --aspect-max 4.5 > gen_hardS2.log 2>&1
    [ -f hardS2/list.txt ] || { echo "shard hardS2 failed: $(tail -1 gen_hardS2.log)"; exit 1; }
    for s in hardS hardS2; do ln -sfn "$s" "${s}r2"; ln -sfn "$s" "${s}r3"; done
    rm -rf merged18
    "$PY" "$REPO/benchmarks/merge_synth_shards.py" merged18 plain hardA hardB hardS hardSr2 hardSr3 hardS2 hardS2r2 \
        hardS2r3 --only hardB=silhouette --only hardS=in_scene --only hardSr2=in_scene --only hardSr3=in_scene \
        --only hardS2=in_scene --only hardS2r2=in_scene --only hardS2r3=in_scene > /dev/null || exit 1
    data_summary merged18 in_scene
fi
if want train; then
    cpu_train "$REPO/benchmarks/configs/droptrack_tiny_synth_v18.yaml" \
        "$REPO/droptrack/weights/droptrack_tiny_synth.pt" ft18 merged18 181 train18.log
fi
