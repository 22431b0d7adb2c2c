"""Build a FAISS homolog index from UniProt dumps (FASTA, flat file or XML; plain or gzipped).

Example::

    ppi build-index --out indices/sprot uniprot_sprot.dat.gz backbone.name=unirep backbone.size=64

Arguments with ``=`` are settings (``backbone.*``, ``pooling``, ``shard_size``,
``batch_tokens``, ``seed``, ``faiss.type|nlist|nprobe|hnsw_m|ef_search|pq_m|memory_gb``);
the others are dump files (options such as ``--out`` go first). A killed build run
again resumes from its last
finished shard; under ``accelerate launch`` each process embeds its own shards.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

SETTING = re.compile(r"^[A-Za-z_][\w.]*=")


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi build-index``."""
    parser.add_argument("items", nargs="+", metavar="DUMP|key=value", help="dumps and settings")
    parser.add_argument("--out", required=True, type=Path, help="the index folder to write")


def split_items(items: list[str]) -> tuple[list[str], list[str]]:
    """Dump paths and ``key=value`` settings, each in the order given."""
    settings = [i for i in items if SETTING.match(i)]
    return [i for i in items if not SETTING.match(i)], settings


def main(args: argparse.Namespace) -> int:
    """Build or resume the index, then print where it is and what it holds."""
    from accelerate import PartialState

    from ppi.commands._args import output_dir
    from ppi.data._io import require_file
    from ppi.data.examples import resolve
    from ppi.errors import InputError
    from ppi.homologs.build import build_index
    from ppi.homologs.index import index_config
    from ppi.utils.logs import setup_logging

    setup_logging()
    out = output_dir(args.out)
    refs, settings = split_items(args.items)
    if not refs:
        raise InputError("ppi build-index: expected at least one dump file, got only settings")
    config = index_config(settings)
    dumps = [require_file(resolve(r), "UniProt dump") for r in refs]
    manifest = build_index(dumps, out, config)
    if manifest and PartialState().is_main_process:  # under accelerate launch: once
        print(
            f"{args.out}: {manifest['count']} proteins, {manifest['index_type']} index of "
            f"width {manifest['dim']}, built in {manifest.get('build_seconds', 0)} s"
        )
    return 0
