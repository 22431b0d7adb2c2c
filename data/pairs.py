"""Protein pairs with 0/1 interaction labels, read from TSV or CSV.

The delimiter is sniffed from the first non-blank line (a tab means TSV, else
a comma means CSV). The first row is a header when its third field is not a
number (``label``, ``interaction``) or, in a two-column file, when both fields
are names like ``id_a``/``id_b``. Labels are ``0`` or ``1`` (``0.0`` and
``1.0`` are accepted). Blank lines are skipped; every other problem raises
:class:`ppi.errors.InputError` naming the file and line.

A pair that repeats an earlier one, in either order, is the same pair (the
models are symmetric): repeats are logged when read, and a split keeps each
pair once (:func:`each_pair_once`) so that no pair is on two sides of it.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import NamedTuple

from ppi.data._io import read_lines, require_file
from ppi.errors import InputError
from ppi.utils.files import atomic_write_text

logger = logging.getLogger(__name__)

_LABELS = {"0": 0.0, "1": 1.0, "0.0": 0.0, "1.0": 1.0}
_ID_HEADER = re.compile(
    r"^((id|protein|prot|uniprot|gene|seq|sequence|interactor|partner)[\s_-]?(a|b|1|2)|a|b)$"
)
#: label values that are wrong rather than a header name: an error, never skipped
_LABEL_WORDS = frozenset({"true", "false", "yes", "no", "positive", "negative"})
_SHOW_UNKNOWN = 5


class Pair(NamedTuple):
    """Two protein ids and the interaction label (``None`` when unlabelled)."""

    a: str
    b: str
    label: float | None


def read_pairs(
    path: str | os.PathLike,
    known_ids: Collection[str] | None = None,
    require_labels: bool = True,
    fasta_name: str | None = None,
    one_label: bool = False,
) -> list[Pair]:
    """Read pairs from a TSV or CSV file, with or without a header.

    Args:
        path: the pairs file (plain or gzipped).
        known_ids: the ids that have a sequence (a set or the FASTA mapping);
            when given, pairs naming other ids are an error.
        require_labels: whether a third (label) column is required; without
            it, two-column files are read with ``label=None``.
        fasta_name: how to name the sequence file in the unknown-ids message.
        one_label: refuse a pair that repeats an earlier one (either order)
            with a different label, naming both lines.

    Returns:
        The pairs in file order.

    Raises:
        InputError: missing or empty file, wrong column count, a label that is
            not 0/1, an empty id, ids not in ``known_ids``, or (``one_label``)
            a pair with two labels.
    """
    path = require_file(path, "pairs file")
    rows = _rows(path)
    width = _check_width(path, rows, require_labels)
    if rows and _is_header(rows[0][1]):
        logger.debug("%s:%d: read as a header: %s", path, rows[0][0], rows[0][1])
        rows = rows[1:]
    if not rows:
        raise InputError(f"{path}: expected at least one pair (id_a, id_b, label), got none")
    pairs = [_parse_row(path, number, fields, width) for number, fields in rows]
    if known_ids is not None:
        _check_known(path, pairs, known_ids, fasta_name)
    if one_label:
        _check_one_label(path, [number for number, _ in rows], pairs)
    _log_duplicates(path, pairs)
    return pairs


def write_pairs(pairs: Iterable[Pair | tuple], path: str | os.PathLike) -> Path:
    """Write pairs as TSV with a header ``id_a, id_b, label`` (atomic write).

    Unlabelled pairs (label ``None`` or 2-tuples) are written as two columns
    ``id_a, id_b``; a mix of labelled and unlabelled pairs is an error.
    """
    rows = [Pair(p[0], p[1], p[2] if len(p) > 2 else None) for p in pairs]
    labelled = {p.label is not None for p in rows}
    if len(labelled) != 1:
        got = "no pairs" if not rows else "a mix of labelled and unlabelled pairs"
        raise InputError(
            f"{path}: expected pairs that are all labelled or all unlabelled, got {got}"
        )
    with_labels = labelled.pop()
    lines = ["id_a\tid_b\tlabel" if with_labels else "id_a\tid_b"]
    for pair in rows:
        if any(not x or re.search(r"[\t\r\n]", x) for x in (pair.a, pair.b)):
            raise InputError(f"{path}: expected ids without tabs or newlines, got {pair[:2]!r}")
        if with_labels and pair.label not in (0, 1):
            raise InputError(f"{path}: expected label 0 or 1, got {pair.label!r} for {pair[:2]!r}")
        label = f"\t{int(pair.label)}" if with_labels else ""
        lines.append(f"{pair.a}\t{pair.b}{label}")
    return atomic_write_text(path, "\n".join(lines) + "\n")


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """Non-blank lines as ``(line number, stripped fields)``."""
    rows: list[tuple[int, list[str]]] = []
    delimiter = None
    for number, line in read_lines(path):
        if not line.strip():
            continue
        if delimiter is None:
            delimiter = _sniff(path, number, line)
        fields = line.split("\t") if delimiter == "\t" else next(csv.reader([line]))
        rows.append((number, [x.strip() for x in fields]))
    return rows


def _sniff(path: Path, number: int, line: str) -> str:
    if "\t" in line:
        return "\t"
    if "," in line:
        return ","
    raise InputError(
        f"{path}:{number}: expected tab- or comma-separated columns (id_a, id_b, label), "
        f"got {line[:60]!r}"
    )


def _is_header(fields: list[str]) -> bool:
    """A first row is a header when its label field is a name, not a value."""
    if len(fields) >= 3:
        third = fields[2].lower()
        return bool(third) and not _is_number(third) and third not in _LABEL_WORDS
    return all(_ID_HEADER.match(x.lower()) for x in fields)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_width(path: Path, rows: list[tuple[int, list[str]]], require_labels: bool) -> int:
    """The column count (2 or 3) shared by every row."""
    if not rows:
        return 0
    number, fields = rows[0]
    width = len(fields)
    if width not in (2, 3) or (width == 2 and require_labels):
        allowed = "3 columns (id_a, id_b, label)" if require_labels else "2 or 3 columns"
        missing = "labels missing: " if width == 2 else ""
        raise InputError(f"{path}:{number}: {missing}expected {allowed}, got {width}")
    for number, fields in rows:
        if len(fields) != width:
            raise InputError(
                f"{path}:{number}: expected {width} columns like line {rows[0][0]}, "
                f"got {len(fields)}"
            )
    return width


def _parse_row(path: Path, number: int, fields: list[str], width: int) -> Pair:
    if not fields[0] or not fields[1]:
        raise InputError(f"{path}:{number}: expected two protein ids, got {fields[:2]!r}")
    if width == 2:
        return Pair(fields[0], fields[1], None)
    label = _LABELS.get(fields[2])
    if label is None:
        raise InputError(f"{path}:{number}: expected label 0 or 1, got {fields[2]!r}")
    return Pair(fields[0], fields[1], label)


def _check_known(
    path: Path, pairs: list[Pair], known_ids: Collection[str], fasta_name: str | None
) -> None:
    """One error listing how many ids (and pairs) have no sequence."""
    unknown = dict.fromkeys(x for p in pairs for x in (p.a, p.b) if x not in known_ids)
    if not unknown:
        return
    n_pairs = sum(p.a in unknown or p.b in unknown for p in pairs)
    first = ", ".join(list(unknown)[:_SHOW_UNKNOWN])
    more = ", ..." if len(unknown) > _SHOW_UNKNOWN else ""
    raise InputError(
        f"{path}: {_count(len(unknown), 'id')} in {_count(n_pairs, 'pair')} "
        f"{'is' if len(unknown) == 1 else 'are'} not in {fasta_name or 'the sequence file'} "
        f"(first: {first}{more})"
    )


def pair_key(pair: Pair) -> tuple[str, str]:
    """The pair's two ids in sorted order: A-B and B-A have one key."""
    return (pair.a, pair.b) if pair.a <= pair.b else (pair.b, pair.a)


def each_pair_once(pairs: Iterable[Pair], where: str = "pairs") -> list[Pair]:
    """The pairs with every repeat of an earlier pair (either order) dropped; the first is kept.

    A split of pairs with repeats could put one pair on two sides (in training
    and in the test). How many were dropped is logged, naming ``where``.
    """
    pairs = list(pairs)
    first: dict[tuple[str, str], Pair] = {}
    for pair in pairs:
        first.setdefault(pair_key(pair), pair)
    kept = list(first.values())
    dropped = len(pairs) - len(kept)
    if dropped:
        logger.info(
            "%s: %s of an earlier pair dropped: each pair is kept once (its first line), "
            "so no pair is on two sides of the split",
            where,
            _count(dropped, "repeat"),
        )
    return kept


def _check_one_label(path: Path, numbers: list[int], pairs: list[Pair]) -> None:
    """A pair listed again (either order) with another label: an error naming both lines."""
    first: dict[tuple[str, str], tuple[int, Pair]] = {}
    for number, pair in zip(numbers, pairs, strict=True):
        line, earlier = first.setdefault(pair_key(pair), (number, pair))
        if earlier.label != pair.label:
            raise InputError(
                f"{path}:{number}: expected one label per pair, got {pair.a} {pair.b} "
                f"with label {pair.label:g} here and {earlier.label:g} at line {line}; "
                "keep one of the two lines"
            )


class Repeats(NamedTuple):
    """Pairs that repeat an earlier one (either order), and those whose label differs."""

    repeats: int
    conflicts: int
    first_conflict: tuple[str, str] | None


def count_repeats(pairs: Iterable[Pair]) -> Repeats:
    """How many pairs repeat an earlier pair in either order, and how many disagree on the label."""
    seen: dict[tuple[str, str], float | None] = {}
    repeats = conflicts = 0
    first = None
    for pair in pairs:
        key = pair_key(pair)
        if key not in seen:
            seen[key] = pair.label
            continue
        repeats += 1
        if seen[key] != pair.label:
            conflicts += 1
            first = first or key
    return Repeats(repeats, conflicts, first)


def _log_duplicates(path: Path, pairs: list[Pair]) -> None:
    """Log pairs that repeat (in either order), warning when their labels disagree."""
    found = count_repeats(pairs)
    if found.repeats:
        level = logging.WARNING if found.conflicts else logging.INFO
        logger.log(
            level,
            "%s: %s repeat an earlier pair (either order), %d with a different label",
            path,
            _count(found.repeats, "pair"),
            found.conflicts,
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
