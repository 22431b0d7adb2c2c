#!/usr/bin/env bash
# The GPU checks of the end-to-end system in one short run, for a machine with
# a CUDA GPU: the quick start in fp32, bf16 and fp16 on the GPU (their test
# metrics next to each other), `ppi score` twice (the cache at work), `ppi
# screen` on the GPU over every Guo protein pair (3.1 million), the screen's pair
# stage in bf16 against fp32, then the test suite on a machine where CUDA is present.
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

# The pair stage in bf16 (accelerate launch --mixed_precision bf16) against fp32 on
# the same proteins: how far the probabilities and top partners move.
for precision in no bf16; do
    step "screen_$precision" accelerate launch --num_processes 1 --num_machines 1 \
        --mixed_precision "$precision" --dynamo_backend no -m ppi screen --model "$model" \
        --fasta "$fasta" --out "$out/screen_$precision" --threshold 0.5
done
note "  bf16 vs fp32: $(python3 - "$out/screen_no" "$out/screen_bf16" <<'PY'
import csv, sys
def top(d):
    rows = list(csv.reader(open(f"{d}/top_partners.tsv"), delimiter="\t"))[1:]
    return {(r[0], r[2]): float(r[3]) for r in rows}
def hits(d):
    return {(r[0], r[1]): float(r[2]) for r in csv.reader(open(f"{d}/hits.tsv"), delimiter="\t")}
(t32, t16), (h32, h16) = (top(d) for d in sys.argv[1:]), (hits(d) for d in sys.argv[1:])
same = set(t32) & set(t16)
diff = max((abs(t32[k] - t16[k]) for k in same), default=0.0)
print(f"top partners shared {len(same) / max(len(t32), 1):.4f}, max |dp| on them {diff:.2e}, "
      f"hits>=0.5 fp32 {len(h32)} bf16 {len(h16)} shared {len(set(h32) & set(h16))}")
PY
)"

# Without the package index the UniRep weight tests cannot fetch their wheel
# (77 MB, too large to carry): expect those to error there, and nothing else.
step tests python3 -m pytest -q
