"""How many pairs of a split carry interolog evidence, by label.

python scripts/interolog_coverage.py [--fasta F --pairs P] [--backend phmmer]

Splits the pairs as ``ppi train`` does (``data.*`` defaults), fits the pair
stage's interolog provider (``evidence.interolog``, alignments against the
training proteins) on the training positives, and counts, for the training and
test pairs, the positives and negatives with at least one interolog.
"""

import argparse

import torch

from ppi.config.run import load_config
from ppi.fusion.evidence import EVIDENCE
from ppi.training.datasets import load_pair_data, run_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fasta", default="example:dscript_yeast/sequences.fasta.gz")
    parser.add_argument("--pairs", default="example:dscript_yeast/pairs.tsv.gz")
    parser.add_argument("--backend", default="phmmer", choices=("phmmer", "mmseqs"))
    args = parser.parse_args()
    cfg = load_config(None, [f"data.fasta={args.fasta}", f"data.train={args.pairs}"])
    data = load_pair_data(cfg.data)
    cls = EVIDENCE.get("interolog")
    provider = cls(cls.Config(enabled=True, backend=args.backend))
    provider.prepare(data.proteins, run_data(data))  # training positives only
    seqs = data.proteins
    for name in ("train", "test"):
        pairs = data.splits[name]
        ev = provider.features([seqs[p.a] for p in pairs], [seqs[p.b] for p in pairs])
        has = ev[:, 0] > 0
        y = torch.tensor([p.label for p in pairs]).bool()
        pos, neg = int((has & y).sum()), int((has & ~y).sum())
        print(
            f"{name}: {len(pairs)} pairs; positives with interologs {pos} of {int(y.sum())}; "
            f"negatives with interologs {neg} of {int((~y).sum())}"
        )


if __name__ == "__main__":
    main()
