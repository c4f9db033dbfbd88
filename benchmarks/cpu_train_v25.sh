#!/usr/bin/env bash
# Version 25 candidate (issue 11): version 22's run (benchmarks/cpu_train_v22.sh: the same synthetic data, real
# tracks, share, seed and schedule) with one change: the real tracks are their own training dataset (SYNTH_aux) whose
# box losses weigh 0 (DATA.TRAIN.BOX_WEIGHT), so CSRT's sizes never train the box (results/tracker_ext_v25/RULE.md).
#
#   bash benchmarks/cpu_train_v25.sh WORK            # version 22's data step if WORK lacks it, then training
#   CPU_TRAIN_STEP=data|train bash benchmarks/cpu_train_v25.sh WORK   # one step; `train` resumes an interrupted run
#
# Data: WORK/merged (version 13's 1,343 sequences) as SYNTH; WORK/real25 (realA + realB of version 22: 97 tracks,
# each listed once, drawn 291 : 1,343 as version 22 drew its three listings) as SYNTH_aux.
# Training: benchmarks/configs/droptrack_tiny_synth_v25.yaml, from droptrack/weights/droptrack_tiny_synth.pt, seed 221.
. "$(dirname "$0")/cpu_train_lib.sh" "$@"
if want data; then
    [ -f "$W/realA/list.txt" ] && [ -f "$W/realB/list.txt" ] && [ -f "$W/merged/list.txt" ] || \
        CPU_TRAIN_STEP=data bash benchmarks/cpu_train_v22.sh "$W" || exit 1
fi
cd "$W" || exit 2
if want data; then
    rm -rf real25
    "$PY" "$REPO/benchmarks/merge_synth_shards.py" real25 realA realB > /dev/null || exit 1
    echo "data: $(wc -l < merged/list.txt) synthetic sequences, $(wc -l < real25/list.txt) real tracks"
fi
if want train; then
    cpu_train "$REPO/benchmarks/configs/droptrack_tiny_synth_v25.yaml" \
        "$REPO/droptrack/weights/droptrack_tiny_synth.pt" ft25 merged 221 train25.log SYNTH_aux=real25
fi
