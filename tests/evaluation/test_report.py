import json

from ppi.cli import run


def test_training_writes_baselines_and_report(trained_run):
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert set(metrics["test_baselines"]) == {"aa20", "composition", "degree"}
    assert metrics["test_strongest_baseline"]["name"] in metrics["test_baselines"]
    for name, base in metrics["test_baselines"].items():
        assert 0 <= base["aupr"] <= 1, name
        assert base["lift"]["aupr_gain"] == metrics["test"]["aupr"] - base["aupr"]
    assert metrics["test"]["realistic_prevalence"] == 0.01
    report = (trained_run / "report.md").read_text()
    for heading in ("## Config", "## Data and split", "## Metrics (test)", "## Curves"):
        assert heading in report
    assert "| degree |" in report and "lift over composition" in report
    assert "strongest baseline:" in report and "chosen on protein-disjoint folds" in report
    assert "data.valid_split=c3" in report
    assert "![calibration (reliability diagram)](test_calibration.png)" in report
    assert "| test | 24 |" in report  # 10% of the 240 pairs


def test_evaluate_with_other_prevalence_rewrites_report(trained_run, tmp_path, capsys):
    out = tmp_path / "ev"
    assert (
        run(["evaluate", "--run", str(trained_run), "--out", str(out), "--prevalence", "0.001"])
        == 0
    )
    assert "baselines: model aupr=" in capsys.readouterr().out
    got = json.loads((out / "metrics.json").read_text())
    assert got["test"]["realistic_prevalence"] == 0.001
    assert "degree" in got["test_baselines"] and (out / "report.md").is_file()
    before = (trained_run / "metrics.json").read_bytes()
    assert run(["evaluate", "--run", str(trained_run), "--prevalence", "2"]) == 2
    assert (
        "argument --prevalence: expected a positive fraction in (0, 1), got 2"
        in capsys.readouterr().err
    )
    assert (trained_run / "metrics.json").read_bytes() == before  # refused before writing
