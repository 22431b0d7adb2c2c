"""FASTA reading and writing with strict, located validation.

A record's id is the first whitespace-separated token of its header; for
UniProt headers (``>sp|P12345|NAME_YEAST ...`` or ``>tr|...``) it is the
accession (``P12345``). Sequences are upper-cased, whitespace is removed and
one trailing stop ``*`` is dropped. The ambiguous codes B, Z, J, U, O and X are
read as ``X`` and counted in one log line per file. Every other problem raises
:class:`ppi.errors.InputError` naming the file, the line and the record.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ppi.data._io import read_lines, require_file
from ppi.errors import InputError
from ppi.utils.files import atomic_write_text

logger = logging.getLogger(__name__)

STANDARD_RESIDUES = "ACDEFGHIKLMNPQRSTVWY"
AMBIGUOUS_RESIDUES = "BZJUOX"

_INVALID = re.compile(f"[^{STANDARD_RESIDUES}{AMBIGUOUS_RESIDUES}]")
_SPACE = re.compile(r"\s+")
_TO_X = str.maketrans({code: "X" for code in AMBIGUOUS_RESIDUES})
_EXPECTED = "expected one of the 20 amino acids or B, Z, J, U, O, X"


def validate_sequence(seq: str, where: str) -> tuple[str, int]:
    """Clean and check one protein sequence.

    Args:
        seq: the raw sequence; case and whitespace do not matter, one trailing
            ``*`` is dropped.
        where: the location put in front of error messages, for example
            ``"table.csv: row 4 (id 'P1')"``.

    Returns:
        The clean sequence with ambiguous codes read as ``X``, and how many
        ambiguous residues it had.

    Raises:
        InputError: the sequence is empty or has a character that is not a
            residue (the message gives the character and its 1-based position).
    """
    clean = _SPACE.sub("", seq).upper()
    if clean.endswith("*"):
        clean = clean[:-1]
    if not clean:
        raise InputError(f"{where}: expected a protein sequence, got an empty one")
    bad = _INVALID.search(clean)
    if bad:
        raise InputError(_invalid_residue(where, bad.group(), bad.start() + 1))
    return _ambiguous_to_x(clean)


def log_ambiguous(source: str | os.PathLike, n_residues: int, n_records: int) -> None:
    """Log, once per file, how many ambiguous residues were read as ``X``."""
    if n_residues:
        logger.info(
            "%s: %d ambiguous residues (B, Z, J, U, O, X) in %d records read as X",
            source,
            n_residues,
            n_records,
        )


def read_fasta(path: str | os.PathLike) -> dict[str, str]:
    """Read a plain or gzipped FASTA file (gzip is detected by its magic bytes).

    Args:
        path: the FASTA file.

    Returns:
        ``id -> sequence`` in file order. Records repeated with the same id and
        sequence are kept once (with a warning).

    Raises:
        InputError: missing or empty file, text before the first header, an
            empty header or sequence, a character that is not a residue, or one
            id with two different sequences.
    """
    path = require_file(path, "FASTA file")
    sequences: dict[str, str] = {}
    header_lines: dict[str, int] = {}
    merged: list[tuple[str, int, int]] = []
    n_ambiguous = n_ambiguous_records = 0
    for record in _records(path):
        seq, n_amb = record.sequence(path)
        if record.id in sequences:
            first = header_lines[record.id]
            if sequences[record.id] != seq:
                raise InputError(
                    f"{path}:{record.line}: duplicate id '{record.id}' with a different "
                    f"sequence than the record at line {first}"
                )
            merged.append((record.id, first, record.line))
            continue
        sequences[record.id], header_lines[record.id] = seq, record.line
        n_ambiguous += n_amb
        n_ambiguous_records += n_amb > 0
    if not sequences:
        raise InputError(f"{path}: no FASTA records (expected lines starting with '>')")
    _warn_merged(path, merged)
    log_ambiguous(path, n_ambiguous, n_ambiguous_records)
    return sequences


def id_sequence_rows(path: Path) -> Iterator[tuple[int, str, str, int]]:
    """Rows of an ``id<TAB>sequence`` file: ``(line, id, clean sequence, ambiguous residues)``.

    Blank lines are skipped, trailing tabs ignored; a row of another width or a bad residue raises
    :class:`InputError` naming the file and line.
    """
    for number, line in read_lines(path):
        if not line.strip():
            continue
        fields = line.rstrip("\t").split("\t")  # a trailing tab ends some such files
        if len(fields) != 2:
            raise InputError(
                f"{path}:{number}: expected 'id<TAB>sequence', got {len(fields)} fields"
            )
        rid = fields[0].strip()
        seq, n_ambiguous = validate_sequence(fields[1], f"{path}:{number}: record '{rid}'")
        yield number, rid, seq, n_ambiguous


def duplicate_ids(path: str | os.PathLike) -> list[tuple[str, int, int]]:
    """Ids that head more than one record, whatever their sequences.

    :func:`read_fasta` merges a record repeated with the same sequence; a
    command that must not see one protein twice (``ppi screen``) checks here.

    Returns:
        ``(id, first header line, repeated header line)`` for every repeat.
    """
    path = require_file(path, "FASTA file")
    first: dict[str, int] = {}
    repeats = []
    for record in _records(path):
        if record.id in first:
            repeats.append((record.id, first[record.id], record.line))
        first.setdefault(record.id, record.line)
    return repeats


def write_fasta(
    records: Mapping[str, str] | Iterable[tuple[str, str]],
    path: str | os.PathLike,
    width: int = 60,
) -> Path:
    """Write records atomically (temp file + ``os.replace``); ``.gz`` names are gzipped.

    Args:
        records: ``id -> sequence`` or ``(id, sequence)`` pairs.
        path: the file to write.
        width: residues per line; ``0`` writes each sequence on one line.

    Returns:
        The path written.
    """
    items = records.items() if isinstance(records, Mapping) else records
    lines: list[str] = []
    for rid, seq in items:
        if not rid or _SPACE.search(rid) or not seq:
            raise InputError(
                f"{path}: expected a non-empty id without whitespace and a non-empty "
                f"sequence, got id {rid!r} with {len(seq)} residues"
            )
        lines.append(f">{rid}")
        step = width if width > 0 else len(seq)
        lines.extend(seq[start : start + step] for start in range(0, len(seq), step))
    if not lines:
        raise InputError(f"{path}: expected at least one record to write, got none")
    return atomic_write_text(path, "\n".join(lines) + "\n")


@dataclass
class _Record:
    """One FASTA record as read: its id, header line and raw sequence lines."""

    id: str
    line: int
    chunks: list[tuple[int, str]] = field(default_factory=list)
    header: str = ""

    def sequence(self, path: Path) -> tuple[str, int]:
        """The checked sequence and its ambiguous-residue count."""
        pieces = [(number, _SPACE.sub("", text).upper()) for number, text in self.chunks]
        seq = "".join(piece for _, piece in pieces)
        if seq.endswith("*"):
            seq = seq[:-1]
        if not seq:
            raise InputError(
                f"{path}:{self.line}: record '{self.id}': expected a sequence after the "
                "header, got none"
            )
        bad = _INVALID.search(seq)
        if bad:
            line = _line_of(pieces, bad.start())
            where = f"{path}:{line}: record '{self.id}'"
            raise InputError(_invalid_residue(where, bad.group(), bad.start() + 1))
        return _ambiguous_to_x(seq)


def _records(path: Path) -> Iterator[_Record]:
    """Split the file into records; blank lines are ignored."""
    current: _Record | None = None
    for number, line in read_lines(path):
        if line.startswith(">"):
            if current is not None:
                yield current
            current = _Record(_header_id(path, number, line), number, header=line[1:])
        elif not line.strip():
            continue
        elif current is None:
            raise InputError(
                f"{path}:{number}: expected a '>' header line before sequence data, "
                f"got {line[:40]!r}"
            )
        else:
            current.chunks.append((number, line))
    if current is not None:
        yield current


def _header_id(path: Path, number: int, header: str) -> str:
    """The id of a header line: first token, or the accession of a UniProt header."""
    tokens = header[1:].split()
    if not tokens:
        raise InputError(f"{path}:{number}: expected an id after '>', got an empty header")
    parts = tokens[0].split("|")
    if len(parts) >= 3 and parts[0] in ("sp", "tr") and parts[1]:
        return parts[1]
    return tokens[0]


def _line_of(pieces: list[tuple[int, str]], index: int) -> int:
    """The file line holding residue ``index`` (0-based) of a multi-line sequence."""
    end = 0
    for number, piece in pieces:
        end += len(piece)
        if index < end:
            return number
    return pieces[-1][0]


def _invalid_residue(where: str, char: str, position: int) -> str:
    return f"{where}: invalid residue {char!r} at position {position} ({_EXPECTED})"


def _ambiguous_to_x(seq: str) -> tuple[str, int]:
    n_ambiguous = sum(seq.count(code) for code in AMBIGUOUS_RESIDUES)
    return (seq.translate(_TO_X) if n_ambiguous else seq), n_ambiguous


def _warn_merged(path: Path, merged: list[tuple[str, int, int]]) -> None:
    if merged:
        rid, first, again = merged[0]
        logger.warning(
            "%s: %d repeated records with the same id and sequence kept once "
            "(first: '%s' at lines %d and %d)",
            path,
            len(merged),
            rid,
            first,
            again,
        )
