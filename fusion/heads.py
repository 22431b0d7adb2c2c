"""Heads: pooled protein or pair features -> logits. They know nothing about channels."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ppi.registry import Registry

HEADS = Registry("head")


@dataclass(frozen=True)
class HeadConfig:
    """MLP head settings.

    Attributes:
        hidden: hidden width of the MLP.
        dropout: dropout before the output layer.
    """

    hidden: int = 128
    dropout: float = 0.1


def _mlp(d_in: int, hidden: int, d_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(d_in, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, d_out)
    )


@HEADS.register("pair")
class PairHead(nn.Module):
    """Interaction logit from the two pooled sides, symmetric by construction.

    The features ``ha + hb``, ``ha * hb`` and ``|ha - hb|`` are each unchanged
    when A and B swap, so ``score(A, B) == score(B, A)`` exactly.
    """

    Config = HeadConfig

    def __init__(self, config: HeadConfig, dim: int, outputs: int = 1) -> None:
        super().__init__()
        self.mlp = _mlp(3 * dim, config.hidden, outputs, config.dropout)

    def forward(self, ha: torch.Tensor, hb: torch.Tensor) -> torch.Tensor:
        """Logits of interaction.

        Shapes:
            ha, hb ``(P, D)`` -> ``(P,)`` (or ``(P, C)`` for C > 1 outputs).
        """
        feats = torch.cat([ha + hb, ha * hb, (ha - hb).abs()], -1)  # (P, 3D)
        out = self.mlp(feats)  # (P, C)
        return out.squeeze(-1) if out.shape[-1] == 1 else out


@HEADS.register("single")
class SingleHead(nn.Module):
    """Class (or label) logits of one protein from its latent tokens."""

    Config = HeadConfig

    def __init__(self, config: HeadConfig, dim: int, outputs: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = _mlp(dim, config.hidden, outputs, config.dropout)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Logits per class.

        Shapes:
            z ``(B, M, D)`` -> ``(B, C)``.
        """
        return self.mlp(self.norm(z.mean(1)))  # (B, D) -> (B, C)
