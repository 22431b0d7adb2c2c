"""The annotation objective of ``ppi pretrain``: GO terms of a protein, and CAFA's Fmax.

Terms come from an annotation store (``ppi annotations build``) or a GO
table (``example:go_yeast/go_annotations.tsv.gz``, gene symbols mapped to
accessions through ``pretrain.id_map``). As in the annotation channel the
leaky ones, GO:0005515 ("protein binding") and IPI evidence, are excluded,
and a term is kept when at least ``min_freq`` training proteins carry it.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from ppi.channels._annotation_vocab import LeakFilter
from ppi.data.annotations import Annotation
from ppi.data.examples import resolve
from ppi.errors import InputError

GO_SPACES = ("go_bp", "go_mf", "go_cc")


def read_terms(source: str, id_map: str) -> dict[str, set[str]]:
    """Accession -> its GO terms, from a store (``.sqlite``/``.db``) or a GO gene table."""
    path = resolve(source)
    if path.suffix in (".sqlite", ".db"):
        from ppi.data.annotation_store import AnnotationStore

        records = iter(AnnotationStore(path))
    else:
        from ppi.data.go_files import read_go_gene_table
        from ppi.data.id_map import read_id_map

        if not id_map:
            raise InputError(
                f"pretrain.annotations={source}: a GO table names genes; set pretrain.id_map "
                "(e.g. the reviewed proteome FASTA, whose GN= fields map them)"
            )
        records = read_go_gene_table(path, read_id_map(resolve(id_map)))
    return _filtered(records, LeakFilter(True, ("GO:0005515",), ("IPI",)))


def _filtered(records, leak: LeakFilter) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for ann in records:
        ann: Annotation
        if ann.namespace in GO_SPACES and leak.keep(ann):
            out.setdefault(ann.accession, set()).add(ann.term)
    return out


def vocabulary(terms: dict[str, set[str]], train: list[str], min_freq: int) -> list[str]:
    """Terms carried by at least ``min_freq`` training proteins, most frequent first."""
    counts = Counter(t for pid in train for t in terms.get(pid, ()))
    return sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))


def targets(terms: dict[str, set[str]], ids: list[str], vocab: list[str]) -> torch.Tensor:
    """Multi-hot term matrix ``(N, T)``; a protein without terms is a zero row."""
    index = {t: i for i, t in enumerate(vocab)}
    out = torch.zeros(len(ids), len(vocab))
    for row, pid in enumerate(ids):
        cols = [index[t] for t in terms.get(pid, ()) if t in index]
        out[row, cols] = 1.0
    return out


def fmax(truth: np.ndarray, scores: np.ndarray) -> float:
    """CAFA's protein-centric Fmax over thresholds 0.01..1.00.

    Precision is averaged over proteins with at least one term predicted at
    the threshold, recall over all proteins given (each with at least one
    true term) (Radivojac et al., Nature Methods 2013).

    Shapes:
        truth, scores ``(N, T)``.
    """
    keep = truth.sum(1) > 0
    truth, scores = truth[keep].astype(bool), scores[keep]
    if not len(truth):
        return float("nan")
    best = 0.0
    for tau in np.linspace(0.01, 1.0, 100):
        pred = scores >= tau
        covered = pred.sum(1) > 0
        if not covered.any():
            continue
        tp = (pred & truth).sum(1)
        precision = (tp[covered] / pred[covered].sum(1)).mean()
        recall = (tp / truth.sum(1)).mean()
        if precision + recall > 0:
            best = max(best, 2 * precision * recall / (precision + recall))
    return float(best)


def naive_scores(train: torch.Tensor, n: int) -> np.ndarray:
    """Each term scored with its frequency among annotated training proteins, ``(n, T)``."""
    annotated = train[train.sum(1) > 0]
    freq = annotated.mean(0).numpy() if len(annotated) else np.zeros(train.shape[1])
    return np.tile(freq, (n, 1))
