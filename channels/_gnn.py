"""An E(3)-invariant message-passing encoder over Cα graphs (torch-geometric).

Messages see the two residues' features, a radial basis expansion of their
Cα distance and their sequence separation; never a coordinate. Rotating,
translating or reflecting a protein therefore leaves every output unchanged
(SchNet-style invariance; an EGNN without the coordinate update).
"""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import scatter

from ppi.channels._graphs import rbf


class InvariantConv(MessagePassing):
    """One residual message-passing layer: mean of gated messages from neighbours.

    Args:
        dim: node width D.
        edge_dim: width of the edge features.
    """

    def __init__(self, dim: int, edge_dim: int) -> None:
        super().__init__(aggr="mean")
        self.norm = nn.LayerNorm(dim)
        self.message_mlp = nn.Sequential(
            nn.Linear(2 * dim + edge_dim, dim), nn.SiLU(), nn.Linear(dim, dim)
        )
        self.gate = nn.Linear(edge_dim, dim)
        self.update_mlp = nn.Sequential(nn.Linear(2 * dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(
        self, h: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor
    ) -> torch.Tensor:
        """Update node features from their neighbours.

        Shapes:
            h ``(N, D)``, edge_index ``(2, E)``, edge_attr ``(E, F)`` -> ``(N, D)``.
        """
        x = self.norm(h)
        agg = self.propagate(edge_index, x=x, edge_attr=edge_attr)  # (N, D)
        return h + self.update_mlp(torch.cat([x, agg], -1))

    def message(self, x_i: torch.Tensor, x_j: torch.Tensor, edge_attr: torch.Tensor):
        """Message from neighbour j to residue i.

        Shapes:
            x_i, x_j ``(E, D)``, edge_attr ``(E, F)`` -> ``(E, D)``.
        """
        msg = self.message_mlp(torch.cat([x_i, x_j, edge_attr], -1))
        return msg * torch.sigmoid(self.gate(edge_attr))


class StructureEncoder(nn.Module):
    """Node features -> per-residue tokens and a pooled token per protein.

    Args:
        in_dim: width of the input node features.
        dim: output width D.
        layers: message-passing layers.
        rbf_bins: radial basis functions of the distance.
        cutoff: largest distance the basis resolves (Å).
        max_separation: sequence separations at or beyond this share one embedding.
    """

    def __init__(
        self,
        in_dim: int,
        dim: int,
        layers: int = 3,
        rbf_bins: int = 16,
        cutoff: float = 20.0,
        max_separation: int = 32,
    ) -> None:
        super().__init__()
        self.rbf_bins, self.cutoff, self.max_separation = rbf_bins, cutoff, max_separation
        sep_dim = 16
        self.separation = nn.Embedding(2 * max_separation + 1, sep_dim)
        self.embed = nn.Linear(in_dim, dim)
        self.layers = nn.ModuleList(InvariantConv(dim, rbf_bins + sep_dim) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        edge_index: torch.Tensor,
        dist: torch.Tensor,
        batch: torch.Tensor,
        size: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode a batch of graphs joined into one.

        Shapes:
            x ``(N, F)``; positions ``(N,)`` sequence positions; edge_index
            ``(2, E)``; dist ``(E,)``; batch ``(N,)`` graph index of each node
            -> nodes ``(N, D)`` and pooled ``(size, D)``.
        """
        m = self.max_separation
        sep = (positions[edge_index[0]] - positions[edge_index[1]]).clamp(-m, m) + m  # (E,)
        edge_attr = torch.cat(
            [rbf(dist, self.rbf_bins, self.cutoff), self.separation(sep)], -1
        )  # (E, F)
        h = self.embed(x)  # (N, D)
        for layer in self.layers:
            h = layer(h, edge_index, edge_attr)
        h = self.norm(h)
        pooled = scatter(h, batch, dim=0, dim_size=size, reduce="mean")  # (size, D)
        return h, pooled
