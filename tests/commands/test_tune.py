import csv

import pytest
import yaml

from ppi.cli import run
from ppi.config.run import load_config

SPACE = {
    "fusion.dim": [16, 32],
    "fusion.dropout": {"low": 0.0, "high": 0.2},
    "train.lr": {"low": 1e-4, "high": 1e-3, "log": True},
}


@pytest.fixture
def space(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(SPACE))
    return path


def _trials(out):
    with open(out / "trials.csv") as handle:
        return list(csv.DictReader(handle))


def test_tune_saves_best_config_then_continues_and_prunes(
    guo_slice, train_args, tmp_path, space, capsys
):
    fasta, pairs = guo_slice
    out = tmp_path / "tune"
    base = train_args(
        fasta,
        pairs,
        tmp_path,
        "train.epochs=2",
        "data.limit=60",
        "data.valid_split=random",
        "evaluation.baselines=false",
    )[1:]
    argv = ["tune", "--out", str(out), "--space", str(space), "--trials", "1", *base]
    assert run(argv) == 0
    rows = _trials(out)
    assert [r["state"] for r in rows] == ["COMPLETE"]
    best = max(rows, key=lambda r: float(r["value"]))
    cfg = load_config(out / "best_config.yaml")
    assert cfg.fusion.dim == int(best["fusion.dim"])
    assert cfg.train.lr == pytest.approx(float(best["train.lr"]))
    assert cfg.data.limit == 60 and cfg.run_name == ""  # the base config, not a trial's folder
    assert (out / "study.db").is_file() and (out / "tune.png").stat().st_size > 1000
    assert "## Hyperparameter search: ppi" in (out / "report.md").read_text()

    # the same study continues to 2 trials; a floor above any AUPR prunes the new one
    prune = ["--pruner", "threshold", "--prune-below", "1.01"]
    more = ["tune", "--out", str(out), "--space", str(space), "--trials", "2", *prune, *base]
    assert run(more) == 0
    rows = _trials(out)
    assert [r["state"] for r in rows] == ["COMPLETE", "PRUNED"]
    checkpoints = out / "trials" / "trial-1" / "checkpoints"
    assert [p.name for p in checkpoints.iterdir() if p.name.startswith("epoch")] == ["epoch_1"]
    assert "1 pruned" in capsys.readouterr().out

    # a rerun that searches something else is refused: its trials would be ranked with these
    other = ["tune", "--out", str(out), "--space", str(space), "--trials", "3", *base]
    assert run([*other, "train.batch_size=8"]) == 2
    err = capsys.readouterr().err
    assert "study 'ppi' searched something else: base.train.batch_size: 32 there, 8 now" in err
    wider = tmp_path / "wider.yaml"
    wider.write_text(space.read_text() + "train.weight_decay: [0.0, 0.1]\n")
    assert run(["tune", "--out", str(out), "--space", str(wider), "--trials", "3", *base]) == 2
    assert "space.train.weight_decay: None there, [0.0, 0.1] now" in capsys.readouterr().err
    assert [r["state"] for r in _trials(out)] == ["COMPLETE", "PRUNED"]


def test_bad_tune_inputs_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("fusion.dim: 3\n")
    assert run(["tune", "--out", str(tmp_path), "--space", str(bad)]) == 2
    assert "key 'fusion.dim': expected a list of choices or {low, high}" in capsys.readouterr().err
    assert run(["tune", "--out", str(tmp_path), "--channels", "sequence,nope"]) == 2
    assert "Unknown channel 'nope'" in capsys.readouterr().err
    assert run(["tune", "--out", str(tmp_path), "--backbones", "esm3"]) == 2
    assert "Unknown backbone 'esm3'" in capsys.readouterr().err
    assert run(["tune", "--out", str(tmp_path), "--pruner", "hyperband"]) == 2
    assert "--pruner: expected one of median, threshold, none" in capsys.readouterr().err
