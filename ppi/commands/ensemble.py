"""Join trained pair models into one whose probability is the mean of theirs.

``ppi ensemble --out ens runs/a runs/b runs/c`` copies each model folder (a run
directory stands for its ``model/``) into ``ens/`` beside an ``ensemble.json``;
``ppi score``, ``screen``, ``evaluate`` and ``ablate --mask`` read the folder as
one model (:mod:`ppi.ensemble`).
"""

from __future__ import annotations

import argparse

from ppi.commands._args import output_dir
from ppi.utils.locks import exclusive
from ppi.utils.logs import setup_logging


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi ensemble``."""
    parser.add_argument("models", nargs="+", help="model folders or run directories (two or more)")
    parser.add_argument("--out", required=True, help="the ensemble folder to write (new)")


def main(args: argparse.Namespace) -> int:
    """Check the members, then write the ensemble folder."""
    from ppi.ensemble import write_ensemble

    setup_logging()
    out = output_dir(args.out)
    with exclusive(out, "--out"):
        write_ensemble(args.models, out)
    print(f"{out}: an ensemble of {len(args.models)} models (mean probability)")
    return 0
