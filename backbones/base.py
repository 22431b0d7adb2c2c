"""The backbone contract: sequences in, per-residue embeddings ``(B, L, D)`` out.

Glossary used across the code: B batch, L residues, D width, K homologs,
T annotation terms, N graph nodes, E edges, H heads, M latent tokens.

A backbone implements :meth:`Backbone.embed_windows` for sequences no longer
than :attr:`Backbone.max_len`; :meth:`Backbone.forward` splits longer ones into
overlapping windows and stitches them back, so nothing is truncated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ppi.registry import Registry

BACKBONES = Registry("backbone")

#: Residue letters that reach a backbone. The data layer maps the ambiguous
#: codes B, Z, J, U, O to X before sequences get here.
RESIDUES = "ACDEFGHIKLMNPQRSTVWY"
ALPHABET = RESIDUES + "X"


@dataclass(frozen=True)
class BackboneConfig:
    """Fields every backbone has.

    Attributes:
        name: registry name (``esm2``, ``hf``, ``antiberty``, ``unirep``, ``scratch``).
        finetune: ``frozen`` (embeddings computed once and cached), ``full``,
            or ``last`` (only the last ``finetune_layers`` blocks train).
        finetune_layers: how many blocks train when ``finetune: last``.
        window_overlap: residues shared by neighbouring windows of a sequence
            longer than the backbone's maximum length.
        max_len: residues per window; 0 means the backbone's own maximum.
    """

    name: str = "scratch"
    finetune: Literal["frozen", "full", "last"] = "frozen"
    finetune_layers: int = 1
    window_overlap: int = 64
    max_len: int = 0


class Backbone(nn.Module):
    """Base class of every backbone. Subclasses set the attributes below."""

    Config = BackboneConfig
    #: embedding width D
    dim: int
    #: most residues one window may hold (special tokens not counted)
    max_len: int
    #: residue letters the tokenizer knows; anything else is read as X
    alphabet: str = ALPHABET
    #: causal (decoder) models pool on the last residue, encoders on the mean
    causal: bool = False

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        self.config = config

    # -- what subclasses implement -------------------------------------------------
    def embed_windows(self, seqs: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed sequences of at most ``max_len`` residues.

        Shapes:
            returns embeddings ``(B, L, D)`` (residues only, no special tokens,
            L = longest sequence) and a bool mask ``(B, L)``, True on residues.
        """
        raise NotImplementedError

    def blocks(self) -> list[nn.Module]:
        """The model's layers in order from input to output (for ``finetune: last``)."""
        raise NotImplementedError

    def identity(self) -> str:
        """A string that changes whenever the embeddings would change.

        It names the backbone, its weights (a checksum or a hub id with its
        revision) and the layer; the embedding cache keys on it.
        """
        raise NotImplementedError

    # -- shared behaviour ------------------------------------------------------------
    @property
    def window(self) -> int:
        """Residues per window: the config's ``max_len`` if set, else the model's."""
        cap = self.config.max_len
        return min(cap, self.max_len) if cap > 0 else self.max_len

    def apply_finetune(self) -> None:
        """Set ``requires_grad`` for the configured fine-tuning mode."""
        mode = self.config.finetune
        for p in self.parameters():
            p.requires_grad = mode == "full"
        if mode == "last":
            for block in self.blocks()[-max(self.config.finetune_layers, 0) :]:
                for p in block.parameters():
                    p.requires_grad = True

    @property
    def trainable(self) -> bool:
        """Whether any weight trains (if not, embeddings can be cached)."""
        return self.config.finetune != "frozen"

    def forward(self, seqs: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed sequences of any length; long ones go through overlapping windows.

        Shapes:
            returns ``(B, L, D)`` and mask ``(B, L)``, L = longest sequence.
        """
        pieces, owners = split_windows(seqs, self.window, self.config.window_overlap)
        if len(pieces) == len(seqs):
            return self.embed_windows(seqs)
        emb, _ = self.embed_windows([p for p, _ in pieces])  # (W, Lw, D)
        return stitch_windows(emb, pieces, owners, [len(s) for s in seqs])

    def pool(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """One vector per sequence: mean over residues, last residue for decoders.

        Shapes:
            emb ``(B, L, D)``, mask ``(B, L)`` -> ``(B, D)``.
        """
        return pool_residues(emb, mask, causal=self.causal)


def pool_residues(emb: torch.Tensor, mask: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """Mean over masked residues, or the last residue when ``causal``.

    Shapes:
        emb ``(B, L, D)``, mask ``(B, L)`` -> ``(B, D)``.
    """
    if causal:
        last = mask.long().sum(1).clamp(min=1) - 1  # (B,)
        return emb[torch.arange(emb.shape[0], device=emb.device), last]
    m = mask.unsqueeze(-1).to(emb.dtype)  # (B, L, 1)
    return (emb * m).sum(1) / m.sum(1).clamp(min=1)


def split_windows(
    seqs: list[str], window: int, overlap: int
) -> tuple[list[tuple[str, int]], list[int]]:
    """Cut each sequence into windows of ``window`` residues overlapping by ``overlap``.

    Returns ``(piece, start)`` pairs and, for each piece, the index of its
    sequence. A sequence that fits is one piece starting at 0.
    """
    if window <= 0:
        raise ValueError(f"window must be positive, got {window}")
    overlap = min(max(overlap, 0), window // 2)
    step = window - overlap
    pieces: list[tuple[str, int]] = []
    owners: list[int] = []
    for i, seq in enumerate(seqs):
        starts = [0] if len(seq) <= window else list(range(0, len(seq) - window + 1, step))
        if starts[-1] + window < len(seq):
            starts.append(len(seq) - window)  # last window ends on the last residue
        for s in starts:
            pieces.append((seq[s : s + window], s))
            owners.append(i)
    return pieces, owners


def stitch_windows(
    emb: torch.Tensor,
    pieces: list[tuple[str, int]],
    owners: list[int],
    lengths: list[int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Put window embeddings back on their sequences, averaging where they overlap.

    Overlapping residues are weighted by distance from their window's edge, so
    each residue leans on the window where it had the most context.

    Shapes:
        emb ``(W, Lw, D)`` -> ``(B, L, D)`` and mask ``(B, L)``.
    """
    n, length, dim = len(lengths), max(lengths), emb.shape[-1]
    out = emb.new_zeros(n, length, dim)  # (B, L, D)
    weight = emb.new_zeros(n, length, 1)  # (B, L, 1)
    for w, ((piece, start), owner) in enumerate(zip(pieces, owners)):
        size = len(piece)
        pos = torch.arange(size, device=emb.device, dtype=emb.dtype)
        edge = torch.minimum(pos + 1, size - pos).unsqueeze(-1)  # (Lw, 1)
        out[owner, start : start + size] += emb[w, :size] * edge
        weight[owner, start : start + size] += edge
    mask = torch.zeros(n, length, dtype=torch.bool, device=emb.device)
    for i, n_res in enumerate(lengths):
        mask[i, :n_res] = True
    return out / weight.clamp(min=1e-6), mask
