"""Add a retrieval vector to a pair model for ``ppi screen --prefilter``, from its own scores.

Example::

    ppi distill --model runs/<run> --fasta proteome.fasta

Sampled proteins of ``--fasta`` are scored against all of them by the model's
pair stage; a small head on the fused latents learns one vector per protein
whose inner products rank each protein's partners as those scores do. No labels
are used, so the proteins to be screened are a fair choice. The head is
written into the model folder (``retrieval.safetensors``, ``retrieval.json``
with the held-out recall); the model's weights and cached representations stay
as they are.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ppi.commands._args import count, default_device, device, probability
from ppi.utils.locks import exclusive
from ppi.utils.logs import setup_logging


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi distill``."""
    from ppi.training.distill import DistillConfig

    defaults = DistillConfig()
    parser.add_argument("--model", required=True, help="a model folder or a run directory")
    parser.add_argument("--fasta", required=True, help="proteins to distil on (plain or .gz)")
    parser.add_argument(
        "--queries",
        type=count(2),
        default=defaults.queries,
        help="proteins the pair stage scores against all the others (the teacher's rows)",
    )
    parser.add_argument("--width", type=count(1), default=defaults.width, help="vector length")
    parser.add_argument("--epochs", type=count(1), default=defaults.epochs, help="passes")
    parser.add_argument(
        "--fraction",
        type=probability(low_open=True),
        default=defaults.fraction,
        help="prefilter fraction at which the held-out recall is reported",
    )
    parser.add_argument("--seed", type=count(0), default=defaults.seed, help="sampling seed")
    parser.add_argument("--device", default=default_device(), help="cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=count(0), default=0, help="CPU threads (0: default)")


def main(args: argparse.Namespace) -> int:
    """Encode the proteins (cached), distil, and write the head into the model folder."""
    from ppi.commands.screen import read_unique
    from ppi.ensemble import EnsembleModel
    from ppi.errors import InputError
    from ppi.fusion.retrieval import WEIGHTS
    from ppi.inference.score import load_pair_model, model_dir, representations
    from ppi.training.distill import MIN_PROTEINS, TOP, DistillConfig, distill

    setup_logging()
    device(args.device)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    folder = model_dir(Path(args.model))
    proteins = read_unique(args.fasta)
    if len(proteins) < MIN_PROTEINS:
        raise InputError(
            f"{args.fasta}: expected at least {MIN_PROTEINS} proteins (the held-out recall "
            f"looks for each query's top {TOP} partners), got {len(proteins)}"
        )
    config = DistillConfig(
        queries=args.queries,
        width=args.width,
        epochs=args.epochs,
        fraction=args.fraction,
        seed=args.seed,
    )
    with exclusive(folder / WEIGHTS, "--model"):
        model = load_pair_model(args.model, args.device)
        if isinstance(model, EnsembleModel):
            raise InputError(
                f"--model {args.model}: an ensemble; a retrieval vector is distilled from one "
                "model (give a member folder, e.g. member-0/)"
            )
        reps = representations(model, proteins, args.device)
        ids = list(proteins)
        z = torch.stack([reps[i] for i in ids])  # (N, M, D)
        head, stats = distill(model, z, [proteins[i] for i in ids], config)
        head.save(folder, stats)
    recall = stats[f"held_out_top10_recall_at_{args.fraction:g}"]
    print(
        f"{folder}: retrieval vector of width {args.width} distilled from "
        f"{stats['teacher_pairs']:,} pair scores; held-out top-10 recall at "
        f"{args.fraction:g}: {recall:.3f}"
    )
    return 0
