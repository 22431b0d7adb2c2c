"""Memory of ``ppi pretrain``'s data in several processes: the sequence store against strings.

Each contender runs in ``processes`` worker processes at once, as Accelerate
starts them: the workers load the sequences, draw one epoch's crops and
batches and read every batch of their share, then all measure their
proportional set size (PSS: a page shared by k processes counts 1/k in each)
while all are alive. What is reported is the rise of PSS from before loading,
so the interpreter and the libraries, the same in both, are left out.

- ``strings``: what ``ppi pretrain`` held before the store (commit 0dc9b23):
  every sequence as a Python string in each process, and the epoch's crops.
- ``store``: the memory-mapped store of :mod:`ppi.data.sequence_store`, with
  the epoch as crop starts and batch bounds (:func:`ppi.lm.pretrain.epoch_batches`).
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from pathlib import Path

import numpy as np
import torch

#: the epoch drawn by every contender: crops of 512 under 8,192 padded tokens a batch
CROP, BATCH_TOKENS = 512, 8192


def _pss_mb() -> float:
    import psutil

    return psutil.Process().memory_full_info().pss / 2**20


def _strings(dump: str, rank: int, world: int) -> tuple[object, int]:
    """The sequences as strings and the epoch's crops, as before the store; residues read."""
    from ppi.data.uniprot_dump import read_dumps
    from ppi.lm.pretrain_data import batches, crops

    seen: dict[str, str] = {}
    proteins: dict[str, str] = {}
    for entry in read_dumps([dump]):
        if entry.sequence not in seen:
            seen[entry.sequence] = entry.accession
            proteins[entry.accession] = entry.sequence
    del seen
    gen = torch.Generator().manual_seed(0)
    cut = crops(list(proteins.values()), CROP, gen)
    groups = batches([len(c) + 2 for c in cut], BATCH_TOKENS, gen)
    groups = groups[: len(groups) - len(groups) % world]  # as many batches on every process
    read = 0
    for g in groups[rank::world]:
        read += sum(len(cut[i]) for i in g)
    return (proteins, cut, groups), read


def _store(folder: str, rank: int, world: int) -> tuple[object, int]:
    """The store mapped and one epoch's batches of this process read from it; residues read."""
    from ppi.backbones.configs import ScratchConfig
    from ppi.data.sequence_store import SequenceStore
    from ppi.lm import pretrain as pt

    store = SequenceStore(folder)
    every = np.arange(len(store))
    data = pt.Data(store, every, every[:0], [], torch.zeros(len(store), 0), torch.zeros(0, 0))
    config = pt.PretrainConfig(
        backbone=ScratchConfig(max_len=CROP),
        pretrain=pt.PretrainSettings(batch_tokens=BATCH_TOKENS),
    )
    mine, _ = pt.epoch_batches(data, config, 0, rank, world)
    read = 0
    for b in range(len(mine)):
        read += sum(len(s) for s in mine[b][0])
    return (store, data, mine), read


def _worker(kind: str, source: str, rank: int, world: int, barrier, results) -> None:
    torch.set_num_threads(1)
    # every import either contender makes, paid before the first measure
    import ppi.backbones.configs
    import ppi.data.sequence_store
    import ppi.data.uniprot_dump
    import ppi.lm.pretrain  # noqa: F401

    barrier.wait()
    before = _pss_mb()
    barrier.wait()
    start = time.perf_counter()
    held, read = (_strings if kind == "strings" else _store)(source, rank, world)
    seconds = time.perf_counter() - start
    barrier.wait()  # every worker holds its data
    after = _pss_mb()
    barrier.wait()  # and keeps it until all have measured
    results.put({"rank": rank, "pss_rise_mb": after - before, "seconds": seconds, "read": read})
    del held


def run_workers(kind: str, source: str, world: int) -> dict:
    """``world`` workers of ``kind`` at once: their summed PSS rise and the slowest load."""
    ctx = multiprocessing.get_context("spawn")
    # a worker left alone by one that died gives up at its barrier instead of waiting forever
    barrier, results = ctx.Barrier(world, timeout=3600), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(kind, source, r, world, barrier, results))
        for r in range(world)
    ]
    for p in procs:
        p.start()
    rows: list[dict] = []
    while len(rows) < world:
        try:
            rows.append(results.get(timeout=2))
        except queue.Empty:
            failed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if failed:
                for p in procs:
                    p.terminate()
                raise RuntimeError(f"a {kind} worker failed (exit code {failed[0]})") from None
    for p in procs:
        p.join()
    return {
        "contender": kind,
        "processes": world,
        "pss_rise_mb": sum(r["pss_rise_mb"] for r in rows),
        "per_process_mb": max(r["pss_rise_mb"] for r in rows),
        "load_and_epoch_s": max(r["seconds"] for r in rows),
        "residues_read": sum(r["read"] for r in rows),
    }


def compare(dump: Path, store_folder: Path, processes: list[int]) -> tuple[list[dict], dict]:
    """Both contenders for each process count; rows and the one-time costs of reading."""
    from ppi.data.sequence_store import open_store

    start = time.perf_counter()
    store = open_store([str(dump)], store_folder)
    once = {"store_build_s": time.perf_counter() - start, "sequences": len(store)}
    once["store_mb"] = sum(f.stat().st_size for f in store_folder.iterdir()) / 2**20
    rows = []
    for world in processes:
        pair = [
            run_workers("strings", str(dump), world),
            run_workers("store", str(store_folder), world),
        ]
        if pair[0]["residues_read"] != pair[1]["residues_read"]:
            raise RuntimeError(f"the contenders read different epochs: {pair}")
        pair[1]["pss_vs_strings"] = pair[1]["pss_rise_mb"] / pair[0]["pss_rise_mb"]
        rows += pair
    return rows, once
