import numpy as np
import pytest

from ppi.baselines import (
    CompositionBaseline,
    DegreeBaseline,
    compare_with_baselines,
    composition,
)
from ppi.config import EvalConfig
from ppi.data.pairs import Pair
from ppi.metrics import binary_metrics, load_metrics


def _hub_data():
    """Hubs H0..H4 interact with everyone; other proteins never do."""
    rng = np.random.default_rng(0)
    aa = "ACDEFGHIKLMNPQRSTVWY"
    ids = [f"H{i}" for i in range(5)] + [f"P{i}" for i in range(60)]
    proteins = {i: "".join(rng.choice(list(aa), 80)) for i in ids}
    pairs = []
    for _ in range(900):
        a, b = rng.choice(ids, 2, replace=False)
        pairs.append(Pair(str(a), str(b), float(a[0] == "H" or b[0] == "H")))
    return proteins, pairs[:600], pairs[600:]


def test_degree_baseline_finds_hubs_and_is_symmetric():
    proteins, train, test = _hub_data()
    base = DegreeBaseline().fit(train, proteins)
    p = base.predict(test, proteins)
    y = np.array([t.label for t in test])
    assert binary_metrics(y, p)["auroc"] > 0.95
    swapped = base.predict([Pair(t.b, t.a, t.label) for t in test], proteins)
    assert np.allclose(p, swapped)


def test_composition_is_a_distribution_and_baseline_is_symmetric():
    f = composition("ACAC")
    assert f.shape == (420,) and f[:20].sum() == pytest.approx(1) and f[20:].sum() == 1
    assert f[20 + 0 * 20 + 1] == pytest.approx(2 / 3)  # AC twice out of AC, CA, AC
    proteins, train, test = _hub_data()
    base = CompositionBaseline().fit(train, proteins)
    p = base.predict(test, proteins)
    assert np.allclose(p, base.predict([Pair(t.b, t.a, t.label) for t in test], proteins))


def test_compare_writes_baselines_lift_and_plots(tmp_path):
    proteins, train, test = _hub_data()
    y = np.array([t.label for t in test], dtype=int)
    model = np.clip(0.2 + 0.5 * y + np.random.default_rng(1).normal(0, 0.2, len(y)), 0, 1)
    out = compare_with_baselines(tmp_path, y, model, (train, test, proteins), EvalConfig())
    saved = load_metrics(tmp_path / "metrics.json")
    assert set(saved["test_baselines"]) == {"composition", "degree"}
    deg = saved["test_baselines"]["degree"]
    assert deg["lift"]["aupr_lift"] == pytest.approx(out["aupr"] / deg["aupr"])
    assert saved["test"]["realistic_prevalence"] == 0.01 and "ece" in saved["test"]
    assert (tmp_path / "test_baselines_pr.png").stat().st_size > 1000
    assert (tmp_path / "test_calibration.png").stat().st_size > 1000
