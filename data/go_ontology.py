"""The GO graph from an OBO file, for propagating annotations to ancestor terms.

Only ``[Term]`` stanzas are read; ``is_a`` and ``relationship: part_of``
edges lead to parents (the relations GO itself uses for propagation), and
obsolete terms are skipped.
"""

from __future__ import annotations

import os
from typing import Any

from ppi.data._io import read_lines, require_file
from ppi.data.examples import resolve
from ppi.errors import InputError


class Ontology:
    """Term -> parents, with memoised ancestor sets."""

    def __init__(self, parents: dict[str, set[str]], source: str = "") -> None:
        self.parents = parents
        self.source = source
        self._ancestors: dict[str, frozenset[str]] = {}

    def __len__(self) -> int:
        return len(self.parents)

    def ancestors(self, term: str) -> frozenset[str]:
        """Every term reachable from ``term`` (the term itself excluded)."""
        if term in self._ancestors:
            return self._ancestors[term]
        seen: set[str] = set()
        stack = list(self.parents.get(term, ()))
        while stack:
            parent = stack.pop()
            if parent not in seen:
                seen.add(parent)
                stack.extend(self.parents.get(parent, ()))
        self._ancestors[term] = frozenset(seen)
        return self._ancestors[term]


def read_obo(path: str | os.PathLike) -> Ontology:
    """Read the ``is_a``/``part_of`` graph of an OBO file (e.g. ``go-basic.obo``)."""
    path = require_file(resolve(path), "ontology (OBO) file")
    parents: dict[str, set[str]] = {}
    stanza: dict[str, Any] | None = None
    for _, line in read_lines(path):
        if line.startswith("["):
            _close(stanza, parents)
            stanza = (
                {"id": "", "edges": set(), "obsolete": False} if line.strip() == "[Term]" else None
            )
        elif stanza is not None and ":" in line:
            _read_tag(stanza, line)
    _close(stanza, parents)
    if not parents:
        raise InputError(f"{path}: expected an OBO ontology with [Term] stanzas, got none")
    return Ontology(parents, str(path))


def _read_tag(stanza: dict[str, Any], line: str) -> None:
    key, value = (x.strip() for x in line.split(":", 1))
    value = value.split("!")[0].strip()
    if key == "id":
        stanza["id"] = value
    elif key == "is_a":
        stanza["edges"].add(value.split()[0])
    elif key == "relationship" and value.startswith("part_of "):
        stanza["edges"].add(value.split()[1])
    elif key == "is_obsolete" and value == "true":
        stanza["obsolete"] = True


def _close(stanza: dict[str, Any] | None, parents: dict[str, set[str]]) -> None:
    if stanza and stanza["id"] and not stanza["obsolete"]:
        parents.setdefault(stanza["id"], set()).update(stanza["edges"])
