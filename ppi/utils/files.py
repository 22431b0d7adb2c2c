"""Atomic writes: readers only ever see a whole file, never half of one.

Every file the project writes goes through :func:`atomic_file` (or
:func:`atomic_write` on top of it): the bytes go
to a temporary file beside the target, which then replaces it in one
``os.replace``. The file gets the usual permissions (``0o666`` minus the
umask), as ``open()`` would give it: a shared cache, an index or a model
folder is readable by whoever may read the folder.
"""

from __future__ import annotations

import gzip
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from ppi.errors import InputError

if TYPE_CHECKING:
    import torch

T = TypeVar("T")


def atomic_file(path: str | os.PathLike, fill: Callable[[Path], T]) -> T:
    """Let ``fill`` write a temporary file beside ``path``, then put it in place.

    ``fill`` gets the temporary file's path (for writers that want a path,
    such as SQLite); what it returns is returned. If it raises, the temporary
    file is removed and ``path`` is left as it was.
    """
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        result = fill(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return result


def atomic_write(
    path: str | os.PathLike,
    data: bytes | Callable[[IO[bytes]], Any],
    check: Callable[[Path], Any] | None = None,
) -> Path:
    """Write ``data`` (bytes, or a function writing to a binary handle) to ``path`` atomically.

    ``check``, if given, reads the finished temporary file before it replaces
    ``path`` and raises to keep it out (e.g. a downloaded archive that is not
    what was expected).
    """

    def fill(tmp: Path) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            if callable(data):
                data(handle)
            else:
                handle.write(data)
        if check is not None:
            check(tmp)

    atomic_file(path, fill)
    return Path(path).expanduser()


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` atomically; a name ending in ``.gz`` is written gzip-compressed."""
    path = Path(path).expanduser()
    data = text.encode("utf-8")
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    return atomic_write(path, data)


def atomic_save_tensors(tensors: dict[str, torch.Tensor], path: str | os.PathLike) -> Path:
    """Write a safetensors file atomically."""
    from safetensors.torch import save

    return atomic_write(path, save(tensors))


def output_file(path: str | Path, option: str = "--out") -> Path:
    """``path`` as a file to write: an error if it is an existing folder or names one."""
    if str(path).endswith(("/", os.sep)):
        raise InputError(f"{option} {path}: expected a file to write, got a folder (ending in /)")
    path = Path(path).expanduser()
    if path.is_dir():
        raise InputError(f"{option} {path}: expected a file to write, got an existing folder")
    _parent_is_a_folder(path, option)
    return path


def output_dir(path: str | Path, option: str = "--out") -> Path:
    """``path`` as a folder to write into: an error if it is an existing file."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} {path}: expected a folder (new or existing), got a file")
    _parent_is_a_folder(path, option)
    return path


def _parent_is_a_folder(path: Path, option: str) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"{option} {path}: expected {parent} to be a folder, got a file")
            return
