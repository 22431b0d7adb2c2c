"""Benchmark of the index types against exact search in the same run (``scripts/bench_index.py``).

For each data set (random clustered unit vectors of a given size, or the
vectors of a built index) it builds ``flat`` (the reference), ``ivf-flat``,
``hnsw`` and ``ivf-pq``, and reports for each search setting: recall@10
against the exact top 10, queries per second and its ratio to exact search,
build time and bytes per vector (the serialised index over N).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import faiss
import numpy as np

from ppi.homologs.faiss_settings import FaissSettings, build_faiss, normalise, resolved_nlist

#: search settings swept per type: IVF nprobe, HNSW efSearch
SWEEP = {"ivf-flat": (8, 16, 32, 64), "ivf-pq": (16, 64), "hnsw": (16, 32, 64, 128)}


def clustered_vectors(count: int, dim: int, seed: int = 0, spread: float = 0.35) -> np.ndarray:
    """Unit vectors around ``sqrt(count)`` random centres, like families of protein embeddings.

    Shapes:
        returns ``(count, dim)`` float32.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, int(np.sqrt(count))), dim)).astype(np.float32)
    out = np.empty((count, dim), np.float32)
    step = 100_000
    for start in range(0, count, step):  # chunks keep the float64 temporaries small
        n = min(step, count - start)
        picks = rng.integers(len(centres), size=n)
        noise = rng.normal(scale=spread, size=(n, dim)).astype(np.float32)
        out[start : start + n] = centres[picks] + noise
    return normalise(out)


def queries_from(base: np.ndarray, count: int, seed: int = 1, noise: float = 0.1) -> np.ndarray:
    """Perturbed copies of random database vectors: queries with true near neighbours.

    Shapes:
        base ``(N, D)`` -> ``(Q, D)``.
    """
    rng = np.random.default_rng(seed)
    picks = rng.integers(len(base), size=count)
    return normalise(base[picks] + rng.normal(scale=noise, size=(count, base.shape[1])))


def timed_search(index: faiss.Index, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, float]:
    """Top-``k`` rows and queries per second."""
    start = time.perf_counter()
    _, rows = index.search(queries, k)
    return rows, len(queries) / max(time.perf_counter() - start, 1e-9)


def recall_at(found: np.ndarray, exact: np.ndarray) -> float:
    """Share of the exact top-k found, averaged over queries."""
    hits = [len(set(f) & set(e)) / len(e) for f, e in zip(found, exact, strict=True)]
    return float(np.mean(hits))


def bench(
    name: str, base: np.ndarray, queries: np.ndarray, kinds: Iterable[str], seed: int = 0
) -> list[dict]:
    """One row per (type, search setting) on one data set, flat first."""
    count, dim = base.shape
    start = time.perf_counter()
    flat = build_faiss(base, "flat", FaissSettings())
    flat_build = time.perf_counter() - start
    exact, flat_qps = timed_search(flat, queries)
    rows = [_row(name, "flat", "exact", 1.0, flat_qps, flat_qps, flat_build, flat, count)]
    for kind in kinds:
        start = time.perf_counter()
        index = build_faiss(base, kind, FaissSettings(type=kind), seed)
        built = time.perf_counter() - start
        for value in SWEEP[kind]:
            setting = _apply(index, kind, value, count)
            found, qps = timed_search(index, queries)
            recall = recall_at(found, exact)
            rows.append(_row(name, kind, setting, recall, qps, flat_qps, built, index, count))
    return rows


def _apply(index: faiss.Index, kind: str, value: int, count: int) -> str:
    if kind == "hnsw":
        faiss.downcast_index(index).hnsw.efSearch = value
        return f"efSearch={value}"
    nlist = resolved_nlist(FaissSettings(), count)
    faiss.extract_index_ivf(index).nprobe = min(value, nlist)
    return f"nlist={nlist} nprobe={min(value, nlist)}"


def _row(name, kind, setting, recall, qps, flat_qps, built, index, count) -> dict:
    return {
        "data": name,
        "type": kind,
        "setting": setting,
        "recall@10": round(recall, 4),
        "qps": round(qps, 1),
        "qps_vs_flat": round(qps / flat_qps, 2),
        "build_s": round(built, 2),
        "bytes_per_vector": round(len(faiss.serialize_index(index)) / count, 1),
    }


def table(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)
