"""How many pairs of a split carry interolog evidence, by label.

python scripts/interolog_coverage.py --index DIR [--fasta F --pairs P] [--k 8]

Splits the pairs 80/10/10 at random as ``ppi train`` does (``data.*``
defaults), fits the interolog table on the training positives, and counts,
for the training and test pairs, the positives and negatives with at least one
interolog.
"""

import argparse

import torch

from ppi.cache import cache_root
from ppi.channels import CHANNELS, ChannelContext
from ppi.config import load_config
from ppi.datasets import load_pair_data, run_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", required=True, help="an index built with ppi build-index")
    parser.add_argument("--fasta", default="example:dscript_yeast/sequences.fasta.gz")
    parser.add_argument("--pairs", default="example:dscript_yeast/pairs.tsv.gz")
    parser.add_argument("--k", type=int, default=8)
    args = parser.parse_args()
    cfg = load_config(None, [f"data.fasta={args.fasta}", f"data.train={args.pairs}"])
    data = load_pair_data(cfg.data)
    cls = CHANNELS.get("homology")
    config = cls.Config(enabled=True, index=args.index, k=args.k, interolog=True)
    channel = cls(config, ChannelContext(32, cfg.backbone, cache_root()))
    channel.prepare(data.proteins, run=run_data(data))  # training positives only
    seqs = data.proteins
    for name in ("train", "test"):
        pairs = data.splits[name]
        ev = channel.pair_features([seqs[p.a] for p in pairs], [seqs[p.b] for p in pairs])
        has = ev[:, 0] > 0
        y = torch.tensor([p.label for p in pairs]).bool()
        pos, neg = int((has & y).sum()), int((has & ~y).sum())
        print(
            f"{name}: {len(pairs)} pairs; positives with interologs {pos} of {int(y.sum())}; "
            f"negatives with interologs {neg} of {int((~y).sum())}"
        )


if __name__ == "__main__":
    main()
