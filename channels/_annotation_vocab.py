"""Turning stored annotations into term indices: leak filtering, propagation, vocabularies.

The vocabulary is fitted on the training proteins only (terms seen in at
least ``min_freq`` of them) and saved with the model, so a trained model
reads new proteins' annotations with the same indices. Index 0 is padding;
terms outside the vocabulary are dropped.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ppi.data.annotations import Annotation
from ppi.data.go_ontology import Ontology
from ppi.errors import InputError
from ppi.utils.files import atomic_write_text

VOCAB_FILE = "vocabulary.json"


@dataclass(frozen=True)
class LeakFilter:
    """Annotations that record the interactions a pair model predicts.

    Attributes:
        active: whether the filter removes anything (pair task, leaky terms not allowed).
        terms: term ids removed (GO:0005515 "protein binding").
        evidence: evidence codes removed (IPI, "inferred from physical interaction").
    """

    active: bool
    terms: tuple[str, ...]
    evidence: tuple[str, ...]

    def keep(self, ann: Annotation) -> bool:
        """Whether ``ann`` may be used."""
        return not self.active or (ann.term not in self.terms and ann.evidence not in self.evidence)


@dataclass
class Vocabulary:
    """Per-namespace term lists (index = position + offset of the namespace) and what was excluded.

    Attributes:
        namespaces: the namespaces, in token order.
        terms: namespace -> terms; one shared index space over all namespaces, from 1.
        leak: the leak filter the vocabulary was fitted with (applies to every later protein).
        excluded: how many training annotations the leak filter removed, per term or code.
        min_freq: the minimum number of training proteins a term needed.
    """

    namespaces: tuple[str, ...]
    terms: dict[str, list[str]]
    leak: LeakFilter
    excluded: dict[str, int] = field(default_factory=dict)
    min_freq: int = 1

    def __post_init__(self) -> None:
        self.index: dict[tuple[str, str], int] = {}
        for ns in self.namespaces:
            for term in self.terms.get(ns, []):
                self.index[(ns, term)] = len(self.index) + 1

    def __len__(self) -> int:
        return len(self.index)

    def encode(self, anns: Iterable[Annotation], ontology: Ontology | None) -> list[list[int]]:
        """Term indices per namespace of one protein (leaky and unknown terms dropped)."""
        out: list[list[int]] = [[] for _ in self.namespaces]
        slot = {ns: i for i, ns in enumerate(self.namespaces)}
        for ns, term in sorted(usable_terms(anns, self.leak, ontology)):
            i = self.index.get((ns, term))
            if i is not None and ns in slot:
                out[slot[ns]].append(i)
        return [sorted(part) for part in out]  # most frequent terms first

    def save(self, directory: Path) -> None:
        """Write ``vocabulary.json`` (terms, leak filter and the exclusion counts)."""
        data = {
            "namespaces": list(self.namespaces),
            "min_freq": self.min_freq,
            "leak_filter": asdict(self.leak),
            "excluded_in_training": self.excluded,
            "terms": self.terms,
        }
        atomic_write_text(directory / VOCAB_FILE, json.dumps(data, indent=1))

    @classmethod
    def load(cls, directory: Path) -> Vocabulary:
        """Read what :meth:`save` wrote."""
        path = directory / VOCAB_FILE
        if not path.is_file():
            raise InputError(f"{directory}: model folder has no annotation {VOCAB_FILE}")
        data = json.loads(path.read_text())
        leak = data["leak_filter"]
        return cls(
            tuple(data["namespaces"]),
            data["terms"],
            LeakFilter(leak["active"], tuple(leak["terms"]), tuple(leak["evidence"])),
            data.get("excluded_in_training", {}),
            data.get("min_freq", 1),
        )


def usable_terms(
    anns: Iterable[Annotation], leak: LeakFilter, ontology: Ontology | None
) -> set[tuple[str, str]]:
    """``(namespace, term)`` of the annotations the filter keeps, with GO ancestors if given.

    Leaky annotations are dropped before propagation, so "protein binding"
    does not come back as its parent "binding".
    """
    out = set()
    for ann in anns:
        if not leak.keep(ann):
            continue
        out.add((ann.namespace, ann.term))
        if ontology is not None and ann.term.startswith("GO:"):
            out.update((ann.namespace, t) for t in ontology.ancestors(ann.term))
    return out


def fit_vocabulary(
    annotations: dict[str, list[Annotation]],
    namespaces: tuple[str, ...],
    leak: LeakFilter,
    min_freq: int,
    ontology: Ontology | None = None,
) -> Vocabulary:
    """The terms used by at least ``min_freq`` of the given (training) proteins.

    Args:
        annotations: accession -> its stored annotations (training proteins only).
        namespaces: namespaces to keep.
        leak: the leak filter.
        min_freq: minimum number of proteins per term.
        ontology: GO graph for propagation to ancestors (optional).
    """
    counts: Counter[tuple[str, str]] = Counter()
    excluded: Counter[str] = Counter()
    for anns in annotations.values():
        counts.update(usable_terms(anns, leak, ontology))
        for ann in anns:
            if not leak.keep(ann):
                excluded[ann.term if ann.term in leak.terms else f"evidence:{ann.evidence}"] += 1
    terms = {
        ns: sorted(
            (t for (n, t), c in counts.items() if n == ns and c >= min_freq),
            key=lambda t, ns=ns: (-counts[(ns, t)], t),
        )
        for ns in namespaces
    }
    return Vocabulary(namespaces, terms, leak, dict(excluded), min_freq)
