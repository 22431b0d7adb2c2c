"""Embed with a frozen backbone, through the embedding cache: the one path every user takes.

The sequence channel (per-residue embeddings), the structure channel (the same
embeddings at its graph's nodes) and the homolog index (one pooled vector per
sequence) all fill and read the cache through :class:`FrozenEmbedder`, and get
their backbone from :func:`shared_backbone`, so a process that needs one
frozen pretrained backbone in several places loads it once.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

from ppi.backbones.base import Backbone, pool_residues
from ppi.backbones.configs import BACKBONES, BackboneConfig
from ppi.utils.batching import token_budget_batches
from ppi.utils.cache import EmbeddingCache

log = logging.getLogger("ppi")
POOLINGS = ("mean", "max", "last")

_SHARED: weakref.WeakValueDictionary[str, Backbone] = weakref.WeakValueDictionary()


def shared_backbone(config: BackboneConfig) -> Backbone:
    """The backbone of ``config``; one instance per process for a frozen pretrained one.

    A frozen pretrained backbone's weights come from its source and never
    change, so every part asking for the same config gets the same module
    (while any of them holds it). Any other backbone is built anew: its
    weights train, or are random, and belong to the part that asked.
    """
    if not is_fixed(config):
        return BACKBONES.build(config)
    key = repr(config)
    backbone = _SHARED.get(key)
    if backbone is None:
        backbone = BACKBONES.build(config)
        _SHARED[key] = backbone
    return backbone


def is_fixed(config: BackboneConfig) -> bool:
    """Whether the backbone's weights come from its source and never train."""
    return config.finetune == "frozen" and BACKBONES.get(config.name).pretrained


class FrozenEmbedder:
    """A frozen backbone's embeddings of sequences, computed once and kept in the cache.

    Args:
        backbone: a built backbone whose weights do not train.
        root: cache root (default ``PPI_CACHE``).
        pooling: ``None`` for per-residue embeddings ``(L, Db)`` in half
            precision, or ``mean`` / ``max`` / ``last`` for one float32
            vector ``(Db,)`` per sequence.
        batch_tokens: padded residues per batch (0 = 4 x the backbone's budget).
    """

    def __init__(
        self,
        backbone: Backbone,
        root: Path | None = None,
        pooling: str | None = None,
        batch_tokens: int = 0,
    ) -> None:
        if pooling is not None and pooling not in POOLINGS:
            raise ValueError(f"pooling: expected one of {', '.join(POOLINGS)}, got {pooling!r}")
        self.backbone = backbone
        self.pooling = pooling
        self.batch_tokens = batch_tokens or 4 * backbone.config.batch_tokens
        if pooling is None:
            self.cache = EmbeddingCache(self.identity(), root)
        else:
            self.cache = EmbeddingCache(self.identity(), root, kind="pooled", dtype=torch.float32)

    def identity(self) -> str:
        """Backbone identity (weights, layer), plus the pooling for pooled vectors."""
        ident = self.backbone.identity()
        return ident if self.pooling is None else f"{ident}:pool={self.pooling}"

    def missing(self, seqs: Iterable[str]) -> list[str]:
        """Sequences with no cached embedding yet."""
        return self.cache.missing(seqs)

    def get(self, seq: str) -> torch.Tensor:
        """The cached embedding of one sequence."""
        return self.cache.get(seq)

    @torch.no_grad()
    def fill(
        self,
        seqs: Iterable[str],
        device: torch.device | str | None = None,
        progress: Callable[[Iterable], Iterable] | None = None,
        on_batch: Callable[[int], Any] | None = None,
    ) -> int:
        """Embed the sequences not in the cache (on ``device`` if given); returns how many.

        ``progress`` wraps the batch iterator (tqdm); ``on_batch(n)`` is called
        after each computed batch of ``n`` sequences.
        """
        todo = self.cache.missing(seqs)
        if not todo:
            return 0
        log.info("embedding %d sequences with %s", len(todo), self.identity())
        was_training = self.backbone.training
        self.backbone.eval()
        if device is not None:
            self.backbone.to(device)

        def compute(batch: list[str]) -> list[torch.Tensor]:
            out = self._compute(batch)
            if on_batch is not None:
                on_batch(len(batch))
            return out

        try:
            return self.cache.fill(
                todo, compute, lambda s: token_budget_batches(s, self.batch_tokens), progress
            )
        finally:
            self.backbone.train(was_training)

    def _compute(self, batch: list[str]) -> list[torch.Tensor]:
        """Embeddings of one batch.

        Shapes:
            per sequence ``(L, Db)``, or pooled ``(Db,)``.
        """
        if self.pooling == "mean":
            return list(self.backbone.mean_vectors(batch).cpu())  # (B, Db)
        emb, mask = self.backbone(batch)  # (B, L, Db), (B, L)
        if self.pooling is None:
            return [emb[i, : len(s)] for i, s in enumerate(batch)]
        emb = emb.float()
        if self.pooling == "max":
            pooled = emb.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)  # (B, Db)
        else:
            pooled = pool_residues(emb, mask, causal=True)  # (B, Db): the last residue
        return list(pooled.cpu())


#: Padded residues per call of a frozen UniRep model that only pools: a step of
#: the recurrence multiplies one row per sequence, so more sequences per call
#: run faster (RESULTS.md, "What the default costs"). The mean is summed as the
#: states come (:meth:`UnirepBackbone.mean_vectors`), so a call holds a few
#: states per sequence, not one per residue; larger calls gained little more
#: (8,244 against 8,713 residues/s at one call of 512 proteins) and would
#: lose more work to an interruption.
POOLED_BATCH_TOKENS = 65536


def pooled_embedder(name: str, path: str = "", precision: str = "auto", root: Path | None = None):
    """The cached mean-embedding of a frozen published model (a :data:`PRETRAINED` name).

    ``precision`` is the UniRep backbone's (``auto``: bfloat16 products where
    the processor has bfloat16 matrix units).
    """
    from ppi.backbones.configs import PRETRAINED, UnirepConfig
    from ppi.backbones.unirep import resolve_precision

    config = UnirepConfig(
        size=PRETRAINED[name],
        path=path,
        precision=resolve_precision(precision),
        batch_tokens=POOLED_BATCH_TOKENS,
    )
    return FrozenEmbedder(shared_backbone(config), root, "mean", POOLED_BATCH_TOKENS)


def pooled_vectors(embedder: FrozenEmbedder, seqs: list[str], accelerator: Any = None, desc=""):
    """The pooled vectors of ``seqs`` ``(N, Db)``, float32, filling the cache as needed.

    Under several processes the main process computes what the cache lacks
    and the others wait for it, then read it.
    """
    from functools import partial

    from tqdm.auto import tqdm

    if accelerator is None or accelerator.is_main_process:
        embedder.fill(seqs, progress=partial(tqdm, desc=desc, unit="batch", disable=None))
    if accelerator is not None:
        accelerator.wait_for_everyone()
    if not seqs:
        return torch.zeros(0, embedder.backbone.dim)
    return torch.stack([embedder.get(s) for s in seqs]).float()
