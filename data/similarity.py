"""Protein-to-protein sequence similarity for leakage-aware splits.

A *neighbour measure* takes ``{id: sequence}`` and a floor in ``(0, 1]`` and
returns every pair of distinct proteins whose similarity reaches the floor, as
:class:`Neighbours` (three aligned arrays). Measures are registered in
:data:`MEASURES` by name, so a search-index measure (the project's FAISS
homology index) can be added as one more registered function without touching
the split code.

The built-in ``kmer`` measure estimates sequence identity from shared k-mers:
if two sequences are ``p`` identical with substitutions spread evenly, a k-mer
survives with probability about ``p**k``, so the containment ``c`` (shared
distinct k-mers over those of the shorter sequence) gives ``p ~ c**(1/k)``.
This is the reasoning behind Mash distances (Ondov et al., Genome Biology
2016); it is an estimate, not an alignment identity, and it is cheap: one
sparse product of a proteins x k-mers matrix, computed in row blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ppi.errors import InputError
from ppi.registry import Registry

MEASURES = Registry("similarity measure")
# alignment identities (HMMER3 through pyhmmer, or MMseqs2), registered by ppi.homologs.align
MEASURES.register_lazy("phmmer", "ppi.homologs.align")
MEASURES.register_lazy("mmseqs", "ppi.homologs.align")
#: k of the built-in k-mer measure: 5-mers are rare enough by chance in proteins
KMER = 5
BLOCK = 512


@dataclass
class Neighbours:
    """Pairs of distinct proteins and their similarity, indices into ``ids``.

    Shapes:
        ``i``, ``j``, ``score`` ``(E,)`` with ``i < j``.
    """

    ids: list[str]
    i: np.ndarray
    j: np.ndarray
    score: np.ndarray

    def nearest(self, query: set[str], targets: set[str]) -> dict[str, float]:
        """Each query protein's highest similarity to any target protein (0 if none)."""
        index = {pid: n for n, pid in enumerate(self.ids)}
        is_query = np.zeros(len(self.ids), bool)
        is_target = np.zeros(len(self.ids), bool)
        is_query[[index[q] for q in query if q in index]] = True
        is_target[[index[t] for t in targets if t in index]] = True
        best = np.zeros(len(self.ids))
        for a, b in ((self.i, self.j), (self.j, self.i)):
            keep = is_query[a] & is_target[b]
            np.maximum.at(best, a[keep], self.score[keep])
        return {q: float(best[index[q]]) if q in index else 0.0 for q in query}


NeighbourFn = Callable[[Mapping[str, str], float], Neighbours]


def check_threshold(value: float, name: str = "threshold") -> float:
    """A similarity threshold must lie in (0, 1]."""
    if not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
        raise InputError(f"{name}: expected a similarity in (0, 1], got {value!r}")
    return float(value)


def kmer_matrix(seqs: list[str], k: int = KMER) -> sparse.csr_matrix:
    """Binary proteins x distinct-k-mers matrix (a sequence shorter than k has one k-mer).

    Shapes:
        returns ``(N, V)``, V the distinct k-mers of all sequences.
    """
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for row, seq in enumerate(seqs):
        kmers = {seq[s : s + k] for s in range(max(len(seq) - k + 1, 1))}
        cols.extend(vocab.setdefault(km, len(vocab)) for km in kmers)
        rows.extend([row] * len(kmers))
    data = np.ones(len(rows), dtype=np.float32)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(seqs), max(len(vocab), 1)))


@MEASURES.register("kmer")
def kmer_neighbours(proteins: Mapping[str, str], floor: float, k: int = KMER) -> Neighbours:
    """Pairs whose k-mer identity estimate ``containment**(1/k)`` is at least ``floor``.

    Proteins with the same sequence score 1.
    """
    ids = list(proteins)
    x = kmer_matrix([proteins[i] for i in ids], k)
    sizes = np.asarray(x.sum(1)).ravel()  # (N,) distinct k-mers per protein
    xt = x.T.tocsc()
    out_i, out_j, out_s = [], [], []
    for start in range(0, len(ids), BLOCK):
        shared = (x[start : start + BLOCK] @ xt).tocoo()  # (block, N) shared k-mer counts
        a, b = shared.row + start, shared.col
        keep = a < b
        a, b, c = a[keep], b[keep], shared.data[keep]
        ident = (c / np.minimum(sizes[a], sizes[b])) ** (1.0 / k)
        hit = ident >= floor
        out_i.append(a[hit])
        out_j.append(b[hit])
        out_s.append(ident[hit])
    cat = np.concatenate
    return Neighbours(ids, cat(out_i), cat(out_j), cat(out_s).astype(np.float64))


def neighbours(name: str, proteins: Mapping[str, str], floor: float) -> Neighbours:
    """Run the measure registered as ``name`` (unknown names list the choices)."""
    return MEASURES.get(name)(proteins, floor)
