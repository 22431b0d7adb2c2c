"""Several trained pair models read as one (``ppi ensemble``, :mod:`ppi.ensemble`)."""

import csv
import itertools
import json

import numpy as np
import pytest
import torch

from ppi.cli import run
from ppi.data.fasta import read_fasta, write_fasta
from ppi.ensemble import mean_probability_logit
from ppi.evaluation.metrics import binary_metrics


@pytest.fixture(scope="module")
def ensemble(trained_run, second_run, tmp_path_factory):
    """``ppi ensemble`` of the two runs."""
    out = tmp_path_factory.mktemp("ens") / "ens"
    assert run(["ensemble", "--out", str(out), str(trained_run), str(second_run)]) == 0
    return out


@pytest.fixture(scope="module")
def few(guo_slice, tmp_path_factory):
    """20 real yeast proteins of the Guo slice."""
    proteins = dict(itertools.islice(read_fasta(guo_slice[0]).items(), 20))
    return write_fasta(proteins, tmp_path_factory.mktemp("few") / "few.fasta")


def _rows(path):
    with open(path) as handle:
        return list(csv.reader(handle, delimiter="\t"))


def _scores(model, fasta, out, *which):
    which = which or ("--all",)
    assert run(["score", "--model", str(model), "--fasta", str(fasta), *which, "--out", out]) == 0
    return {(a, b): float(p) for a, b, p in _rows(out)[1:]}


def test_mean_probability_logit():
    logits = torch.tensor([[0.0, 2.0, -float("inf")], [2.0, -2.0, -float("inf")]])
    got = mean_probability_logit(logits).sigmoid()
    want = logits.sigmoid().mean(0)
    assert torch.allclose(got, want) and got[2] == 0


def test_the_folder_stands_alone(ensemble, trained_run, second_run):
    manifest = json.loads((ensemble / "ensemble.json").read_text())
    assert manifest["members"] == ["member-0", "member-1"]
    assert manifest["combine"] == "mean probability"
    for name, source in zip(manifest["members"], (trained_run, second_run), strict=True):
        mine = (ensemble / name / "model.safetensors").read_bytes()
        assert mine == (source / "model" / "model.safetensors").read_bytes()


def test_score_and_screen_give_the_members_mean_probability(
    ensemble, trained_run, second_run, few, tmp_path
):
    ens = _scores(ensemble, few, str(tmp_path / "ens.tsv"))
    a = _scores(trained_run, few, str(tmp_path / "a.tsv"))
    b = _scores(second_run, few, str(tmp_path / "b.tsv"))
    assert len(ens) == 20 * 19 // 2
    mean = {pair: (a[pair] + b[pair]) / 2 for pair in ens}
    assert max(abs(ens[p] - mean[p]) for p in ens) < 2e-6
    assert max(abs(a[p] - b[p]) for p in ens) > 1e-3  # the members differ, so this tests a mean
    out = tmp_path / "screen"
    argv = ["screen", "--model", str(ensemble), "--fasta", str(few), "--out", str(out)]
    assert run([*argv, "--block", "6", "--threshold", "0", "--top-k", "2"]) == 0
    hits = {(x, y): float(p) for x, y, p in _rows(out / "hits.tsv")}
    assert set(hits) == set(ens)
    assert max(abs(hits[p] - ens[p]) for p in ens) < 2e-6


def test_evaluate_and_ablate_read_the_ensemble(ensemble, guo_slice, tmp_path):
    fasta, pairs = guo_slice
    scored = _scores(ensemble, fasta, str(tmp_path / "listed.tsv"), "--pairs", str(pairs))
    labels = {(r[0], r[1]): int(r[2]) for r in _rows(pairs) if r[2] in ("0", "1")}
    keys = [k for k in labels if k in scored]
    want = binary_metrics(np.array([labels[k] for k in keys]), np.array([scored[k] for k in keys]))
    out = tmp_path / "ev"
    argv = ["--model", str(ensemble), "--fasta", str(fasta), "--pairs", str(pairs)]
    assert run(["evaluate", *argv, "--out", str(out)]) == 0
    got = json.loads((out / "metrics.json").read_text())["test"]
    assert got["n"] == len(labels) == len(keys)
    assert got["aupr"] == pytest.approx(want["aupr"], abs=1e-6)
    assert run(["ablate", "--mask", *argv, "--out", str(tmp_path / "ab")]) == 0
    table = (tmp_path / "ab" / "masking.md").read_text()
    assert "none masked" in table and "without properties" in table


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("one model", "at least two models"),
        ("out exists", "exists; give a new folder"),
        ("nested", "already an ensemble"),
        ("distill", "a retrieval vector is distilled from one model"),
        ("interface", "map the interface with one member"),
        ("bad manifest", "ensemble.json: expected JSON with a 'members' list"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    case, expect, ensemble, trained_run, few, guo_slice, tmp_path, capsys
):
    argv = {
        "one model": ["ensemble", "--out", str(tmp_path / "e"), str(trained_run)],
        "out exists": ["ensemble", "--out", str(ensemble), str(trained_run), str(trained_run)],
        "nested": ["ensemble", "--out", str(tmp_path / "e"), str(ensemble), str(trained_run)],
        "distill": ["distill", "--model", str(ensemble), "--fasta", str(few)],
        "interface": [
            *("score", "--model", str(ensemble), "--fasta", str(guo_slice[0])),
            *("--pairs", str(guo_slice[1]), "--out", str(tmp_path / "s.tsv")),
            *("--interface", str(tmp_path / "maps")),
        ],
    }.get(case)
    if case == "bad manifest":
        broken = tmp_path / "broken"
        broken.mkdir()
        (broken / "ensemble.json").write_text('{"members": "member-0"}')
        argv = ["score", "--model", str(broken), "--fasta", str(few), "--all"]
        argv += ["--out", str(tmp_path / "s.tsv")]
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert expect in err and "Traceback" not in err
    assert not (tmp_path / "e").exists()
