"""A homolog search index on disk: pooled embeddings in FAISS, metadata, a manifest.

An index folder holds

- ``index.faiss``: FAISS index of L2-normalised pooled embeddings (inner
  product = cosine similarity);
- ``metadata.parquet``: one row per vector: accession, entry_name, organism,
  length, seq_hash;
- ``backbone.safetensors``: the backbone's weights when small (a random-init
  backbone could not be rebuilt otherwise);
- ``manifest.json``: backbone config and identity (weights checksum, layer),
  pooling, dimension, count, index type, search settings, sha256 of each file.

The manifest is written last: a folder without one is an unfinished build.
:meth:`HomologyIndex.open` checks every file against it and refuses a
backbone other than the one the index was built with.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file

from ppi.backbones import BACKBONES, BackboneConfig
from ppi.backbones.embedding import FrozenEmbedder, is_fixed, shared_backbone
from ppi.config import tools as configtools
from ppi.config.tools import setting
from ppi.errors import InputError
from ppi.homologs.faiss_settings import FaissSettings, apply_search_params, normalise, searcher
from ppi.utils.cache import digest, file_digest
from ppi.utils.files import atomic_write_text

log = logging.getLogger("ppi")

MANIFEST = "manifest.json"
INDEX_FILE = "index.faiss"
METADATA = "metadata.parquet"
BACKBONE_WEIGHTS = "backbone.safetensors"
METADATA_COLUMNS = ("accession", "entry_name", "organism", "length", "seq_hash")
FORMAT = 1


@dataclass(frozen=True)
class IndexConfig:
    """How ``ppi build-index`` embeds and indexes a dump (``key=value`` overrides).

    Attributes:
        backbone: the embedding model (its own setting, not the run's backbone);
            a random-init ``scratch`` backbone is useless for homology, use
            pretrained weights (``backbone.name=unirep backbone.size=64``).
        pooling: one vector per protein: ``mean`` over residues, ``max``, or
            ``last`` residue (decoders).
        shard_size: entries per shard; a killed build resumes after the last
            finished shard.
        batch_tokens: padded residues per embedding batch (0 = 4 times the
            backbone's ``batch_tokens``).
        seed: seed of a random-init backbone and of the IVF training sample.
        faiss: index type and its settings.
    """

    backbone: BackboneConfig = field(
        default_factory=lambda: BACKBONES.config_class("scratch")(),
        metadata={"registry": BACKBONES},
    )
    pooling: Literal["mean", "max", "last"] = "mean"
    shard_size: int = setting(4096, "[1, inf)")
    batch_tokens: int = setting(0, "[0, inf)")
    seed: int = setting(0, "[0, 4294967295]")
    faiss: FaissSettings = field(default_factory=FaissSettings)


def index_config(overrides: list[str]) -> IndexConfig:
    """An :class:`IndexConfig` from ``key.sub=value`` overrides (unknown keys are errors)."""
    return configtools.build(IndexConfig, configtools.apply_overrides({}, overrides))


def seq_hash(seq: str) -> str:
    """The key that matches identical sequences across files (sha256, 16 hex digits)."""
    return digest("sequence", seq)[:16]


class PooledEmbedder(FrozenEmbedder):
    """One L2-normalised vector per sequence, through the embedding cache.

    :class:`ppi.backbones.embedding.FrozenEmbedder` with a pooling; the index
    reads its vectors as unit rows.

    Args:
        backbone: a built backbone (kept frozen).
        pooling: ``mean``, ``max`` or ``last``.
        batch_tokens: padded residues per batch (0 = 4 x the backbone's budget).
        root: cache root (default ``PPI_CACHE``).
    """

    def __init__(self, backbone, pooling: str, batch_tokens: int = 0, root: Path | None = None):
        super().__init__(backbone.eval(), root, pooling, batch_tokens)

    def embed(self, seqs: list[str], on_batch: Callable[[int], Any] | None = None) -> np.ndarray:
        """Vectors of the sequences, computing only those not in the cache.

        ``on_batch(n)`` is called after each computed batch of ``n`` sequences
        (progress bars).

        Shapes:
            returns ``(N, Db)`` float32, unit rows.
        """
        self.fill(seqs, on_batch=on_batch)
        if not seqs:
            return np.zeros((0, self.backbone.dim), dtype=np.float32)
        rows = [self.get(s) for s in seqs]
        return normalise(torch.stack(rows).numpy())  # (N, Db)


def build_backbone(config: BackboneConfig, seed: int, weights: Path | None = None):
    """The index's backbone: built with a fixed seed, its saved weights loaded if given."""
    if weights is None or not weights.is_file():  # its weights come from its source
        if is_fixed(config):
            return shared_backbone(config).eval()
    torch.manual_seed(seed)
    backbone = BACKBONES.build(config)
    if weights is not None and weights.is_file():
        backbone.load_state_dict(load_file(str(weights)), strict=True)
    for p in backbone.parameters():
        p.requires_grad_(False)
    return backbone.eval()


class HomologyIndex:
    """A checked index folder, ready to embed queries and search them.

    Use :meth:`open`; ``rows`` index :attr:`metadata` and the FAISS vectors.
    """

    def __init__(self, directory: Path, manifest: dict, index: faiss.Index, metadata, embedder):
        self.directory = directory
        self.manifest = manifest
        self.index = index
        self.metadata: pd.DataFrame = metadata
        self.embedder: PooledEmbedder = embedder
        self._searcher = searcher(index)

    @classmethod
    def open(cls, directory: str | Path, backbone: BackboneConfig | None = None) -> HomologyIndex:
        """Load and check an index folder.

        Args:
            directory: the folder ``ppi build-index`` wrote.
            backbone: the backbone the caller means to search with; an error if
                it is not the one the index was built with. None = the index's own.

        Raises:
            InputError: no manifest (unfinished build), a file missing or not
                matching the manifest, or another backbone.
        """
        directory = Path(directory).expanduser()
        manifest = read_manifest(directory)
        built = configtools.build(
            BACKBONES.config_class(manifest["backbone"]["name"]), manifest["backbone"]
        )
        if backbone is not None and configtools.to_dict(backbone) != configtools.to_dict(built):
            raise InputError(
                f"{directory}: the index was built with backbone "
                f"{_describe(built)}, not {_describe(backbone)}; search it with its own backbone "
                "or build another index"
            )
        model = build_backbone(built, manifest.get("seed", 0), directory / BACKBONE_WEIGHTS)
        if model.identity() != manifest["backbone_identity"]:
            raise InputError(
                f"{directory}: the index was built with backbone weights "
                f"{manifest['backbone_identity']}, but they load as {model.identity()} now"
            )
        index = faiss.read_index(str(directory / INDEX_FILE))
        metadata = pd.read_parquet(directory / METADATA)
        _check_counts(directory, manifest, index, metadata)
        apply_search_params(index, manifest.get("search", {}))
        return cls(directory, manifest, index, metadata, PooledEmbedder(model, manifest["pooling"]))

    def identity(self) -> str:
        """Names this index's content (the sha256 of its files and its backbone)."""
        files = self.manifest["files"]
        return digest(
            "index",
            self.manifest["backbone_identity"],
            *sorted(f"{name}={meta['sha256']}" for name, meta in files.items()),
        )[:24]

    @property
    def dim(self) -> int:
        """Width of the stored vectors."""
        return int(self.manifest["dim"])

    def search(self, seqs: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` hits of each query sequence (rows -1 where fewer exist).

        Shapes:
            returns similarities ``(N, k)`` float32 and rows ``(N, k)`` int64.
        """
        vectors = self.embedder.embed(seqs)  # (N, Db)
        return self.search_vectors(vectors, k)

    def search_vectors(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` hits of already embedded, normalised queries.

        Shapes:
            vectors ``(N, Db)`` -> similarities ``(N, k)`` and rows ``(N, k)``.
        """
        if len(vectors) == 0:
            return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
        k_eff = min(k, self.index.ntotal)
        sims, rows = self._searcher.search(np.ascontiguousarray(vectors, np.float32), k_eff)
        if k_eff < k:  # pad to k columns
            pad = k - k_eff
            sims = np.pad(sims, ((0, 0), (0, pad)), constant_values=-np.inf)
            rows = np.pad(rows, ((0, 0), (0, pad)), constant_values=-1)
        return sims, rows

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of these rows (approximate for ``ivf-pq``).

        Shapes:
            rows ``(R,)`` -> ``(R, Db)``.
        """
        ivf = faiss.try_extract_index_ivf(self.index)
        if ivf is not None and not getattr(self, "_direct_map", False):
            ivf.make_direct_map()
            self._direct_map = True
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return np.zeros((0, self.dim), np.float32)
        return self.index.reconstruct_batch(rows)


def _describe(config: BackboneConfig) -> str:
    data = configtools.to_dict(config)
    keys = [k for k in data if k not in ("finetune", "finetune_layers", "window_overlap")]
    return "'" + " ".join(f"{k}={data[k]}" for k in keys) + "'"


def read_manifest(directory: Path) -> dict:
    """The manifest, after checking that every file it names is there and unchanged."""
    path = directory / MANIFEST
    if not directory.is_dir():
        raise InputError(f"{directory}: expected an index folder (ppi build-index), got none")
    if not path.is_file():
        raise InputError(
            f"{directory}: not a finished index (no {MANIFEST}); run the same ppi build-index "
            "command again to resume it"
        )
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(
            f"{path}: expected an index manifest, got unreadable JSON ({exc})"
        ) from None
    for name, meta in files.items():
        target = directory / name
        if not target.is_file():
            raise InputError(f"{target}: named in {MANIFEST} but missing")
        got = file_digest(target)
        if got != meta["sha256"]:
            raise InputError(
                f"{target}: does not match {MANIFEST} (sha256 expected {meta['sha256'][:12]}..., "
                f"got {got[:12]}...); rebuild the index"
            )
    return manifest


def _check_counts(directory: Path, manifest: dict, index: faiss.Index, metadata) -> None:
    expected = (manifest["count"], manifest["dim"])
    got = (index.ntotal, index.d)
    if got != expected or len(metadata) != manifest["count"]:
        raise InputError(
            f"{directory}: {MANIFEST} says {expected[0]} vectors of width {expected[1]}, the index "
            f"holds {got[0]} of width {got[1]} and the metadata {len(metadata)} rows"
        )


def write_manifest(directory: Path, manifest: dict) -> dict:
    """Write the manifest last, with the sha256 of every file it lists; returns it."""
    manifest = dict(manifest)
    manifest["format"] = FORMAT
    manifest["files"] = {
        name: {"sha256": file_digest(directory / name), "bytes": (directory / name).stat().st_size}
        for name in manifest["files"]
    }
    atomic_write_text(directory / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest


def remove_manifest(directory: Path) -> None:
    """Mark a folder as unfinished before it is rewritten."""
    (directory / MANIFEST).unlink(missing_ok=True)
