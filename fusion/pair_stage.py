"""The pair stage: everything about a pair of proteins, from two proteins' latents to a logit.

One :class:`PairStage` owns

* the registered pair-evidence providers (:data:`ppi.fusion.evidence.EVIDENCE`,
  numbers about the pair itself, e.g. interologs), fed by the training data in
  :meth:`PairStage.prepare` the way channels are;
* the A<->B interaction: ``pair_layers`` cross-attention blocks in which A's
  ``M`` latent tokens attend to B's and the reverse, with shared weights;
* the pair head;
* the fast path for a whole block of rows x columns (:meth:`PairStage.block`).

Everything that scores pairs calls one of two entry points: :meth:`pairs`
(a list of pairs: training, evaluation, ``ppi score``, ``ppi ablate``) or
:meth:`block` (every row protein against every column protein: ``ppi
screen``). Hiding an evidence provider (ablation) is :attr:`hidden`.

The block path. In the (single) pair block most of the work depends on one
protein only, so it is computed once per protein (:meth:`sides`):

* the queries of A (after their layer norm) and the keys of B;
* B's values already passed through the output projection (the attention
  weights of a query sum to one, so ``out(sum_n a_n v_n) = sum_n a_n out(v_n)``);
* the same values passed through the feed-forward layer's first projection,
  with its layer norm's gain folded in (a layer norm is a per-token shift and
  scale, which commutes with the projection once the shift is written as a
  rank-one term).

What is left per pair is the ``M x M`` attention, a small matrix product with
``H * M`` rows, the feed-forward layer's second projection, the final layer
norm and the head: about a third of the arithmetic of :meth:`interact`. The
results equal :meth:`pairs` to float32 rounding, and a square block is
symmetric exactly (both sides of a pair come from the same tensor). With
another number of pair blocks the block is scored through :meth:`interact`
in chunks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ppi.fusion import listed
from ppi.fusion.attention import CrossBlock
from ppi.fusion.configs import FusionConfig
from ppi.fusion.evidence import EVIDENCE, EvidencePrior
from ppi.fusion.evidence_memo import EvidenceMemo, state_key
from ppi.fusion.heads import HEADS, HeadConfig


@dataclass
class Sides:
    """Per-protein parts of the pair block, for :meth:`PairStage.block`.

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
        seqs: the proteins' sequences, for the evidence providers.
    """

    z: torch.Tensor
    q: torch.Tensor | None = None
    k: torch.Tensor | None = None
    values: torch.Tensor | None = None
    values_ff: torch.Tensor | None = None
    base: torch.Tensor | None = None
    base_ff: torch.Tensor | None = None
    seqs: list[str] | None = None

    def __len__(self) -> int:
        return self.z.shape[0]

    def take(self, rows: slice | torch.Tensor) -> Sides:
        """The parts of a contiguous range of proteins, or of listed ones (an index tensor)."""
        listed = not isinstance(rows, slice)
        if self.seqs is None:
            seqs = None
        else:
            seqs = [self.seqs[i] for i in rows.tolist()] if listed else self.seqs[rows]

        def pick(t: torch.Tensor, dim: int = 0) -> torch.Tensor:
            # index_select copies listed rows faster than indexing with a tensor
            return t.index_select(dim, rows) if listed else t[(slice(None),) * dim + (rows,)]

        if self.q is None:
            return Sides(pick(self.z), seqs=seqs)
        parts = (self.values, self.values_ff, self.base, self.base_ff)
        return Sides(pick(self.z), pick(self.q, 1), pick(self.k, 1), *map(pick, parts), seqs=seqs)


class PairStage(nn.Module):
    """Evidence providers, the A<->B interaction and the pair head.

    Args:
        fusion: the fusion's settings (width, heads, ``pair_layers``, dropout).
        head: the pair head's settings.
        outputs: logits per pair.
        evidence: provider name -> its config; the enabled ones are built.
        norm: the fusion's output norm, shared: the pair blocks' output is
            normalised as the latents are.
        chunk_pairs: pairs whose intermediate tensors :meth:`block` holds at
            once; bounds memory (about 12 KiB per pair).
    """

    def __init__(
        self,
        fusion: FusionConfig,
        head: HeadConfig,
        outputs: int,
        evidence: Mapping[str, Any],
        norm: nn.LayerNorm,
        chunk_pairs: int = 2048,
    ) -> None:
        super().__init__()
        args = (fusion.dim, fusion.heads, fusion.dropout, fusion.spectral_norm)
        self.blocks = nn.ModuleList(CrossBlock(*args) for _ in range(fusion.pair_layers))
        self.norm = norm
        self.evidence = {n: EVIDENCE.get(n)(c) for n, c in evidence.items() if c.enabled}
        width = sum(p.dim for p in self.evidence.values())
        self.head = HEADS.get("pair")(head, fusion.dim, outputs, width)
        #: names of evidence providers whose numbers read as zeros (ablation)
        self.hidden: frozenset[str] = frozenset()
        #: a logistic regression on the evidence alone, added to the logit (fitted after training)
        self.prior: EvidencePrior | None = None
        self.chunk_pairs = chunk_pairs
        #: pairs' evidence kept by a training run (:meth:`remember`); None computes every call
        self.memo: EvidenceMemo | None = None
        self._state: str | None = None  # names what the providers learned (None: from files)

    # -- evidence -----------------------------------------------------------------------
    def prepare(
        self, proteins: Mapping[str, str], run: Any = None, accelerator: Any = None
    ) -> None:
        """Let every provider learn from the training data (``run``) and look up these proteins."""
        for provider in self.evidence.values():
            provider.prepare(proteins, run, accelerator)
        if run is not None:
            self._state = state_key(self.evidence, proteins, run)
            if self.memo is not None:
                self.memo.bind(self._state)

    def save_assets(self, directory: Path) -> None:
        """Each provider's files, in ``evidence-<name>/`` of the model folder."""
        for name, provider in self.evidence.items():
            provider.save_assets(directory / f"evidence-{name}")
        if self.prior is not None:
            self.prior.save(directory)

    def load_assets(self, directory: Path) -> None:
        """Read what :meth:`save_assets` wrote."""
        for name, provider in self.evidence.items():
            provider.load_assets(directory / f"evidence-{name}")
        self.prior = EvidencePrior.load(directory) if self.evidence else None
        self._state, self.memo = None, None

    def remember(self, memo: EvidenceMemo | None) -> None:
        """Keep each pair's evidence in ``memo`` (None: compute every call).

        Only once the providers learned from a training split (:meth:`prepare`
        with ``run``): the memo is bound to that state, so a memo shared by
        stages prepared on the same split (the members of an ensemble) serves
        them all.
        """
        self.memo = memo if self._state is not None else None
        if self.memo is not None:
            self.memo.bind(self._state)

    def pair_evidence(
        self, seqs_a: list[str], seqs_b: list[str], grid: bool = False
    ) -> torch.Tensor | None:
        """The providers' numbers about the pairs (None without providers).

        Shapes:
            returns ``(P, E)``, or with ``grid`` every ``a`` against every ``b``: ``(R, C, E)``.
        """
        if not self.evidence:
            return None
        if self.memo is not None and not grid:
            numbers = self.memo.get(seqs_a, seqs_b, self._evidence)
        else:
            numbers = self._evidence(seqs_a, seqs_b, grid)
        if self.hidden & set(self.evidence):
            start = 0  # numbers is a new tensor (cat or stack): the memo's rows stay whole
            for name, provider in self.evidence.items():
                if name in self.hidden:
                    numbers[..., start : start + provider.dim] = 0.0
                start += provider.dim
        return numbers.to(next(self.head.parameters()).device)

    def _evidence(self, seqs_a: list[str], seqs_b: list[str], grid: bool = False) -> torch.Tensor:
        """Every provider's numbers side by side, hidden ones too: ``(P, E)`` or ``(R, C, E)``."""
        return torch.cat([p.features(seqs_a, seqs_b, grid) for p in self.evidence.values()], -1)

    def direct_columns(self) -> tuple[int, ...]:
        """Columns of :meth:`pair_evidence` on the pair's own interologs (providers' ``direct``)."""
        cols, start = [], 0
        for provider in self.evidence.values():
            cols += [start + c for c in getattr(provider, "direct", ())]
            start += provider.dim
        return tuple(cols)

    # -- the two entry points -----------------------------------------------------------
    def pairs(
        self, za: torch.Tensor, zb: torch.Tensor, seqs_a: list[str], seqs_b: list[str]
    ) -> torch.Tensor:
        """Interaction logits of a list of pairs.

        Shapes:
            za, zb ``(P, M, D)`` -> ``(P,)`` (``(P, C)`` for C > 1 outputs).
        """
        return self.logits(za, zb, self.pair_evidence(seqs_a, seqs_b))

    @torch.no_grad()
    def block(
        self, rows: Sides, cols: Sides | None = None, only: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits of every (row, column) pair; ``cols=None`` pairs the rows with themselves.

        ``only``, a bool mask, scores just those pairs of the block (the
        others read ``-inf``): the pairs a retrieval prefilter kept.

        Shapes:
            rows ``R`` proteins, cols ``C``, only ``(R, C)`` -> ``(R, C)``.
        """
        other = rows if cols is None else cols
        if only is not None:
            return self._only(rows, other, only)
        evidence = None
        if self.evidence:
            evidence = self.pair_evidence(rows.seqs, other.seqs, grid=True)  # (R, C, E)
        if len(self.blocks) != 1 or rows.q is None:
            return self._plain(rows, other, evidence)
        if cols is None:
            given = self.pooled(rows, rows)  # (R, R, D): row i given row j
            return self._head(given, given.transpose(0, 1), evidence)
        return self._head(
            self.pooled(rows, cols), self.pooled(cols, rows).transpose(0, 1), evidence
        )

    # -- the algebra ----------------------------------------------------------------------
    def logits(
        self, za: torch.Tensor, zb: torch.Tensor, evidence: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The head over the interacted, pooled sides (and the pairs' evidence).

        Shapes:
            za, zb ``(P, M, D)``, evidence ``(P, E)`` -> ``(P,)``.
        """
        ha, hb, _ = self.interact(za, zb)
        return self._head(ha, hb, evidence)

    def _head(
        self, ha: torch.Tensor, hb: torch.Tensor, evidence: torch.Tensor | None
    ) -> torch.Tensor:
        """The head's logits, plus the evidence prior's when there is one.

        A hidden provider's columns add nothing to the prior (their numbers
        read as zeros to the head).

        Shapes:
            ha, hb ``(..., D)``, evidence ``(..., E)`` -> ``(...)``.
        """
        out = self.head(ha, hb, evidence)
        if self.prior is None or evidence is None or not self.prior.active:
            return out
        shown = torch.cat(
            [torch.full((p.dim,), float(n not in self.hidden)) for n, p in self.evidence.items()]
        )
        return out + self.prior.logit(evidence.to(out.dtype), shown.to(out.device)).to(out.dtype)

    def interact(
        self, za: torch.Tensor, zb: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Let A and B attend to each other with shared weights; pool each side.

        Both directions run as one batch (A's rows then B's), each layer
        updating both sides from the other's previous state, so swapping A and
        B swaps the outputs exactly.

        Shapes:
            za, zb ``(P, M, D)`` -> pooled ``(P, D)`` each, and per layer the
            A->B attention ``(P, M, M)`` when ``need_weights``.
        """
        p = za.shape[0]
        x = torch.cat([za, zb], 0)  # (2P, M, D)
        full = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)  # (2P, M)
        maps = []
        for blk in self.blocks:
            other = torch.cat([x[p:], x[:p]], 0)  # B's rows then A's, (2P, M, D)
            x, weights = blk(x, other, full, need_weights)
            if weights is not None:
                maps.append(weights[:p])
        pooled = self.norm(x).mean(1)  # (2P, D)
        return pooled[:p], pooled[p:], maps

    def _plain(self, rows: Sides, cols: Sides, evidence: torch.Tensor | None) -> torch.Tensor:
        """Every pair of the block through :meth:`logits`, in chunks.

        Shapes:
            returns ``(R, C)``.
        """
        r, c = len(rows), len(cols)
        step = max(1, self.chunk_pairs // max(c, 1))
        out = []
        for i in range(0, r, step):
            za = rows.z[i : i + step, None].expand(-1, c, -1, -1).flatten(0, 1)  # (r*C, M, D)
            zb = cols.z[None].expand(min(step, r - i), -1, -1, -1).flatten(0, 1)  # (r*C, M, D)
            ev = None if evidence is None else evidence[i : i + step].flatten(0, 1)  # (r*C, E)
            out.append(self.logits(za, zb, ev).view(-1, c))
        return torch.cat(out, 0)  # (R, C)

    def _only(self, rows: Sides, cols: Sides, only: torch.Tensor) -> torch.Tensor:
        """The masked pairs of a block as listed pairs; ``-inf`` elsewhere.

        With one pair block, the pairs sharing a protein are scored together
        (:mod:`ppi.fusion.listed`); else in chunks through :meth:`logits`.

        Shapes:
            only ``(R, C)`` -> ``(R, C)``.
        """
        out = torch.full(only.shape, -torch.inf, device=rows.z.device)  # (R, C)
        a, b = only.nonzero().to(rows.z.device).unbind(1)  # (P,) each, row-major
        fast = len(self.blocks) == 1 and rows.q is not None
        if fast:
            batch = min(self.chunk_pairs, listed.BATCH)
            ha = listed.given(self, rows, cols, a, b, batch)  # (P, D) row given column
            hb = listed.given(self, cols, rows, b, a, batch)  # (P, D) column given row
        for start in range(0, len(a), self.chunk_pairs):
            part = slice(start, start + self.chunk_pairs)
            ia, ib = a[part], b[part]  # (p,) each
            ev = None
            if self.evidence:
                seqs_a = [rows.seqs[i] for i in ia.tolist()]
                seqs_b = [cols.seqs[i] for i in ib.tolist()]
                ev = self.pair_evidence(seqs_a, seqs_b)  # (p, E)
            if fast:
                logits = self._head(ha[part], hb[part], ev)
            else:
                logits = self.logits(rows.z.index_select(0, ia), cols.z.index_select(0, ib), ev)
            out[a[part], b[part]] = logits.to(out.dtype)
        return out

    # -- the block path: :meth:`interact` with one block, rewritten per protein -----------
    @torch.no_grad()
    def sides(self, z: torch.Tensor, seqs: list[str] | None = None) -> Sides:
        """Precompute each protein's parts of the pair block.

        Shapes:
            z ``(N, M, D)``.
        """
        if len(self.blocks) != 1:
            return Sides(z, seqs=seqs)
        blk = self.blocks[0]
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
            seqs=seqs,
        )

    def _ff_gain(self) -> torch.Tensor:
        blk = self.blocks[0]
        return blk.ff_in.weight * blk.norm_ff.weight  # (2D, D)

    def _ff_shift(self) -> torch.Tensor:
        blk = self.blocks[0]
        return blk.ff_in.bias + blk.ff_in.weight @ blk.norm_ff.bias  # (2D,)

    def pooled(self, rows: Sides, cols: Sides) -> torch.Tensor:
        """Each row protein's pooled pair-block output given each column protein.

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
        qr = rows.q.reshape(heads, r * m, hd)  # (H, R*M, hd)
        kc = cols.k.reshape(heads, c * m, hd)  # (H, C*M, hd)
        att = (kc @ qr.transpose(1, 2)).view(heads, c, m, r, m)  # (H, C, M, R, M) logits
        att = att.permute(1, 3, 4, 0, 2).contiguous().softmax(-1)  # (C, R, M, H, M)
        att = att.view(c, r * m, heads * m)  # (C, R*M, H*M)
        x = torch.baddbmm(rows.base.view(r * m, d), att, cols.values)  # (C, R*M, D)
        gx = torch.baddbmm(rows.base_ff.view(r * m, 2 * d), att, cols.values_ff)  # (C, R*M, 2D)
        return self._feed_forward(x, gx).view(c, r, m, d).mean(2)  # (C, R, D)

    def _feed_forward(self, x: torch.Tensor, gx: torch.Tensor) -> torch.Tensor:
        """The block's feed-forward layer (first projection ``gx`` given) and the final norm.

        Shapes:
            x ``(..., D)``, gx ``(..., 2D)`` -> ``(..., D)``.
        """
        blk, d = self.blocks[0], x.shape[-1]
        _, mean, inv = torch.native_layer_norm(x, (d,), None, None, blk.norm_ff.eps)  # (..., 1)
        hidden = torch.addcmul(self._ff_shift(), gx, inv)  # (..., 2D)
        hidden.addcmul_(mean.mul_(inv), self._ff_gain().sum(1), value=-1.0)
        hidden = blk.ff_act(hidden).reshape(-1, 2 * d)  # (n, 2D)
        out = torch.addmm(x.reshape(-1, d), hidden, blk.ff_out.weight.T)
        out += blk.ff_out.bias  # (n, D)
        return self.norm(out).view(x.shape)  # (..., D)
