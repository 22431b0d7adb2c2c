"""Per-protein numeric property tables, and the built-in ProtParam property set.

A table is CSV or TSV (optionally gzipped): a header, an id column (the
first, or the one named), then numeric columns. The built-in set is computed
from the sequence with Biopython's ``ProtParam``: log length, the 20 amino
acid fractions, log molecular weight, isoelectric point, GRAVY and the
instability index (Guruprasad et al. 1990); optionally also the 400
dipeptide frequencies (:func:`composition`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from Bio.SeqUtils.ProtParam import ProteinAnalysis

from ppi.data._io import read_lines, require_file
from ppi.data.examples import resolve
from ppi.errors import InputError

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
_INDEX = {a: n for n, a in enumerate(AMINO_ACIDS)}
DIPEPTIDE_COLUMNS = tuple(f"dipeptide_{a}{b}" for a in AMINO_ACIDS for b in AMINO_ACIDS)
BUILTIN_COLUMNS = (
    "log_length",
    *(f"frac_{a}" for a in AMINO_ACIDS),
    "log_mol_weight",
    "isoelectric_point",
    "gravy",
    "instability",
)


def composition(seq: str) -> np.ndarray:
    """Amino-acid (20) then dipeptide (400) composition of one sequence (others ignored).

    Shapes:
        returns ``(420,)``.
    """
    idx = np.array([_INDEX.get(c, -1) for c in seq.upper()], dtype=np.int64)
    single = np.bincount(idx[idx >= 0], minlength=20).astype(np.float64)
    both = (idx[:-1] >= 0) & (idx[1:] >= 0)
    dipep = np.bincount(idx[:-1][both] * 20 + idx[1:][both], minlength=400).astype(np.float64)
    return np.concatenate([single / max(single.sum(), 1), dipep / max(dipep.sum(), 1)])


def builtin_properties(seq: str) -> list[float]:
    """The built-in properties of one sequence (residues other than the 20 are ignored)."""
    clean = "".join(c for c in seq.upper() if c in AMINO_ACIDS)
    if not clean:
        return [math.log(max(len(seq), 1))] + [0.0] * (len(BUILTIN_COLUMNS) - 1)
    pa = ProteinAnalysis(clean)
    counts = pa.count_amino_acids()
    fractions = [counts[a] / len(clean) for a in AMINO_ACIDS]
    return [
        math.log(len(seq)),
        *fractions,
        math.log(pa.molecular_weight()),
        pa.isoelectric_point(),
        pa.gravy(),
        pa.instability_index(),
    ]


@dataclass(frozen=True)
class PropertyTable:
    """Rows of a property table.

    Attributes:
        path: the file read.
        columns: the numeric columns' names, in file order.
        rows: id -> values.
    """

    path: Path
    columns: tuple[str, ...]
    rows: dict[str, list[float]]


def read_header(path: str | os.PathLike, id_column: str = "") -> tuple[str, ...]:
    """The numeric column names of a property table (without reading the rows)."""
    path = require_file(resolve(path), "property table")
    _, line = next(read_lines(path), (1, ""))
    header = _split(line)
    return tuple(h for i, h in enumerate(header) if i != _id_index(path, header, id_column))


def read_property_table(path: str | os.PathLike, id_column: str = "") -> PropertyTable:
    """Read a property table; a value that is not a number is an error naming line and column."""
    path = require_file(resolve(path), "property table")
    lines = read_lines(path)
    _, first = next(lines, (1, ""))
    header = _split(first)
    key = _id_index(path, header, id_column)
    columns = tuple(h for i, h in enumerate(header) if i != key)
    if not columns:
        raise InputError(f"{path}:1: expected an id column and numeric columns, got {header}")
    rows: dict[str, list[float]] = {}
    for number, line in lines:
        if not line.strip():
            continue
        fields = _split(line)
        if len(fields) != len(header):
            raise InputError(f"{path}:{number}: expected {len(header)} columns, got {len(fields)}")
        values = [_number(path, number, header[i], f) for i, f in enumerate(fields) if i != key]
        if fields[key] in rows:
            raise InputError(f"{path}:{number}: id {fields[key]!r} appears twice")
        rows[fields[key]] = values
    return PropertyTable(path, columns, rows)


def _split(line: str) -> list[str]:
    return [x.strip() for x in (line.split("\t") if "\t" in line else line.split(","))]


def _id_index(path: Path, header: list[str], id_column: str) -> int:
    if not id_column:
        return 0
    if id_column not in header:
        raise InputError(f"{path}:1: expected an id column {id_column!r}, got columns {header}")
    return header.index(id_column)


def _number(path: Path, number: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InputError(f"{path}:{number}: column {column!r}: expected a number, got {text!r}")
    return value
