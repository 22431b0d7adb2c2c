"""Screen all pairs among proteins (or N against M): top partners and high-scoring pairs.

Each protein's representation is computed once (and cached, as in ``ppi
score``); pairs are scored block by block through the pair stage only, so
memory stays bounded whatever the number of proteins. The output folder gets
``hits.tsv`` (every pair at or above ``--threshold``), ``top_partners.tsv``
(each protein's ``--top-k`` best partners), ``summary.json`` and
``score_histogram.png``. A killed screen started again with the same
arguments continues after its last finished block.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ppi.commands._args import count, default_device, device, output_dir, probability
from ppi.utils.locks import exclusive
from ppi.utils.logs import setup_logging


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi screen``."""
    parser.add_argument("--model", required=True, help="a model folder or a run directory")
    parser.add_argument("--fasta", required=True, help="proteins to screen (plain or .gz)")
    parser.add_argument(
        "--against", help="a second FASTA: score --fasta x --against instead of all pairs"
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--top-k", type=count(1), default=10, help="partners kept per protein")
    parser.add_argument(
        "--threshold", type=probability(), default=0.9, help="write every pair at or above this"
    )
    parser.add_argument("--block", type=count(1), default=512, help="proteins per block")
    parser.add_argument("--device", default=default_device(), help="cpu, cuda or cuda:N")
    parser.add_argument(
        "--threads", type=count(0), default=0, help="CPU threads (0: torch's default, one per core)"
    )


def main(args: argparse.Namespace) -> int:
    """Check the output folder and device, lock the folder, then screen."""
    setup_logging()
    out = output_dir(args.out)
    device(args.device)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    with exclusive(out, "--out"):
        return _screen(args, out)


def _screen(args: argparse.Namespace, out: Path) -> int:
    """Load the model and proteins, encode them (cached), screen and summarise."""
    from ppi.inference.score import load_pair_model, representations
    from ppi.inference.screen import Plan, Screen
    from ppi.utils.cache import digest

    rows = read_unique(args.fasta)
    cols = read_unique(args.against) if args.against else {}
    proteins = merge_sets(rows, cols, args.fasta, args.against)
    model = load_pair_model(args.model, args.device)
    reps = representations(model, proteins, args.device)
    ids = list(rows) + list(cols)
    z = torch.stack([reps[i] for i in ids])  # (N, M, D)
    plan = Plan(ids, len(rows), all_vs_all=not cols, block=args.block)
    seqs = digest(*(proteins[i] for i in ids))
    screen = Screen(
        model,
        plan,
        z,
        args.top_k,
        args.threshold,
        digest(model.identity(), seqs),
        seqs=[proteins[i] for i in ids],
    )
    summary = screen.run(out)
    print(
        f"screened {summary['pairs']:,} pairs of {summary['proteins']:,} proteins in "
        f"{summary['seconds']:.1f} s ({summary['pairs_per_second']:,.0f} pairs/s); "
        f"{summary['hits']:,} at or above {args.threshold:g} -> {args.out}"
    )
    return 0


def read_unique(path: str) -> dict[str, str]:
    """Read a FASTA whose ids must all differ (a screen must not see a protein twice)."""
    from ppi.data.examples import resolve
    from ppi.data.fasta import duplicate_ids, read_fasta
    from ppi.errors import InputError

    path = resolve(path)
    repeats = duplicate_ids(path)
    if repeats:
        rid, first, again = repeats[0]
        raise InputError(
            f"{path}:{again}: duplicate id '{rid}' (first at line {first}); expected each "
            f"protein once in a screen, found {len(repeats)} repeated id(s)"
        )
    return read_fasta(path)


def merge_sets(rows: dict[str, str], cols: dict[str, str], a: str, b: str | None) -> dict:
    """Rows and columns together; one id with two sequences is an error."""
    from ppi.errors import InputError

    for pid, seq in cols.items():
        if pid in rows and rows[pid] != seq:
            raise InputError(
                f"{b}: protein '{pid}' has a different sequence than in {a}; expected one "
                "sequence per id"
            )
    return {**rows, **cols}
