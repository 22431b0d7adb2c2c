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
    ids.npy        (N,) fixed-width bytes: its accession
    store.json     the dumps it was read from (path, size, modification time) and
                   the counts; written last, so a folder without it is unfinished

A sequence read twice is kept once, under its first accession (64-bit hashes
find the repeats; each is compared residue by residue with the first copy
before it is dropped). Kept sequences are in the order of the dumps.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
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
VERSION = 1
#: residues counted at once (bounds the memory of :meth:`SequenceStore.counts`)
CHUNK_RESIDUES = 1 << 25
log = logging.getLogger("ppi")


class SequenceStore:
    """Read-only sequences by index (``0..N-1``, the order of the dumps), memory-mapped."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.meta = json.loads((self.folder / MANIFEST).read_text())
        self.residues = np.memmap(self.folder / "residues.bin", dtype=np.uint8, mode="r")
        self.starts = np.load(self.folder / "starts.npy", mmap_mode="r")
        self.lengths = np.load(self.folder / "lengths.npy", mmap_mode="r")
        self.ids = np.load(self.folder / "ids.npy", mmap_mode="r")

    def __len__(self) -> int:
        return len(self.starts)

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
        return self.ids[i].decode()

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

        ``where`` names what listed them, for the message.
        """
        wanted = {a: k for k, a in enumerate(accessions)}
        width = self.ids.dtype.itemsize
        # a longer name cannot be stored, and cut to the width it could match another
        fits = [a.encode() for a in accessions if len(a.encode()) <= width]
        needles = np.array(fits, dtype=self.ids.dtype)
        out = np.full(len(accessions), -1, dtype=np.int64)
        step = 1 << 20
        for begin in range(0, len(self), step):
            chunk = self.ids[begin : begin + step]
            for h in np.nonzero(np.isin(chunk, needles))[0]:
                out[wanted[chunk[h].decode()]] = begin + h
        if (out < 0).any():
            missing = accessions[int(np.nonzero(out < 0)[0][0])]
            raise InputError(f"{where}: names {missing}, which the dumps lack")
        return out

    def digest(self, tag: str, which: np.ndarray) -> str:
        """:func:`ppi.utils.cache.digest` of ``tag`` and the accessions ``which``, one a line."""
        which = np.asarray(which, dtype=np.int64)
        chunks = [which[a : a + (1 << 20)] for a in range(0, len(which), 1 << 20)]
        size = sum(int(np.char.str_len(self.ids[c]).sum()) for c in chunks) + max(len(which) - 1, 0)
        h = hashlib.sha256()
        add_part(h, len(tag.encode()), [tag.encode()])
        lines = (b"\n" * (k > 0) + b"\n".join(self.ids[c].tolist()) for k, c in enumerate(chunks))
        add_part(h, size, lines)
        return h.hexdigest()

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
    some 18 GB. A job still mapping one keeps reading it: the files go when
    it lets go of them.
    """
    paths = [s[0] for s in sources]
    for other in folder.parent.iterdir():
        if other == folder or other.name.startswith(".") or not other.is_dir():
            continue
        try:
            meta = json.loads((other / MANIFEST).read_text())
        except (OSError, ValueError):
            continue
        before = meta.get("sources") if isinstance(meta, dict) else None
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
FILES = ("residues.bin", "starts.npy", "lengths.npy", "ids.npy")


def _fresh(folder: Path, sources: list[list]) -> bool:
    """Whether ``folder`` holds a whole store of ``sources`` (manifest and files as written)."""
    try:
        meta = json.loads((folder / MANIFEST).read_text())
        sizes = [(folder / name).stat().st_size for name in FILES]
    except (OSError, ValueError):
        return False
    current = meta.get("version") == VERSION and meta.get("sources") == sources
    return current and meta.get("sizes") == sizes


def build(sources: list[list], folder: Path) -> None:
    """Stream the dumps into a new store, then put it in ``folder`` in one rename."""
    from ppi.data.uniprot_dump import read_dumps

    _remove_leftovers(folder)
    tmp = _scratch(folder, "tmp")
    tmp.mkdir(parents=True)
    try:
        starts, lengths, hashes, width = array("q"), array("q"), array("Q"), 1
        with open(tmp / "residues.bin", "wb") as res, open(tmp / "ids.txt", "w") as ids:
            offset = 0
            entries = read_dumps([s[0] for s in sources])
            for entry in tqdm(entries, desc="reading dumps", unit=" sequences", disable=None):
                if not entry.sequence:
                    continue
                raw = entry.sequence.encode("ascii")
                res.write(raw)
                starts.append(offset)
                lengths.append(len(raw))
                key = hashlib.blake2b(raw, digest_size=8).digest()
                hashes.append(int.from_bytes(key, "little"))
                ids.write(entry.accession + "\n")
                width = max(width, len(entry.accession.encode()))
                offset += len(raw)
        keep = _first_copies(tmp / "residues.bin", starts, lengths, hashes)
        if len(keep) < 2:
            raise InputError(
                f"{', '.join(s[0] for s in sources)}: expected at least 2 distinct sequences, "
                f"got {len(keep)}"
            )
        np.save(tmp / "starts.npy", np.frombuffer(starts, dtype=np.int64)[keep])
        np.save(tmp / "lengths.npy", np.frombuffer(lengths, dtype=np.int64)[keep])
        _write_ids(tmp, keep, width)
        _one_sequence_an_accession(tmp, sources)
        meta = {"version": VERSION, "sources": sources, "sequences": len(keep)}
        meta["sizes"] = [(tmp / name).stat().st_size for name in FILES]
        meta["residues"] = int(np.frombuffer(lengths, dtype=np.int64)[keep].sum())
        atomic_write_text(tmp / MANIFEST, json.dumps(meta))
        _put_in_place(tmp, folder, sources)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("%s: %d distinct sequences stored", folder, len(keep))


def _first_copies(residues: Path, starts, lengths, hashes) -> np.ndarray:
    """Indices of the sequences that are not a repeat of an earlier one, ascending."""
    h = np.frombuffer(hashes, dtype=np.uint64)
    if len(h) == 0:
        return np.zeros(0, dtype=np.int64)
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    first = first[inverse.reshape(-1)]  # (N,) the first sequence with each one's hash
    keep = np.ones(len(h), dtype=bool)
    mapped = np.memmap(residues, dtype=np.uint8, mode="r")
    for i in np.nonzero(first != np.arange(len(h)))[0]:
        j = int(first[i])
        if lengths[i] == lengths[j] and np.array_equal(
            mapped[starts[i] : starts[i] + lengths[i]], mapped[starts[j] : starts[j] + lengths[j]]
        ):
            keep[i] = False
    return np.nonzero(keep)[0]


def _write_ids(tmp: Path, keep: np.ndarray, width: int) -> None:
    """``ids.npy`` of the kept sequences from ``ids.txt`` (one accession a line), then drop it."""
    out = np.lib.format.open_memmap(
        tmp / "ids.npy", mode="w+", dtype=f"S{width}", shape=(len(keep),)
    )
    kept = np.zeros(int(keep[-1]) + 1, dtype=bool)
    kept[keep] = True
    row = 0
    with open(tmp / "ids.txt") as handle:
        for i, line in enumerate(handle):
            if i < len(kept) and kept[i]:
                out[row] = line.rstrip("\n").encode()
                row += 1
    out.flush()
    del out
    (tmp / "ids.txt").unlink()


def _one_sequence_an_accession(tmp: Path, sources: list[list]) -> None:
    """A repeated accession with another sequence is an error: the split names proteins by it."""
    names, counts = np.unique(np.load(tmp / "ids.npy", mmap_mode="r"), return_counts=True)
    if (counts > 1).any():
        first = int(np.argmax(counts > 1))
        raise InputError(
            f"{', '.join(s[0] for s in sources)}: accession {names[first].decode()} names "
            f"{int(counts[first])} different sequences; expected one sequence an accession"
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


def _remove_leftovers(folder: Path) -> None:
    """Remove what builds killed on this machine left beside ``folder`` (their process is gone).

    A store of UniRef50 is some 18 GB; a kill during the build must not leave
    that behind for good. Another machine's, or a running build's, stays.
    """
    host = socket.gethostname().replace(".", "-")
    for path in folder.parent.glob(f".{folder.name}.{host}.*"):
        parts = path.name[len(folder.name) + 2 :].split(".")
        if len(parts) == 4 and parts[3] in ("tmp", "old") and parts[1].isdigit():
            if not _running(int(parts[1])):
                shutil.rmtree(path, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
