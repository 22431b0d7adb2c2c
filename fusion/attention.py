"""Multi-head attention blocks shared by the fusion (pre-norm, masked, optional spectral norm)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm


def linear(d_in: int, d_out: int, spectral: bool) -> nn.Module:
    """A linear layer, spectrally normalised when asked (bounds its Lipschitz constant)."""
    layer = nn.Linear(d_in, d_out)
    return _spectral_norm(layer) if spectral else layer


class Attention(nn.Module):
    """Multi-head attention of queries over keys with a key padding mask.

    Args:
        dim: width D.
        heads: number of heads H (must divide D).
        dropout: attention-probability dropout.
        spectral: spectral normalisation on the projections.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0, spectral: bool = False):
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.dropout = dropout
        self.q = linear(dim, dim, spectral)
        self.kv = linear(dim, 2 * dim, spectral)
        self.out = linear(dim, dim, spectral)

    def forward(
        self, x: torch.Tensor, ctx: torch.Tensor, ctx_mask: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``x`` to ``ctx``.

        Shapes:
            x ``(B, Q, D)``, ctx ``(B, K, D)``, ctx_mask ``(B, K)`` True on real
            tokens (each row needs at least one) -> ``(B, Q, D)`` and, if asked,
            weights averaged over heads ``(B, Q, K)``.
        """
        b, q_len, dim = x.shape
        hd = dim // self.heads
        q = self.q(x).view(b, q_len, self.heads, hd).transpose(1, 2)  # (B, H, Q, hd)
        k, v = self.kv(ctx).view(b, -1, 2, self.heads, hd).permute(2, 0, 3, 1, 4)  # (B, H, K, hd)
        bias = torch.zeros(ctx_mask.shape, dtype=q.dtype, device=q.device)
        bias = bias.masked_fill(~ctx_mask, float("-inf"))[:, None, None, :]  # (B, 1, 1, K)
        if need_weights:
            att = (q @ k.transpose(-1, -2)) / hd**0.5 + bias  # (B, H, Q, K)
            att = att.softmax(-1)
            out = F.dropout(att, self.dropout, self.training) @ v  # (B, H, Q, hd)
            weights = att.mean(1)  # (B, Q, K)
        else:
            p = self.dropout if self.training else 0.0
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)
            weights = None
        out = out.transpose(1, 2).reshape(b, q_len, dim)  # (B, Q, D)
        return self.out(out), weights


class CrossBlock(nn.Module):
    """Pre-norm block: queries attend to a context, then a feed-forward layer.

    With ``self_attend`` the queries also attend to themselves first (as the
    latent tokens do after reading a protein).
    """

    def __init__(
        self, dim: int, heads: int, dropout: float, spectral: bool, self_attend: bool = False
    ):
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_ctx = nn.LayerNorm(dim)
        self.cross = Attention(dim, heads, dropout, spectral)
        self.self_attn = Attention(dim, heads, dropout, spectral) if self_attend else None
        self.norm_self = nn.LayerNorm(dim) if self_attend else None
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            linear(dim, 2 * dim, spectral),
            nn.GELU(),
            nn.Dropout(dropout),
            linear(2 * dim, dim, spectral),
        )
        self.drop = nn.Dropout(dropout)

    # The feed-forward layer's parts by name, for code that rewrites the block
    # algebraically (:meth:`ppi.fusion.pair_stage.PairStage.sides`).
    @property
    def ff_in(self) -> nn.Module:
        """The feed-forward layer's first projection ``D -> 2D``."""
        return self.ff[0]

    @property
    def ff_act(self) -> nn.Module:
        """The feed-forward layer's activation."""
        return self.ff[1]

    @property
    def ff_out(self) -> nn.Module:
        """The feed-forward layer's second projection ``2D -> D``."""
        return self.ff[3]

    def forward(
        self, x: torch.Tensor, ctx: torch.Tensor, ctx_mask: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Update queries ``x`` from ``ctx``.

        Shapes:
            x ``(B, Q, D)``, ctx ``(B, K, D)``, ctx_mask ``(B, K)`` ->
            ``(B, Q, D)`` and optional weights ``(B, Q, K)``.
        """
        upd, weights = self.cross(self.norm_q(x), self.norm_ctx(ctx), ctx_mask, need_weights)
        x = x + self.drop(upd)
        if self.self_attn is not None:
            h = self.norm_self(x)
            full = torch.ones(h.shape[:2], dtype=torch.bool, device=h.device)  # (B, Q)
            x = x + self.drop(self.self_attn(h, h, full)[0])
        return x + self.drop(self.ff(self.norm_ff(x))), weights
