from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ppi.cli import run
from ppi.config.run import load_config
from ppi.data.db55 import build_db55, evaluate_interfaces, read_interfaces
from ppi.data.fasta import write_fasta
from ppi.evaluation.interface import pair_maps, ranking
from ppi.model import PPIModel

FIX = Path(__file__).parents[1] / "fixtures" / "structure" / "db55"


@pytest.fixture(scope="module")
def db55(tmp_path_factory):
    out = tmp_path_factory.mktemp("db55")
    build_db55(FIX, out, negatives=1)
    return out


def _model(tiny, db55, *extra) -> PPIModel:
    torch.manual_seed(0)
    cfg = load_config(
        None,
        [
            *tiny,
            "fusion.pair_layers=2",
            "channels.structure.enabled=true",
            f"channels.structure.mapping={db55 / 'structures.tsv'}",
            "channels.structure.layers=1",
            *extra,
        ],
    )
    return PPIModel(cfg).eval()


def test_maps_are_residue_level_and_transpose_when_swapped(tiny, db55):
    from ppi.data.fasta import read_fasta

    proteins = read_fasta(db55 / "sequences.fasta")
    model = _model(tiny, db55)
    (_, _, ab), (_, _, ba) = pair_maps(
        model, proteins, [("2OOB_l", "1GCQ_r"), ("1GCQ_r", "2OOB_l")]
    )
    assert ab.shape == (len(proteins["2OOB_l"]), len(proteins["1GCQ_r"]))
    np.testing.assert_allclose(ab, ba.T, rtol=1e-5, atol=1e-9)
    assert np.isfinite(ab).all() and ab.std() > 0


def test_ranking_against_known_maps():
    truth = np.array([[0, 1], [2, 3]])
    scores = np.zeros((10, 20))
    scores[0, 1] = scores[2, 3] = 1.0
    perfect = ranking(scores, truth)
    assert perfect["auroc"] == 1.0 and perfect["precision_top_L10"] == 1.0
    assert perfect["top"] == 1 and perfect["base_rate"] == pytest.approx(2 / 200)
    assert ranking(-scores, truth)["auroc"] == 0.0


def test_evaluate_interfaces_compares_with_random(tiny, db55):
    from ppi.data.fasta import read_fasta

    model = _model(tiny, db55)
    truth = read_interfaces(db55 / "interfaces.tsv")
    result = evaluate_interfaces(model, read_fasta(db55 / "sequences.fasta"), truth)
    assert result["complexes"] == 3
    assert 0.0 <= result["model_auroc"] <= 1.0 and 0.3 < result["random_auroc"] < 0.7


def test_score_writes_interface_maps(tiny, db55, tmp_path, capsys):
    model = _model(tiny, db55)
    model.save_pretrained(tmp_path / "model")
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("2OOB_l\t2OOB_r\n1GCQ_l\t2X9A_r\n")
    args = [
        "score",
        "--model",
        str(tmp_path / "model"),
        "--fasta",
        str(db55 / "sequences.fasta"),
        "--pairs",
        str(pairs),
        "--out",
        str(tmp_path / "scores.tsv"),
        "--interface",
        str(tmp_path / "maps"),
    ]
    assert run(args) == 0
    assert "wrote 2 interface maps" in capsys.readouterr().out
    from ppi.data.fasta import read_fasta

    proteins = read_fasta(db55 / "sequences.fasta")
    scores = np.load(tmp_path / "maps" / "2OOB_l__2OOB_r.npy")
    assert scores.shape == (len(proteins["2OOB_l"]), len(proteins["2OOB_r"]))
    top = (tmp_path / "maps" / "2OOB_l__2OOB_r.top.tsv").read_text().splitlines()
    assert top[0].startswith("rank\tpos_a") and len(top) == 21
    _, i, res_a, j, res_b, value = top[1].split("\t")
    assert proteins["2OOB_l"][int(i) - 1] == res_a and proteins["2OOB_r"][int(j) - 1] == res_b
    assert float(value) == pytest.approx(scores.max(), rel=1e-4)
    png = (tmp_path / "maps" / "1GCQ_l__2X9A_r.png").read_bytes()
    assert png[:4] == b"\x89PNG"
    assert run(args) == 0  # a rerun skips maps that are done
    assert "wrote 0 interface maps" in capsys.readouterr().out


def test_interface_needs_pairs(tmp_path, capsys):
    write_fasta({"a": "MKV"}, tmp_path / "p.fasta")
    code = run(
        ["score", "--model", str(tmp_path), "--fasta", str(tmp_path / "p.fasta"), "--all"]
        + ["--out", str(tmp_path / "s.tsv"), "--interface", str(tmp_path / "maps")]
    )
    assert code == 2
    assert "--interface: expected --pairs" in capsys.readouterr().err
