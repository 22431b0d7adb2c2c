"""The evidence memo: each pair's numbers computed once, the same as computed afresh."""

from __future__ import annotations

import random

import pytest
import torch

from ppi.channels import RunData
from ppi.fusion import CrossAttentionFusion, FusionConfig, HeadConfig, PairStage
from ppi.fusion.evidence import InterologConfig, InterologEvidence
from ppi.fusion.evidence_memo import EvidenceMemo

AA = "ACDEFGHIKLMNPQRSTVWY"


class _Counting:
    """A symmetric stand-in provider that records every pair it is asked for."""

    dim = 2

    def __init__(self, config=None):
        self.config = config
        self.asked: list[tuple[str, str]] = []

    def prepare(self, proteins, run=None, accelerator=None):
        pass

    def features(self, seqs_a, seqs_b, grid=False):
        if not grid:
            self.asked += list(zip(seqs_a, seqs_b, strict=True))
        la = torch.tensor([float(len(s)) for s in seqs_a])
        lb = torch.tensor([float(len(s)) for s in seqs_b])
        if grid:
            la, lb = la[:, None], lb[None, :]
        return torch.stack([la + lb, la * lb], -1)


def _stage(provider) -> PairStage:
    fusion = CrossAttentionFusion(FusionConfig(dim=16, heads=2, latents=4), ["sequence"])
    stage = PairStage(fusion.config, HeadConfig(hidden=8), 1, {}, fusion.norm)
    stage.evidence = {"counting": provider}
    stage.head = type(stage.head)(HeadConfig(hidden=8), 16, 1, provider.dim)
    return stage


PROTEINS = {f"P{n}": "M" * n for n in range(3, 12)}


def _run(*pairs) -> RunData:
    return RunData(frozenset(x for a, b, _ in pairs for x in (a, b)), frozenset(), tuple(pairs))


def _prepared(provider, memo, run=None):
    stage = _stage(provider)
    stage.prepare(PROTEINS, run or _run(("P3", "P4", 1.0), ("P5", "P6", 0.0)))
    stage.remember(memo)
    return stage


def test_each_pair_is_computed_once_and_handed_back_unchanged():
    provider, memo = _Counting(), EvidenceMemo()
    stage = _prepared(provider, memo)
    a, b = ["MMM", "MMMM", "MMM"], ["MMMMM", "MMM", "MMMMM"]  # the third repeats the first
    first = stage.pair_evidence(a, b)
    assert provider.asked == [("MMM", "MMMMM"), ("MMMM", "MMM")]
    again = stage.pair_evidence(["MMMM", "MMMMMM", "MMM"], ["MMM", "MMM", "MMMMM"])
    assert provider.asked[2:] == [("MMMMMM", "MMM")]  # only the new pair
    assert torch.equal(first, provider.features(a, b))
    assert torch.equal(again[2], first[0]) and torch.equal(again[0], first[1])
    assert len(memo) == 3


def test_hiding_zeroes_the_numbers_and_leaves_the_kept_rows_whole():
    provider, memo = _Counting(), EvidenceMemo()
    stage = _prepared(provider, memo)
    shown = stage.pair_evidence(["MMM"], ["MMMM"])
    stage.hidden = frozenset({"counting"})
    assert torch.equal(stage.pair_evidence(["MMM"], ["MMMM"]), torch.zeros(1, 2))
    stage.hidden = frozenset()
    assert torch.equal(stage.pair_evidence(["MMM"], ["MMMM"]), shown)
    assert shown.abs().sum() > 0


def test_a_memo_serves_stages_of_the_same_split_and_never_another_split():
    memo = EvidenceMemo()
    first = _prepared(_Counting(), memo)
    first.pair_evidence(["MMM"], ["MMMM"])
    same = _Counting()
    _prepared(same, memo).pair_evidence(["MMM"], ["MMMM"])
    assert same.asked == []  # the member of the same split computed nothing
    other = _Counting()
    _prepared(other, memo, _run(("P3", "P4", 0.0), ("P5", "P6", 0.0))).pair_evidence(
        ["MMM"], ["MMMM"]
    )
    assert other.asked == [("MMM", "MMMM")]  # another label: the kept row is not handed out
    assert len(memo) == 1


def test_without_a_training_split_or_after_loading_nothing_is_kept(tmp_path):
    provider = _Counting()
    stage = _stage(provider)
    stage.remember(EvidenceMemo())  # never prepared on a split: no state to bind to
    assert stage.memo is None
    stage = _prepared(_Counting(), EvidenceMemo())
    stage.evidence = {}
    stage.load_assets(tmp_path)
    assert stage.memo is None


def test_interolog_numbers_do_not_depend_on_the_batch(tmp_path, monkeypatch):
    """What makes the memo exact: a pair's row is the same alone, in a pair or in a batch."""
    monkeypatch.setenv("PPI_CACHE", str(tmp_path / "cache"))
    rng = random.Random(0)
    fam = ["".join(rng.choice(AA) for _ in range(120)) for _ in range(8)]
    proteins = {f"F{i}": s for i, s in enumerate(fam)}
    proteins |= {
        f"H{i}": "".join(c if rng.random() < 0.8 else rng.choice(AA) for c in s)
        for i, s in enumerate(fam)
    }
    train = tuple((f"F{i}", f"F{j}", float((i + j) % 3 == 0)) for i in range(8) for j in range(i))
    ev = InterologEvidence(InterologConfig(enabled=True))
    ev.prepare(proteins, _run(*train))
    names = sorted(proteins)
    pairs = [(proteins[a], proteins[b]) for a in names for b in names if a < b]
    a, b = [p for p, _ in pairs], [q for _, q in pairs]
    whole = ev.features(a, b)  # (P, 5)
    assert whole[:, 0].gt(0).any()  # some interologs, so the sums are not all zeros
    for size in (1, 2, 3, 7):
        parts = [ev.features(a[i : i + size], b[i : i + size]) for i in range(0, len(a), size)]
        assert torch.equal(torch.cat(parts), whole), size


@pytest.mark.parametrize("rows", [0, 1])
def test_an_empty_or_single_batch_has_the_providers_shape(rows):
    stage = _prepared(_Counting(), EvidenceMemo())
    got = stage.pair_evidence(["MMM"] * rows, ["MMMM"] * rows)
    assert got.shape == (rows, 2)
