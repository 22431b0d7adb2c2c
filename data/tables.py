"""Tables of sequences with labels (single-protein tasks), from CSV, TSV or parquet.

The format follows the extension: ``.csv``, ``.tsv``/``.tab`` (optionally
``.gz``) or ``.parquet``/``.pq``. Every sequence is checked with
:func:`ppi.data.fasta.validate_sequence`; errors name the file, the data row
(counted from 1, header excluded) and the row's id.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ppi.data._io import not_utf8, require_file
from ppi.data.fasta import log_ambiguous, validate_sequence
from ppi.errors import InputError

_TEXT_FORMATS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_PARQUET_FORMATS = (".parquet", ".pq")


@dataclass(frozen=True)
class SequenceTable:
    """Rows of a sequence table, in file order.

    Attributes:
        ids: one id per row (the id column, or ``row<N>`` with N from 1).
        seqs: clean sequences (ambiguous codes read as ``X``).
        labels: one label per row; a list of labels per row for multi-label
            tables; ``None`` when the table was read without a label column.
    """

    ids: list[str]
    seqs: list[str]
    labels: list[str] | list[list[str]] | None

    def __len__(self) -> int:
        return len(self.ids)


def read_table(
    path: str | os.PathLike,
    sequence_column: str = "sequence",
    label_column: str | None = "label",
    id_column: str | None = None,
    label_separator: str | None = None,
) -> SequenceTable:
    """Read a sequence table.

    Args:
        path: a ``.csv``, ``.tsv`` or ``.parquet`` file.
        sequence_column: the column holding the sequences.
        label_column: the column holding the labels; ``None`` reads no labels.
        id_column: the column holding unique ids; ``None`` names rows ``row<N>``.
        label_separator: when set, each label cell is split on it into a list
            of labels (multi-label); an empty cell is an empty list.

    Returns:
        The table's ids, sequences and labels.

    Raises:
        InputError: unreadable or empty table, a missing column (the message
            lists the columns present), an empty or duplicate id, an invalid
            sequence or an empty label.
    """
    path = require_file(path, "table")
    frame = _load_frame(path)
    if len(frame) == 0:
        raise InputError(f"{path}: expected at least one row, got an empty table")
    roles = {"sequence": sequence_column, "label": label_column, "id": id_column}
    for role, column in roles.items():
        if column is not None and column not in frame.columns:
            present = ", ".join(map(str, frame.columns))
            raise InputError(f"{path}: {role} column '{column}' not found (columns: {present})")
    ids = _ids(path, frame[id_column].tolist() if id_column else None, len(frame))
    seqs = _sequences(path, frame[sequence_column].tolist(), ids)
    labels = None
    if label_column is not None:
        labels = _labels(path, frame[label_column].tolist(), ids, label_column, label_separator)
    return SequenceTable(ids=ids, seqs=seqs, labels=labels)


def _load_frame(path: Path) -> pd.DataFrame:
    """The file as a DataFrame of strings (CSV/TSV) or typed columns (parquet)."""
    name = path.name.lower().removesuffix(".gz")
    suffix = Path(name).suffix
    if suffix in _PARQUET_FORMATS:
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: expected a parquet table, got {_first_line(exc)}") from None
    if suffix not in _TEXT_FORMATS:
        raise InputError(
            f"{path}: expected a .csv, .tsv or .parquet table, got extension '{suffix}'"
        )
    try:
        return pd.read_csv(path, sep=_TEXT_FORMATS[suffix], dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: expected a header and rows, got an empty file") from None
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: expected a {suffix[1:]} table, got {_first_line(exc)}") from None


def _ids(path: Path, values: list[Any] | None, n_rows: int) -> list[str]:
    """Ids from the id column (non-empty, unique), or ``row1``, ``row2``, ..."""
    if values is None:
        return [f"row{row}" for row in range(1, n_rows + 1)]
    ids: list[str] = []
    first_row: dict[str, int] = {}
    for row, value in enumerate(values, start=1):
        rid = "" if _is_missing(value) else str(value).strip()
        if not rid:
            raise InputError(f"{path}: row {row}: expected an id, got an empty cell")
        if rid in first_row:
            raise InputError(
                f"{path}: row {row}: duplicate id '{rid}' (first at row {first_row[rid]})"
            )
        first_row[rid] = row
        ids.append(rid)
    return ids


def _sequences(path: Path, values: list[Any], ids: list[str]) -> list[str]:
    seqs: list[str] = []
    n_ambiguous = n_records = 0
    for row, (value, rid) in enumerate(zip(values, ids, strict=True), start=1):
        where = f"{path}: row {row} (id '{rid}')"
        if _is_missing(value) or not isinstance(value, str):
            got = "an empty cell" if _is_missing(value) else type(value).__name__
            raise InputError(f"{where}: expected a sequence string, got {got}")
        seq, n_amb = validate_sequence(value, where)
        seqs.append(seq)
        n_ambiguous += n_amb
        n_records += n_amb > 0
    log_ambiguous(path, n_ambiguous, n_records)
    return seqs


def _labels(
    path: Path, values: list[Any], ids: list[str], column: str, separator: str | None
) -> list[str] | list[list[str]]:
    labels: list[Any] = []
    for row, (value, rid) in enumerate(zip(values, ids, strict=True), start=1):
        text = "" if _is_missing(value) else str(value).strip()
        if separator is not None:
            labels.append([part.strip() for part in text.split(separator) if part.strip()])
        elif text:
            labels.append(text)
        else:
            raise InputError(
                f"{path}: row {row} (id '{rid}'): expected a label in column '{column}', "
                "got an empty cell"
            )
    return labels


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
