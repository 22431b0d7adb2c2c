import csv

import pytest
import torch

from ppi.channels import Proteins
from ppi.cli import run
from ppi.data.fasta import read_fasta
from ppi.data.pairs import read_pairs
from ppi.model import PPIModel


def _score(*args):
    return run(["score", *map(str, args)])


def _rows(path):
    with open(path) as handle:
        return list(csv.reader(handle, delimiter="\t"))


def test_scores_match_the_model_and_second_run_uses_the_cache(
    trained_run, guo_slice, tmp_path, monkeypatch
):
    fasta, pairs = guo_slice
    out = tmp_path / "scores.tsv"
    assert (
        _score(
            "--model",
            str(trained_run),
            "--fasta",
            str(fasta),
            "--pairs",
            str(pairs),
            "--out",
            str(out),
        )
        == 0
    )
    rows = _rows(out)
    expected = read_pairs(pairs)
    assert rows[0] == ["id_a", "id_b", "probability"]
    assert [(a, b) for a, b, _ in rows[1:]] == [(p.a, p.b) for p in expected]
    # the first pair's probability equals the model's own forward pass
    model = PPIModel.from_pretrained(trained_run / "model").eval()
    proteins = read_fasta(fasta)
    first = expected[0]
    with torch.no_grad():
        z = model.encode(Proteins([first.a, first.b], [proteins[first.a], proteins[first.b]]))
        prob = model.pair_logits(z[:1], z[1:]).sigmoid().item()
    assert float(rows[1][2]) == pytest.approx(prob, abs=1e-5)

    # second run: every representation comes from the cache, nothing is encoded
    monkeypatch.setattr(PPIModel, "encode", lambda *a, **k: pytest.fail("encoded again"))
    again = tmp_path / "again.tsv"
    assert (
        _score(
            "--model",
            str(trained_run),
            "--fasta",
            str(fasta),
            "--pairs",
            str(pairs),
            "--out",
            str(again),
        )
        == 0
    )
    assert again.read_text() == out.read_text()


def test_all_pairs_and_resume_from_partial_output(trained_run, tmp_path):
    fasta = tmp_path / "few.fasta"
    fasta.write_text(
        ">A\nMKTAYIAKQRQISFVKSHFSRQ\n>B\nMSTNPKPQRKTKRNTNRRPQDVK\n"
        ">C\nMADEEKLPPGWEKRMSRSSGRVYYFNH\n>D\nMKVLAAGIVGLLLAAQ\n"
    )
    out = tmp_path / "all.tsv"
    assert (
        _score(
            "--model",
            str(trained_run),
            "--fasta",
            str(fasta),
            "--all",
            "--out",
            str(out),
            "--batch-size",
            "2",
        )
        == 0
    )
    full = out.read_text()
    assert len(_rows(out)) == 1 + 6
    # a killed run left two whole rows and half a row behind
    lines = full.splitlines(keepends=True)
    partial = tmp_path / "resumed.tsv.partial"
    partial.write_text("".join(lines[:3]) + lines[3][:5])
    resumed = tmp_path / "resumed.tsv"
    assert (
        _score("--model", str(trained_run), "--fasta", str(fasta), "--all", "--out", str(resumed))
        == 0
    )
    assert resumed.read_text() == full
    assert not partial.exists()


def test_unknown_ids_fail_cleanly(trained_run, tmp_path, capsys):
    fasta = tmp_path / "one.fasta"
    fasta.write_text(">A\nMKTAYIAK\n")
    pairs = tmp_path / "p.tsv"
    pairs.write_text("A\tZZZ\n")
    out = tmp_path / "s.tsv"
    assert (
        _score(
            "--model",
            str(trained_run),
            "--fasta",
            str(fasta),
            "--pairs",
            str(pairs),
            "--out",
            str(out),
        )
        == 2
    )
    assert "ZZZ" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "s.tsv.partial").exists()
