"""The properties channel: a per-protein numeric vector as a few tokens.

The vector is a user table's columns (``table``, rows keyed by protein id)
and/or the built-in ProtParam set computed from the sequence (``builtin``).
With ``pretrained`` it also holds the first principal components of the
protein's mean embedding under a frozen published model (UniRep), the
components fitted on the training proteins and kept in the model's weights.
It is standardised with the mean and standard deviation of the training
proteins, saved with the model (``properties.json``), and projected into
``tokens`` tokens. Works for the pair task and the single-sequence task alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ppi.backbones.configs import PRETRAINED
from ppi.channels.base import Channel, ChannelContext, Proteins, RunData, Tokens
from ppi.channels.configs import CHANNELS, PropertiesConfig
from ppi.data.property_table import (
    BUILTIN_COLUMNS,
    DIPEPTIDE_COLUMNS,
    PropertyTable,
    builtin_properties,
    composition,
    read_header,
    read_property_table,
)
from ppi.errors import ConfigError, InputError
from ppi.utils.files import atomic_write_text

STATS_FILE = "properties.json"


@CHANNELS.register("properties")
class PropertiesChannel(Channel):
    """A standardised property vector -> ``tokens`` tokens through a small MLP."""

    Config = PropertiesConfig

    def __init__(self, config: PropertiesConfig, context: ChannelContext) -> None:
        super().__init__(config, context)
        if not (config.table or config.builtin or config.dipeptides or config.pretrained):
            raise ConfigError(
                "channels.properties: set a table, builtin=true, dipeptides=true, pretrained, "
                "or several"
            )
        table_cols = read_header(config.table, config.id_column) if config.table else ()
        size = PRETRAINED.get(config.pretrained, 0)
        self.pcs = min(config.pretrained_dims, size)
        self.columns = (
            tuple(f"table:{c}" for c in table_cols)
            + (BUILTIN_COLUMNS if config.builtin else ())
            + (DIPEPTIDE_COLUMNS if config.dipeptides else ())
            + tuple(f"{config.pretrained}:pc{j}" for j in range(self.pcs))
        )
        if size:  # the projection, fitted on the training proteins, saved with the weights
            self.register_buffer("pc_mean", torch.zeros(size))
            self.register_buffer("pc_axes", torch.zeros(self.pcs, size))
        self._embedder = None
        width, dim = len(self.columns), context.dim
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("std", torch.ones(width))
        self.mlp = nn.Sequential(
            nn.Linear(width, dim), nn.GELU(), nn.Linear(dim, dim * config.tokens)
        )
        self.norm = nn.LayerNorm(dim)
        self._values: dict[str, torch.Tensor] = {}
        self._table: PropertyTable | None = None

    @property
    def uses_ids(self) -> bool:  # type: ignore[override]
        """A user table is keyed by id; the built-in set depends on the sequence only."""
        return bool(self.config.table)

    def _key(self, pid: str, seq: str) -> str:
        return pid if self.config.table else seq

    def _pooled(self, seqs: list[str], accelerator: Any = None) -> torch.Tensor:
        """Mean embeddings of ``seqs`` under the frozen ``pretrained`` model ``(N, size)``."""
        from ppi.backbones.embedding import pooled_embedder, pooled_vectors

        if self._embedder is None:
            c = self.config
            self._embedder = pooled_embedder(
                c.pretrained, c.pretrained_path, c.pretrained_precision, self.context.cache_dir
            )
        return pooled_vectors(
            self._embedder, seqs, accelerator, f"{self.config.pretrained} vectors"
        )

    def _fit_components(self, seqs: list[str], accelerator: Any = None) -> None:
        """Principal axes of the training proteins' mean embeddings (fewer proteins: zero rows)."""
        x = self._pooled(sorted(set(seqs)), accelerator).double()  # (N, size)
        mean = x.mean(0)
        axes = torch.linalg.svd(x - mean, full_matrices=False).Vh[: self.pcs]  # (<= pcs, size)
        self.pc_mean.copy_(mean.float())
        self.pc_axes.zero_()
        self.pc_axes[: len(axes)] = axes.float()
        self._values.clear()

    def _vectors(self, proteins: dict[str, str], accelerator: Any = None) -> None:
        if self.config.table and self._table is None:
            self._table = read_property_table(self.config.table, self.config.id_column)
        if self._table is not None:
            missing = [pid for pid in proteins if pid not in self._table.rows]
            if missing:
                raise InputError(
                    f"{self._table.path}: no row for {len(missing)} protein(s), "
                    f"e.g. {', '.join(map(repr, missing[:3]))}"
                )
        todo = {p: s for p, s in proteins.items() if self._key(p, s) not in self._values}
        if self.pcs and todo:
            seqs = sorted(set(todo.values()))
            pcs = (self._pooled(seqs, accelerator) - self.pc_mean.cpu()) @ self.pc_axes.cpu().T
            projected = dict(zip(seqs, pcs, strict=True))  # sequence -> (pcs,)
        for pid, seq in todo.items():
            row = list(self._table.rows[pid]) if self._table is not None else []
            if self.config.builtin:
                row += builtin_properties(seq)
            if self.config.dipeptides:
                row += composition(seq)[20:].tolist()
            if self.pcs:
                row += projected[seq].tolist()
            self._values[self._key(pid, seq)] = torch.tensor(row, dtype=torch.float32)

    def prepare(
        self, proteins: dict[str, str], accelerator: Any = None, run: RunData | None = None
    ) -> None:
        """Compute every protein's vector; when training, fit the projection and standardisation."""
        if run is not None and self.pcs:
            train = [s for p, s in proteins.items() if p in run.train_ids]
            self._fit_components(train, accelerator)
        self._vectors(proteins, accelerator)
        if run is None:
            return
        train = [self._values[self._key(p, s)] for p, s in proteins.items() if p in run.train_ids]
        if not train:
            raise InputError("properties channel: no training protein to fit statistics on")
        stacked = torch.stack(train)  # (N, F)
        std = stacked.std(0, unbiased=False) if len(train) > 1 else torch.ones(stacked.shape[1])
        self.mean.copy_(stacked.mean(0))
        self.std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def save_assets(self, directory: Path) -> None:
        """Keep the column names and the training statistics with the model."""
        data = {"columns": list(self.columns), "mean": self.mean.tolist(), "std": self.std.tolist()}
        atomic_write_text(directory / STATS_FILE, json.dumps(data, indent=1))

    def load_assets(self, directory: Path) -> None:
        """Check the columns are those the model was trained with."""
        path = directory / STATS_FILE
        if not path.is_file():
            raise InputError(f"{directory}: model folder has no {STATS_FILE}")
        saved = json.loads(path.read_text())["columns"]
        if list(self.columns) != saved:
            raise InputError(
                f"{self.config.table or 'properties'}: expected the {len(saved)} columns the "
                f"model was trained with ({', '.join(saved[:4])}...), got {len(self.columns)} "
                f"({', '.join(self.columns[:4])}...)"
            )

    def forward(self, batch: Proteins) -> Tokens:
        """The standardised vector as ``tokens`` tokens.

        Shapes:
            returns tokens ``(B, tokens, D)`` and an all-True mask ``(B, tokens)``.
        """
        if any(
            self._key(p, s) not in self._values for p, s in zip(batch.ids, batch.seqs, strict=True)
        ):
            self._vectors(dict(zip(batch.ids, batch.seqs, strict=True)))
        keys = [self._key(p, s) for p, s in zip(batch.ids, batch.seqs, strict=True)]
        x = torch.stack([self._values[k] for k in keys]).to(self.mean.device)  # (B, F)
        x = (x - self.mean) / self.std  # (B, F)
        out = self.mlp(x).view(len(keys), self.config.tokens, -1)  # (B, tokens, D)
        mask = torch.ones(out.shape[:2], dtype=torch.bool, device=out.device)  # (B, tokens)
        return Tokens(self.norm(out), mask)
