"""Score candidate pairs with a trained model: a TSV of interaction probabilities.

Each protein is encoded once and its representation kept in the cache
(``PPI_CACHE``), keyed by the model's weights and the sequence, so scoring the
same proteins again computes nothing; an interrupted run picks up after the
last written pair (:mod:`ppi.inference.score`).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from ppi.commands._args import count, default_device, device, output_dir, output_file
from ppi.errors import InputError
from ppi.inference.score import (
    ScoreJob,
    inputs_record,
    load_pair_model,
    representations,
    write_scores,
)
from ppi.utils.locks import exclusive
from ppi.utils.logs import setup_logging


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi score``."""
    parser.add_argument("--model", required=True, help="a model folder or a run directory")
    parser.add_argument("--fasta", required=True, help="sequences of the proteins (plain or .gz)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--pairs", help="candidate pairs TSV/CSV (id_a id_b [label])")
    which.add_argument("--all", action="store_true", help="every pair among the FASTA's proteins")
    parser.add_argument("--out", required=True, help="output TSV (id_a, id_b, probability)")
    parser.add_argument("--batch-size", type=count(1), default=4096, help="pairs per scoring step")
    parser.add_argument(
        "--interface",
        metavar="DIR",
        help="also write per pair a residue map (.npy/.tsv), a heatmap PNG and top residue pairs",
    )
    parser.add_argument("--interface-format", choices=("npy", "tsv"), default="npy")
    parser.add_argument("--device", default=default_device(), help="cpu, cuda or cuda:N")


def main(args: argparse.Namespace) -> int:
    """Check the outputs and device, lock ``--out``, then score."""
    setup_logging()
    out = output_file(args.out)
    if args.interface:
        output_dir(args.interface, "--interface")
        if not args.pairs:
            raise InputError("--interface: expected --pairs (maps for --all would be every pair)")
    device(args.device)
    with exclusive(out, "--out"):
        return _score(args, out)


def _score(args: argparse.Namespace, out: Path) -> int:
    """Encode proteins (cached), then stream scored pairs to ``out``."""
    from ppi.data.fasta import read_fasta
    from ppi.data.pairs import read_pairs
    from ppi.ensemble import EnsembleModel

    model = load_pair_model(args.model, args.device)
    if args.interface and isinstance(model, EnsembleModel):
        raise InputError(
            f"--interface: {args.model} is an ensemble, whose members attend differently; "
            "map the interface with one member (its member-0/ folder)"
        )
    proteins = read_fasta(args.fasta)
    if args.all and len(proteins) < 2:
        raise InputError(
            f"--all: expected a FASTA of at least 2 proteins to pair, got {len(proteins)} "
            f"in {args.fasta}"
        )
    if args.pairs:
        pairs = [
            (p.a, p.b)
            for p in read_pairs(
                args.pairs,
                known_ids=proteins,
                fasta_name=Path(args.fasta).name,
                require_labels=False,
            )
        ]
        total = len(pairs)
    else:
        pairs = itertools.combinations(list(proteins), 2)
        total = len(proteins) * (len(proteins) - 1) // 2
    record = inputs_record(model, proteins, pairs if args.pairs else None)
    reps = representations(model, proteins, args.device)
    job = ScoreJob(out, record, args.batch_size)
    written = write_scores(model, reps, pairs, total, job, proteins)
    print(f"scored {written} pairs -> {out}")
    if args.interface:
        _interfaces(model, proteins, args)
    return 0


def _interfaces(model, proteins: dict[str, str], args: argparse.Namespace) -> None:
    from ppi.evaluation.interface import write_interfaces

    pairs = [line.split("\t")[:2] for line in Path(args.out).read_text().splitlines()[1:]]
    written = write_interfaces(model, proteins, pairs, Path(args.interface), args.interface_format)
    print(f"wrote {written} interface maps -> {args.interface}")
