"""A small transformer encoder trained from scratch together with the task.

It follows the from-scratch BCR antibody classifier the project started from:
a tokenizer of five special tokens plus the 20 amino acids, fixed sinusoidal
positions, pre-norm blocks (LayerNorm -> self-attention -> residual;
LayerNorm -> feed-forward -> residual) and a final LayerNorm. Attention runs on
:func:`torch.nn.functional.scaled_dot_product_attention` with a key padding
mask, so padded positions never change a residue's embedding.
"""

from __future__ import annotations

import hashlib
import logging
import math

import torch
from torch import nn
from torch.nn import functional

from ppi.backbones.base import RESIDUES, Backbone
from ppi.backbones.configs import BACKBONES, ScratchConfig
from ppi.config import tools as configtools
from ppi.errors import InputError

log = logging.getLogger("ppi")

#: Special tokens, in id order: ``<pad>`` is 0, ``<mask>`` is 4.
SPECIALS = ("<pad>", "<cls>", "<eos>", "<unk>", "<mask>")
#: token id of the first amino acid; the 20 follow in :data:`ppi.backbones.base.RESIDUES` order
FIRST_RESIDUE = len(SPECIALS)


class ScratchTokenizer:
    """Maps residue strings to token ids: ``<cls>`` residues ``<eos>``, right-padded.

    The vocabulary is :data:`SPECIALS` (ids 0-4) followed by the 20 amino acids
    of :data:`ppi.backbones.base.RESIDUES` (ids 5-24). ``X`` and any other
    character become ``<unk>``.

    Example:
        >>> ids, mask = ScratchTokenizer().encode(["MKV", "AX"])
        >>> ids.tolist()
        [[1, 15, 13, 22, 2], [1, 5, 3, 2, 0]]
    """

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {tok: i for i, tok in enumerate(SPECIALS)}
        for aa in RESIDUES:
            self.vocab[aa] = len(self.vocab)
        self.pad_id, self.cls_id, self.eos_id, self.unk_id, self.mask_id = range(len(SPECIALS))
        lookup = torch.full((256,), self.unk_id, dtype=torch.long)
        for aa in RESIDUES:
            lookup[ord(aa)] = self.vocab[aa]
        self._lookup = lookup

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, seqs: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids of a batch of sequences.

        Shapes:
            returns ids ``(B, L + 2)`` (long; L = longest sequence, the two extra
            positions hold ``<cls>`` and ``<eos>``) and a bool mask ``(B, L + 2)``,
            True on every token that is not ``<pad>``.
        """
        width = max((len(s) for s in seqs), default=0) + 2
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)  # (B, L+2)
        for i, seq in enumerate(seqs):
            raw = seq.encode("ascii", errors="replace")  # non-ASCII -> '?' -> <unk>
            codes = torch.tensor(list(raw), dtype=torch.long)  # (Li,) byte values
            ids[i, 0] = self.cls_id
            ids[i, 1 : len(raw) + 1] = self._lookup[codes]
            ids[i, len(raw) + 1] = self.eos_id
        return ids, ids != self.pad_id


def sinusoidal_table(length: int, dim: int) -> torch.Tensor:
    """Fixed positional encodings of "Attention is all you need".

    ``table[p, 2i] = sin(p / 10000^(2i/dim))`` and
    ``table[p, 2i+1] = cos(p / 10000^(2i/dim))``.

    Shapes:
        returns ``(length, dim)``; ``dim`` must be even.
    """
    pos = torch.arange(length, dtype=torch.float32).unsqueeze(1)  # (length, 1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(pos * freq)  # (length, dim/2)
    table[:, 1::2] = torch.cos(pos * freq)
    return table


class SelfAttention(nn.Module):
    """Multi-head self-attention with a key padding mask.

    There is no dropout on the attention weights: on CPU a nonzero
    ``dropout_p`` takes :func:`~torch.nn.functional.scaled_dot_product_attention`
    off its fused kernel, which made a whole training step of the default model
    3.5 times slower. Dropout acts on the block outputs instead (:class:`Block`).
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Attend from every position to the unpadded ones.

        Shapes:
            x ``(B, L, D)``, keep ``(B, L)`` bool (True on real tokens) -> ``(B, L, D)``.
        """
        b, length, dim = x.shape
        qkv = self.qkv(x).view(b, length, 3, self.heads, dim // self.heads)  # (B, L, 3, H, D/H)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, L, D/H)
        attn_mask = keep[:, None, None, :]  # (B, 1, 1, L)
        y = functional.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        y = y.transpose(1, 2).reshape(b, length, dim)  # (B, L, D)
        return self.out(y)


class LocalConv(nn.Module):
    """Depthwise convolution over ``width`` neighbouring residues, then a pointwise mix.

    Padding is zeroed first, so a residue next to the end of its sequence sees
    the same zeros whatever the batch pads after it.
    """

    def __init__(self, dim: int, width: int) -> None:
        super().__init__()
        self.half = width // 2
        self.depthwise = nn.Conv1d(dim, dim, width, groups=dim)
        self.pointwise = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Shapes: x ``(B, L, D)``, keep ``(B, L)`` -> ``(B, L, D)``."""
        x = x * keep.unsqueeze(-1).to(x.dtype)  # (B, L, D), zeros on padding
        # padded here rather than by the layer: the contiguous copy takes the
        # fast CPU kernel (18 ms against 47 ms a batch at width 15)
        x = functional.pad(x.transpose(1, 2), (self.half, self.half))  # (B, D, L + 2 half)
        y = self.depthwise(x).transpose(1, 2)  # (B, L, D)
        return self.pointwise(functional.gelu(y))


class Block(nn.Module):
    """Pre-norm transformer block: [x + conv(norm(x))], x + attn(norm(x)), then x + ff(norm(x))."""

    def __init__(self, dim: int, heads: int, ff_mult: int, dropout: float, conv: int = 0) -> None:
        super().__init__()
        self.norm0 = nn.LayerNorm(dim) if conv else None
        self.conv = LocalConv(dim, conv) if conv else None
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, ff_mult * dim),
            nn.GELU(),
            nn.Linear(ff_mult * dim, dim),
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Apply one block.

        Shapes:
            x ``(B, L, D)``, keep ``(B, L)`` -> ``(B, L, D)``.
        """
        if self.conv is not None:
            x = x + self.drop(self.conv(self.norm0(x), keep))
        x = x + self.drop(self.attn(self.norm1(x), keep))
        return x + self.drop(self.ff(self.norm2(x)))


@BACKBONES.register("scratch")
class ScratchBackbone(Backbone):
    """Transformer encoder with random initial weights, trained with the task."""

    Config = ScratchConfig
    pretrained = False

    def __init__(self, config: ScratchConfig) -> None:
        configtools.check(config, "backbone")  # also when built in code, not from a config
        state = None
        if config.path:
            from ppi.lm.folder import read_backbone

            config, state = read_backbone(config)
        super().__init__(config)
        self.pretrained = state is not None
        if config.finetune == "frozen" and state is None:
            log.warning(
                "backbone 'scratch' with finetune: frozen keeps its random weights; "
                "use finetune: full to train it with the task"
            )
        self.dim = config.dim
        self.max_len = config.max_len
        self.tokenizer = ScratchTokenizer()
        self.embed = nn.Embedding(len(self.tokenizer), config.dim, padding_idx=0)
        table = sinusoidal_table(self.max_len + 2, config.dim)  # (max_len + 2, D)
        self.register_buffer("positions", table, persistent=False)
        self.drop = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(
            Block(config.dim, config.heads, config.ff_mult, config.dropout, config.conv)
            for _ in range(config.layers)
        )
        self.norm = nn.LayerNorm(config.dim)
        if state is not None:
            from ppi.lm.folder import load_strict

            load_strict(self, state, config.path)
        self.apply_finetune()

    def embed_windows(self, seqs: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed sequences of at most ``max_len`` residues.

        Shapes:
            returns ``(B, L, D)`` (residues only; ``<cls>`` and ``<eos>`` dropped)
            and a bool mask ``(B, L)``, True on residues.
        """
        longest = max((len(s) for s in seqs), default=0)
        if longest > self.max_len:
            raise InputError(
                f"scratch backbone: expected sequences of at most {self.max_len} residues "
                f"per window, got {longest}"
            )
        ids, keep = self.tokenizer.encode(seqs)  # (B, L+2)
        x = self.encode_ids(ids.to(self.positions.device), keep.to(self.positions.device))
        lengths = torch.tensor([len(s) for s in seqs], device=x.device)
        mask = torch.arange(longest, device=x.device) < lengths[:, None]  # (B, L)
        emb = x[:, 1 : longest + 1] * mask.unsqueeze(-1)  # (B, L, D), zeros on padding
        return emb, mask

    def encode_ids(self, ids: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Hidden states of every token (special and masked tokens included).

        Shapes:
            ids ``(B, T)`` token ids, keep ``(B, T)`` bool -> ``(B, T, D)``.
        """
        x = self.drop(self.embed(ids) + self.positions[: ids.shape[1]])  # (B, T, D)
        for block in self.layers:
            x = block(x, keep)
        return self.norm(x)

    def blocks(self) -> list[nn.Module]:
        """The transformer blocks, input to output."""
        return list(self.layers)

    def identity(self) -> str:
        """``scratch:`` plus a short hash of the current weights and their names."""
        digest = hashlib.sha256()
        for name, tensor in self.state_dict().items():
            digest.update(f"{name}:{tuple(tensor.shape)}".encode())
            digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
        return f"scratch:{digest.hexdigest()[:16]}"
