"""FAISS index types on clustered random vectors: recall against exact search, the auto rule."""

import numpy as np
import pytest

from ppi.errors import ConfigError
from ppi.homologs.faiss_settings import (
    FaissSettings,
    build_faiss,
    factory_string,
    machine_memory_gb,
    normalise,
    resolve_type,
)


def clustered(n, dim, clusters, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    points = centres[rng.integers(clusters, size=n)] + 0.3 * rng.normal(size=(n, dim))
    return normalise(points)


@pytest.fixture(scope="module")
def data():
    base = clustered(4000, 16, 40, 0)
    rng = np.random.default_rng(1)  # queries: perturbed copies of database points
    queries = normalise(base[rng.integers(4000, size=200)] + 0.05 * rng.normal(size=(200, 16)))
    exact = build_faiss(base, "flat", FaissSettings()).search(queries, 10)[1]
    return base, queries, exact


def recall(found, exact):
    return np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found, exact, strict=True)])


@pytest.mark.parametrize(
    ("kind", "extra", "floor"),
    [
        ("ivf-flat", {"nlist": 32, "nprobe": 32}, 0.999),  # every cell visited: exact
        ("ivf-flat", {"nlist": 32, "nprobe": 4}, 0.8),
        ("hnsw", {"hnsw_m": 16, "ef_search": 64}, 0.95),
        (
            "ivf-pq",
            {"nlist": 32, "nprobe": 32, "pq_m": 8},
            0.15,
        ),  # 4-bit codes: lossy; random 0.0025
    ],
)
def test_recall_against_exact_search(data, kind, extra, floor):
    base, queries, exact = data
    index = build_faiss(base, kind, FaissSettings(type=kind, **extra))
    assert index.ntotal == len(base)
    assert index.reconstruct_batch(np.array([0, 5])).shape == (2, 16) if kind == "hnsw" else True
    got = recall(index.search(queries, 10)[1], exact)
    assert got >= floor, f"{kind} {extra}: recall@10 {got:.3f}"


def test_auto_picks_by_size_and_memory():
    assert resolve_type(FaissSettings(), 1_000, 64) == "flat"
    assert resolve_type(FaissSettings(), 1_000_000, 64) == "ivf-flat"
    assert resolve_type(FaissSettings(memory_gb=1), 60_000_000, 1280) == "ivf-pq"
    # no budget given: half the machine's memory; 60M x 1280 floats (286 GiB) never fits
    assert machine_memory_gb() < 500
    assert resolve_type(FaissSettings(), 60_000_000, 1280) == "ivf-pq"
    assert resolve_type(FaissSettings(type="hnsw"), 10, 64) == "hnsw"
    assert factory_string("ivf-pq", FaissSettings(nlist=100), 10_000, 64) == "IVF100,PQ32x4fs"
    with pytest.raises(ConfigError, match="pq_m"):
        factory_string("ivf-pq", FaissSettings(pq_m=7), 10_000, 64)
    with pytest.raises(ConfigError, match="index.type"):
        resolve_type(FaissSettings(type="lsh"), 10, 64)


def test_normalise_keeps_zero_rows():
    out = normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert np.allclose(out, [[0.6, 0.8], [0.0, 0.0]]) and out.dtype == np.float32


def test_gpu_placement_keeps_indices_faiss_has_no_gpu_version_of(monkeypatch):
    import faiss

    from ppi.homologs import faiss_settings as faiss_index

    monkeypatch.setattr(faiss_index, "_gpus", lambda: 1)  # as if a GPU FAISS were installed
    for spec in ("IVF4,PQ8x4fs", "HNSW8"):
        index = faiss.index_factory(16, spec, faiss.METRIC_INNER_PRODUCT)
        assert faiss_index._on_gpu(index) is index  # no attempt to copy it to a GPU
