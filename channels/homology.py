"""The homology channel: each protein's top-K neighbours in a FAISS index as tokens.

A token is the neighbour's stored embedding (projected to the fusion width)
plus an encoding of its similarity and of its rank; a protein with fewer than
K usable neighbours has the rest masked. Neighbour lists are searched once per
(index identity, sequence) and kept in the cache (``kind=neighbours``), so
training, evaluation and scoring search each protein once.

Leakage guards, applied after the cached search:

- the protein itself and any entry with an identical sequence (same sequence
  hash) are never neighbours;
- with ``exclude_holdout`` (default) every index entry whose sequence is that of
  a validation or test protein of the training run is removed;
- ``exclude`` names a file of ids or accessions (one per line) removed too.

What was excluded is written with the model (``homology/excluded.tsv``) and
logged; evaluation and scoring use the same list. Interolog evidence about
pairs is the pair stage's (``evidence.interolog``, :mod:`ppi.fusion.evidence`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from ppi.channels.base import Channel, ChannelContext, Proteins, RunData, Tokens
from ppi.channels.configs import CHANNELS, HomologyConfig
from ppi.data._io import read_lines, require_file
from ppi.data.examples import resolve
from ppi.errors import ConfigError, InputError
from ppi.homologs.index import HomologyIndex, seq_hash
from ppi.utils.cache import EmbeddingCache, digest
from ppi.utils.files import atomic_write_text

log = logging.getLogger("ppi")
EXCLUDED = "excluded.tsv"
INDEX_NOTE = "index.json"


@CHANNELS.register("homology")
class HomologyChannel(Channel):
    """Nearest neighbours from a search index as tokens ``(B, K, D)``."""

    Config = HomologyConfig

    def __init__(self, config: HomologyConfig, context: ChannelContext) -> None:
        super().__init__(config, context)
        if not config.index:
            raise ConfigError(
                "channels.homology.index: expected the folder of an index built with "
                "ppi build-index, got none"
            )
        if config.k < 1:
            raise ConfigError(f"channels.homology.k: expected at least 1, got {config.k}")
        self.index = HomologyIndex.open(resolve(config.index))
        dim = context.dim
        self.norm = nn.LayerNorm(self.index.dim)
        self.proj = nn.Linear(self.index.dim, dim)
        self.similarity = nn.Sequential(nn.Linear(1, dim), nn.GELU(), nn.Linear(dim, dim))
        self.rank = nn.Embedding(config.k, dim)
        self.excluded = pd.DataFrame(columns=["row", "accession", "reason"])
        self._excluded_rows: frozenset[int] = frozenset()
        self._lists: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._vectors: dict[int, torch.Tensor] = {}
        self._hashes = self.index.metadata["seq_hash"].to_numpy()

    @property
    def depth(self) -> int:
        """Hits fetched per protein before the leakage filters."""
        return self.config.search_depth or 4 * self.config.k + 16

    def identity(self) -> str:
        """The index, K, the similarity floor and the exclusion list."""
        rows = digest(*map(str, sorted(self._excluded_rows)))[:12]
        c = self.config
        return f"homology:{self.index.identity()}:k={c.k}:min={c.min_similarity}:excluded={rows}"

    # -- exclusions ---------------------------------------------------------------------
    def set_exclusions(self, proteins: dict[str, str], run: RunData | None) -> None:
        """Work out which index rows never count as neighbours, and log it."""
        meta = self.index.metadata
        reasons: dict[int, str] = {}
        if run is not None and self.config.exclude_holdout:
            hashes = {seq_hash(proteins[i]) for i in run.holdout_ids if i in proteins}
            for row in np.flatnonzero(meta["seq_hash"].isin(hashes).to_numpy()):
                reasons[int(row)] = "holdout sequence"
        if self.config.exclude:
            names = read_id_list(resolve(self.config.exclude))
            hashes = {seq_hash(proteins[i]) for i in names if i in proteins}
            hit = meta["accession"].isin(names) | meta["seq_hash"].isin(hashes)
            for row in np.flatnonzero(hit.to_numpy()):
                reasons.setdefault(int(row), f"listed in {self.config.exclude}")
        rows = sorted(reasons)
        self.excluded = pd.DataFrame(
            {
                "row": rows,
                "accession": meta["accession"].to_numpy()[rows] if rows else [],
                "reason": [reasons[r] for r in rows],
            }
        )
        self._excluded_rows = frozenset(rows)
        self._lists.clear()
        log.info(
            "homology: %d of %d index entries excluded from neighbour lists (%s)",
            len(rows),
            len(meta),
            ", ".join(sorted(set(reasons.values()))) or "nothing to exclude",
        )

    def save_assets(self, directory: Path) -> None:
        """Write the exclusion list and the identity of the index the model was trained with."""
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(directory / EXCLUDED, self.excluded.to_csv(sep="\t", index=False))
        note = {"index": self.index.identity(), "count": int(self.index.manifest["count"])}
        atomic_write_text(directory / INDEX_NOTE, json.dumps(note) + "\n")

    def load_assets(self, directory: Path) -> None:
        """Read the exclusion list; the index must be the one the model was trained with."""
        note_path = directory / INDEX_NOTE
        if note_path.is_file():
            note = json.loads(note_path.read_text())
            if note["index"] != self.index.identity():
                raise InputError(
                    f"{note_path}: the model was trained with index {note['index']}, but "
                    f"channels.homology.index={self.config.index} is {self.index.identity()}"
                )
        if (directory / EXCLUDED).is_file():
            self.excluded = pd.read_csv(directory / EXCLUDED, sep="\t", keep_default_na=False)
            self._excluded_rows = frozenset(int(r) for r in self.excluded["row"])
            self._lists.clear()

    # -- neighbour lists ----------------------------------------------------------------
    def prepare(
        self, proteins: dict[str, str], accelerator: Any = None, run: RunData | None = None
    ) -> None:
        """Search (or read from the cache) the neighbours of these proteins.

        With ``run`` (training) the exclusion list is made first. The main
        process searches, the others wait and read the cache.
        """
        if run is not None or (self.config.exclude and not self._excluded_rows):
            self.set_exclusions(proteins, run)
        cache = EmbeddingCache(
            f"neighbours:{self.index.identity()}:depth={self.depth}",
            self.context.cache_dir,
            kind="neighbours",
            dtype=torch.float64,
        )
        seqs = [s for s in dict.fromkeys(proteins.values()) if s not in self._lists]
        if accelerator is None or accelerator.is_main_process:
            if accelerator is not None:  # embed queries where the model runs
                self.index.embedder.backbone.to(accelerator.device)
            self._search(cache, cache.missing(seqs))
        if accelerator is not None:
            accelerator.wait_for_everyone()
        for seq in seqs:
            self._lists[seq] = self._filter(seq, cache.get(seq).numpy())
        self._load_vectors()

    def _search(self, cache: EmbeddingCache, seqs: list[str], chunk: int = 1024) -> None:
        if not seqs:
            return
        log.info("homology: searching %d sequences in %s", len(seqs), self.index.directory)
        starts = range(0, len(seqs), chunk)
        for start in tqdm(starts, desc="homolog search", unit="chunk", disable=None, leave=False):
            part = seqs[start : start + chunk]
            sims, rows = self.index.search(part, self.depth)  # (C, depth) each
            for seq, s, r in zip(part, sims, rows, strict=True):
                cache.put(seq, torch.from_numpy(np.stack([s.astype(np.float64), r], 1)))

    def _filter(self, seq: str, hits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The first K hits that pass the leakage guards and the similarity floor.

        Shapes:
            hits ``(depth, 2)`` (similarity, row) -> similarities ``(k,)``, rows ``(k,)``.
        """
        own, hashes = seq_hash(seq), self._hashes
        sims, rows = [], []
        for sim, row in hits:
            row = int(row)
            if row < 0 or row in self._excluded_rows or hashes[row] == own:
                continue
            if sim < self.config.min_similarity:
                break
            sims.append(sim)
            rows.append(row)
            if len(rows) == self.config.k:
                break
        return np.asarray(sims, np.float32), np.asarray(rows, np.int64)

    def _load_vectors(self) -> None:
        need = sorted(
            {int(r) for _, rows in self._lists.values() for r in rows} - set(self._vectors)
        )
        if need:
            vecs = torch.from_numpy(self.index.vectors(np.asarray(need)))  # (R, Dv)
            self._vectors.update(zip(need, vecs, strict=True))

    def neighbours(self, seq: str) -> tuple[np.ndarray, np.ndarray]:
        """The filtered neighbour list of one sequence: similarities and index rows."""
        self._ensure_lists([seq])
        return self._lists[seq]

    def _ensure_lists(self, seqs: list[str]) -> None:
        """Search (or read from the cache) the sequences that have no neighbour list yet."""
        missing = [s for s in dict.fromkeys(seqs) if s not in self._lists]
        if missing:
            self.prepare({str(i): s for i, s in enumerate(missing)})

    def forward(self, batch: Proteins) -> Tokens:
        """Neighbour tokens of each protein.

        Shapes:
            returns tokens ``(B, K, D)`` and mask ``(B, K)``.
        """
        k, device = self.config.k, self.proj.weight.device
        self._ensure_lists(batch.seqs)
        vecs = torch.zeros(len(batch), k, self.index.dim)  # (B, K, Dv)
        sims = torch.zeros(len(batch), k, 1)  # (B, K, 1)
        mask = torch.zeros(len(batch), k, dtype=torch.bool)  # (B, K)
        for i, seq in enumerate(batch.seqs):
            s, rows = self._lists[seq]
            if len(rows):
                vecs[i, : len(rows)] = torch.stack([self._vectors[int(r)] for r in rows])
                sims[i, : len(rows), 0] = torch.from_numpy(s)
                mask[i, : len(rows)] = True
        vecs, sims, mask = vecs.to(device), sims.to(device), mask.to(device)
        tokens = self.proj(self.norm(vecs)) + self.similarity(sims) + self.rank.weight  # (B, K, D)
        return Tokens(tokens * mask.unsqueeze(-1), mask)


def read_id_list(path: Path) -> set[str]:
    """Ids or accessions, one per line (first column; blank lines and ``#`` comments skipped)."""
    path = require_file(path, "exclusion list")
    names = set()
    for _, line in read_lines(path):
        text = line.split("#", 1)[0].strip()
        if text:
            names.add(text.split()[0])
    return names
