#!/usr/bin/env bash
# Version 14 candidate (issue 11): the version 13 candidate (object-shaped targets, benchmarks/cpu_train_v13.sh)
# trained further on the 2-core CPU with a fresh share of version 12's own recipe (plain + `all,attached`), so that it
# keeps the real-clip gain of the silhouettes and gets back the hard attributes it lost (results/tracker_ext_v14).
#
#   bash benchmarks/cpu_train_v14.sh WORK            # version 13's shards if WORK lacks them, new shards, training
#   CPU_TRAIN_STEP=data|train bash benchmarks/cpu_train_v14.sh WORK   # one step; `train` resumes an interrupted run
#
# Data, train split only: version 13's 1,343 sequences (seeds 901-903) plus, with seeds 911-912,
#   plain2 400 sequences, 320x240, 80 frames, targets 1:4.5..4.5:1
#   hardC  600 sequences, 640x360, 60 frames, --attributes all,attached (version 12's hard recipe)
# -> 2,343 sequences, 12 % with silhouettes. Training: benchmarks/configs/droptrack_tiny_synth_v14.yaml (6 epochs of
# 16,384 pairs, batch 32, LR 5e-5, x0.1 after 4), from benchmarks/candidates/droptrack_tiny_v13_ep12.pt, seed 141.
. "$(dirname "$0")/cpu_train_lib.sh" "$@"
if want data; then
    [ -f "$W/merged/list.txt" ] || CPU_TRAIN_STEP=data bash benchmarks/cpu_train_v13.sh "$W" || exit 1
fi
cd "$W" || exit 2
synth() { "$PY" -m droptrack data synth "$@"; }
if want data; then
    synth plain2 --sequences 400 --frames 80 --seed 911 --split train --aspect-max 4.5 > gen_plain2.log 2>&1 &
    synth hardC --split train --size 640x360 --attributes all,attached --sequences 600 --frames 60 --seed 912 \
        --aspect-max 4.5 > gen_hardC.log 2>&1
    wait
    for d in plain2 hardC; do
        [ -f "$d/list.txt" ] || { echo "shard $d failed: $(tail -1 "gen_$d.log")"; exit 1; }
    done
    rm -rf merged14
    "$PY" "$REPO/benchmarks/merge_synth_shards.py" merged14 plain hardA hardB plain2 hardC \
        --only hardB=silhouette > /dev/null || exit 1
    data_summary merged14 silhouette
fi
if want train; then
    cpu_train "$REPO/benchmarks/configs/droptrack_tiny_synth_v14.yaml" \
        "$REPO/benchmarks/candidates/droptrack_tiny_v13_ep12.pt" ft14 merged14 141 train14.log
fi
