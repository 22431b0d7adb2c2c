"""Residue graphs over Cα coordinates, built in plain torch, and their cache.

Edges join residues within ``radius`` Å and/or each residue's ``k`` nearest
neighbours. Distances are computed in row chunks (``torch.cdist`` of a chunk
against all residues), so a 3,000-residue protein never holds a full L×L
matrix. Everything downstream sees only distances and sequence separations,
which do not change when the protein is rotated or translated.
"""

from __future__ import annotations

import torch
from safetensors.torch import load_file

from ppi.utils.cache import EmbeddingCache
from ppi.utils.files import atomic_save_tensors

#: rows of the distance matrix computed at once
CHUNK = 512


def build_edges(
    coords: torch.Tensor, radius: float = 10.0, k: int = 16, chunk: int = CHUNK
) -> tuple[torch.Tensor, torch.Tensor]:
    """Radius and/or k-nearest-neighbour edges (the union when both are set).

    Edges are directed ``source -> target`` and come in both directions for a
    radius graph; a kNN edge points from the neighbour to the residue.

    Shapes:
        coords ``(N, 3)`` -> edge_index ``(2, E)`` long and distances ``(E,)``.
    """
    if radius <= 0 and k <= 0:
        raise ValueError("a graph needs radius > 0 or k > 0")
    n = coords.shape[0]
    coords = coords.float()
    sources, targets = [], []
    for start in range(0, n, chunk):
        rows = torch.arange(start, min(start + chunk, n))
        d = torch.cdist(coords[rows], coords)  # (C, N)
        d[torch.arange(len(rows)), rows] = float("inf")  # no self loops
        keep = d <= radius if radius > 0 else torch.zeros_like(d, dtype=torch.bool)  # (C, N)
        if k > 0 and n > 1:
            nearest = d.topk(min(k, n - 1), dim=1, largest=False).indices  # (C, k)
            keep.scatter_(1, nearest, True)
        r, c = keep.nonzero(as_tuple=True)  # (E_chunk,)
        targets.append(rows[r])
        sources.append(c)
    edge_index = torch.stack([torch.cat(sources), torch.cat(targets)])  # (2, E)
    dist = (coords[edge_index[0]] - coords[edge_index[1]]).norm(dim=-1)  # (E,)
    return edge_index, dist


def rbf(dist: torch.Tensor, bins: int = 16, cutoff: float = 20.0) -> torch.Tensor:
    """Gaussian radial basis expansion of distances.

    Shapes:
        dist ``(E,)`` -> ``(E, bins)``.
    """
    centers = torch.linspace(0.0, cutoff, bins, device=dist.device, dtype=dist.dtype)
    width = cutoff / bins
    return torch.exp(-(((dist.unsqueeze(-1) - centers) / width) ** 2))  # (E, bins)


class GraphCache(EmbeddingCache):
    """Parsed, aligned structures with their edges, stored like embeddings.

    An entry holds several tensors (coordinates, positions, confidence,
    edges); its key is a hash of the structure file's bytes, the chain, the
    sequence and the graph settings named in ``identity``.
    """

    def __init__(self, identity: str, root=None) -> None:
        super().__init__(identity, root, kind="structures", dtype=torch.float32)

    def put_graph(self, key: str, tensors: dict[str, torch.Tensor]) -> None:
        """Store one entry's tensors atomically (clones, not views)."""
        atomic_save_tensors(
            {n: t.detach().cpu().contiguous().clone() for n, t in tensors.items()}, self.path(key)
        )
        self._write_identity()

    def get_graph(self, key: str) -> dict[str, torch.Tensor]:
        """The tensors stored for ``key``."""
        return load_file(self.path(key))
