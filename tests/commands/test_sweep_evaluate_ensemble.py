"""Bad input to ``ppi evaluate``, ``ensemble``, ``score --all`` and ``distill``: one line, exit 2.

Each case is refused before anything is written, so no report folder,
ensemble, score file or retrieval head is left behind.
"""

import itertools
import json
import shutil

import pytest
import yaml

from ppi.cli import run
from ppi.data.fasta import read_fasta, write_fasta
from ppi.data.pairs import read_pairs, write_pairs


def _refused(argv, capsys, *expect):
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    for text in expect:
        assert text in err, err
    return err


@pytest.fixture
def on_slice(trained_run, guo_slice):
    """``ppi evaluate --model`` of the shared run on the Guo slice, with extra options."""
    fasta, pairs = guo_slice
    model = ["--model", str(trained_run / "model"), "--fasta", str(fasta), "--pairs", str(pairs)]
    return lambda *extra: ["evaluate", *model, *extra]


@pytest.fixture(scope="module")
def moved_run(trained_run, tmp_path_factory):
    """The shared run as one started in another folder keeps it: data paths relative to there."""
    run_dir = tmp_path_factory.mktemp("moved") / "run"
    run_dir.mkdir()
    for part in ("model", "splits"):
        shutil.copytree(trained_run / part, run_dir / part)
    config = yaml.safe_load((trained_run / "config.yaml").read_text())
    config["data"] |= {"fasta": "slice.fasta", "train": "slice.tsv"}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    saved = json.loads((run_dir / "model" / "config.json").read_text())
    saved["config"]["data"] |= {"fasta": "slice.fasta", "train": "slice.tsv"}
    (run_dir / "model" / "config.json").write_text(json.dumps(saved))
    return run_dir


def test_train_pairs_with_an_unknown_id_is_refused(on_slice, guo_slice, tmp_path, capsys):
    known = next(iter(read_fasta(guo_slice[0])))
    bad = tmp_path / "train.tsv"
    bad.write_text(f"NOPE\t{known}\t1\n")
    out = tmp_path / "rep"
    argv = on_slice("--train-pairs", str(bad), "--out", str(out))
    _refused(argv, capsys, f"{bad}: 1 id in 1 pair is not in", "(first: NOPE)")
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "expect"),
    [(None, "pairs file not found"), ("YAL001C\tYAL002W\t7\n", ":1: expected label 0 or 1")],
)
def test_bad_train_pairs_are_refused_before_the_report(content, expect, on_slice, tmp_path, capsys):
    bad = tmp_path / "train.tsv"
    if content is not None:
        bad.write_text(content)
    out = tmp_path / "rep"
    _refused(on_slice("--train-pairs", str(bad), "--out", str(out)), capsys, str(bad), expect)
    assert not out.exists()


def test_out_that_is_a_file_is_refused(on_slice, tmp_path, capsys):
    out = tmp_path / "o"
    out.write_text("keep")
    _refused(on_slice("--out", str(out)), capsys, f"--out {out}: expected a folder")
    assert out.read_text() == "keep"


def test_run_data_not_found_names_the_config_and_key(moved_run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "rep"
    _refused(
        ["evaluate", "--run", str(moved_run), "--out", str(out)],
        capsys,
        f"{moved_run / 'config.yaml'}: data.fasta=slice.fasta (relative to the folder the run "
        "was started in) not found",
        f"--model {moved_run / 'model'}",
    )
    assert not out.exists()


@pytest.fixture
def few_pairs(guo_slice, tmp_path):
    """Two pairs of the slice, so most training proteins are not among theirs."""
    two = [p for p in read_pairs(guo_slice[1]) if p.label == 1][:1]
    two += [p for p in read_pairs(guo_slice[1]) if p.label == 0][:1]
    return write_pairs(two, tmp_path / "two.tsv")


def test_no_baselines_reads_no_training_data(
    moved_run, guo_slice, few_pairs, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    model = ["--model", str(moved_run / "model"), "--fasta", str(guo_slice[0])]
    out = tmp_path / "rep"
    assert (
        run(["evaluate", *model, "--pairs", str(few_pairs), "--out", "rep", "--no-baselines"]) == 0
    )
    assert json.loads((out / "metrics.json").read_text())["test"]["n"] == 2


def test_training_fasta_not_found_names_the_model_config(
    moved_run, guo_slice, few_pairs, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    model = ["--model", str(moved_run / "model"), "--fasta", str(guo_slice[0])]
    _refused(
        ["evaluate", *model, "--pairs", str(few_pairs), "--out", "rep"],
        capsys,
        f"{moved_run / 'model' / 'config.json'}: data.fasta=slice.fasta (relative",
        "--no-baselines",
    )
    assert not (tmp_path / "rep").exists()


@pytest.fixture
def two_models(trained_run, second_run, tmp_path):
    """Copies of the two runs' model folders, which a refused ensemble must leave as they were."""
    return [
        shutil.copytree(r / "model", tmp_path / name)
        for r, name in ((trained_run, "a"), (second_run, "b"))
    ]


def test_ensemble_out_inside_a_model_is_refused(two_models, capsys):
    a, b = two_models
    before = sorted(a.rglob("*"))
    out = a / "ens"
    _refused(
        ["ensemble", "--out", str(out), str(a), str(b)],
        capsys,
        f"--out {out}: inside the model folder {a}",
    )
    assert sorted(a.rglob("*")) == before


def test_ensemble_of_one_model_twice_is_refused(two_models, tmp_path, capsys):
    a, _ = two_models
    out = tmp_path / "e"
    _refused(
        ["ensemble", "--out", str(out), str(a), str(a)],
        capsys,
        f"{a}: the same model given twice",
    )
    assert not out.exists() and not (tmp_path / "e.tmp").exists()


def test_score_all_of_one_protein_is_refused(trained_run, guo_slice, tmp_path, capsys):
    one = write_fasta(
        dict(itertools.islice(read_fasta(guo_slice[0]).items(), 1)), tmp_path / "one.fasta"
    )
    out = tmp_path / "s.tsv"
    argv = ["score", "--model", str(trained_run), "--fasta", str(one), "--all", "--out", str(out)]
    _refused(argv, capsys, "--all: expected a FASTA of at least 2 proteins to pair, got 1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.fasta"]


def test_distill_on_too_few_proteins_is_refused(trained_run, guo_slice, tmp_path, capsys):
    model = shutil.copytree(trained_run / "model", tmp_path / "m")
    before = sorted(model.rglob("*"))
    five = write_fasta(
        dict(itertools.islice(read_fasta(guo_slice[0]).items(), 5)), tmp_path / "f5.fa"
    )
    argv = ["distill", "--model", str(model), "--fasta", str(five), "--device", "cpu"]
    _refused(argv, capsys, f"{five}: expected at least 11 proteins", "got 5")
    assert sorted(model.rglob("*")) == before
