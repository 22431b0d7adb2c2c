"""A learning curve over data for ``ppi pretrain``: held-out perplexity against training proteins.

Give it folders of runs on one split that differ in ``pretrain.train_share``
(and ``pretrain.epochs``, raised by the share's inverse to keep the
compute), and the dumps they were pretrained on. It measures each folder's
held-out perplexity ratio again on its weights, fits a line in the logarithm
of the training proteins (:mod:`ppi.lm.curve`), prints a table, the ratio a
doubling of the proteins buys and the proteins that line needs to reach
``--target``, and draws the plot.

Run: ``python scripts/lm_data_curve.py lm/s25 lm/s50 lm/yeast
--dumps example:yeast_swissprot/uniprot_sprot_yeast.fasta.gz --plot curve.png``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from ppi.errors import InputError
from ppi.lm.curve import fit, measure, plot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="ppi pretrain folders, one split")
    parser.add_argument("--dumps", nargs="+", required=True, help="the folders' inputs")
    parser.add_argument("--target", type=float, default=0.85, help="held-out ratio to reach")
    parser.add_argument("--plot", type=Path, help="write the curve here (PNG)")
    parser.add_argument("--out", type=Path, help="write the points and the fit here (JSON)")
    args = parser.parse_args(argv)
    try:
        points = measure(args.folders, args.dumps)
        line = fit(points, args.target)
    except InputError as exc:
        print(f"lm_data_curve: error: {exc}", file=sys.stderr)
        return 2
    print("| folder | training proteins | share | epochs | held-out perplexity | unigram | ratio |")
    print("|---|---|---|---|---|---|---|")
    for p in points:
        print(
            f"| {p.folder} | {p.proteins:,} | {p.share:g} | {p.epochs} | "
            f"{p.heldout_perplexity:.2f} | {p.unigram_perplexity:.2f} | {p.perplexity_ratio:.4f} |"
        )
    print(f"a doubling of the training proteins: {line.per_doubling:+.4f} on the ratio")
    if line.proteins_for_target is None:
        print(f"the line does not fall: no number of proteins reaches {args.target} at this pace")
    else:
        print(f"proteins for {args.target} at that pace: {line.proteins_for_target:,.0f}")
    if args.plot:
        plot(points, line, args.plot)
    if args.out:
        result = {
            "points": [dataclasses.asdict(p) for p in points],
            "fit": dataclasses.asdict(line),
        }
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
