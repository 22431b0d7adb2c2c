"""Download structures from AlphaFold DB (UniProt accessions) or RCSB (PDB id and chain).

``--ids`` is a text file of references, one per line (``P12345``, or for RCSB
``1ABC_A``), or ``protein_id<TAB>reference`` to name them after your proteins;
a reference of another form, or a protein named twice with different
references, stops the command before anything is fetched.
Files land in ``--out`` with ``structures.tsv`` (for
``channels.structure.mapping``) and ``failures.tsv``; a rerun fetches only
what is missing. Ids the server gave no answer for (no network, timeouts,
server errors after the retries) are listed in ``unreached.tsv`` and end the
command with exit code 2; a rerun asks for exactly those.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ppi.commands._args import count, number, output_dir
from ppi.data.structure_fetch import SOURCES


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi fetch-structures``."""
    parser.add_argument("--ids", required=True, help="references, one a line (or id<TAB>ref)")
    parser.add_argument("--source", choices=sorted(SOURCES), default="alphafold")
    parser.add_argument("--out", required=True, help="folder for the files and tables")
    parser.add_argument("--url", default="", help="URL template with {id} (a mirror)")
    parser.add_argument(
        "--timeout", type=number(0, low_open=True), default=30.0, help="seconds per request"
    )
    parser.add_argument(
        "--retries", type=count(0), default=3, help="retries after transient errors"
    )
    parser.add_argument(
        "--rate", type=number(0), default=5.0, help="most requests per second (0: no limit)"
    )
    parser.add_argument("--retry-failed", action="store_true", help="ask again for recorded 404s")


def read_refs(path: str, source: str = "alphafold") -> dict[str, str]:
    """``{protein id: reference}`` from a list or a two-column TSV, each reference checked.

    A protein named twice with different references is an error (the same
    line twice is not).
    """
    from ppi.data._io import read_lines, require_file
    from ppi.data.structure_fetch import check_ref
    from ppi.errors import InputError

    refs: dict[str, str] = {}
    lines: dict[str, int] = {}
    for line_no, line in read_lines(require_file(path, "list of structure ids")):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) > 2:
            raise InputError(f"{path}:{line_no}: expected 'ref' or 'id<TAB>ref', got {line[:60]!r}")
        pid, ref = fields[0], fields[-1]
        try:
            check_ref(source, ref)
        except ValueError as exc:
            raise InputError(f"{path}:{line_no}: {exc}") from None
        if refs.get(pid, ref) != ref:
            raise InputError(
                f"{path}:{line_no}: expected each protein once, got {pid!r} again "
                f"(line {lines[pid]}: {refs[pid]}, line {line_no}: {ref})"
            )
        refs[pid] = ref
        lines.setdefault(pid, line_no)
    if not refs:
        raise InputError(f"{path}: expected structure references, got none")
    return refs


def main(args: argparse.Namespace) -> int:
    """Fetch, then print what was fetched, already there, and missing."""
    from ppi.data.structure_fetch import StructureFetcher
    from ppi.errors import InputError
    from ppi.utils.logs import setup_logging

    setup_logging()
    output_dir(args.out)
    fetcher = StructureFetcher(
        args.out,
        args.source,
        args.url,
        args.timeout,
        args.retries,
        rate=args.rate,
        retry_failed=args.retry_failed,
    )
    refs = read_refs(args.ids, args.source)
    report = fetcher.fetch(refs)
    out = Path(args.out)
    print(
        f"fetched {len(report.fetched)}, already there {len(report.cached)}, "
        f"without a structure {len(report.failed)} (listed in {out / 'failures.tsv'}); "
        f"mapping: {out / 'structures.tsv'}"
    )
    if report.unreached:
        raise InputError(
            f"{fetcher.url}: no answer for {len(report.unreached)} of {len(refs)} ids "
            f"(first: {next(iter(report.unreached.values()))[:160]}); they are listed in "
            f"{out / 'unreached.tsv'}, apart from the ids without a structure, and running "
            "the command again asks for exactly those"
        )
    return 0
