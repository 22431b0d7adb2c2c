import json

from ppi.cli import run


def test_evaluate_run_reproduces_training_test_metrics(trained_run, tmp_path):
    out = tmp_path / "ev"
    assert run(["evaluate", "--run", str(trained_run), "--out", str(out)]) == 0
    got = json.loads((out / "metrics.json").read_text())["test"]
    want = json.loads((trained_run / "metrics.json").read_text())["test"]
    assert got["aupr"] == want["aupr"] and got["n"] == want["n"]
    assert (out / "test_roc.png").is_file() and (out / "test_pr.png").is_file()


def test_evaluate_model_on_pairs(trained_run, guo_slice, tmp_path):
    fasta, pairs = guo_slice
    out = tmp_path / "ev2"
    assert (
        run(
            [
                "evaluate",
                "--model",
                str(trained_run / "model"),
                "--fasta",
                str(fasta),
                "--pairs",
                str(pairs),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads((out / "metrics.json").read_text())["test"]["n"] == 240


def test_model_without_pairs_is_an_input_error(trained_run, capsys):
    assert run(["evaluate", "--model", str(trained_run / "model")]) == 2
    assert "--pairs and --fasta" in capsys.readouterr().err
