"""Measure pretraining and generation: the figures of RESULTS.md, section "Language model".

1. Pretraining (from a ``ppi pretrain`` folder given with ``--lm``): held-out
   perplexity against the unigram perplexity of the same held-out positions
   (target: at most 0.85 of it) and GO Fmax against the naive baseline
   (target: naive + 0.05), read from the folder's last epoch. With ``--dumps``
   (the dumps the folder was pretrained on) both are measured again on the
   folder's weights as ``ppi pretrain`` measures them today, and the shortcut
   baselines of :mod:`ppi.lm.baselines` on the same held-out positions: a
   regression on each crop's composition and an MLP on the 8 neighbours each side;
   and the same figures for as many training proteins, drawn at random (how well
   the model fits what it learned from, against how well it predicts new proteins).
2. AntiBERTy on its real weights filling the CDR-H3 (IMGT: the residues between
   the Cys of ``YYC`` and the Trp of ``WGxG``) of the bundled BCR test antibodies,
   the rest kept: native residue recovery against sampling each residue from the
   CDR-H3 amino-acid frequencies of the BCR training antibodies; pseudo-perplexity
   of the generated CDR-H3s against the same residues shuffled; mean pairwise
   identity of the samples of one antibody.
3. Speed: residues generated per second, batched against one sequence at a time.

Run: ``OMP_NUM_THREADS=1 taskset -c 1 python scripts/bench_generate.py --lm lm/yeast``;
``--dumps example:yeast_swissprot/uniprot_sprot_yeast.fasta.gz --pretraining-only``
gives the pretraining figures with their shortcut baselines and nothing else.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import re
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import torch

from ppi.data.examples import resolve
from ppi.lm.adapters import load_masked_lm
from ppi.lm.baselines import shortcut_baselines
from ppi.lm.constraints import Constraints
from ppi.lm.folder import CONFIG, read_json
from ppi.lm.generate import SamplerConfig, generate, pseudo_log_likelihood
from ppi.lm.pretrain import evaluate_folder
from ppi.lm.retrieval import retrieval_figures

#: the figures of as many training proteins as are held out, scored as the held-out ones
TRAINING_FIGURES = ("heldout_sequences", "heldout_windows", "perplexity_ratio", "go_fmax")
CDR3 = re.compile(r"(?<=Y[YFH]C)([A-Z]{3,30}?)(?=WG.G)")


def pretraining(folder: Path, dumps: list[str] | None) -> dict:
    """The folder's held-out figures: measured now with ``dumps``, else its last epoch's record."""
    m = read_json(folder / CONFIG)["metrics"]
    if dumps:
        m = {**m, **evaluate_folder(folder, dumps)}
    out = {
        "epochs": m["epoch"],
        "measured": "now" if dumps else "recorded",
        "heldout_perplexity": m["heldout_perplexity"],
        "unigram_perplexity": m["unigram_perplexity"],
        "ratio": m["perplexity_ratio"],
        "ratio_target": 0.85,
    }
    if "go_fmax" in m:
        out.update(
            go_fmax=m["go_fmax"],
            go_fmax_naive=m["go_fmax_naive"],
            go_target=m["go_fmax_naive"] + 0.05,
        )
    return out


def antibodies(limit: int) -> list[tuple[str, int, int]]:
    """(sequence, CDR-H3 start, end) of the BCR test antibodies whose CDR-H3 is found."""
    test = pd.read_parquet(resolve("example:bcr_antibody/test.parquet"))
    found = []
    for seq in test.sequence:
        m = CDR3.search(seq[:510])
        if m:
            found.append((seq[:510], m.start(), m.end()))
    return found[:limit]


def frequency_baseline(cdrs: list[str]) -> dict[str, float]:
    """Amino-acid frequencies of the CDR-H3s of the BCR training antibodies."""
    train = pd.read_parquet(resolve("example:bcr_antibody/train.parquet"))
    counts = Counter()
    for seq in train.sequence:
        m = CDR3.search(seq)
        if m:
            counts.update(m.group(1))
    total = sum(counts.values())
    return {aa: c / total for aa, c in counts.items()}


def identity(a: str, b: str) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def cdr_h3(lm, abs_: list, samples: int, cfg: SamplerConfig, seed: int) -> dict:
    freq = frequency_baseline([])
    rec, base, ppl_gen, ppl_shuf, ppl_native, div = [], [], [], [], [], []
    rng = random.Random(seed)
    for k, (seq, s, e) in enumerate(abs_):
        template = seq[:s] + "X" * (e - s) + seq[e:]
        made = generate(
            lm, Constraints((len(seq), len(seq)), template=template), samples, cfg, seed=seed + k
        )
        native = seq[s:e]
        gens = [g[s:e] for g in made.sequences]
        rec += [identity(g, native) for g in gens]
        base.append(sum(freq.get(aa, 0.0) for aa in native) / len(native))
        shuffled = []
        for g in made.sequences:
            letters = list(g[s:e])
            rng.shuffle(letters)
            shuffled.append(g[:s] + "".join(letters) + g[e:])
        texts = [*made.sequences, *shuffled, seq]
        pll = pseudo_log_likelihood(lm, texts, [list(range(s, e))] * len(texts))
        n = len(made.sequences)
        ppl_gen += [math.exp(-p / (e - s)) for p in pll[:n]]
        ppl_shuf += [math.exp(-p / (e - s)) for p in pll[n : 2 * n]]
        ppl_native.append(math.exp(-pll[-1] / (e - s)))
        div += [identity(a, b) for a, b in itertools.combinations(gens, 2)]
    mean = lambda xs: sum(xs) / max(len(xs), 1)  # noqa: E731
    return {
        "antibodies": len(abs_),
        "samples_each": samples,
        "recovery": mean(rec),
        "recovery_frequency_baseline": mean(base),
        "pseudo_perplexity_generated": mean(ppl_gen),
        "pseudo_perplexity_shuffled": mean(ppl_shuf),
        "pseudo_perplexity_native": mean(ppl_native),
        "mean_pairwise_identity": mean(div),
    }


def speed(lm, cons: Constraints, num: int, cfg: SamplerConfig) -> dict:
    out = {}
    for name, batch in (("batched", num), ("one_at_a_time", 1)):
        c = SamplerConfig(cfg.rounds, cfg.sweeps, cfg.gibbs_share, cfg.temperature, 0, 1.0, batch)
        start = time.perf_counter()
        made = generate(lm, cons, num, c, seed=0)
        seconds = time.perf_counter() - start
        fixed = len(cons.fixed_positions())
        residues = sum(len(s) - fixed for s in made.sequences)
        out[name] = residues / seconds
    out["speedup"] = out["batched"] / out["one_at_a_time"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lm", type=Path, help="a ppi pretrain folder (pretraining figures)")
    parser.add_argument("--dumps", nargs="+", help="the --lm folder's inputs: shortcut baselines")
    parser.add_argument("--pretraining-only", action="store_true", help="skip generation")
    parser.add_argument("--antibodies", type=int, default=40)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--speed-num", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench_generate.json"))
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    cfg = SamplerConfig(rounds=4, sweeps=2)
    result: dict = {}
    if args.lm:
        result["pretraining"] = pretraining(args.lm, args.dumps)
        print("pretraining", json.dumps(result["pretraining"]))
    if args.lm and args.dumps:
        fit = evaluate_folder(args.lm, args.dumps, on_training=True)
        result["training_proteins"] = {k: fit[k] for k in TRAINING_FIGURES if k in fit}
        print("training_proteins", json.dumps(result["training_proteins"]))
        result["shortcut_baselines"] = shortcut_baselines(args.lm, args.dumps, seed=args.seed)
        print("shortcut_baselines", json.dumps(result["shortcut_baselines"]))
        result["retrieval"] = retrieval_figures(args.lm, args.dumps)
        print("retrieval", json.dumps(result["retrieval"]))
    if args.pretraining_only:
        args.out.write_text(json.dumps(result, indent=1))
        return
    lm = load_masked_lm("antiberty", {})
    abs_ = antibodies(args.antibodies)
    result["cdr_h3"] = cdr_h3(lm, abs_, args.samples, cfg, args.seed)
    print("cdr_h3", json.dumps(result["cdr_h3"]))
    seq, s, e = abs_[0]
    cdr = Constraints((len(seq),) * 2, template=seq[:s] + "X" * (e - s) + seq[e:])
    result["speed_antiberty_cdr_h3"] = speed(lm, cdr, args.speed_num, cfg)
    print("speed_antiberty_cdr_h3", json.dumps(result["speed_antiberty_cdr_h3"]))
    if args.lm:
        scratch = load_masked_lm("scratch", {"path": str(args.lm)})
        result["speed_scratch_len100"] = speed(
            scratch, Constraints((100, 100)), args.speed_num, cfg
        )
        print("speed_scratch_len100", json.dumps(result["speed_scratch_len100"]))
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
