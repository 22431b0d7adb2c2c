"""Pair evidence providers: interologs by alignment against the training proteins."""

from __future__ import annotations

import random

import pytest
import torch

from ppi.channels import RunData
from ppi.data.pairs import Pair
from ppi.errors import WeightsError
from ppi.evaluation.baselines import CompositionBaseline
from ppi.fusion.evidence import (
    CompositionEvidence,
    CompositionEvidenceConfig,
    InterologConfig,
    InterologEvidence,
)

AA = "ACDEFGHIKLMNPQRSTVWY"


def _mutant(seq: str, rng: random.Random, identity: float = 0.8) -> str:
    return "".join(c if rng.random() < identity else rng.choice(AA.replace(c, "")) for c in seq)


@pytest.fixture
def world(tmp_path, monkeypatch):
    """Training proteins A1-B1 interact; A2, B2 are their homologs outside training."""
    monkeypatch.setenv("PPI_CACHE", str(tmp_path / "cache"))
    rng = random.Random(0)
    fam = {n: "".join(rng.choice(AA) for _ in range(150)) for n in ("A", "B", "C", "D", "E")}
    proteins = {f"{n}1": s for n, s in fam.items()}
    proteins |= {f"{n}2": _mutant(s, rng) for n, s in fam.items()}
    proteins["E3"] = _mutant(fam["E"], rng)
    # E1 and E2 are homologs of each other, both in training, and interact
    train = (("A1", "B1", 1.0), ("C1", "D1", 0.0), ("A1", "C1", 0.0), ("E1", "E2", 1.0))
    run = RunData(frozenset({"A1", "B1", "C1", "D1", "E1", "E2"}), frozenset(), train)
    ev = InterologEvidence(InterologConfig(enabled=True))
    ev.prepare(proteins, run)
    return ev, proteins


def test_homologs_of_a_known_pair_are_an_interolog_and_symmetric(world):
    ev, p = world
    a = [p["A2"], p["B2"], p["C2"], p["A2"]]
    b = [p["B2"], p["A2"], p["D2"], p["C2"]]
    f = ev.features(a, b)  # (P, 5)
    assert f.shape == (4, 5)
    assert f[0, 0] == pytest.approx(torch.log1p(torch.tensor(1.0)))  # A2-B2: one interolog
    assert 0.5 < f[0, 1] < 0.8  # the product of two identities near 0.8
    assert torch.equal(f[0], f[1])  # A and B swapped
    assert f[2, 0] == 0 and f[3, 0] == 0  # C-D and A-C were negatives in training
    assert f[2, 4] == 1  # both have homologs in training


def test_a_training_pair_never_reads_its_own_label(world):
    ev, p = world
    # E2 is E1's homolog and E1 is E2's: (E2, E1) is the pair's own label, never counted
    f = ev.features([p["E1"], p["A1"]], [p["E2"], p["B1"]])
    assert f[0, 0] == 0 and f[0, 1] == 0
    assert f[1, 0] == 0  # A1's homologs in training: none but itself, which never counts
    grid = ev.features([p["E1"]], [p["E2"]], grid=True)
    assert grid[0, 0, 0] == 0
    # a new homolog E3 with E1: E1's homolog E2 and E3's homolog E1 are a known pair
    outside = ev.features([p["E1"]], [p["E3"]])
    assert outside[0, 0] > 0


def test_grid_equals_the_pair_list(world):
    ev, p = world
    rows = [p[k] for k in ("A1", "A2", "C2")]
    cols = [p[k] for k in ("B1", "B2", "D1", "A2")]
    grid = ev.features(rows, cols, grid=True)  # (R, C, 5)
    flat = ev.features([r for r in rows for _ in cols], cols * len(rows))
    assert torch.allclose(grid.reshape(-1, 5), flat)


def test_saved_and_loaded_evidence_gives_the_same_numbers(world, tmp_path):
    ev, p = world
    ev.save_assets(tmp_path / "ev")
    again = InterologEvidence(InterologConfig(enabled=True))
    again.load_assets(tmp_path / "ev")
    a, b = [p["A2"], p["C2"]], [p["B2"], p["D2"]]
    assert torch.equal(ev.features(a, b), again.features(a, b))


@pytest.mark.slow
def test_an_interolog_model_trains_and_scores_and_screens_alike(
    guo_slice, train_args, tmp_path, monkeypatch
):
    import csv
    import json

    from ppi.cli import run
    from ppi.fusion.evidence import EvidencePrior
    from ppi.training import evidence_prior

    fasta, pairs = guo_slice
    args = train_args(fasta, pairs, tmp_path, "train.epochs=1", "run_name=io")
    monkeypatch.setattr(
        evidence_prior, "PRIOR_WEIGHTS", (1.0,)
    )  # so the prior is surely in the logit
    assert run([*args, "evidence.interolog.enabled=true", "data.valid_split=random"]) == 0
    model = tmp_path / "io" / "model"
    assert (model / "evidence-interolog" / "positives.tsv").read_text().strip()
    prior = EvidencePrior.load(model)
    assert prior.weight == 1.0 and len(prior.coef) == 5
    assert len(prior.direct) == 5 and not any(prior.direct[2:])  # interolog columns only
    # the saved folder scores its test split as training did: the prior was saved and read back
    test_scores = tmp_path / "test.tsv"
    split = tmp_path / "io" / "splits" / "test.tsv"
    command = ["score", "--model", str(model), "--fasta", str(fasta), "--pairs", str(split)]
    assert run([*command, "--out", str(test_scores)]) == 0
    from ppi.data.pairs import read_pairs
    from ppi.evaluation.metrics import binary_metrics

    with open(test_scores) as handle:
        got = {(a, b): float(p) for a, b, p in list(csv.reader(handle, delimiter="\t"))[1:]}
    truth = read_pairs(split)
    probs = [got[(p.a, p.b)] for p in truth]
    saved = json.loads((tmp_path / "io" / "metrics.json").read_text())["test"]["aupr"]
    assert binary_metrics([p.label for p in truth], probs)["aupr"] == pytest.approx(saved, abs=1e-6)
    scores = tmp_path / "all.tsv"
    assert (
        run(["score", "--model", str(model), "--fasta", str(fasta), "--all", "--out", str(scores)])
        == 0
    )
    with open(scores) as handle:
        scored = {(a, b): float(p) for a, b, p in list(csv.reader(handle, delimiter="\t"))[1:]}
    out = tmp_path / "screen"
    screen = ["screen", "--model", str(model), "--fasta", str(fasta), "--out", str(out)]
    assert run([*screen, "--threshold", "0"]) == 0
    with open(out / "hits.tsv") as handle:  # no header
        hits = {(a, b): float(p) for a, b, p in csv.reader(handle, delimiter="\t")}
    assert len(hits) == len(scored)
    from ppi.data.fasta import read_fasta
    from ppi.model import PPIModel

    seqs = list(read_fasta(fasta).values())
    evidence = PPIModel.from_pretrained(model).pair.pair_evidence(seqs, seqs, grid=True)
    assert (evidence[..., 0] > 0).sum() > 10  # the screen had interologs to get right
    for pair, p in hits.items():
        assert p == pytest.approx(scored[pair], abs=2e-6)


def test_coverage_script_counts_pairs_with_interologs(guo_slice, monkeypatch, capsys):
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).parents[2] / "scripts" / "interolog_coverage.py"
    spec = importlib.util.spec_from_file_location("interolog_coverage", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    argv = ["x", "--fasta", str(guo_slice[0]), "--pairs", str(guo_slice[1])]
    monkeypatch.setattr(sys, "argv", argv)
    script.main()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["train", "test"]
    counts = [int(w) for w in lines[1].replace(";", " ").split() if w.isdigit()]
    total, pos_with, pos, neg_with, neg = counts
    assert total == 24 and pos + neg == total and pos_with <= pos and neg_with <= neg


def test_the_evidence_prior_learns_the_informative_number_and_is_zero_at_the_mean(tmp_path):
    from ppi.fusion.evidence import EvidencePrior, fit_evidence_prior

    gen = torch.Generator().manual_seed(0)
    labels = (torch.rand(2000, generator=gen) < 0.2).float()
    evidence = torch.stack(
        [labels * 2 + torch.randn(2000, generator=gen), torch.randn(2000, generator=gen)], 1
    )
    prior = fit_evidence_prior(evidence, labels).with_weight(0.5, [(0.0, 0.4), (0.5, 0.6)])
    assert prior.coef[0] > 1.0 and abs(prior.coef[1]) < 0.2  # the signal, not the noise
    mean = torch.tensor([prior.mean])
    assert prior.logit(mean).abs().item() < 1e-9
    assert prior.logit(evidence).mean().abs().item() < 1e-6  # zero on average over training
    assert prior.logit(mean + torch.tensor([[1.0, 0.0]])).item() == pytest.approx(
        0.5 * prior.coef[0] / prior.scale[0]
    )
    prior.save(tmp_path)
    assert EvidencePrior.load(tmp_path) == prior
    assert EvidencePrior.load(tmp_path / "elsewhere") is None  # a folder saved without one
    assert fit_evidence_prior(evidence, torch.zeros(2000)) is None  # one class: nothing to learn


def test_the_interolog_regression_keeps_its_fitted_strength_whatever_the_weight(tmp_path):
    import json

    from ppi.fusion.evidence import PRIOR, EvidencePrior, fit_evidence_prior

    gen = torch.Generator().manual_seed(1)
    labels = (torch.rand(4000, generator=gen) < 0.1).float()
    # column 0 is a rare interolog number, nearly always on a positive pair; column 1 is a
    # partner count that rises with the label and with the interolog, so in the joint
    # regression it takes over much of what the interolog says
    inter = ((torch.rand(4000, generator=gen) < 0.3) & (labels > 0)).float()
    partners = labels + 2 * inter + torch.randn(4000, generator=gen)
    evidence = torch.stack([inter, partners], 1)
    prior = fit_evidence_prior(evidence, labels, direct=(0,))
    assert prior.direct[1] == 0.0 and prior.direct[0] > prior.coef[0] > 0
    assert prior.weight == 0 and prior.active  # added even at weight 0
    mean, scale = torch.tensor(prior.mean), torch.tensor(prior.scale)
    one = mean + torch.tensor([1.0, 0.0])
    want = prior.direct[0] / scale[0]  # one interolog more than the training average
    assert prior.logit(one[None]).item() == pytest.approx(want.item(), rel=1e-6)
    heavier = prior.with_weight(1.0)
    assert heavier.direct == prior.direct
    assert heavier.logit(one[None]).item() == pytest.approx(
        (want + prior.coef[0] / scale[0]).item(), rel=1e-6
    )
    # hidden columns add nothing through either regression
    assert heavier.logit(one[None], torch.tensor([0.0, 1.0])).item() == pytest.approx(0, abs=1e-6)
    heavier.save(tmp_path)
    assert EvidencePrior.load(tmp_path) == heavier
    # without interologs among the training pairs there is nothing to fit, and no column asked
    assert not any(fit_evidence_prior(evidence * torch.tensor([0.0, 1.0]), labels, (0,)).direct)
    assert fit_evidence_prior(evidence, labels).direct == ()
    # a folder written before the interolog regression existed loads as the first regression alone
    body = json.loads((tmp_path / PRIOR).read_text())
    del body["direct_coef"]
    (tmp_path / PRIOR).write_text(json.dumps(body))
    old = EvidencePrior.load(tmp_path)
    assert old.direct == () and old.logit(one[None]).item() == pytest.approx(
        (prior.coef[0] / scale[0]).item(), rel=1e-6
    )


@pytest.fixture
def composition_world():
    """Positives pair a lysine-rich protein with a glutamate-rich one; negatives do not."""
    rng = random.Random(1)

    def protein(rich: str) -> str:
        return "".join(rich if rng.random() < 0.3 else rng.choice(AA) for _ in range(120))

    proteins = {f"K{i}": protein("K") for i in range(30)}
    proteins |= {f"E{i}": protein("E") for i in range(30)}
    proteins |= {f"N{i}": protein("A") for i in range(30)}
    train = [(f"K{i}", f"E{(i * 7) % 30}", 1.0) for i in range(30)]
    train += [(f"K{i}", f"E{(i * 11 + 3) % 30}", 1.0) for i in range(30)]
    train += [(f"N{i}", f"K{(i * 5) % 30}", 0.0) for i in range(30)]
    train += [(f"E{i}", f"N{(i * 13) % 30}", 0.0) for i in range(30)]
    train += [(f"N{i}", f"N{(i * 17 + 1) % 30}", 0.0) for i in range(30)]
    run = RunData(frozenset(proteins), frozenset(), tuple(train))
    ev = CompositionEvidence(CompositionEvidenceConfig(enabled=True))
    ev.prepare(proteins, run)
    return ev, proteins, train


def test_composition_evidence_is_the_baseline_logit_fitted_on_the_training_pairs(
    composition_world,
):
    ev, p, train = composition_world
    base = CompositionBaseline().fit([Pair(*t) for t in train], p)
    assert ev.features_name == base.settings[0]
    # unseen proteins: the logit is the baseline's log odds, whatever it standardised
    rng = random.Random(2)
    new = {f"X{i}": "".join(rng.choice(AA) for _ in range(90)) for i in range(6)}
    a, b = [new["X0"], new["X1"], p["K0"]], [new["X2"], new["X3"], p["E5"]]
    logit = ev.features(a, b)  # (P, 1)
    named = {f"a{i}": s for i, s in enumerate(a)} | {f"b{i}": s for i, s in enumerate(b)}
    probs = base.predict([Pair(f"a{i}", f"b{i}", 1.0) for i in range(3)], named)
    assert logit.shape == (3, 1)
    assert torch.allclose(logit[:, 0].double().sigmoid(), torch.from_numpy(probs), atol=1e-5)
    # it learnt the pattern: every K-rich/E-rich pair ranks above every pair of plain ones
    pos = ev.features([p[f"K{i}"] for i in range(10)], [p[f"E{i + 10}"] for i in range(10)])
    neg = ev.features([p[f"N{i}"] for i in range(10)], [p[f"N{i + 10}"] for i in range(10)])
    assert pos.min() > neg.max()


def test_composition_evidence_is_symmetric_and_its_block_equals_the_list(composition_world):
    ev, p, _ = composition_world
    rows = [p[k] for k in ("K1", "E2", "N3")]
    cols = [p[k] for k in ("E4", "K5", "N6", "K1")]
    assert torch.equal(ev.features(rows, rows[::-1]), ev.features(rows[::-1], rows))
    grid = ev.features(rows, cols, grid=True)  # (R, C, 1)
    flat = ev.features([r for r in rows for _ in cols], cols * len(rows))
    assert grid.shape == (3, 4, 1)
    assert torch.allclose(grid.reshape(-1, 1), flat, atol=1e-5)
    square = ev.features(rows, rows, grid=True)[..., 0]
    assert torch.equal(square, square.T)


def test_composition_evidence_survives_save_and_load(composition_world, tmp_path):
    ev, p, _ = composition_world
    ev.save_assets(tmp_path / "ev")
    again = CompositionEvidence(CompositionEvidenceConfig(enabled=True))
    again.load_assets(tmp_path / "ev")
    a, b = [p["K7"], p["N2"]], [p["E9"], p["E1"]]
    assert again.features_name == ev.features_name
    assert torch.equal(ev.features(a, b), again.features(a, b))
    (tmp_path / "ev" / "composition.json").unlink()
    with pytest.raises(WeightsError, match="composition.json"):
        again.load_assets(tmp_path / "ev")
