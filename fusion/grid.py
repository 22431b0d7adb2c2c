"""Pair logits for a whole block of proteins at once, for proteome-scale screening.

:meth:`ppi.model.PPIModel.pair_logits` scores a list of pairs; screening scores
every row protein of a block against every column protein. In the first pair
block of :class:`~ppi.fusion.cross_attention.CrossAttentionFusion` most of the
work depends on one protein only, so :class:`PairGrid` computes it once per
protein instead of once per pair:

* the queries of A (after their layer norm) and the keys of B;
* B's values already passed through the output projection (the attention
  weights of a query sum to one, so ``out(sum_n a_n v_n) = sum_n a_n out(v_n)``);
* the same values passed through the feed-forward layer's first projection,
  with its layer norm's gain folded in (a layer norm is a per-token shift and
  scale, which commutes with the projection once the shift is written as a
  rank-one term).

What is left per pair is the ``M x M`` attention, a small matrix product with
``H * M`` rows, the feed-forward layer's second projection, the final layer
norm and the head: about a third of the arithmetic of the plain path. The
results equal ``pair_logits`` to float32 rounding, and a square block is
symmetric exactly (both sides of a pair come from the same tensor).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ppi.fusion.cross_attention import CrossAttentionFusion


@dataclass
class Sides:
    """Per-protein parts of the first pair block.

    Attributes:
        z: latent tokens ``(N, M, D)``.
        q: scaled queries, head first ``(H, N, M, hd)``.
        k: keys, head first ``(H, N, M, hd)``.
        values: output-projected values ``(N, H * M, D)``.
        values_ff: the same through the feed-forward layer's first
            projection ``(N, H * M, 2D)``.
        base: the residual stream before attention (output bias included)
            ``(N, M, D)``.
        base_ff: the same through the feed-forward projection ``(N, M, 2D)``.
    """

    z: torch.Tensor
    q: torch.Tensor | None = None
    k: torch.Tensor | None = None
    values: torch.Tensor | None = None
    values_ff: torch.Tensor | None = None
    base: torch.Tensor | None = None
    base_ff: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.z.shape[0]

    def take(self, rows: slice) -> Sides:
        """The parts of a contiguous range of proteins."""
        if self.q is None:
            return Sides(self.z[rows])
        parts = (self.values, self.values_ff, self.base, self.base_ff)
        return Sides(self.z[rows], self.q[:, rows], self.k[:, rows], *[t[rows] for t in parts])


class PairGrid(nn.Module):
    """Block-wise pair logits of a cross-attention fusion and a pair head.

    Args:
        fusion: the model's fusion (its pair blocks are read, not copied).
        head: the model's pair head.
        chunk_pairs: pairs whose intermediate tensors are held at once; bounds
            memory (about 12 KiB per pair) and keeps the work cache-friendly.
    """

    def __init__(self, fusion: CrossAttentionFusion, head: nn.Module, chunk_pairs: int = 2048):
        super().__init__()
        self.fusion = fusion
        self.head = head
        self.chunk_pairs = chunk_pairs

    @torch.no_grad()
    def sides(self, z: torch.Tensor) -> Sides:
        """Precompute each protein's parts of the first pair block.

        Shapes:
            z ``(N, M, D)``.
        """
        if len(self.fusion.pair_blocks) != 1:
            return Sides(z)
        blk = self.fusion.pair_blocks[0]
        att, heads = blk.cross, blk.cross.heads
        n, m, d = z.shape
        hd = d // heads
        q = att.q(blk.norm_q(z)).view(n, m, heads, hd) / hd**0.5  # (N, M, H, hd)
        k, v = att.kv(blk.norm_ctx(z)).view(n, m, 2, heads, hd).unbind(2)  # (N, M, H, hd) each
        w_out = att.out.weight.view(d, heads, hd)  # (D, H, hd)
        vo = torch.einsum("nmhe,dhe->nhmd", v, w_out).reshape(n, heads * m, d)  # (N, H*M, D)
        base = z + att.out.bias  # (N, M, D)
        gain = self._ff_gain()  # (2D, D)
        return Sides(
            z,
            q.permute(2, 0, 1, 3).contiguous(),  # (H, N, M, hd)
            k.permute(2, 0, 1, 3).contiguous(),  # (H, N, M, hd)
            vo,
            vo @ gain.T,  # (N, H*M, 2D)
            base,
            base @ gain.T,  # (N, M, 2D)
        )

    def _ff_gain(self) -> torch.Tensor:
        blk = self.fusion.pair_blocks[0]
        return blk.ff[0].weight * blk.norm_ff.weight  # (2D, D)

    @torch.no_grad()
    def forward(
        self, rows: Sides, cols: Sides | None = None, evidence: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits of every (row, column) pair; ``cols=None`` pairs the rows with themselves.

        Shapes:
            rows ``R`` proteins, cols ``C``, evidence ``(R, C, E)`` -> ``(R, C)``.
        """
        if len(self.fusion.pair_blocks) != 1:
            return self._plain(rows, rows if cols is None else cols, evidence)
        if cols is None:
            given = self.pooled(rows, rows)  # (R, R, D): row i given row j
            return self.head(given, given.transpose(0, 1), evidence)
        pooled = self.pooled(rows, cols), self.pooled(cols, rows).transpose(0, 1)
        return self.head(*pooled, evidence)

    def pooled(self, rows: Sides, cols: Sides) -> torch.Tensor:
        """Each row protein's pooled pair-stage output given each column protein.

        Shapes:
            returns ``(R, C, D)``.
        """
        r, c = len(rows), len(cols)
        step = max(1, self.chunk_pairs // max(r, 1))
        parts = [self._given(rows, cols.take(slice(j, j + step))) for j in range(0, c, step)]
        return torch.cat(parts, 0).transpose(0, 1)  # (R, C, D)

    def _given(self, rows: Sides, cols: Sides) -> torch.Tensor:
        """The pair block for the rows given the columns, pooled, in column-major order.

        Shapes:
            returns ``(C, R, D)``.
        """
        r, c, (heads, _, m, hd) = len(rows), len(cols), rows.q.shape
        d = heads * hd
        blk = self.fusion.pair_blocks[0]
        qr = rows.q.reshape(heads, r * m, hd)  # (H, R*M, hd)
        kc = cols.k.reshape(heads, c * m, hd)  # (H, C*M, hd)
        att = (kc @ qr.transpose(1, 2)).view(heads, c, m, r, m)  # (H, C, M, R, M) logits
        att = att.permute(1, 3, 4, 0, 2).contiguous().softmax(-1)  # (C, R, M, H, M)
        att = att.view(c, r * m, heads * m)  # (C, R*M, H*M)
        x = torch.baddbmm(rows.base.view(r * m, d), att, cols.values)  # (C, R*M, D)
        gx = torch.baddbmm(rows.base_ff.view(r * m, 2 * d), att, cols.values_ff)  # (C, R*M, 2D)
        _, mean, inv = torch.native_layer_norm(x, (d,), None, None, blk.norm_ff.eps)  # (C, R*M, 1)
        hidden = torch.addcmul(self._ff_shift(), gx, inv)  # (C, R*M, 2D)
        hidden.addcmul_(mean.mul_(inv), self._ff_gain().sum(1), value=-1.0)
        x = torch.addmm(x.view(-1, d), F.gelu(hidden).view(-1, 2 * d), blk.ff[3].weight.T)
        x += blk.ff[3].bias  # (C*R*M, D)
        return self.fusion.norm(x).view(c, r, m, d).mean(2)  # (C, R, D)

    def _ff_shift(self) -> torch.Tensor:
        blk = self.fusion.pair_blocks[0]
        return blk.ff[0].bias + blk.ff[0].weight @ blk.norm_ff.bias  # (2D,)

    def _plain(self, rows: Sides, cols: Sides, evidence: torch.Tensor | None) -> torch.Tensor:
        """Every pair through :meth:`CrossAttentionFusion.interact` (any number of pair blocks).

        Shapes:
            returns ``(R, C)``.
        """
        r, c = len(rows), len(cols)
        step = max(1, self.chunk_pairs // max(c, 1))
        out = []
        for i in range(0, r, step):
            za = rows.z[i : i + step, None].expand(-1, c, -1, -1).flatten(0, 1)  # (r*C, M, D)
            zb = cols.z[None].expand(min(step, r - i), -1, -1, -1).flatten(0, 1)  # (r*C, M, D)
            ha, hb, _ = self.fusion.interact(za, zb)
            ev = None if evidence is None else evidence[i : i + step].flatten(0, 1)  # (r*C, E)
            out.append(self.head(ha, hb, ev).view(-1, c))
        return torch.cat(out, 0)  # (R, C)
