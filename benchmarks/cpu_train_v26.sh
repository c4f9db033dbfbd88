#!/usr/bin/env bash
# Version 26 candidate (issue 11): version 25's run (benchmarks/cpu_train_v25.sh: the same data, share, seed and
# schedule) with the real tracks' box losses weighted 0.25 instead of 0 (results/tracker_ext_v26/RULE.md).
#
#   bash benchmarks/cpu_train_v26.sh WORK            # version 25's data step if WORK lacks it, then training
#   CPU_TRAIN_STEP=train bash benchmarks/cpu_train_v26.sh WORK   # training only; resumes an interrupted run
. "$(dirname "$0")/cpu_train_lib.sh" "$@"
data_of cpu_train_v25.sh real25/list.txt
cd "$W" || exit 2
if want train; then
    cpu_train "$REPO/benchmarks/configs/droptrack_tiny_synth_v26.yaml" \
        "$REPO/droptrack/weights/droptrack_tiny_synth.pt" ft26 merged 221 train26.log SYNTH_aux=real25
fi
