"""The channel contract: proteins in, tokens ``(B, Lc, D)`` plus a mask out.

A channel knows nothing about the other channels or about pairs: it turns
each protein of a batch into up to ``Lc`` tokens of the fusion width ``D``.
Later channels (homology, annotation, structure) only subclass
:class:`Channel` and register themselves in :data:`CHANNELS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ppi.channels.configs import ChannelConfig

if TYPE_CHECKING:
    from ppi.backbones.configs import BackboneConfig


@dataclass
class Proteins:
    """A batch of proteins: ids and their (validated) sequences."""

    ids: list[str]
    seqs: list[str]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Tokens:
    """One channel's output for a batch.

    Shapes:
        tokens ``(B, Lc, D)``; mask ``(B, Lc)``, True where a token is real;
        positions ``(B, Lc)`` optional: the sequence position a token stands
        for (-1 for tokens of no residue), read by residue-level interface maps.
    """

    tokens: torch.Tensor
    mask: torch.Tensor
    positions: torch.Tensor | None = None


@dataclass(frozen=True)
class RunData:
    """What a training run tells its channels about the data, before training.

    Channels fit what they learn from data (vocabularies, neighbour exclusion
    lists, known interactions) here and keep it with :meth:`Channel.save_assets`;
    evaluation and scoring call :meth:`Channel.prepare` without it and use
    what was saved.

    Attributes:
        train_ids: proteins of the training split.
        holdout_ids: proteins of the validation and test splits (what a channel
            must not learn from: e.g. excluded from neighbour lists).
        train_pairs: labelled training pairs ``(id_a, id_b, label)``; empty
            for single-sequence tasks.
    """

    train_ids: frozenset[str]
    holdout_ids: frozenset[str]
    train_pairs: tuple[tuple[str, str, float], ...] = ()


@dataclass(frozen=True)
class ChannelContext:
    """What the model tells a channel when it builds it.

    Attributes:
        dim: the fusion width D every channel projects to.
        backbone: the sequence backbone's config (shared by channels that embed).
        cache_dir: root of the on-disk cache (``PPI_CACHE``).
    """

    dim: int
    backbone: BackboneConfig
    cache_dir: Path


class Channel(nn.Module):
    """Base class of every channel."""

    Config = ChannelConfig
    #: whether the tokens depend on the protein's id (annotations, structures),
    #: not only on its sequence; cached representations are then keyed by both.
    uses_ids: bool = False

    def __init__(self, config: ChannelConfig, context: ChannelContext) -> None:
        super().__init__()
        self.config = config
        self.context = context

    def prepare(
        self, proteins: dict[str, str], accelerator: Any = None, run: RunData | None = None
    ) -> None:
        """Compute or load, once, what this channel needs for these proteins.

        Called with every protein (``{id: sequence}``) a run will see before
        training, evaluation or scoring (e.g. frozen embeddings are filled into
        the cache here). ``run`` is given when training, before the optimizer
        is built, so parameters sized by the data (a vocabulary) may be made
        here. The default does nothing.
        """

    def forward(self, batch: Proteins) -> Tokens:
        """Tokens for each protein of the batch.

        Shapes:
            returns tokens ``(B, Lc, D)`` and mask ``(B, Lc)``.
        """
        raise NotImplementedError

    def drop(self, part: Tokens, keep: torch.Tensor) -> Tokens:
        """Hide this channel for the proteins where ``keep`` is False (channel dropout).

        The default masks every token. A channel with a learned "no evidence"
        token overrides this to show that token instead, as a protein that
        really lacks the evidence would at prediction time.

        Shapes:
            part ``(B, Lc, D)`` with mask ``(B, Lc)``; keep ``(B, 1)``.
        """
        part.mask = part.mask & keep
        return part

    def identity(self) -> str:
        """What the tokens depend on besides the channel's trained weights.

        For example a frozen backbone's weights or a search index; used in the
        key of cached per-protein representations. Default: nothing.
        """
        return ""

    def save_assets(self, directory: Path) -> None:
        """Write files the channel needs besides its weights (vocabularies)."""

    def load_assets(self, directory: Path) -> None:
        """Read what :meth:`save_assets` wrote."""

    def frozen_state_prefixes(self) -> list[str]:
        """State-dict key prefixes (relative to the channel) not saved with the model.

        A frozen pretrained backbone is loaded from its own source rather than
        copied into every trained model folder.
        """
        return []
