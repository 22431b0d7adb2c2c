"""Search a homolog index with query proteins: a TSV of the top hits of each.

Columns: query, rank, accession, similarity (cosine of pooled embeddings),
entry_name, organism, length. Queries are embedded with the index's own
backbone through the embedding cache; ``backbone.*=`` settings, if given, must
name that backbone (searching with another one is an error).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ppi.commands._args import count, output_file

HEADER = ("query", "rank", "accession", "similarity", "entry_name", "organism", "length")


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi search``."""
    parser.add_argument("--index", required=True, type=Path, help="folder from ppi build-index")
    parser.add_argument("--fasta", required=True, help="query proteins (plain or .gz)")
    parser.add_argument("--out", required=True, type=Path, help="output TSV")
    parser.add_argument("-k", type=count(1), default=10, help="hits per query (default 10)")
    parser.add_argument("settings", nargs="*", metavar="backbone.key=value")


def main(args: argparse.Namespace) -> int:
    """Embed the queries, search, write the TSV atomically."""
    from ppi.config import tools as configtools
    from ppi.data.examples import resolve
    from ppi.data.fasta import read_fasta
    from ppi.homologs.index import HomologyIndex, IndexConfig
    from ppi.utils.files import atomic_write_text
    from ppi.utils.logs import setup_logging

    setup_logging()
    out = output_file(args.out)
    backbone = None
    if args.settings:
        data = configtools.apply_overrides({}, [_backbone_setting(s) for s in args.settings])
        backbone = configtools.build(IndexConfig, {"backbone": data.get("backbone")}).backbone
    index = HomologyIndex.open(args.index, backbone)
    queries = read_fasta(resolve(args.fasta))
    sims, rows = index.search(list(queries.values()), args.k)
    lines = ["\t".join(HEADER)]
    meta = index.metadata
    for qid, qsims, qrows in zip(queries, sims, rows, strict=True):
        for rank, (sim, row) in enumerate(zip(qsims, qrows, strict=True), start=1):
            if row < 0:
                continue
            hit = meta.iloc[int(row)]
            lines.append(
                f"{qid}\t{rank}\t{hit.accession}\t{sim:.4f}\t{hit.entry_name}\t"
                f"{hit.organism}\t{hit.length}"
            )
    atomic_write_text(out, "\n".join(lines) + "\n")
    print(f"{len(queries)} queries, top {args.k} hits -> {out}")
    return 0


def _backbone_setting(item: str) -> str:
    """``item`` if it is a ``backbone.key=value`` setting, the only kind search takes."""
    from ppi.errors import InputError

    key = item.split("=", 1)[0]
    if "=" not in item or not key.startswith("backbone."):
        raise InputError(
            f"setting '{item}': expected backbone.<key>=value, the only settings search takes "
            f"(they must name the index's own backbone), got key '{key}'"
        )
    return item
