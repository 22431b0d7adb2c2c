"""Readers of GO annotation files (GAF 2.x) and GO term -> gene tables.

Both often name proteins otherwise than by accession (SGD ids, gene symbols):
those names go through an :class:`ppi.data.id_map.IdMap`, which counts what
it could not map.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ppi.data._io import read_lines, require_file
from ppi.data.annotations import _GO_ASPECT, Annotation
from ppi.data.id_map import IdMap
from ppi.errors import InputError

GAF_COLUMNS = 17
_GO_ID = re.compile(r"^GO:[0-9]{7}$")
_GO_DOMAIN = {
    "biological_process": "go_bp",
    "molecular_function": "go_mf",
    "cellular_component": "go_cc",
}


def read_gaf(path: str | Path, id_map: IdMap | None = None) -> Iterator[Annotation]:
    """Annotations of a GO annotation file (GAF 2.x: 17 tab-separated columns).

    Rows from ``UniProtKB`` name their accession; other databases' ids (SGD,
    gene symbols) go through ``id_map`` (first the object id, then the symbol),
    and rows that cannot be mapped are counted in ``id_map.unmapped``. Rows
    with a ``NOT`` qualifier are skipped. Lines starting with ``!`` (the
    ``!gaf-version`` header, comments) are skipped; a file without any other
    line is an error.
    """
    path = require_file(path, "GAF file")
    rows = 0
    for number, line in read_lines(path):
        if not line or line.startswith("!"):
            continue
        fields = _gaf_fields(path, number, line)
        rows += 1
        if "NOT" in fields[3].split("|"):
            continue
        for acc in _gaf_accessions(fields, id_map):
            ns = _GO_ASPECT[fields[8]]
            yield Annotation(acc, fields[4], ns, fields[6], path.name, _iso(fields[13]))
    if not rows:
        raise InputError(f"{path}: expected GAF annotation lines, got none")


def _gaf_fields(path: Path, number: int, line: str) -> list[str]:
    """The columns of a GAF line, or an error naming the line and the column."""
    fields = line.split("\t")
    if len(fields) != GAF_COLUMNS:
        raise InputError(
            f"{path}:{number}: expected {GAF_COLUMNS} tab-separated GAF 2.x columns, "
            f"got {len(fields)}"
        )
    if not _GO_ID.match(fields[4]):
        raise InputError(
            f"{path}:{number}: expected a GO id (GO:NNNNNNN) in column 5, got {fields[4][:40]!r}"
        )
    if fields[8] not in _GO_ASPECT:
        raise InputError(
            f"{path}:{number}: expected the aspect P, F or C in column 9, got {fields[8][:40]!r}"
        )
    return fields


def _gaf_accessions(fields: list[str], id_map: IdMap | None) -> list[str]:
    if fields[0] == "UniProtKB":
        return [fields[1].split("-")[0]]
    if id_map is None:
        return []
    return id_map.lookup(fields[1]) or id_map.lookup(fields[2], count=True)


def _iso(date: str) -> str:
    return f"{date[:4]}-{date[4:6]}-{date[6:]}" if len(date) == 8 and date.isdigit() else date


def read_go_gene_table(path: str | Path, id_map: IdMap) -> Iterator[Annotation]:
    """Annotations of a GO term -> genes table (columns ``go_id``, ``go_domain``, ``gene_symbols``).

    The format of the dhimmel/gene-ontology exports: one GO term per row, its
    genes' symbols separated by ``|``, mapped to accessions through ``id_map``.
    It gives no evidence codes.
    """
    path = require_file(path, "GO gene table")
    lines = read_lines(path)
    _, header_line = next(lines, (1, ""))
    header = header_line.split("\t")
    need = ("go_id", "go_name", "go_domain", "gene_symbols")
    missing = [c for c in need if c not in header]
    if missing:
        shown = header_line if len(header_line) <= 60 else header_line[:57] + "..."
        raise InputError(
            f"{path}:1: expected a tab-separated header with columns {', '.join(need)} "
            f"(missing {', '.join(missing)}), got {shown!r}"
        )
    col = {c: header.index(c) for c in need}
    for number, line in lines:
        fields = line.split("\t")
        if len(fields) != len(header):
            raise InputError(
                f"{path}:{number}: expected {len(header)} tab-separated columns, got {len(fields)}"
            )
        ns = _GO_DOMAIN.get(fields[col["go_domain"]])
        if ns is None:
            raise InputError(
                f"{path}:{number}: expected a GO domain ({', '.join(_GO_DOMAIN)}), "
                f"got {fields[col['go_domain']]!r}"
            )
        for symbol in filter(None, fields[col["gene_symbols"]].split("|")):
            for acc in id_map.lookup(symbol, count=True):
                yield Annotation(
                    acc, fields[col["go_id"]], ns, "", path.name, "", fields[col["go_name"]]
                )
