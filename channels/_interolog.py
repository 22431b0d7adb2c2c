"""Interolog evidence: do homologs of A interact with homologs of B in the training pairs?

For a pair (A, B) each side's candidates are the protein itself and its
neighbour list (the homology channel's filtered top-K). Every candidate is
named by its sequence hash, so an index entry and a training protein with the
same sequence are one candidate. A candidate pair (a', b') is an interolog when
it is a positive training pair. The two numbers per pair are ``log(1 + n)``,
n the interologs found, and the best product of the two candidates'
similarities (1 for the protein itself). The pair's own training label never
counts: a candidate pair that is {A, B} itself is skipped.

Only training pairs are read, so evaluation and test pairs never inform it,
and both numbers are unchanged when A and B swap.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

FEATURES = 2  # log(1 + interologs), best similarity product


class InterologTable:
    """Positive training pairs keyed by sequence hash, and the lookup over candidates.

    Args:
        positives: hash pairs of the positive training pairs (either order).
    """

    def __init__(self, positives: Iterable[tuple[str, str]]) -> None:
        self.pairs = sorted({tuple(sorted(p)) for p in positives if p[0] and p[1]})
        names = sorted({h for p in self.pairs for h in p})
        self.ids = {h: n for n, h in enumerate(names)}
        size = max(len(names), 1)
        keys = [self.ids[a] * size + self.ids[b] for a, b in self.pairs]
        keys += [self.ids[b] * size + self.ids[a] for a, b in self.pairs]
        self.size = size
        self.keys = torch.tensor(sorted(set(keys)), dtype=torch.long)  # (2 * positives,)

    def candidates(self, own: str, hashes: list[str], sims: list[float]):
        """One protein's candidates as numbers: itself first, then its neighbours.

        A hash that is in no positive pair becomes -1 (it cannot match).

        Shapes:
            returns ids ``(K + 1,)`` long, similarities ``(K + 1,)`` and the own id.
        """
        ids = [self.ids.get(h, -1) for h in [own, *hashes]]
        return torch.tensor(ids), torch.tensor([1.0, *sims]), ids[0]

    def features(self, side_a, side_b) -> torch.Tensor:
        """Interolog numbers of pairs, broadcasting over the leading dimensions.

        Each side is ``(ids, sims, own)``; a pair list passes ``(P, K+1)``
        tensors on both sides, a grid ``(R, 1, K+1)`` against ``(1, C, K+1)``.

        Shapes:
            returns ``(..., 2)``.
        """
        (ia, sa, oa), (ib, sb, ob) = side_a, side_b
        a, b = ia.unsqueeze(-1), ib.unsqueeze(-2)  # (..., K+1, 1), (..., 1, K+1)
        valid = (a >= 0) & (b >= 0)
        hit = valid & torch.isin(a * self.size + b, self.keys)  # (..., K+1, K+1)
        own_a, own_b = oa[..., None, None], ob[..., None, None]  # (..., 1, 1)
        itself = ((a == own_a) & (b == own_b)) | ((a == own_b) & (b == own_a))
        hit &= ~(itself & (own_a >= 0) & (own_b >= 0))  # never the pair's own label
        count = hit.sum((-1, -2)).float()  # (...)
        product = sa.unsqueeze(-1) * sb.unsqueeze(-2)  # (..., K+1, K+1)
        best = (product * hit).amax((-1, -2)).clamp(min=0)  # (...)
        return torch.stack([count.log1p(), best], -1)  # (..., 2)

    def rows(self) -> list[str]:
        """The table as TSV lines (``hash_a hash_b``), to keep with the model."""
        return [f"{a}\t{b}" for a, b in self.pairs]
