"""Mapping other protein names (STRING ids, gene symbols, Ensembl ids) to UniProt accessions.

A map is read from a two-column table (``from<TAB>accession``, optional
header, ``#`` comments; one name may map to several accessions) or from the
headers of a UniProt FASTA file (``>sp|P40534|PRM2_YEAST ... GN=PRM2``: the
gene name, the entry name and the accession itself all map to the
accession). Names that could not be mapped are collected for a report.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from ppi.data._io import read_lines, require_file
from ppi.data.examples import resolve
from ppi.errors import InputError

#: UniProt's accession format (https://www.uniprot.org/help/accession_numbers)
ACCESSION = re.compile(r"^([OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9]([A-Z][A-Z0-9]{2}[0-9]){1,2})$")
_FASTA_HEADER = re.compile(r"^>(?:sp|tr)\|([^|]+)\|(\S+)")
_GENE = re.compile(r"\bGN=(\S+)")


def is_accession(text: str) -> bool:
    """Whether ``text`` has the form of a UniProt accession (isoform suffix allowed)."""
    return bool(ACCESSION.match(text.split("-")[0]))


class IdMap:
    """Names -> accessions, remembering which names could not be mapped.

    Args:
        table: name -> accessions.
        source: where the map came from (for messages).
    """

    def __init__(self, table: dict[str, list[str]], source: str = "") -> None:
        self.table = table
        self.source = source
        self.unmapped: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.table)

    def lookup(self, name: str, count: bool = False) -> list[str]:
        """The accessions of ``name`` (empty if none); ``count`` records a miss."""
        found = self.table.get(name, [])
        if not found and count:
            self.unmapped[name] = self.unmapped.get(name, 0) + 1
        return found

    def map_ids(self, ids: Iterable[str]) -> tuple[dict[str, str], list[str]]:
        """First accession of each id, and the ids that could not be mapped.

        An id that already is an accession maps to itself when the table does
        not name it.
        """
        mapped, missing = {}, []
        for pid in ids:
            accs = self.table.get(pid) or ([pid] if is_accession(pid) else [])
            if accs:
                mapped[pid] = accs[0]
            else:
                missing.append(pid)
        return mapped, missing


def read_id_map(path: str | os.PathLike) -> IdMap:
    """Read a mapping table or a UniProt FASTA file (chosen by the first character)."""
    path = require_file(resolve(path), "id mapping file")
    lines = list(read_lines(path))
    first = next((line for _, line in lines if line.strip()), "")
    if first.startswith(">"):
        return IdMap(_from_fasta(lines), str(path))
    return IdMap(_from_table(path, lines), str(path))


def _from_table(path: Path, lines: list[tuple[int, str]]) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    header_checked = False
    for number, line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t") if "\t" in line else line.split(",")
        if len(fields) < 2 or not fields[0].strip():
            raise InputError(
                f"{path}:{number}: expected two columns (name, accession), got {line[:60]!r}"
            )
        name, acc = fields[0].strip(), fields[1].strip()
        if not header_checked:
            header_checked = True
            if not is_accession(acc):
                continue  # a header line
        for one in filter(None, re.split(r"[;\s]+", acc)):
            table.setdefault(name, [])
            if one not in table[name]:
                table[name].append(one)
    return table


def _from_fasta(lines: list[tuple[int, str]]) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for _, line in lines:
        match = _FASTA_HEADER.match(line)
        if not match:
            continue
        acc, entry = match.groups()
        names = [acc, entry]
        gene = _GENE.search(line)
        if gene:
            names.append(gene.group(1))
        for name in names:
            table.setdefault(name, [])
            if acc not in table[name]:
                table[name].append(acc)
    return table


def unmapped_report(missing: list[str], total: int, what: str) -> str:
    """One line saying how many of ``total`` ids could not be mapped, with examples."""
    if not missing:
        return f"{what}: all {total} ids mapped"
    examples = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
    return f"{what}: {len(missing)} of {total} ids could not be mapped ({examples})"


def read_ids(path: str | os.PathLike) -> list[str]:
    """Protein ids of a FASTA file, a pairs file (both columns) or a list (one id a line)."""
    from ppi.data.fasta import read_fasta
    from ppi.data.pairs import read_pairs

    path = require_file(resolve(path), "id list, FASTA or pairs file")
    lines = [(n, line) for n, line in read_lines(path) if line.strip()]
    if not lines:
        raise InputError(f"{path}: expected protein ids, got an empty file")
    if lines[0][1].startswith(">"):
        return list(read_fasta(path))
    if "\t" in lines[0][1] or "," in lines[0][1]:
        pairs = read_pairs(path, require_labels=False)
        return list(dict.fromkeys(i for p in pairs for i in (p.a, p.b)))
    return list(dict.fromkeys(line.strip() for _, line in lines if not line.startswith("#")))
