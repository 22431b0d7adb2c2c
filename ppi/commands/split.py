"""Split labelled pairs without leakage (random, Park & Marcotte C3, homology) and report overlap.

``--method random`` draws pairs at random; ``c3`` splits the proteins so the
test pairs (C3) share no protein with training, and also writes the C1 and C2
pairs; ``homology`` does the same over clusters of similar sequences so no
held-out protein has a training protein at or above ``--threshold``. With
``--audit TEST ...`` nothing is split: the report describes how existing test
files overlap the ``--pairs`` training file. A pair listed twice (either order)
is split once; listed with two labels, it is an error naming both lines. Train
on a split with
``ppi train data.train=DIR/train.tsv data.valid=DIR/valid.tsv data.test=DIR/test.tsv``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ppi.commands._args import count, output_dir, probability
from ppi.errors import InputError
from ppi.utils.logs import setup_logging


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi split``."""
    parser.add_argument("--pairs", required=True, help="labelled pairs TSV/CSV (id_a id_b label)")
    parser.add_argument("--fasta", help="sequences (needed for homology and identity figures)")
    parser.add_argument("--out", required=True, help="folder for the split files and report")
    parser.add_argument("--method", default="random", help="random, c3 or homology")
    parser.add_argument(
        "--valid",
        type=probability(high_open=True, what="a share"),
        default=0.1,
        help="held-out share for validation",
    )
    parser.add_argument(
        "--test",
        type=probability(high_open=True, what="a share"),
        default=0.1,
        help="held-out share for testing",
    )
    parser.add_argument("--seed", type=count(0), default=0, help="seed of the split")
    parser.add_argument(
        "--threshold",
        type=probability(low_open=True, what="a similarity"),
        default=0.5,
        help="similarity in (0, 1] that links proteins",
    )
    parser.add_argument(
        "--measure",
        default="phmmer",
        help="registered similarity measure: phmmer (alignment identity, default), mmseqs, kmer",
    )
    parser.add_argument(
        "--limit", type=count(0), default=0, help="use only this many pairs (0 = all)"
    )
    parser.add_argument(
        "--audit", nargs="+", metavar="TEST", help="report existing test files against --pairs"
    )


def main(args: argparse.Namespace) -> int:
    """Split (or audit), write the files and print the report table."""
    import random

    from ppi.data.examples import resolve
    from ppi.data.fasta import read_fasta
    from ppi.data.leakage import SplitRequest, split_pairs
    from ppi.data.pairs import each_pair_once, read_pairs
    from ppi.data.similarity import MEASURES, check_threshold
    from ppi.data.split_report import overlap_report, write_split

    setup_logging()
    out = output_dir(args.out)
    check_threshold(args.threshold, "--threshold")
    if args.measure not in MEASURES:
        raise InputError(
            f"--measure: Unknown similarity measure {args.measure!r} "
            f"(choices: {', '.join(MEASURES.names())})"
        )
    proteins = read_fasta(resolve(args.fasta)) if args.fasta else None
    path = resolve(args.pairs)
    pairs = read_pairs(path, known_ids=proteins, one_label=not args.audit)
    if not args.audit:  # before --limit, so that it counts distinct pairs
        pairs = each_pair_once(pairs, str(path))
    if args.limit and args.limit < len(pairs):
        pairs = random.Random(args.seed).sample(pairs, args.limit)
    req = SplitRequest(args.method, args.valid, args.test, args.seed, args.threshold, args.measure)
    if args.audit:
        tests = {
            Path(t).name.split(".")[0]: read_pairs(resolve(t), known_ids=proteins)
            for t in args.audit
        }
        split, canon, nb = _audit(pairs, tests, proteins, req)
    else:
        split, canon, nb = split_pairs(pairs, proteins, req)
    report = overlap_report(split, canon, nb, args.threshold, args.measure)
    write_split(split, report, out)
    print((out / "split_report.md").read_text(), end="")
    print(f"split written to {out}")
    return 0


def _audit(pairs, tests, proteins, req):
    from ppi.data.leakage import PairSplit, canonical_ids
    from ppi.data.similarity import neighbours

    everything = pairs + [p for part in tests.values() for p in part]
    canon = canonical_ids(proteins, everything)
    nb = None
    if proteins:
        used = sorted({x for p in everything for x in (p.a, p.b)})
        nb = neighbours(req.measure, {k: proteins[k] for k in used}, min(0.3, req.threshold))
    return PairSplit("audit", {"train": pairs, **tests}), canon, nb
