"""The scratch encoder with a masked-LM head and an optional annotation (GO) head.

:class:`ScratchLM` is what ``ppi pretrain`` trains and what ``ppi generate
--model`` samples from. Its encoder is a :class:`~ppi.backbones.scratch.ScratchBackbone`,
so the folder it saves (:mod:`ppi.lm.folder`) is loaded by the sequence
channel with ``backbone.name=scratch backbone.path=FOLDER``.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import torch
from torch import nn

from ppi import __version__
from ppi.backbones.scratch import SPECIALS, ScratchBackbone, ScratchConfig
from ppi.config.tools import build, to_dict
from ppi.lm import folder as layout
from ppi.lm.folder import FORMAT, load_strict, read_json, read_tensors
from ppi.utils.files import atomic_save_tensors, atomic_write, atomic_write_text


class LMHead(nn.Module):
    """BERT's prediction head: dense -> GELU -> LayerNorm -> vocabulary logits."""

    def __init__(self, dim: int, vocab: int) -> None:
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        self.act = nn.GELU()
        self.norm = nn.LayerNorm(dim)
        self.decoder = nn.Linear(dim, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shapes: ``(B, T, D)`` -> ``(B, T, V)``."""
        return self.decoder(self.norm(self.act(self.dense(x))))


class ScratchLM(nn.Module):
    """Encoder + masked-LM head (+ a multi-label head over ``go_terms`` terms)."""

    def __init__(self, config: ScratchConfig, go_terms: int = 0) -> None:
        super().__init__()
        self.backbone = ScratchBackbone(dataclasses.replace(config, finetune="full", path=""))
        self.tokenizer = self.backbone.tokenizer
        self.lm_head = LMHead(config.dim, len(self.tokenizer))
        self.go_head = nn.Linear(config.dim, go_terms) if go_terms else None

    @property
    def config(self) -> ScratchConfig:
        """The encoder's settings."""
        return self.backbone.config

    def forward(
        self, ids: torch.Tensor, keep: torch.Tensor, at: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Token logits and, with a GO head, term logits of the mean residue state.

        ``at`` (bool, like ``ids``) limits the token logits to the positions the
        loss reads, which spares the LM head the rest.

        Shapes:
            ids ``(B, T)``, keep ``(B, T)`` -> logits ``(B, T, V)`` (``(S, V)`` for the
            S positions of ``at``) and ``(B, T_go)`` or None.
        """
        hidden = self.backbone.encode_ids(ids, keep)  # (B, T, D)
        logits = self.lm_head(hidden if at is None else hidden[at])  # (B, T, V) or (S, V)
        if self.go_head is None:
            return logits, None
        residues = keep & (ids != self.tokenizer.cls_id) & (ids != self.tokenizer.eos_id)
        w = residues.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        pooled = (hidden * w).sum(1) / w.sum(1).clamp(min=1)  # (B, D)
        return logits, self.go_head(pooled)

    # -- the folder ----------------------------------------------------------------------
    def save_pretrained(
        self,
        directory: str | Path,
        go_terms: list[str] | None = None,
        extra: dict | None = None,
        train_sequences: Iterable[tuple[str, str]] | None = None,
    ) -> Path:
        """Write ``config.json``, ``model.safetensors``, ``vocab.txt`` (and GO terms, sequences).

        ``train_sequences``: ``(name, sequence)`` pairs, written to ``train.fasta.gz`` as they come.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous().clone() for k, v in self.state_dict().items()}
        atomic_save_tensors(state, directory / layout.WEIGHTS)
        atomic_write_text(directory / layout.VOCAB, "\n".join(self.tokenizer.vocab) + "\n")
        if go_terms:
            atomic_write_text(directory / "go_terms.json", json.dumps({"terms": go_terms}))
        if train_sequences is not None:
            atomic_write(directory / layout.TRAIN_FASTA, lambda out: _fasta(out, train_sequences))
        meta = {
            "format": FORMAT,
            "ppi_version": __version__,
            "backbone": to_dict(dataclasses.replace(self.config, path="", finetune="full")),
            "go_terms": self.go_head.out_features if self.go_head is not None else 0,
            "specials": list(SPECIALS),
            **(extra or {}),
        }
        atomic_write_text(directory / layout.CONFIG, json.dumps(meta, indent=1))
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> ScratchLM:
        """Load a ``ppi pretrain`` folder strictly."""
        directory = Path(directory)
        meta = read_json(directory / layout.CONFIG)
        if meta.get("format") != FORMAT:
            raise layout.WeightsError(
                f"{directory}: not a ppi pretrain folder (expected format {FORMAT!r} in "
                f"{layout.CONFIG}); a model without a masked-LM head cannot generate"
            )
        config = build(ScratchConfig, meta["backbone"], "backbone")
        model = cls(config, int(meta.get("go_terms", 0)))
        load_strict(model, read_tensors(directory / layout.WEIGHTS), str(directory))
        model.eval()
        return model


def go_terms_of(directory: Path) -> list[str]:
    """The GO head's terms saved in a pretrain folder (empty without one)."""
    path = Path(directory) / "go_terms.json"
    return json.loads(path.read_text())["terms"] if path.is_file() else []


def _fasta(out: BinaryIO, named: Iterable[tuple[str, str]]) -> None:
    """``named`` as gzipped FASTA into ``out``."""
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6) as handle:
        for name, seq in named:
            handle.write(f">{name}\n{seq}\n".encode())
