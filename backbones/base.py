"""The backbone contract: sequences in, per-residue embeddings ``(B, L, D)`` out.

Glossary used across the code: B batch, L residues, D width, K homologs,
T annotation terms, N graph nodes, E edges, H heads, M latent tokens.

A backbone implements :meth:`Backbone.embed_windows` for sequences no longer
than :attr:`Backbone.max_len`; :meth:`Backbone.forward` splits longer ones into
overlapping windows and stitches them back, so nothing is truncated.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ppi.backbones.configs import BackboneConfig
from ppi.errors import ConfigError
from ppi.utils.batching import token_budget_groups

#: Residue letters that reach a backbone. The data layer maps the ambiguous
#: codes B, Z, J, U, O to X before sequences get here.
RESIDUES = "ACDEFGHIKLMNPQRSTVWY"
ALPHABET = RESIDUES + "X"


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
    #: False for a backbone whose weights, positions included, are learned with the task
    pretrained: bool = True

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        self.config = config
        #: longest window the task trained it on (0: no such limit), see :meth:`limit_window`
        self.trained_span = 0

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
        """Residues per window: the config's ``max_len`` if set, else the model's.

        Never more than :attr:`trained_span` when that is set.
        """
        cap = self.config.max_len
        window = min(cap, self.max_len) if cap > 0 else self.max_len
        return min(window, self.trained_span) if self.trained_span > 0 else window

    def limit_window(self, span: int) -> None:
        """Read sequences in windows of at most ``span`` residues from now on.

        For a backbone learned with the task on crops of ``span`` residues:
        positions beyond the crop and attention over more residues than it
        were never trained, so longer sequences are read as stitched windows
        of the crop's length, the same way sequences beyond ``max_len`` are.
        """
        self.trained_span = span

    def apply_finetune(self) -> None:
        """Set ``requires_grad`` for the configured fine-tuning mode."""
        mode = self.config.finetune
        for p in self.parameters():
            p.requires_grad = mode == "full"
        if mode == "last":
            blocks = self.blocks()
            count = min(max(self.config.finetune_layers, 0), len(blocks))
            for block in blocks[len(blocks) - count :]:
                for p in block.parameters():
                    p.requires_grad = True

    def train(self, mode: bool = True) -> Backbone:
        """Switch modes; a frozen backbone stays in eval mode so its embeddings are fixed."""
        return super().train(mode and self.trainable)

    @property
    def trainable(self) -> bool:
        """Whether any weight trains (if not, embeddings can be cached)."""
        return self.config.finetune != "frozen"

    def forward(self, seqs: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed sequences of any length; long ones go through overlapping windows.

        Shapes:
            returns ``(B, L, D)`` and mask ``(B, L)``, L = longest sequence.
        """
        share = self.config.window_overlap
        if not 0 <= share <= 0.5:
            raise ConfigError(
                f"backbone.window_overlap: expected 0 to 0.5 of a window, got {share}"
            )
        pieces, owners = split_windows(seqs, self.window, int(self.window * share))
        emb = self._embed_chunked([p for p, _ in pieces])  # (W, Lw, D)
        if len(pieces) == len(seqs):
            lengths = torch.tensor([len(s) for s in seqs], device=emb.device)
            mask = torch.arange(emb.shape[1], device=emb.device) < lengths[:, None]  # (B, L)
            return emb, mask
        return stitch_windows(emb, pieces, owners, [len(s) for s in seqs])

    def _embed_chunked(self, texts: list[str]) -> torch.Tensor:
        """``embed_windows`` over length-sorted chunks under the token budget.

        Shapes:
            returns ``(W, Lw, D)`` in the order of ``texts``.
        """
        groups = token_budget_groups([len(t) for t in texts], self.config.batch_tokens)
        if len(groups) == 1:
            return self.embed_windows(texts)[0]
        parts = [(g, self.embed_windows([texts[i] for i in g])[0]) for g in groups]
        ref = parts[0][1]
        out = ref.new_zeros(len(texts), max(len(t) for t in texts), ref.shape[-1])  # (W, Lw, D)
        for group, emb in parts:
            out[group, : emb.shape[1]] = emb
        return out

    def mean_vectors(self, seqs: list[str]) -> torch.Tensor:
        """Each sequence's embedding averaged over its residues, float32.

        A backbone that can average without keeping every residue's embedding
        (a recurrence) overrides this.

        Shapes:
            returns ``(B, D)``.
        """
        emb, mask = self(seqs)  # (B, L, D), (B, L)
        return pool_residues(emb.float(), mask)

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
        raise ConfigError(f"backbone.max_len: expected a positive window, got {window}")
    if not 0 <= overlap <= window // 2:
        raise ConfigError(
            f"backbone.window_overlap: expected 0 to {window // 2} (half a window), got {overlap}"
        )
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
    each residue leans on the window where it had the most context. One
    scatter-add does it all, so the backward pass stays one operation too.

    Shapes:
        emb ``(W, Lw, D)`` -> ``(B, L, D)`` and mask ``(B, L)``.
    """
    n, length, dim = len(lengths), max(lengths), emb.shape[-1]
    dev, dtype = emb.device, emb.dtype
    emb = emb.to(torch.promote_types(dtype, torch.float32))  # bf16/fp16 cannot count positions
    sizes = torch.tensor([len(p) for p, _ in pieces], device=dev)  # (W,)
    starts = torch.tensor([s for _, s in pieces], device=dev)  # (W,)
    rows = torch.tensor(owners, device=dev)  # (W,)
    pos = torch.arange(emb.shape[1], device=dev)  # (Lw,)
    valid = pos[None, :] < sizes[:, None]  # (W, Lw)
    edge = torch.minimum(pos[None, :] + 1, sizes[:, None] - pos[None, :]).to(emb.dtype)  # (W, Lw)
    target = rows[:, None] * length + starts[:, None] + pos[None, :]  # (W, Lw) flat index
    target, weight = target[valid], edge[valid]  # (R,)
    out = emb.new_zeros(n * length, dim).index_add(0, target, emb[valid] * weight[:, None])
    total = emb.new_zeros(n * length).index_add(0, target, weight)  # (B*L,)
    out = (out / total.clamp(min=1e-6)[:, None]).view(n, length, dim).to(dtype)  # (B, L, D)
    mask = torch.arange(length, device=dev)[None, :] < torch.tensor(lengths, device=dev)[:, None]
    return out, mask


def resolve_layer(layer: int, depth: int) -> int:
    """``layer`` as an index 0..depth into the hidden states (0 is the token embedding).

    Negative values count from the end: -1 is the last block.
    """
    if not -(depth + 1) <= layer <= depth:
        raise ConfigError(
            f"backbone.layer: {layer} is out of range for a {depth}-layer model "
            f"(valid: 0..{depth}, or -{depth + 1}..-1 counting from the end)"
        )
    return layer % (depth + 1)


def freeze_unused(model: nn.Module, probe: Any) -> None:
    """Stop training weights that get no gradient from ``probe()``'s output.

    Heads and blocks past the chosen layer would otherwise break distributed
    training, which expects a gradient for every trainable weight.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        return
    with torch.enable_grad():
        grads = torch.autograd.grad(probe().sum(), params, allow_unused=True)
    for p, g in zip(params, grads, strict=True):
        if g is None:
            p.requires_grad_(False)


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one short line: its type and squashed message."""
    text = " ".join(str(exc).split())
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}"
