"""Interolog evidence: the lookup itself, the homology channel's pair numbers, and a full run."""

import csv

import pytest
import torch

from ppi.channels import CHANNELS, ChannelContext, RunData
from ppi.channels._interolog import InterologTable
from ppi.cli import run
from ppi.data.fasta import read_fasta
from ppi.data.pairs import read_pairs
from ppi.index import seq_hash


def _side(table, own, hashes, sims):
    ids, s, mine = table.candidates(own, hashes, sims)
    return ids[None], s[None], torch.tensor([mine])


def test_counts_homolog_pairs_that_interact_but_never_the_pair_itself():
    table = InterologTable([("x", "y"), ("A", "B"), ("A", "z")])
    a = _side(table, "A", ["x", "q"], [0.9, 0.5])  # A's neighbours: x (interacts with y), q
    b = _side(table, "B", ["y", "z"], [0.8, 0.7])  # B's neighbours: y, z (interacts with A)
    got = table.features(a, b)[0]
    # (x, y) at 0.9 * 0.8 and (A, z) at 1 * 0.7; (A, B) is the pair's own label: not counted
    assert got[0].item() == pytest.approx(torch.log1p(torch.tensor(2.0)).item())
    assert got[1].item() == pytest.approx(0.72)
    assert torch.equal(table.features(b, a), table.features(a, b))  # symmetric
    alone = _side(table, "C", ["w"], [0.99])  # nothing known
    assert table.features(alone, b)[0].tolist() == [0.0, 0.0]
    # B among A's neighbours and A among B's: the swapped copy of the pair itself
    a2 = _side(table, "A", ["B"], [0.9])
    b2 = _side(table, "B", ["A"], [0.9])
    assert table.features(a2, b2)[0].tolist() == [0.0, 0.0]


def test_channel_pair_numbers_come_from_training_positives_only(guo_slice, guo_index):
    from ppi.backbones import BACKBONES
    from ppi.cache import cache_root

    proteins = read_fasta(guo_slice[0])
    pairs = read_pairs(guo_slice[1])
    train, test = pairs[:200], pairs[200:]
    cls = CHANNELS.get("homology")
    config = cls.Config(enabled=True, index=str(guo_index), k=4, interolog=True)
    backbone = BACKBONES.config_class("scratch")()
    channel = cls(config, ChannelContext(16, backbone, cache_root()))
    assert channel.pair_features_dim == 2
    train_pairs = tuple((p.a, p.b, p.label) for p in train)
    channel.prepare(proteins, run=RunData(frozenset(proteins), frozenset(), train_pairs))
    positives = {
        frozenset((seq_hash(proteins[p.a]), seq_hash(proteins[p.b]))) for p in train if p.label
    }
    assert {frozenset(p) for p in channel.interologs.pairs} == positives
    sa = [proteins[p.a] for p in test]
    sb = [proteins[p.b] for p in test]
    aligned = channel.pair_features(sa, sb)  # (P, 2)
    assert aligned.shape == (len(test), 2)
    assert torch.equal(channel.pair_features(sb, sa), aligned)
    grid = channel.pair_features(sa, sb, grid=True)  # (P, P, 2)
    assert grid.shape == (len(test), len(test), 2)
    assert torch.equal(torch.diagonal(grid, 0, 0, 1).T, aligned)
    # a training positive does not see its own label
    own = [p for p in train if p.label][:20]
    feats = channel.pair_features([proteins[p.a] for p in own], [proteins[p.b] for p in own])
    solo = InterologTable([(seq_hash(proteins[p.a]), seq_hash(proteins[p.b])) for p in own[:1]])
    channel.interologs = solo  # the only known interaction is the first pair itself
    assert channel.pair_features([proteins[own[0].a]], [proteins[own[0].b]]).tolist() == [[0, 0]]
    assert feats.shape == (20, 2)


@pytest.mark.slow
def test_interolog_model_trains_scores_and_screens_alike(guo_slice, homology_run, tmp_path):
    fasta, _ = guo_slice
    args = homology_run(
        "io", "channels.homology.interolog=true", "channels.properties.enabled=true"
    )
    assert run(args) == 0
    model = tmp_path / "io" / "model"
    saved = (model / "homology" / "interologs.tsv").read_text().splitlines()
    train = read_pairs(tmp_path / "io" / "splits" / "train.tsv")
    assert len(saved) - 1 == len({frozenset((p.a, p.b)) for p in train if p.label}) > 0
    scores = tmp_path / "all.tsv"
    assert (
        run(["score", "--model", str(model), "--fasta", str(fasta), "--all", "--out", str(scores)])
        == 0
    )
    with open(scores) as handle:
        scored = {(a, b): float(p) for a, b, p in list(csv.reader(handle, delimiter="\t"))[1:]}
    out = tmp_path / "screen"
    assert (
        run(
            [
                "screen",
                "--model",
                str(model),
                "--fasta",
                str(fasta),
                "--out",
                str(out),
                "--threshold",
                "0",
            ]
        )
        == 0
    )
    with open(out / "hits.tsv") as handle:  # no header
        hits = {(a, b): float(p) for a, b, p in csv.reader(handle, delimiter="\t")}
    assert len(hits) == len(scored)
    from ppi.model import PPIModel

    seqs = list(read_fasta(fasta).values())
    evidence = PPIModel.from_pretrained(model).pair_evidence(seqs, seqs, grid=True)
    assert (evidence[..., 0] > 0).sum() > 10  # the screen had interologs to get right
    for pair, p in hits.items():
        assert p == pytest.approx(scored[pair], abs=2e-6)


def test_coverage_script_counts_pairs_with_interologs(guo_slice, guo_index, monkeypatch, capsys):
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).parents[2] / "scripts" / "interolog_coverage.py"
    spec = importlib.util.spec_from_file_location("interolog_coverage", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    argv = ["x", "--index", str(guo_index), "--fasta", str(guo_slice[0])]
    monkeypatch.setattr(sys, "argv", [*argv, "--pairs", str(guo_slice[1]), "--k", "4"])
    script.main()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["train", "test"]
    counts = [int(w) for w in lines[1].replace(";", " ").split() if w.isdigit()]
    total, pos_with, pos, neg_with, neg = counts
    assert total == 24 and pos + neg == total and pos_with <= pos and neg_with <= neg
