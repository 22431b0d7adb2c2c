"""Stream the entries of UniProt dumps: what a search index needs of each protein.

Reads the dumps as UniProt serves them, plain or gzipped (detected by the
magic bytes), one entry at a time so memory does not grow with the dump:

- FASTA with UniProtKB headers (``>sp|P12345|NAME_YEAST ... OS=... OX=...``)
  or UniRef headers (``>UniRef50_P12345 ... Tax=... TaxID=... RepID=...``);
- SwissProt/TrEMBL flat files (``.dat``/``.txt``: ``ID``, ``AC``, ``OS``,
  ``SQ`` lines, entries ending in ``//``);
- UniProt XML (``<uniprot><entry>``) and UniRef XML (``<UniRef><entry>``).

Each entry becomes a :class:`DumpEntry` (accession, entry name, organism,
sequence). A damaged file (truncated gzip, XML cut mid-record, a malformed
flat-file entry, an invalid residue) raises :class:`ppi.errors.InputError`
naming the file and the line.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from ppi.data._io import gzip_errors, is_gzip, read_lines, require_file, xml_errors
from ppi.data.fasta import _records, validate_sequence
from ppi.errors import InputError

#: ``key=value`` fields of UniProtKB (OS, OX, GN, PE, SV) and UniRef (n, Tax, TaxID, RepID) headers
_HEADER_FIELD = re.compile(r"\s(OS|OX|GN|PE|SV|n|Tax|TaxID|RepID)=")


@dataclass(frozen=True)
class DumpEntry:
    """One protein of a dump.

    Attributes:
        accession: primary accession (``P12345``) or UniRef cluster id.
        entry_name: UniProtKB entry name (``CLD1_HUMAN``), or the UniRef
            representative; empty when the dump has none.
        organism: scientific name of the source organism; may be empty.
        sequence: validated residues (ambiguous codes read as ``X``).
    """

    accession: str
    entry_name: str
    organism: str
    sequence: str


def read_dumps(paths: Iterable[str | os.PathLike]) -> Iterator[DumpEntry]:
    """Entries of several dumps, one file after the other."""
    for path in paths:
        yield from read_dump(path)


def read_dump(path: str | os.PathLike) -> Iterator[DumpEntry]:
    """Entries of one dump, whatever its format (FASTA, flat file or XML).

    Raises:
        InputError: a missing, empty, damaged or unrecognised file, or a bad entry.
    """
    path = require_file(path, "UniProt dump")
    kind = dump_format(path)
    reader = {"fasta": _read_fasta, "flat": _read_flat, "xml": _read_xml}[kind]
    count = 0
    for entry in reader(path):
        count += 1
        yield entry
    if count == 0:
        raise InputError(f"{path}: expected UniProt entries, got an empty {kind} dump")


def dump_format(path: Path) -> str:
    """``fasta``, ``flat`` or ``xml``, from the first line that is not blank."""
    for number, line in read_lines(path):
        text = line.strip()
        if not text:
            continue
        if text.startswith(">"):
            return "fasta"
        if text.startswith("<"):
            return "xml"
        if text.startswith("ID   "):
            return "flat"
        raise InputError(
            f"{path}:{number}: expected a UniProt dump (FASTA '>', flat-file 'ID   ' or XML "
            f"'<'), got {text[:40]!r}"
        )
    raise InputError(f"{path}: expected UniProt entries, got an empty file")


# -- FASTA ---------------------------------------------------------------------------------
def _read_fasta(path: Path) -> Iterator[DumpEntry]:
    for record in _records(path):
        seq, _ = record.sequence(path)
        accession, name, organism = parse_fasta_header(record.header)
        yield DumpEntry(accession, name, organism, seq)


def parse_fasta_header(header: str) -> tuple[str, str, str]:
    """``(accession, entry name, organism)`` of a UniProtKB, UniRef or plain header.

    Example:
        >>> parse_fasta_header("sp|P00750|TPA_HUMAN Tissue-type OS=Homo sapiens OX=9606")
        ('P00750', 'TPA_HUMAN', 'Homo sapiens')
        >>> parse_fasta_header("UniRef50_Q6GZX4 Putative n=2 Tax=Frog virus 3 RepID=001R_FRG3G")
        ('UniRef50_Q6GZX4', '001R_FRG3G', 'Frog virus 3')
    """
    token, _, rest = header.strip().partition(" ")
    fields = _header_fields(" " + rest)
    parts = token.split("|")
    if len(parts) >= 3 and parts[0] in ("sp", "tr"):
        return parts[1], parts[2], fields.get("OS", "")
    return token, fields.get("RepID", ""), fields.get("OS", fields.get("Tax", ""))


def _header_fields(text: str) -> dict[str, str]:
    """The ``KEY=value`` fields of a header's description (values may hold spaces)."""
    marks = list(_HEADER_FIELD.finditer(text))
    out = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out[mark.group(1)] = text[mark.end() : end].strip()
    return out


# -- SwissProt flat file ---------------------------------------------------------------------
@dataclass
class _FlatEntry:
    """The lines of one flat-file entry that an index needs."""

    line: int
    name: str = ""
    declared: int = -1
    accession: str = ""
    organism: str = ""
    in_sequence: bool = False
    chunks: list[str] | None = None

    def finish(self, path: Path, number: int) -> DumpEntry:
        """The entry at its ``//`` line, after checking it is whole."""
        where = f"{path}:{self.line}: entry '{self.name or '?'}'"
        if not self.accession:
            raise InputError(f"{where}: expected an 'AC' line, got none before line {number}")
        if self.chunks is None:
            raise InputError(f"{where}: expected an 'SQ' sequence block, got none")
        seq, _ = validate_sequence("".join(self.chunks), where)
        if self.declared >= 0 and len(seq) != self.declared:
            raise InputError(
                f"{where}: the ID line declares {self.declared} residues, the sequence has "
                f"{len(seq)}"
            )
        return DumpEntry(self.accession, self.name, self.organism.rstrip("."), seq)


_ID_LINE = re.compile(r"^ID   (\S+)\s+.*?(\d+) AA\.\s*$")


def _read_flat(path: Path) -> Iterator[DumpEntry]:
    entry: _FlatEntry | None = None
    number = 0
    for number, line in read_lines(path):
        if not line.strip():
            continue
        if line.startswith("//"):
            if entry is None:
                raise InputError(f"{path}:{number}: expected an 'ID' line before '//'")
            yield entry.finish(path, number)
            entry = None
        elif entry is None:
            entry = _start_flat(path, number, line)
        else:
            _flat_line(path, number, line, entry)
    if entry is not None:
        raise InputError(
            f"{path}:{entry.line}: entry '{entry.name}' ends at line {number} without its "
            "closing '//' (file cut short?)"
        )


def _start_flat(path: Path, number: int, line: str) -> _FlatEntry:
    match = _ID_LINE.match(line)
    if not match:
        raise InputError(
            f"{path}:{number}: expected an entry's 'ID   NAME ... <n> AA.' line, got {line[:50]!r}"
        )
    return _FlatEntry(number, match.group(1), int(match.group(2)))


def _flat_line(path: Path, number: int, line: str, entry: _FlatEntry) -> None:
    code, body = line[:2], line[5:]
    if entry.in_sequence:
        if not line.startswith("     "):
            raise InputError(
                f"{path}:{number}: entry '{entry.name}': expected sequence lines or '//' "
                f"after 'SQ', got {line[:40]!r}"
            )
        entry.chunks.append(body)
    elif code == "AC" and not entry.accession:
        entry.accession = body.split(";")[0].strip()
    elif code == "OS":
        entry.organism = f"{entry.organism} {body.strip()}".strip()
    elif code == "SQ":
        entry.in_sequence, entry.chunks = True, []
    elif not re.match(r"^[A-Z0-9]{2}( {3}|$)", line):
        raise InputError(
            f"{path}:{number}: entry '{entry.name}': expected a two-letter line code and three "
            f"spaces, got {line[:40]!r}"
        )


# -- XML ---------------------------------------------------------------------------------
def _read_xml(path: Path) -> Iterator[DumpEntry]:
    """Entries of a UniProt or UniRef XML file, each element freed once read."""
    handle = gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")
    with handle, gzip_errors(path), xml_errors(path):
        events = ElementTree.iterparse(handle, events=("start", "end"))
        try:
            yield from _xml_entries(path, events)
        except ElementTree.ParseError as exc:
            line = exc.position[0]
            raise InputError(
                f"{path}:{line}: expected well-formed UniProt XML, got {exc.msg.split(':')[0]} "
                "(file cut mid-record?)"
            ) from None


def _xml_entries(path: Path, events: Iterator) -> Iterator[DumpEntry]:
    root, depth = None, 0
    for event, elem in events:
        if event == "start":
            root = elem if root is None else root
            depth += 1
            continue
        depth -= 1
        if depth == 1 and _local(elem.tag) == "entry":
            yield _xml_entry(path, elem)
            root.remove(elem)  # keep memory flat: nothing read stays in the tree


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(elem: ElementTree.Element, name: str) -> list[ElementTree.Element]:
    return [c for c in elem if _local(c.tag) == name]


def _xml_entry(path: Path, elem: ElementTree.Element) -> DumpEntry:
    """One ``<entry>``: UniProtKB (accession, name, organism) or UniRef (id, representative)."""
    if elem.get("id"):  # UniRef cluster
        return _uniref_entry(path, elem)
    accessions = _children(elem, "accession")
    names = _children(elem, "name")
    organism = ""
    for org in _children(elem, "organism"):
        for name in _children(org, "name"):
            if name.get("type") == "scientific":
                organism = name.text or ""
    accession = (accessions[0].text or "").strip() if accessions else ""
    where = f"{path}: entry '{accession or '?'}'"
    if not accession:
        raise InputError(f"{where}: expected an <accession>, got none")
    seq = _xml_sequence(where, _children(elem, "sequence"))
    return DumpEntry(accession, (names[0].text or "").strip() if names else "", organism, seq)


def _uniref_entry(path: Path, elem: ElementTree.Element) -> DumpEntry:
    cluster = elem.get("id", "")
    where = f"{path}: entry '{cluster}'"
    reps = _children(elem, "representativeMember")
    if not reps:
        raise InputError(f"{where}: expected a <representativeMember>, got none")
    name = organism = ""
    for ref in _children(reps[0], "dbReference"):
        name = ref.get("id", "")
        for prop in _children(ref, "property"):
            if prop.get("type") == "source organism":
                organism = prop.get("value", "")
    return DumpEntry(cluster, name, organism, _xml_sequence(where, _children(reps[0], "sequence")))


def _xml_sequence(where: str, elems: list[ElementTree.Element]) -> str:
    if not elems or not (elems[0].text or "").strip():
        raise InputError(f"{where}: expected a <sequence>, got none")
    return validate_sequence(elems[0].text or "", where)[0]
