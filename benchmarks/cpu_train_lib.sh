# Shared steps of the 2-core CPU training scripts (benchmarks/cpu_train_v*.sh), sourced by them; run in WORK.
# cpu_train CONFIG PRETRAINED OUT DATA SEED LOG: `dt train` on one torch thread and one loader process, a checkpoint
# every epoch, resumed when OUT/last.pt exists; prints how it ended and what OUT holds.
cpu_train() {
    local resume=(); [ -f "$3/last.pt" ] && resume=(--resume)
    "$PY" -m droptrack train --config "$1" --pretrained "$2" --output "$3" --data "$4" --workers 1 --threads 1 \
        --device cpu --seed "$5" --save-every 1 --keep-last 0 ${resume[@]+"${resume[@]}"} > "$6" 2>&1
    echo "training ended (exit $?): $(ls "$3" | tr '\n' ' ')"
}
# data_summary MERGED TAG: how many sequences a merged folder lists and how many of them carry TAG
data_summary() {
    echo "data: $(wc -l < "$1/list.txt") sequences, $(grep -lx "$2" "$1"/*/attributes.txt | wc -l) with $2"
}
