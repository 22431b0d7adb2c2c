"""File helpers shared by the readers: gzip-aware text reading (writes: :mod:`ppi.utils.files`)."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

from ppi.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"


def require_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a :class:`Path`, or an error if it is not an existing file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"{path}: {what} not found")
    if not path.is_file():
        raise InputError(f"{path}: expected a {what}, got a directory or special file")
    return path


def is_gzip(path: Path) -> bool:
    """Whether the file starts with the gzip magic bytes (whatever its extension)."""
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


@contextlib.contextmanager
def gzip_errors(path: Path) -> Iterator[None]:
    """Turn a truncated or corrupt gzip stream read inside the block into :class:`InputError`."""
    try:
        yield
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(
            f"{path}: expected a readable gzip file, got a damaged one ({exc})"
        ) from None


@contextlib.contextmanager
def xml_errors(path: Path) -> Iterator[None]:
    """Turn an XML declaration of an encoding Python does not know into :class:`InputError`."""
    try:
        yield
    except LookupError as exc:  # expat asks the codec registry for the declared encoding
        raise InputError(
            f"{path}:1: expected an XML encoding such as UTF-8 in the declaration, got {exc}"
        ) from None


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` pairs (1-based, newline stripped).

    The file may be plain or gzip-compressed UTF-8 text; anything else raises
    :class:`InputError` naming the file.
    """
    raw = gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")
    try:
        with gzip_errors(path), raw, io.TextIOWrapper(raw, encoding="utf-8-sig") as text:
            for number, line in enumerate(text, start=1):
                yield number, line.rstrip("\n")
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None


def not_utf8(path: Path, exc: UnicodeDecodeError) -> InputError:
    """The error for a file that is not UTF-8, naming the first line that is not.

    Text is decoded in chunks, so the position in ``exc`` is not the line's;
    a second pass over the bytes finds it (a newline never falls inside a
    multi-byte UTF-8 character, so lines decode on their own).
    """
    opener = gzip.open if is_gzip(path) else open
    with gzip_errors(path), opener(path, "rb") as raw:
        for number, line in enumerate(raw, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as bad:
                return InputError(
                    f"{path}:{number}: expected UTF-8 text, got undecodable byte "
                    f"{line[bad.start : bad.start + 1]!r} at column {bad.start + 1} ({bad.reason})"
                )
    return InputError(f"{path}: expected UTF-8 text, got undecodable bytes ({exc.reason})")
