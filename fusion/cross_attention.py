"""Cross-attention fusion: channel tokens -> a few latent tokens per protein.

:meth:`CrossAttentionFusion.encode` compresses every protein's channel
tokens (any number, any channels) into ``M`` latent tokens with learned latent
queries. It runs once per protein. The pair stage
(:class:`ppi.fusion.pair_stage.PairStage`) then lets the ``M`` tokens of A
attend to those of B; its cost per pair is ``O(M^2 D)``, independent of
sequence length. The fusion knows nothing about where the tokens came from
or about pairs.
"""

from __future__ import annotations

import torch
from torch import nn

from ppi.channels.base import Tokens
from ppi.fusion.attention import CrossBlock
from ppi.fusion.configs import FUSIONS, FusionConfig


@FUSIONS.register("cross_attention")
class CrossAttentionFusion(nn.Module):
    """Latent compression of each protein's channel tokens."""

    Config = FusionConfig

    def __init__(self, config: FusionConfig, channel_names: list[str]) -> None:
        super().__init__()
        c = config
        self.config = config
        self.channel_names = list(channel_names)
        self.channel_embed = nn.Parameter(torch.randn(len(channel_names), c.dim) * 0.02)
        # A token every protein has, so one with no evidence in any channel
        # still gives its latents something to attend to.
        self.null_token = nn.Parameter(torch.zeros(1, 1, c.dim))
        self.latents = nn.Parameter(torch.randn(c.latents, c.dim) * 0.02)
        # The latents start from the protein's mean token, not from the same
        # vector for every protein: the attention then refines a protein-specific
        # summary instead of having to discover one (much faster to train).
        self.summary = nn.Sequential(nn.LayerNorm(c.dim), nn.Linear(c.dim, c.dim))
        args = (c.dim, c.heads, c.dropout, c.spectral_norm)
        self.encoder = nn.ModuleList(
            CrossBlock(*args, self_attend=True) for _ in range(c.encoder_layers)
        )
        self.norm = nn.LayerNorm(c.dim)

    @property
    def dim(self) -> int:
        """Output width D."""
        return self.config.dim

    def encode(self, channels: dict[str, Tokens]) -> torch.Tensor:
        """Compress each protein's channel tokens into ``M`` latent tokens.

        Shapes:
            channels: name -> tokens ``(B, Lc, D)`` and mask ``(B, Lc)``;
            returns ``(B, M, D)``.
        """
        return self.encode_with_weights(channels, need_weights=False)[0]

    def encode_with_weights(
        self, channels: dict[str, Tokens], need_weights: bool = True
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """:meth:`encode`, and per encoder layer the latents' attention over the tokens.

        The attention is over the channel tokens concatenated in the order of
        ``channels``, followed by the null token.

        Shapes:
            returns ``(B, M, D)`` and a list of ``(B, M, sum Lc + 1)``.
        """
        tokens, masks = [], []
        for name, part in channels.items():
            idx = self.channel_names.index(name)
            tokens.append(part.tokens + self.channel_embed[idx])  # (B, Lc, D)
            masks.append(part.mask)
        b = tokens[0].shape[0]
        tokens.append(self.null_token.expand(b, 1, -1))  # (B, 1, D)
        masks.append(torch.ones(b, 1, dtype=torch.bool, device=tokens[0].device))
        ctx, mask = torch.cat(tokens, 1), torch.cat(masks, 1)  # (B, sum Lc + 1, D), (B, ...)
        z = self.latents.unsqueeze(0) + self.summary(self._mean(tokens, masks)).unsqueeze(1)
        # z: (B, M, D)
        maps = []
        for blk in self.encoder:
            z, weights = blk(z, ctx, mask, need_weights)
            maps.append(weights)
        return self.norm(z), maps

    def _mean(self, tokens: list[torch.Tensor], masks: list[torch.Tensor]) -> torch.Tensor:
        """A protein's mean token: over channels (each its own mean) or over all tokens.

        Shapes:
            tokens ``(B, Lc, D)`` and masks ``(B, Lc)`` per channel (the null
            token last) -> ``(B, D)``.
        """
        sums, counts = [], []
        for part, mask in zip(tokens, masks, strict=True):
            weight = mask.unsqueeze(-1).to(part.dtype)  # (B, Lc, 1)
            sums.append((part * weight).sum(1))  # (B, D)
            counts.append(weight.sum(1))  # (B, 1)
        total, count = torch.stack(sums, 1), torch.stack(counts, 1)  # (B, C, D), (B, C, 1)
        if not self.config.balance_channels:
            return total.sum(1) / count.sum(1)  # every token alike
        present = (count > 0).to(total.dtype)  # (B, C, 1), the null token always
        return (total / count.clamp(min=1) * present).sum(1) / present.sum(1)  # (B, D)
