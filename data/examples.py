"""Bundled example data, addressed as ``example:<dataset>/<file>``.

The files live in ``ppi/data/examples/`` as package data, so the references
work from a source checkout and from an installed wheel alike::

    resolve("example:guo_yeast/pairs.tsv")     # the bundled file
    resolve("~/runs/pairs.tsv")                # any other string: a plain path
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from ppi.errors import InputError

PREFIX = "example:"
#: files in every example folder that describe it rather than hold data
_ABOUT = ("LICENSE", "SOURCE.md")


def examples_root() -> Path:
    """The folder holding the bundled examples."""
    root = files("ppi.data") / "examples"
    if not isinstance(root, Path):
        raise InputError(
            f"bundled examples: expected a package installed as files, got {type(root).__name__}; "
            "install ppi from a wheel or a source folder"
        )
    return root


def available() -> list[str]:
    """The bundled data files as ``<dataset>/<file>``, sorted."""
    root = examples_root()
    return sorted(
        f"{path.parent.name}/{path.name}"
        for path in root.glob("*/*")
        if path.is_file() and path.name not in _ABOUT
    )


def resolve(path_or_ref: str | os.PathLike) -> Path:
    """A bundled example for ``example:<dataset>/<file>``, else the path itself.

    Args:
        path_or_ref: ``"example:guo_yeast/pairs.tsv"`` (a file or folder of the
            bundled examples) or an ordinary path (``~`` is expanded; it is not
            checked here, the reader that opens it reports a missing file).

    Returns:
        The path to read.

    Raises:
        InputError: an example reference naming nothing bundled; the message
            lists the available example files.
    """
    text = os.fspath(path_or_ref)
    if not text.startswith(PREFIX):
        return Path(text).expanduser()
    name = text[len(PREFIX) :].strip().strip("/")
    parts = name.split("/")
    root = examples_root()
    target = root.joinpath(*parts)
    if not name or ".." in parts or not target.exists():
        raise InputError(
            f"{text}: expected a bundled example, got no such file "
            f"(available: {', '.join(available())})"
        )
    return target
