"""Sequences of dumps on disk, read through memory maps: one copy for every process of a machine.

``ppi pretrain`` on UniRef50 (about 60M sequences, 1.6e10 residues) cannot
keep the sequences as Python strings in each process: some 23 GB a process,
eight times over on a node of eight GPUs. The store is written once from the
dumps, streamed, into the cache (:func:`open_store`), and every process
maps the same files, so the operating system keeps one copy in its page
cache. Layout of the folder::

    residues.bin   the residues of every sequence read, one ASCII byte each, back to back
    starts.npy     (N,) int64 where each kept sequence begins in residues.bin
    lengths.npy    (N,) int64 its residues
    ids.bin        the accession of every sequence read, UTF-8, back to back
    id_starts.npy  (N,) int64 where each kept sequence's accession begins in ids.bin
    id_lengths.npy (N,) int64 its bytes
    id_hashes.npy  (N,) uint64 a 64-bit hash of it, to find accessions without reading all
    store.json     the dumps it was read from (path, size, modification time), the
                   counts and file sizes; written last, so a folder without it is unfinished

A sequence read twice is kept once, under its first accession (64-bit hashes
find the repeats; each is compared residue by residue with the first copy
before it is dropped). Kept sequences are in the order of the dumps.
Accessions take the bytes they need, however long one of them is.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import socket
import time
import uuid
from array import array
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ppi.data.examples import resolve
from ppi.errors import InputError
from ppi.utils.cache import add_part, cache_root, digest
from ppi.utils.files import atomic_write_text

MANIFEST = "store.json"
VERSION = 2  # 2: the manifest holds the digest of every accession
#: tag of :attr:`SequenceStore.accessions_digest` (the one ``split.json`` files have kept)
ACCESSIONS = "pretrain-split-proteins"
#: residues counted at once (bounds the memory of :meth:`SequenceStore.counts`)
CHUNK_RESIDUES = 1 << 25
log = logging.getLogger("ppi")


class SequenceStore:
    """Read-only sequences by index (``0..N-1``, the order of the dumps), memory-mapped."""

    def __init__(self, folder: str | Path, meta: dict | None = None) -> None:
        self.folder = Path(folder)
        self.meta = meta if meta is not None else json.loads((self.folder / MANIFEST).read_text())
        self.residues = _bytes(self.folder / "residues.bin")
        self.starts = np.load(self.folder / "starts.npy", mmap_mode="r")
        self.lengths = np.load(self.folder / "lengths.npy", mmap_mode="r")
        self.id_bytes = _bytes(self.folder / "ids.bin")
        self.id_starts = np.load(self.folder / "id_starts.npy", mmap_mode="r")
        self.id_lengths = np.load(self.folder / "id_lengths.npy", mmap_mode="r")
        self.id_hashes = np.load(self.folder / "id_hashes.npy", mmap_mode="r")

    @classmethod
    def unfinished(cls, folder: Path) -> SequenceStore:
        """The store being written in ``folder``, before its manifest (to check it)."""
        return cls(folder, meta={})

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def accessions_digest(self) -> str:
        """:meth:`digest` of every accession in order, worked out once when the store is written."""
        return self.meta["accessions_digest"]

    def sequence(self, i: int) -> str:
        """The residues of sequence ``i``."""
        return self.window(i, 0, int(self.lengths[i]))

    def window(self, i: int, start: int, size: int) -> str:
        """Residues ``start`` to ``start + size`` (fewer at the end) of sequence ``i``."""
        first = int(self.starts[i]) + start
        last = min(int(self.starts[i]) + int(self.lengths[i]), first + size)
        return self.residues[first:last].tobytes().decode("ascii")

    def accession(self, i: int) -> str:
        """The accession of sequence ``i``."""
        start = int(self.id_starts[i])
        return self.id_bytes[start : start + int(self.id_lengths[i])].tobytes().decode()

    def sequences(self, which: Iterable[int]) -> list[str]:
        """The residues of the sequences ``which``."""
        return [self.sequence(i) for i in which]

    def accessions(self, which: Iterable[int]) -> list[str]:
        """The accessions of the sequences ``which``."""
        return [self.accession(i) for i in which]

    def named(self, which: Iterable[int]) -> dict[str, str]:
        """Accession -> sequence of the proteins ``which``."""
        return {self.accession(i): self.sequence(i) for i in which}

    def indices(self, accessions: list[str], where: str) -> np.ndarray:
        """The indices of ``accessions``, in their order; one the store lacks is an error.

        ``where`` names what listed them, for the messages. The hashes find the
        candidates; each is compared in full.
        """
        wanted: dict[str, int] = {}
        for k, name in enumerate(accessions):
            if name in wanted:
                raise InputError(f"{where}: names {name} twice; expected each protein once")
            wanted[name] = k
        needles = np.array([name_hash(a) for a in accessions], dtype=np.uint64)
        out = np.full(len(accessions), -1, dtype=np.int64)
        step = 1 << 22
        for begin in range(0, len(self), step):
            hits = np.isin(self.id_hashes[begin : begin + step], needles)
            for h in np.nonzero(hits)[0]:
                k = wanted.get(self.accession(begin + int(h)))
                if k is not None:
                    out[k] = begin + h
        if (out < 0).any():
            missing = accessions[int(np.nonzero(out < 0)[0][0])]
            raise InputError(f"{where}: names {missing}, which the dumps lack")
        return out

    def digest(self, tag: str, which: np.ndarray) -> str:
        """:func:`ppi.utils.cache.digest` of ``tag`` and the accessions ``which``, one a line."""
        which = np.asarray(which, dtype=np.int64)
        size = int(np.asarray(self.id_lengths[which]).sum()) + max(len(which) - 1, 0)
        h = hashlib.sha256()
        add_part(h, len(tag.encode()), [tag.encode()])
        step = 1 << 20
        chunks = (self._lines(which[a : a + step]) for a in range(0, len(which), step))
        add_part(h, size, (b"\n" * (k > 0) + c for k, c in enumerate(chunks)))
        return h.hexdigest()

    def _lines(self, which: np.ndarray) -> bytes:
        """The accessions ``which`` joined by newlines."""
        starts = np.asarray(self.id_starts[which], dtype=np.int64)
        lengths = np.asarray(self.id_lengths[which], dtype=np.int64)
        out = np.full(int(lengths.sum()) + max(len(which) - 1, 0), ord("\n"), dtype=np.uint8)
        before = np.cumsum(lengths) - lengths  # (M,) bytes of the accessions before each
        within = np.arange(int(lengths.sum())) - np.repeat(before, lengths)  # (B,)
        dest = np.repeat(before + np.arange(len(which)), lengths) + within  # one newline each
        out[dest] = self.id_bytes[np.repeat(starts, lengths) + within]
        return out.tobytes()

    def counts(self, which: np.ndarray) -> np.ndarray:
        """How often each byte value occurs in the sequences ``which``, ``(256,)`` int64.

        Sequences that lie back to back in ``residues.bin`` are counted as one
        slice, so a training set (all but the held-out proteins) is read in
        long runs, not one sequence at a time.
        """
        total = np.zeros(256, dtype=np.int64)
        which = np.sort(np.asarray(which, dtype=np.int64))
        if not len(which):
            return total
        starts = np.asarray(self.starts[which], dtype=np.int64)
        ends = starts + np.asarray(self.lengths[which], dtype=np.int64)
        breaks = np.nonzero(starts[1:] != ends[:-1])[0] + 1  # where a run of neighbours ends
        runs = zip(starts[np.r_[0, breaks]], ends[np.r_[breaks - 1, len(which) - 1]], strict=True)
        for first, last in runs:
            for at in range(int(first), int(last), CHUNK_RESIDUES):
                piece = self.residues[at : min(int(last), at + CHUNK_RESIDUES)]
                total += np.bincount(piece, minlength=256)
        return total


def _bytes(path: Path) -> np.ndarray:
    """A file's bytes, memory-mapped (an empty file cannot be mapped: an empty array)."""
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=np.uint8)
    return np.memmap(path, dtype=np.uint8, mode="r")


def open_store(dumps: list[str], folder: str | Path | None = None) -> SequenceStore:
    """The store of ``dumps``, written first if absent or read from other dumps.

    ``folder`` defaults to the cache, ``$PPI_CACHE/sequences/<key>`` with the
    key a digest of the dumps' paths, sizes and modification times, so every
    job on the same dumps maps one store. Call it in one process of a machine
    first (``local_main_process_first``); the others then find it written.
    """
    sources = _sources(dumps)
    if folder is None:
        folder = cache_root() / "sequences" / digest("sequence-store-v1", json.dumps(sources))[:16]
    folder = Path(folder)
    if _fresh(folder, sources):
        return SequenceStore(folder)
    build(sources, folder)
    _drop_stale(folder, sources)
    return SequenceStore(folder)


def _drop_stale(folder: Path, sources: list[list]) -> None:
    """Remove the stores beside ``folder`` of the same dump paths as they were before a change.

    Nothing reads them again (the dumps changed), and a store of UniRef50 is
    some 20 GB. A job still mapping one keeps reading it: the files go when
    it lets go of them.
    """
    paths = [s[0] for s in sources]
    for other in folder.parent.iterdir():
        if other == folder or other.name.startswith(".") or not other.is_dir():
            continue
        before = _manifest(other).get("sources")
        if isinstance(before, list) and [s[0] for s in before] == paths and before != sources:
            shutil.rmtree(other, ignore_errors=True)


def _sources(dumps: list[str]) -> list[list]:
    """``[path, size, mtime_ns]`` of each dump: what decides whether a store is current."""
    out = []
    for d in dumps:
        path = Path(resolve(d))
        if not path.is_file():
            raise InputError(f"{d}: expected a UniProt dump (FASTA, flat file or XML), not found")
        stat = path.stat()
        out.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    return out


#: the files of a store besides its manifest
FILES = (
    "residues.bin",
    "starts.npy",
    "lengths.npy",
    "ids.bin",
    "id_starts.npy",
    "id_lengths.npy",
    "id_hashes.npy",
)


def _manifest(folder: Path) -> dict:
    """``store.json`` of ``folder``; empty when it is missing or unreadable."""
    try:
        meta = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _fresh(folder: Path, sources: list[list]) -> bool:
    """Whether ``folder`` holds a whole store of ``sources`` (manifest and files as written)."""
    meta = _manifest(folder)
    try:
        sizes = [(folder / name).stat().st_size for name in FILES]
    except OSError:
        return False
    current = meta.get("version") == VERSION and meta.get("sources") == sources
    return current and meta.get("sizes") == sizes


def build(sources: list[list], folder: Path) -> None:
    """Stream the dumps into a new store, then put it in ``folder`` in one rename.

    A folder that cannot be written (a cache on a full or read-only disk) is a
    one-line error naming it.
    """
    try:
        _remove_leftovers(folder)
        tmp = _scratch(folder, "tmp")
        tmp.mkdir(parents=True)
        alive = _hold(tmp)
    except OSError as exc:
        raise InputError(
            f"{folder}: cannot write the sequence store there ({exc}); {WHERE}"
        ) from None
    try:
        count = _write(sources, folder, tmp)
    except OSError as exc:
        raise InputError(f"{folder}: writing the sequence store failed ({exc}); {WHERE}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        os.close(alive)
    log.info("%s: %d distinct sequences stored", folder, count)


#: where the store goes, for the messages of a failed write
WHERE = "set PPI_CACHE to a folder with room (UniRef50 takes some 20 GB)"


def _write(sources: list[list], folder: Path, tmp: Path) -> int:
    """Write the store into ``tmp`` and rename it to ``folder``; the sequences kept."""
    from ppi.data.uniprot_dump import read_dumps

    seqs = {"starts": array("q"), "lengths": array("q"), "hashes": array("Q")}
    ids = {"starts": array("q"), "lengths": array("q"), "hashes": array("Q")}
    with open(tmp / "residues.bin", "wb") as res, open(tmp / "ids.bin", "wb") as names:
        entries = read_dumps([s[0] for s in sources])
        for entry in tqdm(entries, desc="reading dumps", unit=" sequences", disable=None):
            if entry.sequence:
                if any(c in entry.accession for c in "\n\r\t"):
                    raise InputError(
                        f"{_named(sources)}: accession {entry.accession!r} "
                        "holds a line break or tab; expected an accession on one line"
                    )
                _append(res, seqs, entry.sequence.encode("ascii"))
                _append(names, ids, entry.accession.encode())
    keep = _first_copies(tmp / "residues.bin", seqs)
    if len(keep) < 2:
        raise InputError(
            f"{_named(sources)}: expected at least 2 distinct sequences, got {len(keep)}"
        )
    for name, column, kind in (
        ("starts", seqs["starts"], np.int64),
        ("lengths", seqs["lengths"], np.int64),
        ("id_starts", ids["starts"], np.int64),
        ("id_lengths", ids["lengths"], np.int64),
        ("id_hashes", ids["hashes"], np.uint64),
    ):
        np.save(tmp / f"{name}.npy", np.frombuffer(column, dtype=kind)[keep])
    written = SequenceStore.unfinished(tmp)
    _one_sequence_an_accession(written, sources)
    meta = {"version": VERSION, "sources": sources, "sequences": len(keep)}
    meta["accessions_digest"] = written.digest(ACCESSIONS, np.arange(len(keep)))
    meta["sizes"] = [(tmp / name).stat().st_size for name in FILES]
    meta["residues"] = int(np.frombuffer(seqs["lengths"], dtype=np.int64)[keep].sum())
    atomic_write_text(tmp / MANIFEST, json.dumps(meta))
    _put_in_place(tmp, folder, sources)
    return len(keep)


def _named(sources: list[list]) -> str:
    """The dumps of ``sources``, for a message."""
    return ", ".join(s[0] for s in sources)


def _append(handle, columns: dict, raw: bytes) -> None:
    """Write ``raw`` and note where it begins, its length and its 64-bit hash."""
    columns["starts"].append(handle.tell())
    columns["lengths"].append(len(raw))
    columns["hashes"].append(_hash(raw))
    handle.write(raw)


def _hash(raw: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")


def name_hash(accession: str) -> int:
    """The 64-bit hash ``id_hashes.npy`` holds for ``accession``."""
    return _hash(accession.encode())


def _first_copies(residues: Path, seqs: dict) -> np.ndarray:
    """Indices of the sequences that are not a repeat of an earlier one, ascending."""
    h = np.frombuffer(seqs["hashes"], dtype=np.uint64)
    if len(h) == 0:
        return np.zeros(0, dtype=np.int64)
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    first = first[inverse.reshape(-1)]  # (N,) the first sequence with each one's hash
    keep = np.ones(len(h), dtype=bool)
    mapped = np.memmap(residues, dtype=np.uint8, mode="r")
    starts, lengths = seqs["starts"], seqs["lengths"]
    for i in np.nonzero(first != np.arange(len(h)))[0]:
        j = int(first[i])
        if lengths[i] == lengths[j] and np.array_equal(
            mapped[starts[i] : starts[i] + lengths[i]], mapped[starts[j] : starts[j] + lengths[j]]
        ):
            keep[i] = False
    return np.nonzero(keep)[0]


def _one_sequence_an_accession(store: SequenceStore, sources: list[list]) -> None:
    """A repeated accession with another sequence is an error: the split names proteins by it."""
    hashes = np.asarray(store.id_hashes)
    _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    seen: dict[str, int] = {}
    for i in np.nonzero(counts[inverse.reshape(-1)] > 1)[0]:  # the hash is shared: compare
        name = store.accession(int(i))
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            raise InputError(
                f"{_named(sources)}: accession {name} names "
                f"{seen[name]} different sequences; expected one sequence an accession"
            )


def _put_in_place(tmp: Path, folder: Path, sources: list[list]) -> None:
    """Rename ``tmp`` to ``folder``; a stale store there is removed first.

    Another machine sharing the folder may have put a current one there in the
    meantime; then that one stays and ``tmp`` is discarded.
    """
    if folder.exists():
        if _fresh(folder, sources):
            return
        old = _scratch(folder, "old")
        with contextlib.suppress(FileNotFoundError):  # another builder moved it first
            os.replace(folder, old)
        shutil.rmtree(old, ignore_errors=True)
    try:
        os.replace(tmp, folder)
    except OSError:
        if not _fresh(folder, sources):
            raise


def _scratch(folder: Path, kind: str) -> Path:
    """A hidden sibling of ``folder`` named by machine and process: ``.NAME.HOST.PID.X.KIND``."""
    host = socket.gethostname().replace(".", "-")
    return folder.with_name(f".{folder.name}.{host}.{os.getpid()}.{uuid.uuid4().hex[:8]}.{kind}")


def _hold(folder: Path) -> int:
    """An exclusive ``flock`` on ``folder``, held until the descriptor is closed.

    It tells :func:`_remove_leftovers` that a build is alive; the kernel drops
    it when the process dies, however it dies.
    """
    fd = os.open(folder, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


#: a scratch folder younger than this is left alone (between its mkdir and its flock)
GRACE_SECONDS = 60


def _remove_leftovers(folder: Path) -> None:
    """Remove the scratch folders beside ``folder`` that no live build holds.

    A store of UniRef50 is some 20 GB; a kill during the build must not leave
    that behind for good. A running build holds its folder's ``flock``
    (:func:`_hold`), so it stays, whichever machine or PID namespace it runs in.
    """
    for path in folder.parent.glob(f".{folder.name}.*"):
        if path.suffix not in (".tmp", ".old") or not path.is_dir():
            continue
        try:
            if time.time() - path.stat().st_mtime < GRACE_SECONDS:
                continue  # perhaps made a moment ago by a build about to hold it
            fd = _hold(path)
        except OSError:  # held by a build that is alive, or gone meanwhile
            continue
        try:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)
