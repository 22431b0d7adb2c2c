"""Calibration error, and pair metrics rescaled to a realistic prevalence.

Benchmarks of protein pairs are usually balanced or hold one positive in ten,
while among all pairs of a proteome perhaps one in a hundred or a thousand
interact. Ranking (AUROC) does not depend on the prevalence, but precision,
AUPR and calibration do. :func:`realistic_metrics` reweights the negatives of
a labelled set so positives make up ``prevalence`` of the total weight, and
shifts the predicted probabilities to that prior with Bayes' rule (Saerens,
Latinne and Decaestecker, Neural Computation 2002) before thresholding and
measuring calibration.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    matthews_corrcoef,
    precision_recall_fscore_support,
)

from ppi.errors import InputError
from ppi.evaluation.metrics import check_arrays, check_binary_labels

NAN = float("nan")


def expected_calibration_error(
    labels: Any, probs: Any, bins: int = 10, weights: Any = None
) -> float:
    """Expected calibration error over ``bins`` equal-width probability bins.

    The weighted mean, over bins, of ``|mean label - mean probability|``, each
    bin weighted by its share of the (optionally weighted) examples.

    Shapes:
        labels, probs, weights ``(N,)``.
    """
    y, p = check_arrays(labels, probs, 1, 1, "expected_calibration_error")
    y = check_binary_labels(y, "expected_calibration_error").astype(np.float64)
    w = np.ones_like(p) if weights is None else np.asarray(weights, dtype=np.float64)
    which = np.minimum((p * bins).astype(np.int64), bins - 1)  # (N,) bin of each prediction
    total = np.bincount(which, w, bins)
    hits = np.bincount(which, w * y, bins)
    conf = np.bincount(which, w * p, bins)
    used = total > 0
    gap = np.abs(hits[used] - conf[used]) / total[used]
    return float((gap * total[used]).sum() / total.sum())


def prior_shift(probs: np.ndarray, source: float, target: float) -> np.ndarray:
    """Probabilities learned at prevalence ``source`` moved to prevalence ``target``."""
    ratio = (target / (1 - target)) / (source / (1 - source))
    odds = probs / np.clip(1 - probs, 1e-12, None) * ratio
    return odds / (1 + odds)


def check_prevalence(value: float, where: str = "evaluation.prevalence") -> float:
    """A prevalence lies strictly between 0 and 1."""
    if not 0.0 < float(value) < 1.0:
        raise InputError(f"{where}: expected a positive fraction in (0, 1), got {value!r}")
    return float(value)


def realistic_metrics(
    labels: Any, probs: Any, prevalence: float = 0.01, threshold: float = 0.5, bins: int = 10
) -> dict[str, float]:
    """Metrics as if positives were ``prevalence`` of all pairs, plus ECE at the data's own.

    Returns:
        ``ece`` (as given), and ``realistic_*``: prevalence, aupr, precision,
        recall, f1, mcc, ece (of the prior-shifted probabilities). NaN where
        the labels hold one class.
    """
    check_prevalence(prevalence)
    y, p = check_arrays(labels, probs, 1, 1, "realistic_metrics")
    y = check_binary_labels(y, "realistic_metrics")
    out = {"ece": expected_calibration_error(y, p, bins), "realistic_prevalence": prevalence}
    pos, neg = int(y.sum()), int((1 - y).sum())
    if pos == 0 or neg == 0:
        keys = ("aupr", "precision", "recall", "f1", "mcc", "ece")
        return out | {f"realistic_{k}": NAN for k in keys}
    w = np.where(y == 1, 1.0, pos * (1 - prevalence) / (prevalence * neg))  # (N,)
    shifted = prior_shift(p, pos / (pos + neg), prevalence)
    pred = (shifted >= threshold).astype(np.int64)
    prec, rec, f1, _ = precision_recall_fscore_support(
        y, pred, average="binary", sample_weight=w, zero_division=0
    )
    return out | {
        "realistic_aupr": float(average_precision_score(y, p, sample_weight=w)),
        "realistic_precision": float(prec),
        "realistic_recall": float(rec),
        "realistic_f1": float(f1),
        "realistic_mcc": float(matthews_corrcoef(y, pred, sample_weight=w)),
        "realistic_ece": expected_calibration_error(y, shifted, bins, w),
    }
