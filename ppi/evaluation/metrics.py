"""Evaluation metrics for pair (binary), multiclass and multilabel predictions.

Every function takes true labels and predicted probabilities (sigmoid or
softmax outputs, never logits) and returns a dict of plain Python numbers, so
the result goes straight into JSON. A metric that is undefined for the input,
such as AUROC when the labels hold a single class, is ``float("nan")`` rather
than an exception; :func:`save_metrics` writes it as ``null``.

A prediction counts as positive when its probability is ``>= threshold``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    matthews_corrcoef,
    precision_recall_fscore_support,
    roc_auc_score,
)

from ppi.errors import InputError
from ppi.utils.files import atomic_write

NAN = float("nan")


# -- input checks -----------------------------------------------------------------
def _check_probs(probs: np.ndarray, where: str) -> None:
    """Probabilities must be finite and inside [0, 1]."""
    if not np.all(np.isfinite(probs)):
        raise InputError(f"{where}: expected finite probabilities, got NaN or inf values")
    lo, hi = float(probs.min()), float(probs.max())
    if lo < 0.0 or hi > 1.0:
        raise InputError(
            f"{where}: expected probabilities in [0, 1], got values from {lo:.4g} to {hi:.4g} "
            "(pass sigmoid/softmax outputs, not logits)"
        )


def check_binary_labels(labels: np.ndarray, where: str) -> np.ndarray:
    """Check that every label is 0 or 1 and return them as int64.

    Raises:
        InputError: naming ``where`` and the first bad value.
    """
    bad = ~np.isin(labels, (0, 1))
    if bad.any():
        raise InputError(
            f"{where}: expected labels 0 or 1, got {labels[bad][0].item()!r} "
            f"({int(bad.sum())} bad values)"
        )
    return labels.astype(np.int64)


def check_arrays(
    labels: Any, probs: Any, label_ndim: int, prob_ndim: int, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Turn labels and probs into arrays and check them.

    Args:
        labels: array-like of labels.
        probs: array-like of probabilities, each in [0, 1].
        label_ndim: how many dimensions ``labels`` must have.
        prob_ndim: how many dimensions ``probs`` must have.
        where: the caller's name, for error messages.

    Returns:
        ``(labels, probs)`` as arrays, probs as float64.

    Raises:
        InputError: wrong dimensions, different or zero lengths, or
            probabilities that are not finite or fall outside [0, 1].
    """
    y, p = np.asarray(labels), np.asarray(probs, dtype=np.float64)
    if y.ndim != label_ndim or p.ndim != prob_ndim:
        raise InputError(
            f"{where}: expected labels with {label_ndim} dim(s) and probs with {prob_ndim}, "
            f"got shapes {y.shape} and {p.shape}"
        )
    if y.shape[0] != p.shape[0] or y.shape[0] == 0:
        raise InputError(
            f"{where}: expected the same non-zero number of labels and probs, "
            f"got {y.shape[0]} and {p.shape[0]}"
        )
    _check_probs(p, where)
    return y, p


def check_class_indices(labels: Any, num_classes: int, where: str) -> np.ndarray:
    """Check that ``labels`` is a non-empty ``(N,)`` integer array in ``[0, num_classes)``.

    Raises:
        InputError: naming ``where``, the expected range and what came.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0 or not np.issubdtype(y.dtype, np.integer):
        raise InputError(
            f"{where}: expected non-empty integer class indices (N,), got {y.dtype} {y.shape}"
        )
    if y.min() < 0 or y.max() >= num_classes:
        raise InputError(
            f"{where}: expected class indices in [0, {num_classes}), got {y.min()}..{y.max()}"
        )
    return y.astype(np.int64)


def check_names(class_names: Sequence[str], num_classes: int, where: str) -> list[str]:
    """Return the class names as strings after checking there are ``num_classes``."""
    names = [str(n) for n in class_names]
    if len(names) != num_classes:
        raise InputError(
            f"{where}: expected {num_classes} class names (one per probs column), "
            f"got {len(names)}: {names}"
        )
    return names


# -- single scores that may be undefined ------------------------------------------
def _has_both(y: np.ndarray) -> bool:
    return bool(y.min() != y.max())


def safe_auroc(y: np.ndarray, scores: np.ndarray) -> float:
    """Binary AUROC, or NaN when ``y`` holds a single class."""
    return float(roc_auc_score(y, scores)) if _has_both(y) else NAN


def safe_aupr(y: np.ndarray, scores: np.ndarray) -> float:
    """Average precision, or NaN when ``y`` holds a single class."""
    return float(average_precision_score(y, scores)) if _has_both(y) else NAN


def _nanmean(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return float(np.mean(kept)) if kept else NAN


# -- public metrics ----------------------------------------------------------------
def binary_metrics(labels: Any, probs: Any, threshold: float = 0.5) -> dict[str, float]:
    """Metrics of a binary (interaction / no interaction) prediction.

    Precision, recall and F1 are 0 when their denominator is 0 and MCC is 0
    when undefined (scikit-learn's convention). AUROC and AUPR (average
    precision) are NaN when the labels hold a single class.

    Args:
        labels: ``(N,)`` 0/1 labels.
        probs: ``(N,)`` probabilities of class 1.
        threshold: probability at or above which a prediction is positive.

    Returns:
        accuracy, precision, recall, f1, mcc, auroc, aupr, n, positives,
        positive_fraction and threshold.
    """
    y, p = check_arrays(labels, probs, 1, 1, "binary_metrics")
    y = check_binary_labels(y, "binary_metrics")
    pred = (p >= threshold).astype(np.int64)
    prec, rec, f1, _ = precision_recall_fscore_support(
        y, pred, average="binary", pos_label=1, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "precision": float(prec),
        "recall": float(rec),
        "f1": float(f1),
        "mcc": float(matthews_corrcoef(y, pred)),
        "auroc": safe_auroc(y, p),
        "aupr": safe_aupr(y, p),
        "n": int(y.size),
        "positives": int(y.sum()),
        "positive_fraction": float(y.mean()),
        "threshold": float(threshold),
    }


def multiclass_metrics(labels: Any, probs: Any, class_names: Sequence[str]) -> dict[str, Any]:
    """Metrics of a single-label prediction over C classes (argmax decides).

    ``auroc`` is the one-vs-rest AUROC averaged over the classes that occur and
    do not fill the whole set (NaN if none); for C == 2 it is the binary AUROC
    of class 1. Per-class scores with no support are 0.

    Args:
        labels: ``(N,)`` integer class indices in ``[0, C)``.
        probs: ``(N, C)`` class probabilities.
        class_names: C names, in column order.

    Returns:
        accuracy, macro_f1, mcc, auroc, n, num_classes and ``per_class``:
        ``{name: {precision, recall, f1, support}}``.
    """
    where = "multiclass_metrics"
    y, p = check_arrays(labels, probs, 1, 2, where)
    names = check_names(class_names, p.shape[1], where)
    y = check_class_indices(y, p.shape[1], where)
    classes = list(range(p.shape[1]))
    pred = p.argmax(axis=1)
    prec, rec, f1, support = precision_recall_fscore_support(
        y, pred, labels=classes, zero_division=0
    )
    if len(classes) == 2:
        auroc = safe_auroc(y, p[:, 1])
    else:
        auroc = _nanmean([safe_auroc((y == c).astype(np.int64), p[:, c]) for c in classes])
    per_class = {
        name: {
            "precision": float(prec[c]),
            "recall": float(rec[c]),
            "f1": float(f1[c]),
            "support": int(support[c]),
        }
        for c, name in enumerate(names)
    }
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(np.mean(f1)),
        "mcc": float(matthews_corrcoef(y, pred)),
        "auroc": auroc,
        "n": int(y.size),
        "num_classes": len(classes),
        "per_class": per_class,
    }


def multilabel_metrics(
    labels: Any, probs: Any, class_names: Sequence[str], threshold: float = 0.5
) -> dict[str, Any]:
    """Metrics of a multilabel prediction (each of C classes is its own yes/no).

    F1 scores cover every class (a class with no positives and no predicted
    positives scores 0). ``auroc_macro`` and ``aupr_macro`` average over the
    classes whose column holds both 0 and 1; they are NaN if there is none.

    Args:
        labels: ``(N, C)`` 0/1 labels.
        probs: ``(N, C)`` per-class probabilities.
        class_names: C names, in column order.
        threshold: probability at or above which a class is predicted.

    Returns:
        micro_f1, macro_f1, auroc_macro, aupr_macro, subset_accuracy, n,
        num_classes, threshold and ``per_class``: ``{name: {aupr, auroc,
        positives}}`` (NaN scores for single-class columns).
    """
    where = "multilabel_metrics"
    y, p = check_arrays(labels, probs, 2, 2, where)
    if y.shape != p.shape:
        raise InputError(
            f"{where}: expected labels and probs of one shape, got {y.shape} and {p.shape}"
        )
    y = check_binary_labels(y, where)
    names = check_names(class_names, p.shape[1], where)
    pred = (p >= threshold).astype(np.int64)
    auroc = [safe_auroc(y[:, c], p[:, c]) for c in range(len(names))]
    aupr = [safe_aupr(y[:, c], p[:, c]) for c in range(len(names))]
    per_class = {
        name: {"aupr": aupr[c], "auroc": auroc[c], "positives": int(y[:, c].sum())}
        for c, name in enumerate(names)
    }
    return {
        "micro_f1": float(f1_score(y, pred, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        "auroc_macro": _nanmean(auroc),
        "aupr_macro": _nanmean(aupr),
        "subset_accuracy": float(np.all(y == pred, axis=1).mean()),
        "n": int(y.shape[0]),
        "num_classes": len(names),
        "threshold": float(threshold),
        "per_class": per_class,
    }


# -- saving -----------------------------------------------------------------------
def to_json_ready(value: Any) -> Any:
    """Copy of ``value`` with numpy types made plain and NaN/inf made ``None``."""
    if isinstance(value, dict):
        return {str(k): to_json_ready(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return to_json_ready(value.tolist())
    if isinstance(value, (list, tuple)):
        return [to_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_metrics(metrics: dict[str, Any], path: str | Path) -> None:
    """Write metrics as JSON (sorted keys, indent 2, NaN as ``null``), atomically."""
    text = json.dumps(to_json_ready(metrics), sort_keys=True, indent=2, allow_nan=False)
    atomic_write(path, (text + "\n").encode())


def load_metrics(path: str | Path) -> dict[str, Any]:
    """Read a metrics JSON file; a missing file is an empty dict.

    Raises:
        InputError: the file exists but is not a JSON object.
    """
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: expected a JSON object of metrics, got invalid JSON ({exc})"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object of metrics, got {type(data).__name__}")
    return data
