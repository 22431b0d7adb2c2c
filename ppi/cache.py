"""A resumable, content-addressed cache of per-protein tensors.

The key of an entry is a hash of everything that determines its value: the
producer's identity (backbone name, weights checksum, layer) and the sequence,
never a protein's name. Entries are half-precision safetensors files written
atomically (temp file + rename), so an interrupted run leaves only whole
entries and the next run computes just what is missing. An entry is locked
while it is computed (:mod:`ppi.locks`), so processes sharing a cache never
compute one at the same time: one skips what another is writing and, at the
end, waits for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ppi.locks import OutputLockedError, exclusive


def cache_root() -> Path:
    """The cache root: ``$PPI_CACHE`` or ``~/.cache/ppi``."""
    return Path(os.environ.get("PPI_CACHE") or Path.home() / ".cache" / "ppi").expanduser()


def digest(*parts: str) -> str:
    """A sha256 hex digest of the parts (joined unambiguously)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def file_digest(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            h.update(block)
    return h.hexdigest()


def atomic_save(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Write a safetensors file so readers only ever see a whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a shared cache must be readable
    try:
        save_file(tensors, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class EmbeddingCache:
    """Per-sequence tensors of one producer, stored under ``root/<kind>/<identity hash>``.

    Args:
        identity: string naming the producer and everything it depends on.
        root: cache root (default :func:`cache_root`).
        kind: a folder name grouping entries of one sort (``embeddings``).
        dtype: precision entries are stored in (half by default).
    """

    def __init__(
        self,
        identity: str,
        root: Path | None = None,
        kind: str = "embeddings",
        dtype: torch.dtype = torch.float16,
    ):
        self.identity = identity
        self.dtype = dtype
        self.directory = (root or cache_root()) / kind / digest(identity)[:16]

    def path(self, seq: str) -> Path:
        """Where the entry of ``seq`` lives."""
        key = digest(self.identity, seq)
        return self.directory / key[:2] / f"{key[2:]}.safetensors"

    def __contains__(self, seq: str) -> bool:
        return self.path(seq).is_file()

    def missing(self, seqs: Iterable[str]) -> list[str]:
        """Distinct sequences without an entry, in first-seen order."""
        return [s for s in dict.fromkeys(seqs) if s not in self]

    def put(self, seq: str, value: torch.Tensor) -> None:
        """Store ``value`` for ``seq`` in the cache's precision (a clone, not a view)."""
        tensor = value.detach().to("cpu", self.dtype).contiguous().clone()
        atomic_save({"value": tensor}, self.path(seq))
        self._write_identity()

    def get(self, seq: str) -> torch.Tensor:
        """The stored tensor for ``seq``."""
        return load_file(self.path(seq))["value"]

    def fill(
        self,
        seqs: Iterable[str],
        compute: Callable[[list[str]], list[torch.Tensor]],
        batches: Callable[[list[str]], Iterable[list[str]]],
        progress: Callable[[Iterable], Iterable] | None = None,
    ) -> int:
        """Compute and store entries for the sequences that have none.

        Args:
            seqs: sequences wanted.
            compute: maps a batch of sequences to one tensor each.
            batches: splits the missing sequences into batches.
            progress: optional wrapper (e.g. tqdm) around the batch iterator.

        Returns:
            How many entries were computed (0 when everything was cached).
        """
        todo = self.missing(seqs)
        if not todo:
            return 0
        groups = list(batches(todo))
        busy: list[str] = []
        for group in progress(groups) if progress else groups:
            busy += self._fill_group(group, compute)
        for seq in busy:  # another process was writing these: wait, then fill what it left
            with exclusive(self.path(seq), wait=True):
                if seq not in self:
                    self._store([seq], compute)
        return len(todo)

    def _fill_group(self, group: list[str], compute) -> list[str]:
        """Fill the entries of ``group`` no other process is writing; returns those it is.

        Each entry is locked (:func:`ppi.locks.exclusive`) while it is computed
        and written, so two processes filling one cache never compute the same
        entry at once.
        """
        busy: list[str] = []
        with contextlib.ExitStack() as held:
            mine = []
            for seq in group:
                try:
                    held.enter_context(exclusive(self.path(seq)))
                    mine.append(seq)
                except OutputLockedError:
                    busy.append(seq)
            mine = [seq for seq in mine if seq not in self]  # finished by another meanwhile
            if mine:
                self._store(mine, compute)
        return busy

    def _store(self, seqs: list[str], compute) -> None:
        for seq, value in zip(seqs, compute(seqs), strict=True):
            self.put(seq, value)

    def _write_identity(self) -> None:
        marker = self.directory / "IDENTITY"
        if not marker.exists():
            marker.parent.mkdir(parents=True, exist_ok=True)
            tmp = marker.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(self.identity + "\n")
            os.replace(tmp, marker)


def token_budget_groups(
    lengths: list[int], max_tokens: int, max_batch: int = 256
) -> list[list[int]]:
    """Indices grouped longest first so each group's padded size stays under ``max_tokens``.

    Sorting by length keeps padding small; an item longer than the budget gets
    a group of its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    group: list[int] = []
    for i in order:
        longest = lengths[group[0]] if group else lengths[i]
        if group and ((len(group) + 1) * longest > max_tokens or len(group) >= max_batch):
            groups.append(group)
            group = []
        group.append(i)
    if group:
        groups.append(group)
    return groups


def token_budget_batches(seqs: list[str], max_tokens: int, max_batch: int = 256) -> list[list[str]]:
    """Length-sorted batches of sequences under a padded-token budget."""
    groups = token_budget_groups([len(s) for s in seqs], max_tokens, max_batch)
    return [[seqs[i] for i in group] for group in groups]
