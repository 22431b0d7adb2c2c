"""Build an annotation store from local files, map ids to accessions, measure coverage.

``ppi annotations build --store yeast.sqlite --go-table GO.tsv.gz --id-map uniprot.fasta``
reads SwissProt flat files, UniProt XML/TSV/JSON exports, GAF 2.x files and
GO term-to-gene tables into one SQLite store (nothing is written when a file
is bad). ``ppi annotations map`` maps a dataset's ids (STRING ids, gene
symbols) to accessions and reports what could not be mapped;
``ppi annotations coverage`` says how many of a dataset's proteins the store
annotates, per namespace.
"""

from __future__ import annotations

import argparse
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm.auto import tqdm

from ppi.commands._args import output_file
from ppi.data.annotation_store import AnnotationStore, check_store_file, write_store
from ppi.data.annotations import (
    NAMESPACES,
    Annotation,
    read_swissprot,
    read_uniprot_json,
    read_uniprot_tsv,
    read_uniprot_xml,
)
from ppi.data.examples import resolve
from ppi.data.go_files import read_gaf, read_go_gene_table
from ppi.data.id_map import IdMap, read_id_map, read_ids, unmapped_report
from ppi.errors import InputError
from ppi.utils.files import atomic_write_text

log = logging.getLogger("ppi")
#: option -> reader of files naming proteins by accession
READERS = {
    "swissprot": read_swissprot,
    "xml": read_uniprot_xml,
    "tsv": read_uniprot_tsv,
    "json": read_uniprot_json,
}
#: option -> reader that maps other names through --id-map
MAPPED_READERS = {"gaf": read_gaf, "go_table": read_go_gene_table}
_SOURCES = {
    "swissprot": "SwissProt/UniProtKB flat file (.txt, .dat, .gz)",
    "xml": "UniProt XML (plain or .gz)",
    "tsv": "UniProt TSV export",
    "json": "UniProt JSON export",
    "gaf": "GO annotation file (GAF 2.x); non-UniProtKB ids go through --id-map",
    "go_table": "GO term -> gene symbols table (dhimmel/gene-ontology format); needs --id-map",
}


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi annotations``."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = sub.add_parser("build", help="read local annotation files into a store")
    build.add_argument("--store", type=Path, required=True, help="the SQLite store (created)")
    for kind, what in _SOURCES.items():
        flag = "--" + kind.replace("_", "-")
        build.add_argument(flag, dest=kind, action="append", default=[], metavar="FILE", help=what)
    build.add_argument("--id-map", default="", help="names -> accessions (table or UniProt FASTA)")
    mapping = sub.add_parser("map", help="map a dataset's ids to accessions")
    mapping.add_argument("--ids", required=True, help="FASTA, pairs file or list of ids")
    mapping.add_argument("--id-map", required=True, help="names -> accessions table")
    mapping.add_argument("--out", type=Path, required=True, help="TSV of id, accession")
    cover = sub.add_parser("coverage", help="how many of a dataset's proteins have annotations")
    cover.add_argument("--store", required=True, help="the annotation store")
    cover.add_argument("--ids", required=True, help="FASTA, pairs file or list of ids")
    cover.add_argument("--id-map", default="", help="ids -> accessions table, if ids differ")


def main(args: argparse.Namespace) -> int:
    """Run the chosen action."""
    return {"build": build, "map": map_ids, "coverage": coverage}[args.action](args)


def build(args: argparse.Namespace) -> int:
    """``ppi annotations build``: every given file into the store, all or nothing."""
    sources = [(k, resolve(p)) for k in (*READERS, *MAPPED_READERS) for p in getattr(args, k)]
    if not sources:
        raise InputError(f"annotations build: give at least one source ({', '.join(_flags())})")
    check_store_file(output_file(args.store, "--store"))
    id_map = read_id_map(args.id_map) if args.id_map else None
    records = tqdm(read_all(sources, id_map), desc="annotations", unit=" terms", disable=None)
    count = write_store(args.store, records)
    summary = AnnotationStore(args.store).summary()
    parts = ", ".join(f"{ns} {summary[ns]}" for ns in NAMESPACES if ns in summary)
    print(f"{args.store}: read {count} annotations; {summary['accessions']} proteins ({parts})")
    if id_map is not None and id_map.unmapped:
        names = sorted(id_map.unmapped)
        print(unmapped_report(names, len(names), f"{id_map.source}: gene names"))
    return 0


def map_ids(args: argparse.Namespace) -> int:
    """``ppi annotations map``: write id -> accession and report the ids left unmapped."""
    output_file(args.out)
    ids = read_ids(args.ids)
    mapped, missing = read_id_map(args.id_map).map_ids(ids)
    lines = ["id\taccession"] + [f"{k}\t{v}" for k, v in mapped.items()]
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print(unmapped_report(missing, len(ids), str(args.ids)))
    print(f"wrote {len(mapped)} mapped ids to {args.out}")
    return 0


def coverage(args: argparse.Namespace) -> int:
    """``ppi annotations coverage``: proteins with any term, and per namespace."""
    ids = read_ids(args.ids)
    id_map = read_id_map(args.id_map) if args.id_map else IdMap({})
    mapped, missing = id_map.map_ids(ids)
    store = AnnotationStore(args.store)
    found = store.annotations(mapped.values())
    per_ns: Counter[str] = Counter()
    for terms in found.values():
        per_ns.update({a.namespace for a in terms})
    covered = sum(1 for acc in mapped.values() if acc in found)
    n = len(ids)
    print(unmapped_report(missing, n, str(args.ids)))
    print(f"annotated: {covered} of {n} proteins ({100 * covered / max(n, 1):.1f}%)")
    for ns in NAMESPACES:
        if per_ns[ns]:
            print(f"  {ns}: {per_ns[ns]} proteins ({100 * per_ns[ns] / max(n, 1):.1f}%)")
    return 0


def read_all(sources: Iterable[tuple[str, Path]], id_map: IdMap | None) -> Iterator[Annotation]:
    """Chain the readers of ``(kind, path)`` sources, in the order given."""
    for kind, path in sources:
        if kind in READERS:
            yield from READERS[kind](path)
        elif kind == "go_table" and id_map is None:
            raise InputError(f"{path}: a GO gene table needs an id map (--id-map) from symbols")
        else:
            yield from MAPPED_READERS[kind](path, id_map)


def _flags() -> list[str]:
    return ["--" + k.replace("_", "-") for k in _SOURCES]
