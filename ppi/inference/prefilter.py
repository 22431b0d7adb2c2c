"""The screen's retrieval stage: keep, for each protein, the partners its vector ranks highest.

A model with a retrieval head (:mod:`ppi.fusion.retrieval`, added by ``ppi
distill``) gives each protein one vector ``[f, b]``; the score of a pair is
``f_a . f_b + b_a + b_b``. For protein ``a`` its partners are ranked by
``[f_a, 1] . [f_b, b_b]`` (``b_a`` is the same for all of them), a maximum
inner product search through the project's FAISS code
(:func:`ppi.homologs.faiss_settings.build_faiss`: exact ``flat`` below
20,000 vectors, IVF above). Every protein keeps the top ``fraction`` of its
possible partners; a pair is a candidate when either side kept the other. The
screen then scores only the candidates with the full pair stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from safetensors.torch import load_file

from ppi.homologs.faiss_settings import FaissSettings, build_faiss, resolve_type, searcher
from ppi.utils.files import atomic_save_tensors

FILE = "prefilter.safetensors"


@dataclass
class Candidates:
    """The pairs kept, as sorted keys ``i * n + j`` of plan indices (``i < j``).

    Attributes:
        keys: ``(P,)`` int64, sorted and distinct.
        n: proteins in the plan.
    """

    keys: torch.Tensor
    n: int

    def _span(self, rows: range) -> tuple[torch.Tensor, torch.Tensor]:
        lo, hi = torch.searchsorted(self.keys, torch.tensor([rows.start, rows.stop]) * self.n)
        sub = self.keys[lo:hi]
        return sub // self.n, sub % self.n  # (p,) rows and columns

    def mask(self, rows: range, cols: range) -> torch.Tensor:
        """Which pairs of a block are candidates.

        Shapes:
            returns ``(R, C)`` bool.
        """
        i, j = self._span(rows)
        inside = (j >= cols.start) & (j < cols.stop)
        out = torch.zeros(len(rows), len(cols), dtype=torch.bool)
        out[i[inside] - rows.start, j[inside] - cols.start] = True
        return out

    def count(self, rows: range, cols: range) -> int:
        """Candidates in a block."""
        _, j = self._span(rows)
        return int(((j >= cols.start) & (j < cols.stop)).sum())

    def save(self, path) -> None:
        """Write the keys atomically."""
        atomic_save_tensors({"keys": self.keys, "n": torch.tensor([self.n])}, path)

    @classmethod
    def load(cls, path) -> Candidates:
        """Read what :meth:`save` wrote."""
        t = load_file(path)
        return cls(t["keys"], int(t["n"].item()))


def retrieve(vectors: torch.Tensor, rows: int, all_vs_all: bool, fraction: float) -> Candidates:
    """The candidate pairs of a plan from its proteins' retrieval vectors.

    Args:
        vectors: ``[f, b]`` of every protein in plan order ``(N, W + 1)``.
        rows: how many of them are rows (all of them for all-against-all).
        all_vs_all: the rows pair among themselves; else rows against the rest.
        fraction: share of each protein's possible partners it keeps.
    """
    n = len(vectors)
    if all_vs_all:
        pairs = [_nearest(vectors, vectors, fraction, exclude_self=True)]
    else:
        head, tail = vectors[:rows], vectors[rows:]
        a, b = _nearest(head, tail, fraction)  # rows keep columns
        c, d = _nearest(tail, head, fraction)  # columns keep rows
        pairs = [(a, b + rows), (d, c + rows)]
    i = torch.cat([p[0] for p in pairs])
    j = torch.cat([p[1] for p in pairs])
    keys = torch.minimum(i, j) * n + torch.maximum(i, j)
    return Candidates(torch.unique(keys), n)


def _nearest(queries: torch.Tensor, base: torch.Tensor, fraction: float, exclude_self=False):
    """For each query, the top ``fraction`` of ``base`` by the retrieval score.

    Returns:
        query indices and base indices of the kept pairs, ``(P,)`` each.
    """
    k = min(len(base) - exclude_self, math.ceil(fraction * (len(base) - exclude_self)))
    if k <= 0:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    q = queries.clone()
    q[:, -1] = 1.0  # [f_a, 1]: b_a ranks no partner above another
    data = np.ascontiguousarray(base.numpy(), np.float32)  # [f_b, b_b]
    settings = FaissSettings()
    index = build_faiss(data, resolve_type(settings, len(data), data.shape[1]), settings)
    _, found = searcher(index).search(np.ascontiguousarray(q.numpy(), np.float32), k + exclude_self)
    found = torch.from_numpy(found)  # (Q, k (+1))
    who = torch.arange(len(queries))[:, None].expand_as(found)
    keep = found >= 0
    if exclude_self:
        keep &= found != who
    return who[keep], found[keep]
