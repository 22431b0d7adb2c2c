#!/usr/bin/env bash
# The GPU checks of the end-to-end system in one short run, for a machine with
# a CUDA GPU: the quick start in fp32, bf16 and fp16 on the GPU (their test
# metrics next to each other), `ppi score` twice (the cache at work), `ppi
# screen` on the GPU over every Guo protein pair (3.1 million), then the test
# suite on a machine where CUDA is present.
#
#   bash scripts/device_check.sh OUTDIR [key=value ...]
#
# Extra key=value overrides go to every training (on a CPU, to try the script
# itself: train.epochs=1 data.limit=400, 2 minutes on 2 cores before the
# tests; there fp16 runs as fp32, bf16 as bf16). Each step's log is OUTDIR/<step>.log;
# OUTDIR/summary.txt collects the lines worth reading. A step that fails is
# recorded and the next one runs.
#
# On a machine without the package index, carry the wheels the image lacks
# and install them first, e.g.: pip install --no-index --no-deps --target
# /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site (fair-esm, faiss-cpu,
# biopython; then pip install --no-deps --no-build-isolation -e .).
set -uo pipefail
out=${1:?usage: bash scripts/device_check.sh OUTDIR [key=value ...]}
shift
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
fasta=data/examples/guo_yeast/sequences.fasta
pairs=data/examples/guo_yeast/pairs.tsv

note() { echo "$*" | tee -a "$summary"; }

# step NAME COMMAND...: run it, log it, time it, keep its telling lines
step() {
    local name=$1 start=$SECONDS rc
    shift
    "$@" >"$out/$name.log" 2>&1
    rc=$?
    note "$name: exit $rc, $((SECONDS - start)) s"
    grep -E "^test:|^baselines:|pairs/s|passed|failed|error" "$out/$name.log" \
        | tail -4 | sed 's/^/  /' | tee -a "$summary"
}

note "$(python3 -c 'import torch; c = torch.cuda.is_available(); print("torch", torch.__version__, "cuda" if c else "no cuda", torch.cuda.get_device_name(0) if c else "")')"

for precision in no bf16 fp16; do
    step "train_$precision" accelerate launch --num_processes 1 --num_machines 1 \
        --mixed_precision "$precision" --dynamo_backend no scripts/train_ppi.py \
        "run_name=device_$precision" "train.log_with=[]" "$@"
done

model=runs/device_bf16
step score_first ppi score --model "$model" --fasta "$fasta" --pairs "$pairs" --out "$out/scores1.tsv"
step score_again ppi score --model "$model" --fasta "$fasta" --pairs "$pairs" --out "$out/scores2.tsv"
cmp -s "$out/scores1.tsv" "$out/scores2.tsv" && note "scores: both runs identical" \
    || note "scores: the two runs differ"

device=$(python3 -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')
step screen ppi screen --model "$model" --fasta "$fasta" --out "$out/screen" --device "$device"
[ -f "$out/screen/summary.json" ] && note "  $(tr -d '\n' <"$out/screen/summary.json" | cut -c1-300)"

# Without the package index the UniRep weight tests cannot fetch their wheel
# (77 MB, too large to carry): expect those to error there, and nothing else.
step tests python3 -m pytest -q
