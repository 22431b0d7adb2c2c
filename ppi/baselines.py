"""Shortcut baselines every pair evaluation is compared with.

A model that only learns which proteins are hubs, or which amino-acid
compositions go with many partners, looks good on splits that share proteins
and collapses on splits that do not. Two baselines measure those shortcuts on
the same test pairs:

- ``degree``: how often each protein was a positive in the training pairs.
  The pair score is a logistic regression on ``log(1 + positives)`` of the
  two proteins (their sum and product, so it is symmetric), fitted with each
  training pair's own label left out of its proteins' counts.
- ``composition``: logistic regression on amino-acid (20) and dipeptide (400)
  composition of the two proteins, combined symmetrically (sum, product and
  absolute difference of the two vectors).

Both are fitted on the training pairs only and output probabilities, so their
calibration is measured like the model's.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ppi.calibration import realistic_metrics
from ppi.data.pairs import Pair
from ppi.data.property_table import composition
from ppi.errors import InputError
from ppi.evalplots import plot_pr_compare, plot_reliability
from ppi.metrics import binary_metrics, load_metrics, save_metrics
from ppi.registry import Registry

if TYPE_CHECKING:
    from ppi.config import EvalConfig

BASELINES = Registry("baseline")


def _fit_logistic(x: np.ndarray, y: np.ndarray):
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    if len(set(y.tolist())) < 2:  # one class in training: predict its rate
        return float(y.mean())
    return model.fit(x, y)


def _predict(model, x: np.ndarray) -> np.ndarray:
    if isinstance(model, float):
        return np.full(len(x), model)
    return model.predict_proba(x)[:, 1]


@BASELINES.register("degree")
class DegreeBaseline:
    """Scores a pair by how often its proteins were positives in training."""

    def fit(self, train: Sequence[Pair], proteins: Mapping[str, str]) -> DegreeBaseline:
        """Count positives per protein and fit the pair score on leave-own-label-out counts."""
        self.positives = Counter(x for p in train if p.label == 1 for x in (p.a, p.b))
        own = np.array([p.label for p in train], dtype=np.float64)  # (P,)
        x = self._features(train, own)
        self.model = _fit_logistic(x, own.astype(np.int64))
        return self

    def _features(self, pairs: Sequence[Pair], own: np.ndarray | None = None) -> np.ndarray:
        a = np.array([self.positives.get(p.a, 0) for p in pairs], dtype=np.float64)
        b = np.array([self.positives.get(p.b, 0) for p in pairs], dtype=np.float64)
        if own is not None:  # a training pair does not count towards its own score
            a, b = a - own, b - own
        u, v = np.log1p(np.maximum(a, 0)), np.log1p(np.maximum(b, 0))
        return np.stack([u + v, u * v], 1)  # (P, 2)

    def predict(self, pairs: Sequence[Pair], proteins: Mapping[str, str]) -> np.ndarray:
        """Probabilities of interaction for ``pairs``."""
        return _predict(self.model, self._features(pairs))


@BASELINES.register("composition")
class CompositionBaseline:
    """Logistic regression on the two proteins' amino-acid and dipeptide composition."""

    #: training pairs used at most (a random sample beyond), to keep fitting fast
    max_pairs = 20000

    def _features(self, pairs: Sequence[Pair], proteins: Mapping[str, str]) -> np.ndarray:
        need = {x for p in pairs for x in (p.a, p.b)} - set(self._memo)
        self._memo.update({pid: composition(proteins[pid]) for pid in need})
        fa = np.stack([self._memo[p.a] for p in pairs])  # (P, 420)
        fb = np.stack([self._memo[p.b] for p in pairs])  # (P, 420)
        return np.concatenate([fa + fb, fa * fb, np.abs(fa - fb)], 1)  # (P, 1260)

    def fit(self, train: Sequence[Pair], proteins: Mapping[str, str]) -> CompositionBaseline:
        """Fit on (a sample of) the training pairs."""
        self._memo: dict[str, np.ndarray] = {}
        if len(train) > self.max_pairs:
            train = random.Random(0).sample(list(train), self.max_pairs)
        y = np.array([int(p.label) for p in train])
        self.model = _fit_logistic(self._features(train, proteins), y)
        return self

    def predict(self, pairs: Sequence[Pair], proteins: Mapping[str, str]) -> np.ndarray:
        """Probabilities of interaction for ``pairs``."""
        return _predict(self.model, self._features(pairs, proteins))


def baseline_probs(
    train: Sequence[Pair], test: Sequence[Pair], proteins: Mapping[str, str]
) -> dict[str, np.ndarray]:
    """Every registered baseline fitted on ``train`` and applied to ``test``."""
    return {
        name: BASELINES.get(name)().fit(train, proteins).predict(test, proteins)
        for name in BASELINES.names()
    }


def lift(model: Mapping[str, float], base: Mapping[str, float]) -> dict[str, float]:
    """The model against one baseline: AUPR ratio and AUPR/AUROC differences."""
    out = {}
    for key in ("aupr", "realistic_aupr"):
        b = base.get(key, float("nan"))
        out[f"{key}_lift"] = model[key] / b if b and b == b else float("nan")
    for key in ("aupr", "auroc"):
        out[f"{key}_gain"] = model[key] - base[key]
    return out


def compare_with_baselines(
    run_dir: Path,
    labels: np.ndarray,
    probs: np.ndarray,
    data: tuple[Sequence[Pair], Sequence[Pair], Mapping[str, str]],
    settings: EvalConfig,
    prefix: str = "test",
) -> dict:
    """Add calibration, realistic-prevalence metrics and the baselines to ``metrics.json``.

    ``data`` is ``(train pairs, test pairs, proteins)``; the test pairs are in
    the order of ``labels`` and ``probs``. Writes ``<prefix>_baselines_pr.png``
    and ``<prefix>_calibration.png``. Returns the updated metrics of ``prefix``
    with a ``baselines`` entry.
    """
    train, test, proteins = data
    y = np.asarray(labels).astype(np.int64)
    if [int(p.label) for p in test] != y.tolist():
        raise InputError(f"{prefix}: the test pairs do not match the predicted labels' order")

    def extra(p: np.ndarray) -> dict:
        return realistic_metrics(y, p, settings.prevalence, bins=settings.calibration_bins)

    merged = load_metrics(run_dir / "metrics.json")
    model = merged.setdefault(prefix, binary_metrics(y, probs)) | extra(probs)
    scores = {"model": np.asarray(probs)}
    table = {}
    if settings.baselines:
        for name, p in baseline_probs(train, test, proteins).items():
            scores[name] = p
            base = binary_metrics(y, p) | extra(p)
            table[name] = base | {"lift": lift(model, base)}
    merged[prefix] = model
    merged[f"{prefix}_baselines"] = table
    save_metrics(merged, run_dir / "metrics.json")
    title = f"{prefix}: model and baselines (n = {len(y)})"
    plot_pr_compare(y, scores, run_dir / f"{prefix}_baselines_pr.png", title)
    bins = settings.calibration_bins
    plot_reliability(y, scores, run_dir / f"{prefix}_calibration.png", title, bins)
    return model | {"baselines": table}
