"""Build an index folder from UniProt dumps, in resumable shards, over one or many processes.

1. Every process reads the dumps once to count and check the entries, so a
   damaged file, an accession given two sequences, or FAISS settings that do
   not fit the count stop the build before anything is embedded. An
   accession met again with the same sequence is indexed once.
2. The entries, in file order, are cut into shards of ``shard_size``; process
   ``rank`` of ``world`` embeds shards ``i % world == rank`` (through the
   embedding cache) and writes ``shard_00012.parquet`` (metadata) then
   ``shard_00012.npy`` (vectors), each atomically. A shard whose ``.npy``
   exists is finished and skipped when a killed build runs again.
3. The main process assembles: it trains the FAISS index on a sample drawn
   from the shards, adds them one by one, writes ``index.faiss``,
   ``metadata.parquet`` and, last, ``manifest.json``. Then the shards go.

Shards live in ``<out>/.build-<plan>/`` where the plan hashes the backbone
identity, pooling, shard size and the dump files (name, size, mtime), so a
changed input never reuses stale shards (a dump rewritten in place with its
size and mtime kept, as ``cp -p`` may do, is taken for the same). The shards
of a build with other settings are removed when a build finishes.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import shutil
import time
from array import array
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path

import faiss
import numpy as np
import pandas as pd
import torch
from accelerate import PartialState
from accelerate.utils import parse_flag_from_env
from tqdm.auto import tqdm

from ppi import __version__
from ppi.config import tools as configtools
from ppi.data._io import read_lines
from ppi.data.uniprot_dump import DumpEntry, dump_format, read_dump, read_dumps
from ppi.errors import InputError
from ppi.homologs.faiss_settings import (
    apply_search_params,
    check_fits,
    make_index,
    resolve_type,
    search_params,
    train_index,
    train_size,
)
from ppi.homologs.index import (
    BACKBONE_WEIGHTS,
    INDEX_FILE,
    MANIFEST,
    METADATA,
    IndexConfig,
    PooledEmbedder,
    build_backbone,
    remove_manifest,
    seq_hash,
    write_manifest,
)
from ppi.utils.cache import digest
from ppi.utils.files import atomic_save_tensors, atomic_write
from ppi.utils.locks import exclusive_across

log = logging.getLogger("ppi")

#: backbones up to this size are saved inside the index folder
SAVE_BACKBONE_BYTES = 100 * 2**20


def build_index(
    dumps: list[Path], out: Path, config: IndexConfig, state: PartialState | None = None
) -> dict:
    """Build (or resume, or confirm) the index of ``dumps`` in ``out``; returns its manifest."""
    # PartialState reads ACCELERATE_USE_CPU (several CPU processes) only when told to
    state = state or PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    with exclusive_across(out, "--out", state):  # one build per index folder
        return _build(dumps, Path(out), config, state)


def _build(dumps: list[Path], out: Path, config: IndexConfig, state: PartialState) -> dict:
    """:func:`build_index` into ``out``, which this run has locked."""
    backbone = build_backbone(config.backbone, config.seed).to(state.device)
    embedder = PooledEmbedder(backbone, config.pooling, config.batch_tokens)
    plan = build_plan(dumps, config, embedder)
    done = _finished(out, plan)
    if done is not None:
        log.info("%s: already built from these dumps, nothing to do", out)
        return done
    # A damaged dump or settings that do not fit it stop here, before the folder
    # is made or a finished index in it is marked unfinished.
    total, repeats = count_entries(dumps)
    check_fits(config.faiss, total, embedder.backbone.dim)
    if repeats and state.is_main_process:
        _note_repeats(repeats)
    state.wait_for_everyone()
    if state.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        remove_manifest(out)  # from here on the folder is unfinished
    state.wait_for_everyone()
    work = out / f".build-{plan[:12]}"
    stale = [w for w in out.glob(".build-*") if w != work]
    if stale and state.is_main_process:
        log.info(
            "%s: the shards of a build with other settings or dumps (%s) are not reused; "
            "they go when this build finishes",
            out,
            ", ".join(w.name for w in stale),
        )
    started = time.time()
    stats = embed_shards(dumps, work, config.shard_size, embedder, state, total, repeats)
    state.wait_for_everyone()
    manifest = None
    if state.is_main_process:
        manifest = assemble(work, out, config, embedder, total)
        manifest.update(plan=plan, sources=_sources(dumps), embed_stats=stats)
        manifest["build_seconds"] = round(time.time() - started, 1)
        manifest = write_manifest(out, manifest)
        for shards in [work, *stale]:  # the folder is locked: no other build writes there
            shutil.rmtree(shards, ignore_errors=True)
    state.wait_for_everyone()
    return manifest or _finished(out, plan)


def count_entries(dumps: list[Path]) -> tuple[int, dict[int, str]]:
    """Read every entry once: how many distinct ones there are, and the repeats to leave out.

    An accession met again with the same sequence is a repeat (returned as
    ``{position: accession}``, positions counted across the dumps); with
    another sequence it is an error naming both records. Only a hash of each
    accession is held (8 bytes an entry); the entries whose hashes repeat are
    compared in a second pass.
    """
    keys = array("q", (hash(e.accession) for e in read_dumps(dumps)))
    values, counts = np.unique(np.frombuffer(keys, np.int64), return_counts=True)
    repeated = set(values[counts > 1].tolist())
    repeats = _repeats(dumps, repeated) if repeated else {}
    return len(keys) - len(repeats), repeats


def _repeats(dumps: list[Path], repeated: set[int]) -> dict[int, str]:
    """The repeats among the entries whose accession hashes are in ``repeated``."""
    first: dict[str, tuple[Path, int, str]] = {}
    repeats: dict[int, str] = {}
    located = ((path, n, e) for path in dumps for n, e in enumerate(read_dump(path)))
    for position, (path, n, entry) in enumerate(located):
        if hash(entry.accession) not in repeated:
            continue
        if entry.accession not in first:
            first[entry.accession] = (path, n, entry.sequence)
            continue
        path0, n0, seq0 = first[entry.accession]
        if seq0 != entry.sequence:
            raise InputError(
                f"{_where(path, n)}: accession '{entry.accession}' again, with another sequence "
                f"than at {_where(path0, n0)} (expected one sequence per accession, got "
                f"{len(seq0)} and {len(entry.sequence)} residues)"
            )
        repeats[position] = entry.accession
    return repeats


#: how the line that starts an entry begins, in each dump format
_ENTRY_START = {
    "fasta": re.compile(r">"),
    "flat": re.compile(r"ID   "),
    "xml": re.compile(r"\s*<(\w+:)?entry[\s>]"),
}


def _where(path: Path, n: int) -> str:
    """``file:line`` of entry ``n`` (from 0) of a dump: the line its record starts on."""
    start = _ENTRY_START[dump_format(path)]
    starts = (number for number, line in read_lines(path) if start.match(line))
    number = next(itertools.islice(starts, n, None), None)
    return f"{path}:{number}" if number else f"{path}: entry {n + 1}"


def _note_repeats(repeats: dict[int, str]) -> None:
    names = sorted(set(repeats.values()))
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    log.info(
        "indexed once, met again with the same sequence: %s (%d repeated entries left out)",
        shown,
        len(repeats),
    )


def build_plan(dumps: list[Path], config: IndexConfig, embedder: PooledEmbedder) -> str:
    """A hash of what the shards depend on: embedder, shard size and the dump files."""
    files = [f"{Path(p).resolve()}:{os.stat(p).st_size}:{os.stat(p).st_mtime_ns}" for p in dumps]
    return digest("index-plan", embedder.identity(), str(config.shard_size), *files)


def _finished(out: Path, plan: str) -> dict | None:
    path = out / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    return manifest if manifest.get("plan") == plan else None


def _sources(dumps: list[Path]) -> list[dict]:
    return [{"file": Path(p).name, "bytes": os.stat(p).st_size} for p in dumps]


def shards(entries: Iterable[DumpEntry], size: int) -> Iterator[list[DumpEntry]]:
    """Consecutive groups of ``size`` entries (the last may be shorter)."""
    it = iter(entries)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def shard_path(work: Path, i: int, suffix: str) -> Path:
    """``<work>/shard_00012.<suffix>``."""
    return work / f"shard_{i:05d}.{suffix}"


def embed_shards(
    dumps: list[Path],
    work: Path,
    size: int,
    embedder: PooledEmbedder,
    state: PartialState,
    total: int,
    repeats: Collection[int] = (),
) -> dict[str, int]:
    """Embed this process's unfinished shards; returns how many shards were reused and made.

    ``repeats`` are positions of entries (across the dumps) to leave out.
    """
    work.mkdir(parents=True, exist_ok=True)
    rank, world = state.process_index, state.num_processes
    bar = tqdm(total=total, desc="embedding dump", unit="seq", disable=None if rank == 0 else True)
    stats = {"shards_reused": 0, "shards_embedded": 0, "sequences_embedded": 0}
    kept = (e for i, e in enumerate(read_dumps(dumps)) if i not in repeats)
    for i, entries in enumerate(shards(kept, size)):
        if i % world != rank:
            continue
        if shard_path(work, i, "npy").is_file():
            stats["shards_reused"] += 1
            bar.update(len(entries))
            continue
        made = _embed_shard(work, i, entries, embedder, bar.update)
        stats["shards_embedded"] += 1
        stats["sequences_embedded"] += made
        bar.update(len(entries) - made)
    bar.close()
    log.info(
        "process %d: %d shards reused, %d embedded (%d sequences computed)",
        rank,
        stats["shards_reused"],
        stats["shards_embedded"],
        stats["sequences_embedded"],
    )
    return stats


def _embed_shard(
    work: Path, i: int, entries: list[DumpEntry], embedder: PooledEmbedder, progress: Callable
) -> int:
    seqs = [e.sequence for e in entries]
    made = len(embedder.cache.missing(seqs))
    vectors = embedder.embed(seqs, on_batch=progress)  # (S, Db)
    meta = pd.DataFrame(
        {
            "accession": [e.accession for e in entries],
            "entry_name": [e.entry_name for e in entries],
            "organism": [e.organism for e in entries],
            "length": [len(s) for s in seqs],
            "seq_hash": [seq_hash(s) for s in seqs],
        }
    )
    atomic_write(shard_path(work, i, "parquet"), lambda h: meta.to_parquet(h, index=False))
    atomic_write(shard_path(work, i, "npy"), lambda h: np.save(h, vectors.astype(np.float32)))
    return made


def assemble(
    work: Path, out: Path, config: IndexConfig, embedder: PooledEmbedder, total: int
) -> dict:
    """Train, fill and write the FAISS index and the metadata from the finished shards."""
    count = -(-total // config.shard_size)
    parts = [shard_path(work, i, "npy") for i in range(count)]
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        raise RuntimeError(f"{work}: shards {', '.join(missing[:3])} were not written")
    arrays = [np.load(p, mmap_mode="r") for p in parts]
    dim = int(arrays[0].shape[1])
    kind = resolve_type(config.faiss, total, dim)
    index = make_index(kind, config.faiss, total, dim)
    index = train_index(index, _sample(arrays, train_size(config.faiss, total), config.seed))
    for part in tqdm(arrays, desc="adding to index", unit="shard", disable=None):
        index.add(np.ascontiguousarray(part, np.float32))
    params = search_params(kind, config.faiss, total)
    apply_search_params(index, params)
    atomic_write(out / INDEX_FILE, lambda h: h.write(faiss.serialize_index(index).tobytes()))
    meta = pd.concat([pd.read_parquet(shard_path(work, i, "parquet")) for i in range(count)])
    atomic_write(out / METADATA, lambda h: meta.to_parquet(h, index=False))
    files = [INDEX_FILE, METADATA]
    if _save_backbone(embedder.backbone, out / BACKBONE_WEIGHTS):
        files.append(BACKBONE_WEIGHTS)
    backbone = configtools.to_dict(config.backbone)
    return {
        "ppi_version": __version__,
        "backbone": backbone,
        "backbone_identity": embedder.backbone.identity(),
        "layer": backbone.get("layer"),
        "pooling": config.pooling,
        "dim": dim,
        "count": total,
        "index_type": kind,
        "faiss": configtools.to_dict(config.faiss),
        "search": params,
        "metric": "inner product of L2-normalised vectors (cosine)",
        "seed": config.seed,
        "files": files,
    }


def _sample(arrays: list[np.ndarray], size: int, seed: int) -> np.ndarray:
    """``size`` random rows across the shards, read without loading them whole.

    Shapes:
        returns ``(S, D)``.
    """
    offsets = np.cumsum([0] + [len(a) for a in arrays])
    picks = np.sort(np.random.default_rng(seed).choice(offsets[-1], size, replace=False))
    shard = np.searchsorted(offsets, picks, side="right") - 1  # (S,)
    rows = [np.asarray(a[picks[shard == s] - offsets[s]]) for s, a in enumerate(arrays)]
    return np.concatenate(rows)  # (S, D)


def _save_backbone(backbone: torch.nn.Module, path: Path) -> bool:
    """Keep a small backbone's weights beside the index (a random init cannot be redone)."""
    state = backbone.state_dict()
    size = sum(t.numel() * t.element_size() for t in state.values())
    if size > SAVE_BACKBONE_BYTES:
        path.unlink(missing_ok=True)
        return False
    atomic_save_tensors({k: v.detach().cpu().contiguous().clone() for k, v in state.items()}, path)
    return True
