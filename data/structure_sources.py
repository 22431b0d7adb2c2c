"""Where a protein's structure file is: a mapping table or a folder searched by accession.

A mapping table is a TSV (or CSV) with ``id``, ``path`` and optionally
``chain`` columns (header optional; relative paths are relative to the
table's folder). A folder is searched for ``<id>.pdb``, ``<id>.cif`` (each
also ``.ent``/``.mmcif`` and gzipped) and the AlphaFold DB name
``AF-<id>-F1-model_v4.pdb``.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from ppi.data._io import read_lines, require_file
from ppi.data.examples import resolve
from ppi.errors import InputError

EXTENSIONS = (".pdb", ".cif", ".ent", ".mmcif")
ALPHAFOLD_NAME = "AF-{id}-F1-model_v4.pdb"


class StructureSource(NamedTuple):
    """A structure file and the chains to read from it (empty = all)."""

    path: Path
    chain: str = ""


def read_mapping(path: str | Path) -> dict[str, StructureSource]:
    """Read a ``id<TAB>path[<TAB>chain]`` table.

    Raises:
        InputError: a row with fewer than two fields, naming the line.
    """
    path = require_file(resolve(path), "structure mapping table")
    table: dict[str, StructureSource] = {}
    for number, line in read_lines(path):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.replace(",", "\t").split("\t")]
        if len(fields) < 2:
            raise InputError(
                f"{path}:{number}: expected 'id<TAB>path[<TAB>chain]', got {line[:60]!r}"
            )
        if number == 1 and fields[0].lower() == "id" and fields[1].lower() == "path":
            continue
        file = Path(fields[1]).expanduser()
        table[fields[0]] = StructureSource(
            file if file.is_absolute() else path.parent / file,
            fields[2] if len(fields) > 2 else "",
        )
    return table


def find_in_folder(folder: Path, pid: str) -> Path | None:
    """The first structure file named after ``pid`` in ``folder``, if any."""
    names = [pid + ext for ext in EXTENSIONS] + [ALPHAFOLD_NAME.format(id=pid)]
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


class StructureLocator:
    """Finds each protein's structure: the mapping table first, then the folder."""

    def __init__(self, folder: str = "", mapping: str = "", chain: str = "") -> None:
        self.folder = Path(resolve(folder)).expanduser() if folder else None
        if self.folder is not None and not self.folder.is_dir():
            raise InputError(f"{self.folder}: expected a folder of structure files, got none")
        self.table_path = (
            require_file(resolve(mapping), "structure mapping table") if mapping else None
        )
        self.table = read_mapping(self.table_path) if mapping else {}
        self.chain = chain

    def __call__(self, pid: str) -> StructureSource | None:
        """Where ``pid``'s structure is, or None."""
        if pid in self.table:
            found = self.table[pid]
            return found if found.chain else StructureSource(found.path, self.chain)
        if self.folder is not None:
            path = find_in_folder(self.folder, pid)
            if path is not None:
                return StructureSource(path, self.chain)
        return None
