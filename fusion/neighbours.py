"""Pair evidence from neighbours in a pretrained embedding space: guilt by association.

A protein outside training has no partners to count, but its nearest
training proteins in the space of a frozen published model (UniRep's mean
embedding) do. For a pair (A, B) let ``N(A)`` be A's ``k`` nearest training
proteins by cosine similarity (never A's own sequence), weighted by a
softmax of that similarity at ``temperature``. Per pair it gives five numbers:

1. ``log(1 + k^2 * link)``, ``link = sum_{a' in N(A), b' in N(B)} w(a') w(b') y(a', b')``,
   y(a', b') = 1 for a positive training pair: how densely A's neighbours
   interact with B's (the pair's own label, when both are training proteins,
   is taken out);
2. and 3. ``u + v`` and ``u * v``, ``u = sum_{a' in N(A)} w(a') log(1 + d(a'))``,
   d(a') the positive training pairs of a' other than with A itself: how
   many partners proteins like A have;
4. and 5. ``s + t`` and ``s * t``, s (t) the cosine similarity of A (B) to
   its nearest training protein: how far the pair is from what the model has
   seen.

The space is fitted on the training proteins (standardised, then their
first ``dims`` principal axes) and kept in the model folder with the
training proteins' coordinates and positive pairs, so scoring new proteins
embeds only them. On the D-SCRIPT yeast splits of RESULTS.md the numbers
carry what a linear model on the same vectors does not (RESULTS.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ppi.fusion.configs import EVIDENCE, NeighbourConfig
from ppi.fusion.evidence import reach

SPACE = "space.safetensors"
KEYS = "train_keys.txt"
SETTINGS = "neighbours.json"


@EVIDENCE.register("neighbours")
class NeighbourEvidence:
    """Numbers of pairs from their nearest training proteins in a pretrained embedding space."""

    Config = NeighbourConfig
    dim = 5
    #: no interolog columns
    direct = ()

    def __init__(self, config: NeighbourConfig) -> None:
        self.config = config
        self.keys: list[str] = []  # sequence keys of the training proteins, in row order
        self.space = torch.zeros(0, 1)  # (T, dims) unit rows
        self.center = self.scale = self.axes = torch.zeros(0)
        self.positives = torch.zeros(0, 2, dtype=torch.long)  # (P, 2) row indices
        self._embedder = None
        self._tables: tuple | None = None
        self._near: dict[str, tuple[torch.Tensor, torch.Tensor, float, int]] = {}

    # -- fitting and lookup -------------------------------------------------------------
    def _vectors(self, seqs: list[str], accelerator: Any = None) -> torch.Tensor:
        """Mean embeddings ``(N, width)`` in float64, through the embedding cache."""
        from ppi.backbones.embedding import pooled_embedder, pooled_vectors

        if self._embedder is None:
            c = self.config
            self._embedder = pooled_embedder(c.model, c.path, c.precision)
        desc = f"{self.config.model} vectors (neighbours)"
        return pooled_vectors(self._embedder, seqs, accelerator, desc).double()

    def prepare(self, proteins: Mapping[str, str], run=None, accelerator: Any = None) -> None:
        """Fit the space on the training proteins (``run``), then find each protein's neighbours."""
        from ppi.homologs.align import seq_key

        if run is not None:
            train = sorted({proteins[i] for i in run.train_ids if i in proteins})
            self.keys = [seq_key(s) for s in train]
            self._fit_space(self._vectors(train, accelerator))
            row = {k: n for n, k in enumerate(self.keys)}
            pairs = {
                tuple(sorted((row[seq_key(proteins[a])], row[seq_key(proteins[b])])))
                for a, b, label in run.train_pairs
                if label == 1 and a in proteins and b in proteins
            }
            self.positives = torch.tensor(sorted(pairs), dtype=torch.long).view(-1, 2)
            self._tables, self._near = None, {}
        self._lookup(sorted(set(proteins.values())), accelerator)

    def _fit_space(self, x: torch.Tensor) -> None:
        """Standardise the training vectors ``(T, width)``, keep their first ``dims`` axes."""
        self.center = x.mean(0)
        self.scale = x.std(0, unbiased=False).clamp_min(1e-6)
        z = (x - self.center) / self.scale  # (T, width), centred
        self.axes = torch.linalg.svd(z, full_matrices=False).Vh[: self.config.dims]  # (dims, width)
        self.space = self._project(x)

    def _project(self, x: torch.Tensor) -> torch.Tensor:
        """Unit vectors of the fitted space ``(N, dims)`` of embeddings ``(N, width)``."""
        z = ((x - self.center) / self.scale) @ self.axes.T  # (N, dims)
        return torch.nn.functional.normalize(z, dim=1)

    def _lookup(self, seqs: list[str], accelerator: Any = None) -> None:
        """Remember the ``k`` nearest training proteins of each sequence not looked up yet."""
        from ppi.homologs.align import seq_key

        todo = [s for s in seqs if s not in self._near]
        if not todo or not self.keys:
            return
        row = {k: n for n, k in enumerate(self.keys)}
        k = min(self.config.k, len(self.keys) - 1) if len(self.keys) > 1 else 1
        for start in range(0, len(todo), 1024):
            chunk = todo[start : start + 1024]
            sims = self._project(self._vectors(chunk, accelerator)) @ self.space.T  # (n, T)
            own = torch.tensor([row.get(seq_key(s), -1) for s in chunk])
            hit = own >= 0
            sims[hit.nonzero(as_tuple=True)[0], own[hit]] = -torch.inf  # never its own sequence
            top, idx = sims.topk(k, dim=1)  # (n, k)
            weights = torch.softmax(top / self.config.temperature, dim=1)
            for n, seq in enumerate(chunk):
                self._near[seq] = (idx[n], weights[n].float(), float(top[n, 0]), int(own[n]))

    # -- the numbers --------------------------------------------------------------------
    def _matrices(self):
        """The positive matrix ``(T, T)`` (sparse, symmetric) and log(1 + degree) ``(T,)``."""
        if self._tables is None:
            t = len(self.keys)
            ij = torch.cat([self.positives, self.positives.flip(1)]).T  # (2, 2P)
            ones = torch.ones(ij.shape[1])
            adj = torch.sparse_coo_tensor(ij, ones, (t, t), check_invariants=False).coalesce()
            adj = torch.sparse_coo_tensor(
                adj.indices(), adj.values().clamp(max=1), (t, t), check_invariants=False
            )
            adj = adj.coalesce()
            self._tables = (adj, torch.sparse.sum(adj, 1).to_dense() if t else torch.zeros(0))
        return self._tables

    def _side(self, seqs: list[str]):
        """Per sequence: neighbour weights ``(n, T)``, u ``(n,)``, s ``(n,)``, own row ``(n,)``."""
        self._lookup(sorted(set(seqs) - set(self._near)))
        adj, degree = self._matrices()
        w = torch.zeros(len(seqs), len(self.keys))
        top, own = torch.zeros(len(seqs)), torch.full((len(seqs),), -1, dtype=torch.long)
        for n, seq in enumerate(seqs):
            idx, weights, top[n], own[n] = self._near[seq]
            w[n, idx] = weights
        # d(a') without the pairs of a' with A itself (when A is a training protein)
        with_own = torch.zeros_like(w)
        hit = (own >= 0).nonzero(as_tuple=True)[0]
        if len(hit):
            with_own[hit] = torch.index_select(adj, 0, own[hit]).to_dense()
        u = (w * torch.log1p(degree - with_own)).sum(1)  # (n,)
        return w, u, top, own

    def features(self, seqs_a: list[str], seqs_b: list[str], grid: bool = False) -> torch.Tensor:
        """Neighbour numbers of aligned pairs ``(P, 5)``, or with ``grid`` ``(R, C, 5)``.

        Each number is a symmetric function of A's and B's sides, so a pair
        scores the same whichever protein comes first.
        """
        shape = (len(seqs_a), len(seqs_b)) if grid else (len(seqs_a),)
        if not self.keys or not len(self.positives):
            return torch.zeros(*shape, self.dim)
        adj, _ = self._matrices()
        wa, u, s, own_a = self._side(seqs_a)  # (R, T), (R,) ...
        wb, v, t, own_b = self._side(seqs_b)
        reach_a = reach(adj, wa)  # (R, T): A's neighbours' weighted partners
        reach_b = reach(adj, wb)
        if grid:
            link = (reach_a @ wb.T + (reach_b @ wa.T).T) / 2  # (R, C), both orders averaged
            link = link - self._own_link(wa, wb, own_a, own_b, grid=True)
            u, v, s, t = u[:, None], v[None, :], s[:, None], t[None, :]
        else:
            link = ((reach_a * wb).sum(1) + (reach_b * wa).sum(1)) / 2  # (P,)
            link = link - self._own_link(wa, wb, own_a, own_b, grid=False)
        k2 = float(self.config.k**2)
        out = [torch.log1p(k2 * link.clamp(min=0)), u + v, u * v, s + t, s * t]
        return torch.stack([x.expand(shape) for x in out], -1).float()

    def _own_link(self, wa, wb, own_a, own_b, grid: bool) -> torch.Tensor:
        """The part of ``link`` that is the pair's own label (B a neighbour of A and A of B)."""
        adj, _ = self._matrices()
        if grid:
            ia, ib = own_a[:, None].expand(-1, len(own_b)), own_b[None, :].expand(len(own_a), -1)
            ra, rb = torch.arange(len(own_a))[:, None], torch.arange(len(own_b))[None, :]
        else:
            ia, ib, ra, rb = own_a, own_b, torch.arange(len(own_a)), torch.arange(len(own_b))
        ok = (ia >= 0) & (ib >= 0)
        ia, ib = ia.clamp(min=0), ib.clamp(min=0)
        rows, cols = adj.indices()
        known = torch.isin(ia * len(self.keys) + ib, rows * len(self.keys) + cols) & ok
        return known.float() * wa[ra, ib] * wb[rb, ia]

    # -- the model folder ---------------------------------------------------------------
    def save_assets(self, directory: Path) -> None:
        """Keep the space, the training proteins' coordinates and their positive pairs."""
        from safetensors.torch import save_file

        from ppi.utils.files import atomic_write_text

        directory.mkdir(parents=True, exist_ok=True)
        tensors = {"center": self.center, "scale": self.scale, "axes": self.axes}
        tensors |= {"space": self.space, "positives": self.positives}
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(directory / SPACE))
        atomic_write_text(directory / KEYS, "".join(f"{k}\n" for k in self.keys))
        body = {"model": self.config.model, "dims": self.config.dims, "proteins": len(self.keys)}
        atomic_write_text(directory / SETTINGS, json.dumps(body, indent=1) + "\n")

    def load_assets(self, directory: Path) -> None:
        """Read what :meth:`save_assets` wrote; the space must be of the configured model."""
        from safetensors.torch import load_file

        from ppi.errors import WeightsError

        for name in (SPACE, KEYS, SETTINGS):
            if not (directory / name).is_file():
                raise WeightsError(
                    f"{directory}: neighbour evidence needs {name}, which is missing"
                )
        saved = json.loads((directory / SETTINGS).read_text())
        if saved.get("model") != self.config.model:
            raise WeightsError(
                f"{directory}: the space was fitted on {saved.get('model')!r} vectors, "
                f"but evidence.neighbours.model is {self.config.model!r}"
            )
        tensors = load_file(str(directory / SPACE))
        self.center, self.scale, self.axes = tensors["center"], tensors["scale"], tensors["axes"]
        self.space, self.positives = tensors["space"], tensors["positives"]
        self.keys = (directory / KEYS).read_text().split()
        self._tables, self._near = None, {}
