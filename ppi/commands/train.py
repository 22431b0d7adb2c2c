"""Train a pair-interaction (or, with task=single, a single-sequence) model.

Run as ``ppi train`` or, for several processes or GPUs,
``accelerate launch scripts/train_ppi.py``. Settings come from an optional
YAML file and ``key.sub=value`` overrides, e.g. ``backbone.name=esm2
train.epochs=10 channels.sequence.enabled=true``.
"""

from __future__ import annotations

import argparse

from ppi.config.run import load_config
from ppi.utils.logs import setup_logging


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi train``."""
    parser.add_argument("--config", help="YAML config (default: the bundled quick start)")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. train.epochs=3"
    )


def main(args: argparse.Namespace) -> int:
    """Train and report where the run directory is."""
    setup_logging()
    config = load_config(args.config, args.overrides)  # bad settings fail before heavy imports
    from ppi.training.loop import train

    train(config)
    return 0
