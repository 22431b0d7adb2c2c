"""Heads: pooled protein or pair features -> logits. They know nothing about channels.

Every head is built as ``HEADS.get(task)(config, dim, outputs, evidence)``,
``evidence`` being the numbers per pair besides the two proteins (0 for the
single-sequence head).
"""

from __future__ import annotations

import torch
from torch import nn

from ppi.fusion.configs import HEADS, HeadConfig


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

    def __init__(self, config: HeadConfig, dim: int, outputs: int = 1, evidence: int = 0) -> None:
        super().__init__()
        self.evidence = evidence
        self.mlp = _mlp(3 * dim + evidence, config.hidden, outputs, config.dropout)

    def forward(
        self, ha: torch.Tensor, hb: torch.Tensor, evidence: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits of interaction.

        ``evidence`` holds numbers about the pair itself (symmetric in A and B,
        e.g. interologs), required when the head was built with ``evidence > 0``.

        Shapes:
            ha, hb ``(P, D)`` (any leading dims) and evidence ``(P, E)`` ->
            ``(P,)`` (or ``(P, C)`` for C > 1 outputs).
        """
        feats = [ha + hb, ha * hb, (ha - hb).abs()]
        if self.evidence:
            if evidence is None:
                raise ValueError(f"pair head: expected {self.evidence} evidence numbers per pair")
            feats.append(evidence.to(ha.dtype))
        out = self.mlp(torch.cat(feats, -1))  # (P, C)
        return out.squeeze(-1) if out.shape[-1] == 1 else out


@HEADS.register("single")
class SingleHead(nn.Module):
    """Class (or label) logits of one protein from its latent tokens."""

    Config = HeadConfig

    def __init__(self, config: HeadConfig, dim: int, outputs: int, evidence: int = 0) -> None:
        super().__init__()
        if evidence:
            raise ValueError(f"single head: a protein has no pair evidence, got {evidence} numbers")
        self.norm = nn.LayerNorm(dim)
        self.mlp = _mlp(dim, config.hidden, outputs, config.dropout)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Logits per class.

        Shapes:
            z ``(B, M, D)`` -> ``(B, C)``.
        """
        return self.mlp(self.norm(z.mean(1)))  # (B, D) -> (B, C)
