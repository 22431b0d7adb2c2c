"""The sequence channel: a protein language model's per-residue embeddings as tokens.

With a frozen backbone the embeddings are computed once per (backbone
identity, sequence), stored in the embedding cache and read from memory during
training; with a trained backbone they are computed in every step, on random
crops of ``train_crop`` residues during training when that is set. A backbone
learned from zero on such crops never trained a position beyond the crop, so
it then reads every sequence in windows of the crop's length, stitched back.
"""

from __future__ import annotations

import logging
import random
from functools import partial
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ppi.backbones.embedding import FrozenEmbedder, shared_backbone
from ppi.channels.base import Channel, ChannelContext, Proteins, RunData, Tokens
from ppi.channels.configs import CHANNELS, SequenceConfig

log = logging.getLogger("ppi")


@CHANNELS.register("sequence")
class SequenceChannel(Channel):
    """Per-residue backbone embeddings projected to the fusion width."""

    Config = SequenceConfig

    def __init__(self, config: SequenceConfig, context: ChannelContext) -> None:
        super().__init__(config, context)
        self.backbone = shared_backbone(context.backbone)
        self.norm = nn.LayerNorm(self.backbone.dim)
        self.proj = nn.Linear(self.backbone.dim, context.dim)
        self._store: dict[str, torch.Tensor] = {}
        crop = config.train_crop
        if crop > 0 and self.backbone.trainable and not self.backbone.pretrained:
            self.backbone.limit_window(crop)

    @property
    def frozen(self) -> bool:
        """Whether the backbone's weights stay fixed (so embeddings are cached)."""
        return not self.backbone.trainable

    def identity(self) -> str:
        """What this channel's output depends on besides its own trained weights."""
        return self.backbone.identity() if self.frozen else f"window={self.backbone.window}"

    def frozen_state_prefixes(self) -> list[str]:
        """A frozen backbone is loaded from its source, not saved with the model."""
        return ["backbone."] if self.frozen else []

    def prepare(
        self, proteins: dict[str, str], accelerator: Any = None, run: RunData | None = None
    ) -> None:
        """Fill the embedding cache for these proteins and load them into memory.

        Only with a frozen backbone; the main process computes, the others wait
        and then read the cache.
        """
        if not self.frozen:
            return
        seqs = list(dict.fromkeys(s for s in proteins.values() if s not in self._store))
        embedder = FrozenEmbedder(self.backbone, self.context.cache_dir)
        if accelerator is None or accelerator.is_main_process:
            bar = partial(tqdm, desc="embedding", unit="batch", leave=False, disable=None)
            embedder.fill(seqs, self.proj.weight.device, bar)
        if accelerator is not None:
            accelerator.wait_for_everyone()
        for seq in seqs:
            self._store[seq] = embedder.get(seq)

    def forward(self, batch: Proteins) -> Tokens:
        """Residue tokens of each protein.

        Shapes:
            returns tokens ``(B, L, D)`` and mask ``(B, L)``, L = longest sequence.
        """
        if self.frozen:
            emb, mask = self._lookup(batch.seqs)
        else:
            emb, mask = self.backbone(self._crop(batch.seqs))  # (B, L, Db)
        positions = None
        if not self.training or self.config.train_crop <= 0:  # tokens are whole sequences
            positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)  # (B, L)
            positions = positions.masked_fill(~mask, -1)
        return Tokens(self.proj(self.norm(emb)), mask, positions)  # (B, L, D)

    def _crop(self, seqs: list[str]) -> list[str]:
        crop = self.config.train_crop
        if not self.training or crop <= 0:
            return seqs
        out = []
        for s in seqs:
            start = random.randint(0, max(len(s) - crop, 0))
            out.append(s[start : start + crop])
        return out

    def _lookup(self, seqs: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        missing = [s for s in seqs if s not in self._store]
        if missing:
            self.prepare({str(i): s for i, s in enumerate(missing)})
        device = self.proj.weight.device
        length = max(len(s) for s in seqs)
        emb = torch.zeros(len(seqs), length, self.backbone.dim, device=device)  # (B, L, Db)
        mask = torch.zeros(len(seqs), length, dtype=torch.bool, device=device)  # (B, L)
        for i, s in enumerate(seqs):
            emb[i, : len(s)] = self._store[s].to(device, emb.dtype)
            mask[i, : len(s)] = True
        return emb, mask
