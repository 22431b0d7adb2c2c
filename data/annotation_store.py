"""The annotation store: one SQLite file of terms keyed by UniProt accession.

Table ``annotations``: accession, term, namespace, evidence code, source and
date (one row per distinct combination); table ``terms``: readable names;
table ``meta``: a version that changes with every write (it keys cached
representations that depend on the store).

Writes never leave a half-written store: new rows go into a copy of the
store that replaces it (``os.replace``) only once every source was read
without error.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path

from ppi.data.annotations import Annotation
from ppi.data.examples import resolve
from ppi.errors import InputError
from ppi.utils.files import atomic_file

SQLITE_MAGIC = b"SQLite format 3\x00"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS annotations (
    accession TEXT NOT NULL, term TEXT NOT NULL, namespace TEXT NOT NULL,
    evidence TEXT NOT NULL, source TEXT NOT NULL, date TEXT NOT NULL,
    PRIMARY KEY (accession, term, evidence, source)
);
CREATE INDEX IF NOT EXISTS annotations_accession ON annotations (accession);
CREATE TABLE IF NOT EXISTS terms (term TEXT PRIMARY KEY, namespace TEXT, name TEXT);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


def write_store(path: str | os.PathLike, records: Iterable[Annotation], batch: int = 5000) -> int:
    """Add ``records`` to the store at ``path`` (created if absent); returns the rows read.

    The records are written into a temporary copy that replaces the store
    only when all were read; an error while reading leaves the store as it was.
    """
    path = check_store_file(path)

    def fill(tmp: Path) -> int:
        if path.exists():
            shutil.copyfile(path, tmp)
        try:
            return _insert(tmp, records, batch)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{path}: expected an annotation store, got {exc}") from None

    return atomic_file(path, fill)


def check_store_file(path: str | os.PathLike) -> Path:
    """``path`` as a store to write: absent, empty or an SQLite file, else an error.

    Commands call it before reading their sources, so a wrong ``--store``
    stops them before any work.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise InputError(f"{path}: expected an annotation store (an SQLite file), got a folder")
    if path.exists():
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
        if head and head != SQLITE_MAGIC:
            raise InputError(
                f"{path}: expected an annotation store (an SQLite file), "
                f"got a file starting with {head!r}"
            )
    return path


def _insert(path: Path, records: Iterable[Annotation], batch: int) -> int:
    count = 0
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(_SCHEMA)
        rows, names = [], []
        for rec in records:
            rows.append(
                (rec.accession, rec.term, rec.namespace, rec.evidence, rec.source, rec.date)
            )
            if rec.name:
                names.append((rec.term, rec.namespace, rec.name))
            count += 1
            if len(rows) >= batch:
                _flush(conn, rows, names)
        _flush(conn, rows, names)
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (uuid.uuid4().hex,))
        conn.commit()
    return count


def _flush(conn: sqlite3.Connection, rows: list, names: list) -> None:
    conn.executemany("INSERT OR IGNORE INTO annotations VALUES (?, ?, ?, ?, ?, ?)", rows)
    conn.executemany("INSERT OR IGNORE INTO terms VALUES (?, ?, ?)", names)
    rows.clear()
    names.clear()


class AnnotationStore:
    """Read access to a store written by :func:`write_store`.

    Args:
        path: the SQLite file (``example:`` references allowed).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = resolve(path)
        if not self.path.is_file():
            raise InputError(
                f"{self.path}: annotation store not found "
                "(build one with `ppi annotations build` or `ppi fetch-uniprot`)"
            )
        try:
            with closing(self._connect()) as conn:
                row = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: expected an annotation store, got {exc}") from None
        self.version = row[0] if row else ""

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)

    def annotations(
        self, accessions: Iterable[str], chunk: int = 500
    ) -> dict[str, list[Annotation]]:
        """Every stored term of each accession (accessions without any are absent)."""
        accs = list(dict.fromkeys(accessions))
        out: dict[str, list[Annotation]] = {}
        with closing(self._connect()) as conn:
            for start in range(0, len(accs), chunk):
                part = accs[start : start + chunk]
                marks = ",".join("?" * len(part))
                query = f"SELECT * FROM annotations WHERE accession IN ({marks}) ORDER BY rowid"
                for row in conn.execute(query, part):
                    out.setdefault(row[0], []).append(Annotation(*row))
        return out

    def __iter__(self) -> Iterator[Annotation]:
        with closing(self._connect()) as conn:
            for row in conn.execute("SELECT * FROM annotations ORDER BY rowid"):
                yield Annotation(*row)

    def accessions(self) -> set[str]:
        """Every accession with at least one term."""
        with closing(self._connect()) as conn:
            return {r[0] for r in conn.execute("SELECT DISTINCT accession FROM annotations")}

    def summary(self) -> dict[str, int]:
        """Rows per namespace, plus ``accessions``."""
        with closing(self._connect()) as conn:
            out = dict(
                conn.execute("SELECT namespace, COUNT(*) FROM annotations GROUP BY namespace")
            )
            out["accessions"] = conn.execute(
                "SELECT COUNT(DISTINCT accession) FROM annotations"
            ).fetchone()[0]
        return out
