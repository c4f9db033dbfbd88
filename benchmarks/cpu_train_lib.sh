# shellcheck shell=bash
# Shared part of the 2-core CPU training scripts (benchmarks/cpu_train_v*.sh), sourced first with the script's
# arguments: strict mode, the repository as the working folder, W (the work folder, $1), STEP (CPU_TRAIN_STEP: all,
# data or train), PY, REPO, one thread per process, and the helpers below.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
# shellcheck disable=SC2034  # W and the rest are for the scripts that source this file
W="${1:?give a work folder}"; STEP="${CPU_TRAIN_STEP:-all}"
PY="${PYTHON:-python3}"; REPO="$PWD"; THREADS="${CPU_TRAIN_THREADS:-1}"   # torch threads of each cpu_train
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
# want STEP: whether this run does that step
want() { [ "$STEP" = all ] || [ "$STEP" = "$1" ]; }
# cpu_train CONFIG PRETRAINED OUT DATA SEED LOG [NAME=ROOT ...]: `dt train` on one torch thread and one loader
# process, a checkpoint every epoch, resumed when OUT/last.pt exists (the NAME=ROOT: more --data roots); prints how
# it ended and what OUT holds.
cpu_train() {
    local resume=() more=(); [ -f "$3/last.pt" ] && resume=(--resume)
    local extra; for extra in "${@:7}"; do more+=(--data "$extra"); done
    OMP_NUM_THREADS="$THREADS" "$PY" -m droptrack train --config "$1" --pretrained "$2" --output "$3" --data "$4" \
        --workers 1 --threads "$THREADS" \
        --device cpu --seed "$5" --save-every 1 --keep-last 0 ${resume[@]+"${resume[@]}"} ${more[@]+"${more[@]}"} \
        > "$6" 2>&1
    echo "training ended (exit $?): $(ls "$3" | tr '\n' ' ')"
}
# data_of SCRIPT FILE: another recipe's data step (benchmarks/SCRIPT) into W, unless W already holds FILE
data_of() {
    if want data && [ ! -f "$W/$2" ]; then
        CPU_TRAIN_STEP=data bash "$REPO/benchmarks/$1" "$W" || exit 1
    fi
}
# data_summary MERGED TAG: how many sequences a merged folder lists and how many of them carry TAG
data_summary() {
    echo "data: $(wc -l < "$1/list.txt") sequences, $(grep -lx "$2" "$1"/*/attributes.txt | wc -l) with $2"
}
