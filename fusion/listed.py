"""Listed pairs of a block (a retrieval prefilter's candidates) at nearly the cost of block pairs.

In the pair block each side of a pair attends to the other: "A given B" needs
A's queries and residual stream (``q``, ``base``, ``base_ff``) and B's keys and
projected values (``k``, ``values``, ``values_ff``), the values being the bulk
of a protein's parts (``3 H M D`` numbers against ``4 M D``). A whole block
reads each column's values once for all its rows. Listed pairs do the same
here: the pairs that share the attended protein form a group, the attenders'
few parts are gathered, the attended protein's are read once, and every group
is one matrix product ``(S M, H M) @ (H M, D)`` instead of ``S`` products of
``M`` rows each. Groups of similar sizes are padded to the largest of them (a
pad repeats the group's first pair) and batched; the feed-forward layer runs
over every pair of the batch at once and the pads are dropped after pooling.

The arithmetic is :meth:`ppi.fusion.pair_stage.PairStage.block`'s, so the
logits equal the whole block's to float32 rounding.
"""

from __future__ import annotations

import torch

#: a group joins a batch while the batch's largest group is at most this many times its size
SLACK = 1.25
#: pairs (padding included) of a batch: ~512 keep the intermediates (about 22 KiB a pair) near
#: the caches; on one EPYC core 2,048 scored about 10% fewer pairs a second
BATCH = 512


def given(stage, att, ctx, a: torch.Tensor, b: torch.Tensor, budget: int) -> torch.Tensor:
    """Each listed protein ``a[p]`` of ``att`` given ``b[p]`` of ``ctx``, pooled.

    Args:
        stage: the pair stage (:class:`ppi.fusion.pair_stage.PairStage`, one pair block).
        att: the :class:`~ppi.fusion.pair_stage.Sides` of the attending proteins.
        ctx: those of the attended proteins.
        a: each pair's index into ``att``.
        b: each pair's index into ``ctx``.
        budget: pairs (padding included) whose intermediate tensors are held at once.

    Shapes:
        a, b ``(P,)`` -> ``(P, D)``.
    """
    d = att.z.shape[-1]
    order = b.argsort(stable=True)  # (P,) pairs by attended protein
    targets, sizes = torch.unique_consecutive(b[order], return_counts=True)  # (G,) each
    starts = sizes.cumsum(0) - sizes  # (G,) each group's first place in ``order``
    out = torch.empty(len(a), d, dtype=att.base.dtype, device=att.base.device)  # (P, D)
    for batch in batches(sizes, budget):
        width = int(sizes[batch].max())
        slot = torch.arange(width, device=a.device)  # (S,)
        real = slot < sizes[batch, None]  # (G, S) padding is False
        place = starts[batch, None] + torch.where(real, slot, 0)  # (G, S) pads repeat the first
        pairs = order[place]  # (G, S)
        x, gx = _attend(att, ctx, a[pairs], targets[batch])  # (G, S, M, D), (G, S, M, 2D)
        out[pairs[real]] = stage._feed_forward(x, gx).mean(2)[real]  # (p, D), padding dropped
    return out


def batches(sizes: torch.Tensor, budget: int) -> list[torch.Tensor]:
    """Groups by size, cut where the padding would pass :data:`SLACK` or the pairs ``budget``.

    Shapes:
        sizes ``(G,)`` -> indices into it, ``(g,)`` each.
    """
    by_size = sizes.argsort(stable=True)
    out, first, smallest = [], 0, 0
    for n, size in enumerate(sizes[by_size].tolist()):
        if n > first and (size > SLACK * smallest or size * (n + 1 - first) > budget):
            out.append(by_size[first:n])
            first = n
        if n == first:
            smallest = size
    if len(by_size) > first:
        out.append(by_size[first:])
    return out


def _attend(att, ctx, rows: torch.Tensor, targets: torch.Tensor):
    """The pair block's attention for ``rows[g, s]`` given ``targets[g]``, up to the feed-forward.

    Shapes:
        rows ``(G, S)``, targets ``(G,)`` -> ``x (G, S, M, D)`` and ``gx (G, S, M, 2D)``.
    """
    (g, s), (heads, _, m, hd) = rows.shape, att.q.shape
    d, flat = heads * hd, rows.reshape(-1)  # (G*S,)
    q = att.q.index_select(1, flat).view(heads * g, s * m, hd)  # (H*G, S*M, hd)
    k = ctx.k.index_select(1, targets).view(heads * g, m, hd)  # (H*G, M, hd)
    logits = torch.bmm(q, k.transpose(1, 2)).view(heads, g, s, m, m)  # (H, G, S, M, M)
    weights = logits.permute(1, 2, 3, 0, 4).contiguous().softmax(-1)  # (G, S, M, H, M)
    weights = weights.view(g, s * m, heads * m)  # (G, S*M, H*M)
    base = att.base.index_select(0, flat).view(g, s * m, d)  # (G, S*M, D)
    base_ff = att.base_ff.index_select(0, flat).view(g, s * m, 2 * d)  # (G, S*M, 2D)
    x = torch.baddbmm(base, weights, ctx.values.index_select(0, targets))  # (G, S*M, D)
    gx = torch.baddbmm(base_ff, weights, ctx.values_ff.index_select(0, targets))  # (G, S*M, 2D)
    return x.view(g, s, m, d), gx.view(g, s, m, 2 * d)
