"""Shortcut baselines every pair evaluation is compared with.

A model that only learns which proteins are hubs, or which amino-acid
compositions go with many partners, looks good on splits that share proteins
and collapses on splits that do not. Three baselines measure those shortcuts on
the same test pairs, and every report names the strongest of them (highest
test AUPR) and the model's lift over it:

- ``degree``: how often each protein was a positive in the training pairs.
  The pair score is a logistic regression on ``log(1 + positives)`` of the
  two proteins (their sum and product, so it is symmetric), fitted with each
  training pair's own label left out of its proteins' counts.
- ``composition``: logistic regression on the two proteins' composition,
  combined symmetrically (sum, product and absolute difference). Which
  features (amino-acid fractions, log length, dipeptide frequencies), whether
  to standardise them, and the regularisation strength are chosen by AUPR on
  protein-disjoint folds of the training pairs, so the choice is the one that
  carries best to proteins not seen in fitting.
- ``aa20``: scikit-learn's default ``LogisticRegression()`` on the unscaled
  20 amino-acid fractions, combined the same way: the plainest shortcut.

All are fitted on the training pairs only and output probabilities, so their
calibration is measured like the model's.
"""

from __future__ import annotations

import random
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ppi.data.pairs import Pair
from ppi.data.property_table import composition
from ppi.errors import InputError
from ppi.evaluation.calibration import realistic_metrics
from ppi.evaluation.compare_plots import plot_pr_compare, plot_reliability
from ppi.evaluation.metrics import binary_metrics, load_metrics, save_metrics
from ppi.registry import Registry

if TYPE_CHECKING:
    from ppi.config.run import EvalConfig

BASELINES = Registry("baseline")


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
        self.model = _logistic(1.0, True, x, own.astype(np.int64))
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


def protein_features(seq: str) -> np.ndarray:
    """Amino-acid fractions (20), dipeptide frequencies (400) and log length (1).

    Shapes:
        returns ``(421,)``.
    """
    return np.concatenate([composition(seq), [np.log(max(len(seq), 1))]])


#: feature sets the composition baseline chooses from, as column slices of
#: :func:`protein_features`
FEATURE_SETS = {
    "aa20": np.r_[0:20],
    "aa20+length": np.r_[0:20, 420],
    "aa20+dipeptides+length": np.r_[0:421],
}
#: inverse regularisation strengths the composition baseline chooses from
STRENGTHS = (0.01, 0.1, 1.0, 10.0)


class _PairFeatures:
    """Symmetric pair features (sum, product, |difference|) of per-protein vectors."""

    def __init__(self) -> None:
        self._memo: dict[str, np.ndarray] = {}

    def __call__(self, pairs: Sequence[Pair], proteins: Mapping[str, str], cols) -> np.ndarray:
        need = {x for p in pairs for x in (p.a, p.b)} - set(self._memo)
        self._memo.update({pid: protein_features(proteins[pid]) for pid in need})
        fa = np.stack([self._memo[p.a][cols] for p in pairs])  # (P, F)
        fb = np.stack([self._memo[p.b][cols] for p in pairs])  # (P, F)
        return np.concatenate([fa + fb, fa * fb, np.abs(fa - fb)], 1)  # (P, 3F)


def _logistic(strength: float, scaled: bool, x: np.ndarray, y: np.ndarray):
    if len(set(y.tolist())) < 2:  # one class in training: predict its rate
        return float(y.mean())
    model = LogisticRegression(C=strength, max_iter=300)
    with warnings.catch_warnings():  # a candidate that stops short is scored as it is
        warnings.simplefilter("ignore", ConvergenceWarning)
        return (make_pipeline(StandardScaler(), model) if scaled else model).fit(x, y)


def _sample(pairs: Sequence[Pair], most: int) -> Sequence[Pair]:
    """At most ``most`` pairs: all of them, or a fixed random sample."""
    return random.Random(0).sample(list(pairs), most) if len(pairs) > most else pairs


def protein_folds(pairs: Sequence[Pair], k: int, seed: int = 0) -> list[tuple[list, list]]:
    """``k`` protein-disjoint (fit, held-out) folds of ``pairs``.

    Proteins are dealt at random into ``k`` groups; fold ``i`` holds out the
    pairs with both proteins in group ``i`` and fits on the pairs with neither,
    so no held-out protein is seen in fitting (C3, as ``ppi split`` makes).
    A fold whose either side lacks a class is left out.
    """
    ids = sorted({x for p in pairs for x in (p.a, p.b)})
    random.Random(seed).shuffle(ids)
    group = {pid: n % k for n, pid in enumerate(ids)}
    folds = []
    for i in range(k):
        held = [p for p in pairs if group[p.a] == i and group[p.b] == i]
        fit = [p for p in pairs if group[p.a] != i and group[p.b] != i]
        if all(len({q.label for q in part}) == 2 for part in (held, fit)):
            folds.append((fit, held))
    return folds


def composition_settings() -> list[tuple[str, bool, float]]:
    """Every setting the composition baseline chooses from: ``(features, standardised, C)``."""
    return [(f, z, c) for f in FEATURE_SETS for z in (False, True) for c in STRENGTHS]


def setting_name(setting: tuple[str, bool, float]) -> str:
    """``aa20|raw|C=10``: a composition setting as the reports name it."""
    features, scaled, strength = setting
    return f"{features}|{'std' if scaled else 'raw'}|C={strength:g}"


def composition_on_test(
    train: Sequence[Pair], test: Sequence[Pair], proteins: Mapping[str, str]
) -> dict[str, float]:
    """The test AUPR of the composition baseline fitted with each of its settings.

    The tuned baseline picks one setting on folds of the training pairs;
    where settings score alike there, the pick can flip with a few training
    pairs while their test AUPRs differ widely. The highest of these is the
    strongest composition regression on this test set: chosen on the test
    pairs themselves, it is a bar no tuning could reach, and a model that
    clears it does not owe its lift to an unlucky pick.
    """
    y = np.array([int(p.label) for p in test])
    base = CompositionBaseline()
    return {
        setting_name(setting): float(
            average_precision_score(y, base.fit(train, proteins, setting).predict(test, proteins))
        )
        for setting in composition_settings()
    }


@BASELINES.register("composition")
class CompositionBaseline:
    """Logistic regression on composition, its settings chosen on protein-disjoint folds.

    The features (:data:`FEATURE_SETS`), standardisation on or off, and the
    regularisation strength (:data:`STRENGTHS`) are chosen by mean AUPR over
    :func:`protein_folds` of the training pairs, then refitted on all of them.
    ``choice`` records what was chosen and each candidate's score.
    """

    #: training pairs used at most (a random sample beyond), to keep fitting fast
    max_pairs = 20000
    #: training pairs the settings are chosen on at most (a random sample beyond)
    cv_pairs = 6000
    folds = 3

    def fit(
        self, train: Sequence[Pair], proteins: Mapping[str, str], settings: tuple | None = None
    ) -> CompositionBaseline:
        """Choose the settings by cross-validation, then fit on (a sample of) ``train``.

        ``settings`` (``(features, standardised, C)``, one of :func:`composition_settings`)
        fits those instead of choosing; a refit keeps the proteins' features.
        """
        self._features = getattr(self, "_features", None) or _PairFeatures()
        train = _sample(train, self.max_pairs)
        if settings is None:
            sample = train
            if len(train) > self.cv_pairs:
                sample = random.Random(1).sample(list(train), self.cv_pairs)
            scores = self._cross_validate(sample, proteins)
            best = max(scores, key=scores.get) if scores else ("aa20", False, 1.0)
            self.choice = {
                "features": best[0],
                "standardised": best[1],
                "C": best[2],
                "cv_folds": self._used_folds,
                "cv_aupr": {setting_name(k): s for k, s in scores.items()},
            }
        else:
            best = settings
            self.choice = {"features": best[0], "standardised": best[1], "C": best[2]}
        self.settings = best
        y = np.array([int(p.label) for p in train])
        x = self._features(train, proteins, FEATURE_SETS[best[0]])
        self.model = _logistic(best[2], best[1], x, y)
        return self

    def _cross_validate(self, train: Sequence[Pair], proteins: Mapping[str, str]) -> dict:
        folds = protein_folds(train, self.folds)
        self._used_folds = len(folds)
        scores: dict[tuple, list[float]] = {}
        for fit, held in folds:
            y_fit = np.array([int(p.label) for p in fit])
            y_held = np.array([int(p.label) for p in held])
            for name, cols in FEATURE_SETS.items():
                x_fit = self._features(fit, proteins, cols)
                x_held = self._features(held, proteins, cols)
                for scaled in (False, True):
                    for strength in STRENGTHS:
                        model = _logistic(strength, scaled, x_fit, y_fit)
                        aupr = average_precision_score(y_held, _predict(model, x_held))
                        scores.setdefault((name, scaled, strength), []).append(float(aupr))
        return {key: float(np.mean(v)) for key, v in scores.items()}

    def predict(self, pairs: Sequence[Pair], proteins: Mapping[str, str]) -> np.ndarray:
        """Probabilities of interaction for ``pairs``."""
        return _predict(self.model, self._features(pairs, proteins, FEATURE_SETS[self.settings[0]]))

    def linear(self) -> tuple[np.ndarray, float]:
        """The fitted logit as weights on the raw pair features, and its bias.

        The pair features are :class:`_PairFeatures` of the chosen set (sum,
        product, then absolute difference, ``F`` columns each), so the logit
        of a pair is ``features @ weights + bias`` whether or not the
        baseline standardised them. A baseline fitted on one class gives
        zero weights and that class's log odds.

        Shapes:
            weights ``(3F,)``.
        """
        width = 3 * len(FEATURE_SETS[self.settings[0]])
        if isinstance(self.model, float):
            rate = min(max(self.model, 1e-6), 1 - 1e-6)
            return np.zeros(width), float(np.log(rate / (1 - rate)))
        if self.settings[1]:
            scaler, fitted = self.model[0], self.model[-1]
            weights = fitted.coef_[0] / scaler.scale_
            return weights, float(fitted.intercept_[0] - weights @ scaler.mean_)
        return self.model.coef_[0].copy(), float(self.model.intercept_[0])


@BASELINES.register("aa20")
class PlainCompositionBaseline:
    """The plainest shortcut: scikit-learn's default logistic regression on 20 fractions.

    Unscaled amino-acid fractions of the two proteins, combined as sum,
    product and absolute difference; ``LogisticRegression()`` with its default
    L2 strength. Kept next to the tuned baseline so a report shows both.
    """

    def fit(self, train: Sequence[Pair], proteins: Mapping[str, str]) -> PlainCompositionBaseline:
        """Fit on (a sample of) the training pairs."""
        self._features = _PairFeatures()
        train = _sample(train, CompositionBaseline.max_pairs)
        y = np.array([int(p.label) for p in train])
        self.model = _logistic(1.0, False, self._features(train, proteins, FEATURE_SETS["aa20"]), y)
        return self

    def predict(self, pairs: Sequence[Pair], proteins: Mapping[str, str]) -> np.ndarray:
        """Probabilities of interaction for ``pairs``."""
        return _predict(self.model, self._features(pairs, proteins, FEATURE_SETS["aa20"]))


def fit_baselines(
    train: Sequence[Pair], test: Sequence[Pair], proteins: Mapping[str, str]
) -> dict[str, tuple[np.ndarray, dict]]:
    """Every registered baseline fitted on ``train``: its probabilities on ``test``, its choice.

    The choice is what a baseline selected by cross-validation (empty if nothing).
    """
    out = {}
    for name in BASELINES.names():
        base = BASELINES.get(name)().fit(train, proteins)
        out[name] = (base.predict(test, proteins), getattr(base, "choice", {}))
    return out


def strongest(table: Mapping[str, Mapping]) -> str:
    """The baseline with the highest test AUPR: the one the model must beat."""
    return max(
        table, key=lambda n: table[n]["aupr"] if table[n]["aupr"] == table[n]["aupr"] else -1
    )


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
        for name, (p, choice) in fit_baselines(train, test, proteins).items():
            scores[name] = p
            base = binary_metrics(y, p) | extra(p)
            table[name] = (
                base | {"lift": lift(model, base)} | ({"choice": choice} if choice else {})
            )
    merged[prefix] = model
    merged[f"{prefix}_baselines"] = table
    best = {}
    if table:
        name = strongest(table)
        best = {"name": name, "aupr": table[name]["aupr"], **table[name]["lift"]}
        merged[f"{prefix}_strongest_baseline"] = best
    save_metrics(merged, run_dir / "metrics.json")
    title = f"{prefix}: model and baselines (n = {len(y)})"
    plot_pr_compare(y, scores, run_dir / f"{prefix}_baselines_pr.png", title)
    bins = settings.calibration_bins
    plot_reliability(y, scores, run_dir / f"{prefix}_calibration.png", title, bins)
    return model | {"baselines": table, "strongest": best}
