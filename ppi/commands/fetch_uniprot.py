"""Fetch UniProt annotations for a list of proteins from the REST API into an annotation store.

The ids come from a list (one a line), a FASTA or a pairs file; with
``--id-map`` they are mapped to accessions first (unmapped ids are reported).
Raw pages and per-accession outcomes are cached under ``--cache`` (default
``$PPI_CACHE/uniprot``), so running the command again, after an interruption
or with more ids, asks UniProt only for what it has not answered yet.
Accessions UniProt merged into another entry are stored under both names;
merged, obsolete and unknown accessions are listed in ``--report``. Unknown
accessions end the command with exit code 2 (after the others were stored)
unless ``--allow-unknown``.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

from tqdm.auto import tqdm

from ppi.commands._args import count, number
from ppi.data.annotation_store import check_store_file, write_store
from ppi.data.annotations import entry_annotations
from ppi.data.id_map import IdMap, is_accession, read_id_map, read_ids, unmapped_report
from ppi.data.uniprot_rest import BASE_URL, FetchResult, UniProtClient, default_cache_dir
from ppi.errors import InputError
from ppi.utils.files import atomic_write_text

SOURCE = "uniprot-rest"


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi fetch-uniprot``."""
    parser.add_argument("--ids", required=True, help="accessions: a list, a FASTA or a pairs file")
    parser.add_argument("--id-map", default="", help="ids -> accessions table (STRING ids, ...)")
    parser.add_argument("--store", type=Path, required=True, help="annotation store to add to")
    parser.add_argument("--report", type=Path, help="TSV of each accession's outcome")
    parser.add_argument(
        "--cache", type=Path, help="raw response cache (default $PPI_CACHE/uniprot)"
    )
    parser.add_argument("--batch-size", type=count(1), default=100, help="accessions per query")
    parser.add_argument(
        "--rate", type=number(0), default=3.0, help="most requests per second (0: no limit)"
    )
    parser.add_argument(
        "--timeout", type=number(0, low_open=True), default=30.0, help="seconds per request"
    )
    parser.add_argument("--retries", type=count(0), default=5, help="retries per request")
    parser.add_argument("--base-url", default=BASE_URL, help=argparse.SUPPRESS)
    parser.add_argument(
        "--allow-unknown", action="store_true", help="exit 0 even if UniProt knows some ids not"
    )


def main(args: argparse.Namespace) -> int:
    """Map, fetch, store, report."""
    check_store_file(args.store)
    accessions = _accessions(args)
    client = UniProtClient(
        args.cache or default_cache_dir(),
        base_url=args.base_url,
        batch_size=args.batch_size,
        rate=args.rate,
        timeout=args.timeout,
        retries=args.retries,
    )
    with tqdm(total=len(accessions), desc="uniprot", unit=" acc", disable=None) as bar:
        result = client.fetch(accessions, bar.update)
    count = write_store(args.store, _annotations(result))
    report = args.report or args.store.with_suffix(".fetch_report.tsv")
    _write_report(report, result)
    problems = result.problems()
    found = sum(1 for s in result.status.values() if s != "unknown")
    print(
        f"{args.store}: {count} annotations of {found} of {len(accessions)} accessions "
        f"({result.requests} requests); report: {report}"
    )
    for status in ("merged", "obsolete"):
        if problems.get(status):
            print(f"{status}: {len(problems[status])} ({', '.join(problems[status][:5])})")
    unknown = problems.get("unknown", [])
    if unknown and not args.allow_unknown:
        raise InputError(
            f"{args.ids}: UniProt knows {len(unknown)} accession(s) not: "
            f"{', '.join(unknown[:5])}{', ...' if len(unknown) > 5 else ''} "
            f"(the others were stored; see {report}, or pass --allow-unknown)"
        )
    return 0


def _accessions(args: argparse.Namespace) -> list[str]:
    ids = read_ids(args.ids)
    id_map = read_id_map(args.id_map) if args.id_map else IdMap({})
    mapped, missing = id_map.map_ids(ids)
    if not ids:
        raise InputError(f"{args.ids}: expected protein ids, got only comments or blank lines")
    if not mapped:
        examples = ", ".join(repr(i) for i in missing[:3]) + (", ..." if len(missing) > 3 else "")
        unmapped = f"; {args.id_map} maps none of them" if args.id_map else ""
        raise InputError(
            f"{_line_of(args.ids, missing[0])}: expected UniProt accessions (or --id-map), "
            f"got none: {len(missing)} ids that are not ({examples}){unmapped}"
        )
    if missing:
        print(unmapped_report(missing, len(ids), str(args.ids)))
    accessions = list(dict.fromkeys(mapped.values()))
    bad = [a for a in accessions if not is_accession(a)]
    if bad:
        raise InputError(f"{args.ids}: expected UniProt accessions, got {', '.join(bad[:5])}")
    return accessions


def _line_of(path: str, name: str) -> str:
    """``path:line`` of the first line naming ``name`` (``path`` alone if none does)."""
    from ppi.data._io import read_lines
    from ppi.data.examples import resolve

    for line_no, line in read_lines(resolve(path)):
        if name in re.split(r"[\s,>]+", line):
            return f"{path}:{line_no}"
    return str(path)


def _annotations(result: FetchResult):
    """Each entry's annotations, also under the requested name of a merged accession."""
    for primary, entry in result.entries.items():
        anns = entry_annotations(entry, SOURCE)
        yield from anns
        for old, new in result.merged_into.items():
            if new == primary and old != primary:
                yield from (dataclasses.replace(a, accession=old) for a in anns)


def _write_report(path: Path, result: FetchResult) -> None:
    lines = ["accession\tstatus\tmerged_into"]
    for acc, status in result.status.items():
        lines.append(f"{acc}\t{status}\t{result.merged_into.get(acc, '')}")
    atomic_write_text(path, "\n".join(lines) + "\n")
