import json
import math
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.image import imread

import ppi.evaluation.plots
from ppi.errors import ConfigError, InputError
from ppi.evaluation.metrics import binary_metrics
from ppi.evaluation.plots import (
    plot_confusion,
    plot_history,
    plot_pr,
    plot_roc,
    write_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HISTORY = [
    {"epoch": 1, "train_loss": 0.9, "valid_loss": 1.0, "valid_aupr": 0.5},
    {"epoch": 2, "train_loss": 0.6, "valid_aupr": float("nan")},  # missing / NaN values
    {"epoch": 3, "train_loss": 0.4, "valid_loss": 0.7, "valid_aupr": 0.7, "lr": 1e-4},
]


def assert_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 200
    rgb = (image[..., :3] * 255).astype(np.uint32)
    colours = np.unique(rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2])
    assert len(colours) > 10  # not a blank canvas


def binary_data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    return y, np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, n), 0, 1)


@pytest.fixture
def figures(monkeypatch):
    """Capture the figures instead of rendering them, to inspect their text."""
    saved = []
    monkeypatch.setattr(ppi.evaluation.plots, "_save", lambda fig, path: saved.append(fig))
    return saved


def texts(fig):
    out = [t.get_text() for ax in fig.axes for t in ax.texts]
    out += [ax.get_title() for ax in fig.axes]
    for legend in [*fig.legends, *(ax.get_legend() for ax in fig.axes)]:
        if legend is not None:
            out += [t.get_text() for t in legend.get_texts()] + [legend.get_title().get_text()]
    return out


def test_write_report_pair_writes_metrics_and_valid_pngs(tmp_path):
    y, p = binary_data()
    metrics = write_report(tmp_path / "run", "pair", y, p, history=HISTORY)
    run = tmp_path / "run"
    names = sorted(f.name for f in run.iterdir())
    assert names == [
        "loss_curves.png",
        "metrics.json",
        "test_confusion.png",
        "test_pr.png",
        "test_roc.png",
    ]  # and no temporary files left behind
    for name in names[:1] + names[2:]:
        assert_png(run / name)
    assert metrics == binary_metrics(y, p)
    assert json.loads((run / "metrics.json").read_text()) == {"test": metrics}


def test_metrics_json_merges_splits(tmp_path):
    y, p = binary_data()
    (tmp_path / "metrics.json").write_text('{"train": {"loss": 0.1}}')
    write_report(tmp_path, "pair", y, p, prefix="valid")
    write_report(tmp_path, "pair", y[:30], p[:30], prefix="test")
    write_report(tmp_path, "pair", y[:40], p[:40], prefix="test")  # replaces the old test entry
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert sorted(data) == ["test", "train", "valid"]
    assert data["train"] == {"loss": 0.1}
    assert (data["valid"]["n"], data["test"]["n"]) == (60, 40)
    assert (tmp_path / "valid_roc.png").exists() and (tmp_path / "test_roc.png").exists()


def test_write_report_refuses_a_corrupt_metrics_json(tmp_path):
    (tmp_path / "metrics.json").write_text("{oops")
    y, p = binary_data()
    with pytest.raises(InputError, match="metrics.json"):
        write_report(tmp_path, "pair", y, p)


def test_write_report_single_class_pair_writes_null(tmp_path):
    write_report(tmp_path, "pair", np.zeros(10, int), np.linspace(0, 1, 10))
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert data["test"]["auroc"] is None and data["test"]["aupr"] is None
    assert_png(tmp_path / "test_roc.png")


def test_write_report_multiclass(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 50)
    p = rng.dirichlet(np.ones(3), 50)
    metrics = write_report(tmp_path, "single", y, p, class_names=["a", "b", "c"])
    assert sorted(metrics["per_class"]) == ["a", "b", "c"]
    for name in ("test_roc.png", "test_pr.png", "test_confusion.png"):
        assert_png(tmp_path / name)
    assert not (tmp_path / "test_class_aupr.png").exists()


def test_write_report_multilabel(tmp_path):
    rng = np.random.default_rng(2)
    y = (rng.random((40, 4)) < 0.3).astype(int)
    y[:, 3] = 0  # a class with no positives
    p = np.clip(0.2 + 0.5 * y + rng.normal(0, 0.2, y.shape), 0, 1)
    metrics = write_report(tmp_path, "single", y, p, class_names=["w", "x", "y", "z"])
    assert 0.5 < metrics["aupr_macro"] <= 1.0
    for name in ("test_roc.png", "test_pr.png", "test_class_aupr.png"):
        assert_png(tmp_path / name)
    assert not (tmp_path / "test_confusion.png").exists()
    saved = json.loads((tmp_path / "metrics.json").read_text())["test"]
    assert saved["per_class"]["z"]["aupr"] is None
    assert saved["per_class"]["w"]["aupr"] == pytest.approx(metrics["per_class"]["w"]["aupr"])


def test_write_report_rejects_unknown_task_and_bad_prefix(tmp_path):
    y, p = binary_data()
    with pytest.raises(ConfigError, match=r"unknown task 'pairs' \(choices: pair, single\)"):
        write_report(tmp_path, "pairs", y, p)
    with pytest.raises(InputError, match="prefix"):
        write_report(tmp_path, "pair", y, p, prefix="../x")
    with pytest.raises(InputError, match="expected probs"):
        write_report(tmp_path, "single", np.array([0, 1]), np.array([0.2, 0.8]))


def test_roc_and_pr_legends_show_scores_and_chance(figures):
    y, p = [1, 1, 0, 0, 1, 0], [0.9, 0.4, 0.6, 0.1, 0.8, 0.3]
    plot_roc(y, p, "unused.png", title="my ROC")
    plot_pr(y, p, "unused.png")
    roc, pr = texts(figures[0]), texts(figures[1])
    assert "AUROC = 0.889" in roc and "my ROC" in roc
    assert "chance (AUROC = 0.500)" in roc
    assert "AUPR = 0.917" in pr and "chance (positive fraction = 0.500)" in pr


def test_multiclass_curves_name_classes_and_skipped_ones(figures):
    y = np.array([0, 0, 1, 1, 1])  # class 2 never occurs
    p = np.array([[0.8, 0.1, 0.1]] * 2 + [[0.1, 0.8, 0.1]] * 3)
    plot_roc(y, p, "unused.png", class_names=["a", "b", "c"])
    labels = texts(figures[0])
    assert "a (AUROC = 1.000)" in labels and "micro-average (AUROC = 1.000)" in labels
    assert "not drawn (single class): c" in labels


def test_confusion_annotates_counts_and_row_fractions(figures):
    plot_confusion([0, 0, 0, 1], [0, 0, 1, 1], ["neg", "pos"], "unused.png")
    cells = texts(figures[0])
    assert "2\n(0.67)" in cells and "1\n(0.33)" in cells
    assert "0\n(0.00)" in cells and "1\n(1.00)" in cells
    with pytest.raises(InputError, match=r"preds.*in \[0, 2\)"):
        plot_confusion([0, 1], [0, 2], ["neg", "pos"], "unused.png")


def test_history_tolerates_missing_keys_and_splits_panels(figures):
    plot_history(HISTORY, "unused.png")
    loss_ax, metric_ax = figures[0].axes
    lines = {line.get_label(): line.get_ydata() for line in loss_ax.lines}
    assert sorted(lines) == ["train_loss", "valid_loss"]  # "lr" is neither
    assert math.isnan(lines["valid_loss"][1])  # a gap, not a bridged line
    assert [line.get_label() for line in metric_ax.lines] == ["valid_aupr"]
    plot_history([{"train_loss": 1.0}, {"train_loss": 0.5}], "unused.png")
    assert len(figures[1].axes) == 1


def test_history_files_and_errors(tmp_path):
    plot_history(HISTORY, tmp_path / "h.png")
    assert_png(tmp_path / "h.png")
    with pytest.raises(InputError, match="non-empty list"):
        plot_history([], tmp_path / "h.png")
    with pytest.raises(InputError, match=r"got keys \['epoch', 'lr'\]"):
        plot_history([{"epoch": 1, "lr": 0.1}], tmp_path / "h.png")


def test_plots_leave_the_users_backend_and_pyplot_alone(tmp_path):
    code = (
        "import sys, matplotlib\n"
        "matplotlib.use('svg')\n"
        "from ppi.evaluation.plots import plot_roc\n"
        f"plot_roc([0, 1, 1], [0.2, 0.7, 0.9], {str(tmp_path / 'r.png')!r})\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert_png(tmp_path / "r.png")
