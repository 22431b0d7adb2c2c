"""FAISS plumbing: index types, the ``auto`` choice, training and search settings.

Every index searches L2-normalised vectors by inner product, so a hit's score
is its cosine similarity. Four types:

| type | FAISS | memory per vector (D floats) | when |
|---|---|---|---|
| ``flat`` | ``IndexFlatIP`` | 4 D bytes | exact; small sets |
| ``ivf-flat`` | ``IVF<nlist>,Flat`` | 4 D + 8 bytes | fast approximate search, vectors in memory |
| ``hnsw`` | ``HNSW<M>,Flat`` | 4 D + 8 M bytes | graph search; slower to build, fast queries |
| ``ivf-pq`` | ``IVF<nlist>,PQ<m>x4fs`` | m / 2 + 8 bytes | compressed; vectors do not fit |

IVF types are trained on a random sample of the vectors. With a GPU build of
FAISS (``faiss.get_num_gpus() > 0``) training and search of flat and IVF
indices run on GPU 0; the index on disk is always the CPU form.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import faiss
import numpy as np

from ppi.config.tools import setting
from ppi.errors import ConfigError

INDEX_TYPES = ("auto", "flat", "ivf-flat", "hnsw", "ivf-pq")
#: below this many vectors exact search is fast enough and ``auto`` picks ``flat``
AUTO_FLAT_BELOW = 20_000
#: centroids of each 4-bit IVF-PQ codebook: FAISS trains them on at least as many vectors
PQ_CENTROIDS = 16


@dataclass(frozen=True)
class FaissSettings:
    """How an index is laid out and searched (kept in the index manifest).

    Attributes:
        type: one of :data:`INDEX_TYPES` (``auto`` is resolved before building).
        nlist: IVF cells (0 = about 2 sqrt(N)).
        nprobe: IVF cells visited per query (0 = nlist / 64, at least 16).
        hnsw_m: HNSW graph degree.
        ef_search: HNSW candidate list length at query time.
        pq_m: IVF-PQ sub-quantizers of 4 bits each (0 = D / 2, so D / 4 bytes a
            vector); an even divisor of D. 4-bit codes use FAISS's fast-scan
            kernels; 8-bit codebooks (256 centroids per sub-space) trained
            100 times slower on this machine.
        memory_gb: memory the index may take; ``auto`` picks ``ivf-pq`` above
            it (0 = half of this machine's physical memory).
    """

    type: str = setting("auto", choices=INDEX_TYPES)
    nlist: int = setting(0, "[0, inf)")
    nprobe: int = setting(0, "[0, inf)")
    hnsw_m: int = setting(32, "[2, inf)")
    ef_search: int = setting(128, "[1, inf)")
    pq_m: int = setting(0, "[0, inf)")
    memory_gb: float = setting(0.0, "[0, inf)")


def resolve_type(settings: FaissSettings, count: int, dim: int) -> str:
    """The concrete index type for ``count`` vectors of width ``dim``.

    ``auto``: exact ``flat`` below :data:`AUTO_FLAT_BELOW` vectors; ``ivf-flat``
    while the float vectors fit in ``memory_gb`` (default: half the machine's
    memory); ``ivf-pq`` beyond.
    """
    if settings.type not in INDEX_TYPES:
        raise ConfigError(
            f"index.type: expected one of {', '.join(INDEX_TYPES)}, got {settings.type!r}"
        )
    if settings.type != "auto":
        return settings.type
    if count < AUTO_FLAT_BELOW:
        return "flat"
    flat_gb = count * (4 * dim + 8) / 2**30
    budget = settings.memory_gb or machine_memory_gb() / 2
    return "ivf-pq" if flat_gb > budget else "ivf-flat"


def check_fits(settings: FaissSettings, count: int, dim: int) -> str:
    """The index type for ``count`` vectors of width ``dim``, once its settings fit them.

    What FAISS would refuse only when training, after every vector is made:
    more IVF cells than vectors, too few vectors for the IVF-PQ codebooks, a
    ``pq_m`` that does not divide the width.
    """
    kind = resolve_type(settings, count, dim)
    ivf = kind in ("ivf-flat", "ivf-pq")
    if ivf and resolved_nlist(settings, count) > count:
        raise ConfigError(
            f"faiss.nlist: expected at most the number of entries ({count}), got {settings.nlist}"
        )
    if kind == "ivf-pq" and count < PQ_CENTROIDS:
        raise ConfigError(
            f"faiss.type: expected at least {PQ_CENTROIDS} entries for ivf-pq (its codebooks "
            f"train on them), got {count}; use flat"
        )
    factory_string(kind, settings, count, dim)  # pq_m must divide the width
    return kind


def machine_memory_gb() -> float:
    """Physical memory of this machine in GiB (infinite where it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return math.inf


def resolved_nlist(settings: FaissSettings, count: int) -> int:
    """IVF cell count: the setting, or about 2 sqrt(N), at most N / 39 (FAISS's minimum)."""
    if settings.nlist > 0:
        return settings.nlist
    return int(max(1, min(2 * math.sqrt(count), count // 39)))


def factory_string(kind: str, settings: FaissSettings, count: int, dim: int) -> str:
    """The ``faiss.index_factory`` description of an index type."""
    nlist = resolved_nlist(settings, count)
    if kind == "flat":
        return "Flat"
    if kind == "ivf-flat":
        return f"IVF{nlist},Flat"
    if kind == "hnsw":
        return f"HNSW{settings.hnsw_m},Flat"
    pq_m = settings.pq_m or max(2, dim // 2)
    if dim % pq_m or pq_m % 2:
        raise ConfigError(f"faiss.pq_m: expected an even divisor of the width {dim}, got {pq_m}")
    return f"IVF{nlist},PQ{pq_m}x4fs"


def search_params(kind: str, settings: FaissSettings, count: int) -> dict[str, int]:
    """Query-time settings to store in the manifest and apply on load."""
    if kind in ("ivf-flat", "ivf-pq"):
        nlist = resolved_nlist(settings, count)
        return {"nprobe": min(nlist, settings.nprobe or max(16, nlist // 64))}
    if kind == "hnsw":
        return {"ef_search": settings.ef_search}
    return {}


def make_index(kind: str, settings: FaissSettings, count: int, dim: int) -> faiss.Index:
    """An empty index of this type for ``count`` vectors of width ``dim``."""
    spec = factory_string(kind, settings, count, dim)
    return faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)


def train_size(settings: FaissSettings, count: int) -> int:
    """Vectors an IVF index trains on: 40 per cell (FAISS wants 39), at most all of them."""
    return min(count, 40 * resolved_nlist(settings, count))


def train_index(index: faiss.Index, sample: np.ndarray) -> faiss.Index:
    """Train an IVF index on a sample (on the GPU when there is one); others pass through.

    Shapes:
        sample ``(S, D)`` float32, unit rows.
    """
    if index.is_trained:
        return index
    trainer = _on_gpu(index)
    trainer.train(np.ascontiguousarray(sample, np.float32))
    return _on_cpu(trainer)


def build_faiss(
    vectors: np.ndarray, kind: str, settings: FaissSettings, seed: int = 0
) -> faiss.Index:
    """Make, train (IVF: on a random sample) and fill an index held in memory.

    Shapes:
        vectors ``(N, D)`` float32, already L2-normalised.
    """
    count, dim = vectors.shape
    index = make_index(kind, settings, count, dim)
    if not index.is_trained:
        rng = np.random.default_rng(seed)
        picks = np.sort(rng.choice(count, train_size(settings, count), replace=False))
        index = train_index(index, vectors[picks])  # (S, D) sample
    index.add(vectors)
    apply_search_params(index, search_params(kind, settings, count))
    return index


def apply_search_params(index: faiss.Index, params: dict[str, int]) -> None:
    """Set ``nprobe`` (IVF) or ``efSearch`` (HNSW) on a loaded index."""
    if "nprobe" in params:
        faiss.extract_index_ivf(index).nprobe = int(params["nprobe"])
    if "ef_search" in params:
        faiss.downcast_index(index).hnsw.efSearch = int(params["ef_search"])


def searcher(index: faiss.Index) -> faiss.Index:
    """The index to query: a GPU copy when FAISS has a GPU and the type allows it."""
    return _on_gpu(index)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as contiguous float32.

    Shapes:
        ``(N, D)`` -> ``(N, D)``.
    """
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)  # (N, 1)
    return out / np.maximum(norms, 1e-12)


def _gpus() -> int:
    return faiss.get_num_gpus() if hasattr(faiss, "StandardGpuResources") else 0


def _on_gpu(index: faiss.Index) -> faiss.Index:
    """The index on the first GPU, where FAISS has a GPU version of it.

    HNSW and the 4-bit fast-scan PQ indices (``PQ..x4fs``) have none: they stay
    on the CPU, which is also where they are fastest.
    """
    cpu_only = (faiss.IndexHNSW, faiss.IndexIVFPQFastScan, faiss.IndexPQFastScan)
    if _gpus() == 0 or isinstance(faiss.downcast_index(index), cpu_only):
        return index
    return faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)


def _on_cpu(index: faiss.Index) -> faiss.Index:
    return faiss.index_gpu_to_cpu(index) if _gpus() > 0 and index is not None else index
