"""A resumable, content-addressed cache of per-protein tensors.

The key of an entry is a hash of everything that determines its value: the
producer's identity (backbone name, weights checksum, layer) and the sequence,
never a protein's name. Entries are half-precision safetensors files written
atomically (temp file + rename), so an interrupted run leaves only whole
entries and the next run computes just what is missing. An entry is locked
while it is computed (:mod:`ppi.utils.locks`), so processes sharing a cache never
compute one at the same time: one skips what another is writing and, at the
end, waits for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from safetensors.torch import load_file

from ppi.utils.files import atomic_save_tensors, atomic_write_text
from ppi.utils.locks import OutputLockedError, exclusive


def cache_root() -> Path:
    """The cache root: ``$PPI_CACHE`` or ``~/.cache/ppi``."""
    return Path(os.environ.get("PPI_CACHE") or Path.home() / ".cache" / "ppi").expanduser()


def digest(*parts: str) -> str:
    """A sha256 hex digest of the parts (joined unambiguously)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode()
        add_part(h, len(data), [data])
    return h.hexdigest()


def add_part(h, length: int, chunks: Iterable[bytes]) -> None:
    """Add one part of ``length`` bytes, given in ``chunks``, to ``h`` as :func:`digest` does.

    For a part too large to hold as one string (the accessions of UniRef50).
    """
    h.update(length.to_bytes(8, "little"))
    for chunk in chunks:
        h.update(chunk)


def file_digest(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            h.update(block)
    return h.hexdigest()


def fill_shared(
    todo: list[str],
    groups: Callable[[list[str]], Iterable[list[str]]],
    path: Callable[[str], Path],
    done: Callable[[str], bool],
    store: Callable[[list[str]], None],
) -> None:
    """Compute and store the entries ``todo`` of a cache that other processes may fill too.

    Each entry is locked (:func:`ppi.utils.locks.exclusive` on ``path(key)``)
    while its group is computed and stored, so processes sharing a cache never
    compute one entry at once: an entry another process holds is skipped, and
    once every group is done it is waited for. What that process left
    unfinished (it was killed) is then computed here, in groups again.

    Args:
        todo: keys of the entries wanted that had none.
        groups: splits keys into the groups ``store`` computes (a batch, a chunk).
        path: an entry's file, the lock sits beside it.
        done: whether an entry exists now.
        store: computes the entries of a group and writes them.
    """
    while todo:
        busy: list[str] = []
        for group in groups(todo):
            most = _lockable(len(group))
            for start in range(0, len(group), most):
                busy += _fill_group(group[start : start + most], path, done, store)
        for key in busy:  # another process is writing these: wait for it
            with exclusive(path(key), wait=True):
                pass
        todo = [key for key in busy if not done(key)]


#: open files kept free for the rest of the process while a group's entries are locked
SPARE_FILES = 256


def _lockable(size: int) -> int:
    """How many entries one group may lock at once (a lock is an open file).

    The soft limit on open files (often 1,024) is raised toward the hard one
    when a group needs more; where the hard limit is too low, the group is
    stored in pieces this large.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = size + SPARE_FILES
    if soft == resource.RLIM_INFINITY or want <= soft:
        return size
    raised = want if hard == resource.RLIM_INFINITY else min(want, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
        soft = raised
    return max(1, min(size, soft - SPARE_FILES))


def _fill_group(group: list[str], path, done, store) -> list[str]:
    """Store the entries of ``group`` no other process is writing; returns those it is."""
    busy: list[str] = []
    with contextlib.ExitStack() as held:
        mine = []
        for key in group:
            try:
                held.enter_context(exclusive(path(key)))
                mine.append(key)
            except OutputLockedError:
                busy.append(key)
        mine = [key for key in mine if not done(key)]  # finished by another meanwhile
        if mine:
            store(mine)
    return busy


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
        atomic_save_tensors({"value": tensor}, self.path(seq))
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
        fill_shared(
            todo,
            lambda keys: progress(list(batches(keys))) if progress else batches(keys),
            self.path,
            self.__contains__,
            lambda group: self._store(group, compute),
        )
        return len(todo)

    def _store(self, seqs: list[str], compute) -> None:
        for seq, value in zip(seqs, compute(seqs), strict=True):
            self.put(seq, value)

    def _write_identity(self) -> None:
        marker = self.directory / "IDENTITY"
        if not marker.exists():
            atomic_write_text(marker, self.identity + "\n")
