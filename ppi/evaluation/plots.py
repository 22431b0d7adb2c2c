"""Evaluation plots and the report written after a validation or test pass.

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas and
never through ``pyplot``, so this module neither changes the backend a user has
chosen nor keeps figures alive in pyplot's global state. Every file is written
atomically (temporary file in the same folder, then ``os.replace``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve

from ppi.errors import ConfigError, InputError
from ppi.evaluation.metrics import (
    binary_metrics,
    check_arrays,
    check_binary_labels,
    check_class_indices,
    check_names,
    load_metrics,
    multiclass_metrics,
    multilabel_metrics,
    safe_aupr,
    safe_auroc,
    save_metrics,
)
from ppi.utils.files import atomic_write

#: above this many classes ROC and PR plots show only the micro-average curve
MAX_CURVES = 10
#: above this many classes the confusion matrix cells are not annotated
MAX_ANNOTATED = 20
DPI = 120
MICRO = "micro-average"
TASKS = ("pair", "single")
PAIR_CLASS_NAMES = ("no interaction", "interaction")


def _save(fig: Figure, path: str | Path) -> None:
    """Render ``fig`` to PNG with the Agg canvas and write it atomically."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    atomic_write(path, buf.getvalue())


def _curves(
    labels: Any, probs: Any, class_names: Sequence[str] | None, where: str
) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], float, str]:
    """The (name, 0/1 labels, scores) of each curve to draw, the chance rate and a note.

    A 1-D ``probs`` gives one binary curve. A 2-D ``probs`` with integer labels
    ``(N,)`` (multiclass) or 0/1 labels ``(N, C)`` (multilabel) gives one
    one-vs-rest curve per class plus the micro-average; with more than
    :data:`MAX_CURVES` classes only the micro-average. Single-class curves are
    undefined: they are left out and named in the note (the legend title).
    """
    y = np.asarray(labels)
    if np.asarray(probs).ndim == 1:
        y, p = check_arrays(y, probs, 1, 1, where)
        y = check_binary_labels(y, where)
        kept = [("", y, p)] if y.min() != y.max() else []
        return kept, float(y.mean()), ""
    y, p = check_arrays(y, probs, y.ndim, 2, where)
    if y.ndim == 1:
        y = check_class_indices(y, p.shape[1], where)
        y = np.eye(p.shape[1], dtype=np.int64)[y]  # (N,) -> (N, C) one-hot
    y = check_binary_labels(y, where)
    names = check_names(class_names or [f"class {c}" for c in range(p.shape[1])], p.shape[1], where)
    curves = [(MICRO, y.ravel(), p.ravel())]
    note = ""
    if len(names) <= MAX_CURVES:
        curves += [(name, y[:, c], p[:, c]) for c, name in enumerate(names)]
    else:
        note = f"per-class curves omitted ({len(names)} classes)"
    kept = [c for c in curves if c[1].min() != c[1].max()]
    dropped = [c[0] for c in curves if c[1].min() == c[1].max()]
    if dropped:
        note = ", ".join(filter(None, [note, f"not drawn (single class): {', '.join(dropped)}"]))
    return kept, float(y.mean()), note


def _no_curve(ax: Any, what: str) -> None:
    ax.text(0.5, 0.5, f"{what} undefined:\nlabels hold a single class", ha="center", va="center")


def _line_style(name: str, metric: str, value: float) -> dict[str, Any]:
    """Legend label and style of one curve; the micro-average is drawn black, on top."""
    label = f"{name} ({metric} = {value:.3f})" if name else f"{metric} = {value:.3f}"
    if name == MICRO:
        return {"label": label, "color": "black", "lw": 2.2, "zorder": 3}
    return {"label": label, "lw": 1.8 if not name else 1.4}


def _curve_axes(num_curves: int) -> tuple[Figure, Any]:
    """Square axes; room below them for the legend when there are several curves."""
    extra = 0.0 if num_curves <= 1 else 0.5 + 0.2 * (num_curves + 1)
    fig = Figure(figsize=(5.5, 5.5 + extra), layout="constrained")
    return fig, fig.add_subplot()


def _finish_curves(ax: Any, labels: tuple[str, str, str], note: str, num: int, loc: str) -> None:
    """Unit axes, labels ``(x, y, title)`` and the legend (inside at ``loc`` for one curve)."""
    xlabel, ylabel, title = labels
    style = {"fontsize": "small", "title": note or None, "title_fontsize": "small"}
    if num <= 1:
        ax.legend(loc=loc, **style)
    else:
        ax.figure.legend(*ax.get_legend_handles_labels(), loc="outside lower center", **style)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)


def plot_roc(
    labels: Any,
    probs: Any,
    path: str | Path,
    title: str | None = None,
    class_names: Sequence[str] | None = None,
) -> None:
    """ROC curve(s) with the chance diagonal and the AUROC in the legend.

    Args:
        labels: ``(N,)`` 0/1 labels with ``(N,)`` probs (binary), ``(N,)``
            class indices with ``(N, C)`` probs (multiclass, one-vs-rest), or
            ``(N, C)`` 0/1 labels (multilabel).
        probs: probabilities, ``(N,)`` or ``(N, C)``.
        path: PNG file to write.
        title: figure title; defaults to "ROC curve".
        class_names: C names for the 2-D case.
    """
    curves, _, note = _curves(labels, probs, class_names, "plot_roc")
    fig, ax = _curve_axes(len(curves))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance (AUROC = 0.500)")
    for name, y, p in curves:
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, **_line_style(name, "AUROC", safe_auroc(y, p)))
    if not curves:
        _no_curve(ax, "ROC")
    names = ("False positive rate", "True positive rate", title or "ROC curve")
    _finish_curves(ax, names, note, len(curves), "lower right")
    _save(fig, path)


def plot_pr(
    labels: Any,
    probs: Any,
    path: str | Path,
    title: str | None = None,
    class_names: Sequence[str] | None = None,
) -> None:
    """Precision-recall curve(s) with the chance line and the AUPR in the legend.

    The chance line is the positive fraction (of all label cells for the 2-D
    case, which is the baseline of the micro-average curve). AUPR is the
    average precision. Arguments are as for :func:`plot_roc`.
    """
    curves, chance, note = _curves(labels, probs, class_names, "plot_pr")
    fig, ax = _curve_axes(len(curves))
    which = "chance" if np.asarray(probs).ndim == 1 else f"chance, {MICRO}"
    ax.axhline(
        chance, ls="--", color="grey", lw=1, label=f"{which} (positive fraction = {chance:.3f})"
    )
    for name, y, p in curves:
        precision, recall, _ = precision_recall_curve(y, p)
        style = _line_style(name, "AUPR", safe_aupr(y, p))
        ax.plot(recall, precision, drawstyle="steps-post", **style)
    if not curves:
        _no_curve(ax, "PR curve")
    names = ("Recall", "Precision", title or "Precision-recall curve")
    _finish_curves(ax, names, note, len(curves), "lower left")
    _save(fig, path)


def plot_confusion(
    labels: Any,
    preds: Any,
    class_names: Sequence[str],
    path: str | Path,
    title: str | None = None,
) -> None:
    """Confusion matrix coloured by row-normalised fraction, cells annotated.

    Each cell shows its count and, in brackets, its fraction of the true
    class (the row). Cells are not annotated above :data:`MAX_ANNOTATED` classes.

    Args:
        labels: ``(N,)`` true class indices in ``[0, C)``.
        preds: ``(N,)`` predicted class indices in ``[0, C)``.
        class_names: C names, in index order.
        path: PNG file to write.
        title: figure title; defaults to "Confusion matrix (n = N)".
    """
    num = len(class_names)
    y = check_class_indices(labels, num, "plot_confusion (labels)")
    pred = check_class_indices(preds, num, "plot_confusion (preds)")
    if pred.shape != y.shape:
        raise InputError(
            f"plot_confusion: expected as many preds as labels, got {pred.shape} and {y.shape}"
        )
    counts = confusion_matrix(y, pred, labels=list(range(num)))
    totals = counts.sum(axis=1, keepdims=True)
    frac = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    side = max(4.5, 0.6 * num + 2.5)
    fig = Figure(figsize=(side + 1.0, side), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of true class")
    if num <= MAX_ANNOTATED:
        _annotate_cells(ax, counts, frac)
    ticks = np.arange(num)
    names = [str(n) for n in class_names]
    tilt = {"rotation": 30, "ha": "right"} if num > 2 else {}
    ax.set_xticks(ticks, names, **tilt)
    ax.set_yticks(ticks, names)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    ax.set_title(title or f"Confusion matrix (n = {y.size})")
    _save(fig, path)


def _annotate_cells(ax: Any, counts: np.ndarray, frac: np.ndarray) -> None:
    for (row, col), count in np.ndenumerate(counts):
        colour = "white" if frac[row, col] > 0.5 else "black"
        text = f"{count}\n({frac[row, col]:.2f})"
        ax.text(col, row, text, ha="center", va="center", color=colour, fontsize="small")


def _series(history: Sequence[Mapping[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, values) of ``key``; NaN where an epoch lacks a finite number for it."""
    xs = np.array([float(entry.get("epoch", i + 1)) for i, entry in enumerate(history)])
    ys = np.full(len(history), np.nan)
    for i, entry in enumerate(history):
        value = entry.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            ys[i] = float(value)
    return xs, np.where(np.isfinite(ys), ys, np.nan)


def _has_values(history: Sequence[Mapping[str, Any]], key: str) -> bool:
    return bool(np.isfinite(_series(history, key)[1]).any())


def plot_history(history: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    """Loss curves and, on a second panel, the ``valid_*`` metrics per epoch.

    Keys ending in ``loss`` go on the loss panel; other keys starting with
    ``valid_`` on the metric panel. An epoch missing a key (or holding NaN or
    ``None``) leaves a gap in that curve; the x value is ``epoch`` when present,
    else the 1-based position.

    Raises:
        InputError: ``history`` is empty, holds a non-mapping, or has no loss
            or ``valid_*`` number anywhere.
    """
    if not history or not all(isinstance(e, Mapping) for e in history):
        raise InputError(
            f"plot_history: expected a non-empty list of per-epoch dicts, got {history!r:.80}"
        )
    keys = list(dict.fromkeys(k for entry in history for k in entry))
    loss_keys = [k for k in keys if k.endswith("loss") and _has_values(history, k)]
    metric_keys = [
        k for k in keys if k.startswith("valid_") and k not in loss_keys and _has_values(history, k)
    ]
    if not loss_keys and not metric_keys:
        raise InputError(f"plot_history: expected '*loss' or 'valid_*' numbers, got keys {keys}")
    panels = [("loss", loss_keys), ("validation metric", metric_keys)]
    panels = [(name, ks) for name, ks in panels if ks]
    fig = Figure(figsize=(5.0 * len(panels), 4.2), layout="constrained")
    marker = "o" if len(history) <= 30 else None
    for i, (ylabel, panel_keys) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for key in panel_keys:
            ax.plot(*_series(history, key), marker=marker, ms=3, label=key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title("Losses" if ylabel == "loss" else "Validation metrics")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    _save(fig, path)


def plot_class_aupr(
    labels: Any, probs: Any, class_names: Sequence[str], path: str | Path, title: str | None = None
) -> None:
    """Horizontal bars of per-class AUPR, with each class's chance level marked.

    Args:
        labels: ``(N, C)`` 0/1 multilabel labels.
        probs: ``(N, C)`` per-class probabilities.
        class_names: C names, in column order.
        path: PNG file to write.
        title: figure title; defaults to "Per-class AUPR".
    """
    y, p = check_arrays(labels, probs, 2, 2, "plot_class_aupr")
    y = check_binary_labels(y, "plot_class_aupr")
    names = check_names(class_names, p.shape[1], "plot_class_aupr")
    aupr = np.array([safe_aupr(y[:, c], p[:, c]) for c in range(len(names))])
    rows = np.arange(len(names))
    known = ~np.isnan(aupr)
    fig = Figure(figsize=(6.5, max(3.0, 0.35 * len(names) + 1.8)), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(rows[known], aupr[known], color="tab:blue", alpha=0.85, label="AUPR")
    chance = y.mean(axis=0)[known]
    ax.scatter(chance, rows[known], marker="|", s=250, color="black", zorder=3, label="chance")
    for row in rows:
        text = f"{aupr[row]:.3f}" if known[row] else "n/a (labels hold a single class)"
        ax.text(aupr[row] + 0.01 if known[row] else 0.01, row, text, va="center", fontsize="small")
    ax.set_yticks(rows, names)
    ax.set_ylim(len(names) - 0.5, -0.5)  # first class on top
    ax.set_xlim(0.0, 1.12)
    ax.set_xticks(np.linspace(0.0, 1.0, 6))
    ax.set_xlabel("AUPR (average precision); chance = positive fraction of the class")
    ax.set_title(title or "Per-class AUPR")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize="small")
    ax.grid(axis="x", alpha=0.3)
    _save(fig, path)


# -- the report ---------------------------------------------------------------------
def write_report(
    run_dir: str | Path,
    task: str,
    labels: Any,
    probs: Any,
    history: Sequence[Mapping[str, Any]] | None = None,
    class_names: Sequence[str] | None = None,
    prefix: str = "test",
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Compute the metrics of one evaluation split and write them with their plots.

    ``metrics.json`` in ``run_dir`` gets ``{prefix: metrics}`` merged into what
    it already holds, so ``valid`` and ``test`` reports share one file. PNGs:
    ``<prefix>_roc.png``, ``<prefix>_pr.png``, then ``<prefix>_confusion.png``
    (pair and multiclass) or ``<prefix>_class_aupr.png`` (multilabel), and
    ``loss_curves.png`` when ``history`` is given.

    Args:
        run_dir: folder of the run (created if missing).
        task: ``pair`` (binary, ``(N,)`` labels and probs) or ``single``
            (multiclass with ``(N,)`` integer labels and ``(N, C)`` probs,
            multilabel with ``(N, C)`` 0/1 labels).
        labels: true labels, as above.
        probs: predicted probabilities, as above.
        history: per-epoch dicts for :func:`plot_history`.
        class_names: names of the classes; defaults to "no interaction" /
            "interaction" for pairs and "class <i>" otherwise.
        prefix: name of the split, used as the JSON key and file prefix.
        threshold: decision threshold for pair and multilabel predictions.

    Returns:
        The metrics dict (NaN where undefined; ``null`` in the JSON).
    """
    if task not in TASKS:
        raise ConfigError(f"write_report: unknown task '{task}' (choices: {', '.join(TASKS)})")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", prefix):
        raise InputError(
            f"write_report: expected a prefix of letters, digits, '_', '.', '-', got '{prefix}'"
        )
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    y, p = np.asarray(labels), np.asarray(probs)
    metrics, names, kind = _split_metrics(task, y, p, class_names, threshold)
    _plot_split(run_dir, prefix, kind, y, p, names, threshold)
    if history is not None:
        plot_history(history, run_dir / "loss_curves.png")
    merged = load_metrics(run_dir / "metrics.json")  # read-modify-write: main process only
    merged[prefix] = metrics
    save_metrics(merged, run_dir / "metrics.json")
    return metrics


def _split_metrics(
    task: str, y: np.ndarray, p: np.ndarray, class_names: Sequence[str] | None, threshold: float
) -> tuple[dict[str, Any], list[str], str]:
    """The metrics, the class names and the kind: ``binary``, ``multiclass`` or ``multilabel``."""
    if task == "pair":
        names = check_names(class_names or PAIR_CLASS_NAMES, 2, "write_report (pair)")
        return binary_metrics(y, p, threshold), names, "binary"
    if p.ndim != 2:
        raise InputError(f"write_report (single): expected probs (N, C), got shape {p.shape}")
    names = check_names(
        class_names or [f"class {c}" for c in range(p.shape[1])], p.shape[1], "write_report"
    )
    if y.ndim == 1:
        return multiclass_metrics(y, p, names), names, "multiclass"
    return multilabel_metrics(y, p, names, threshold), names, "multilabel"


def _plot_split(
    run_dir: Path,
    prefix: str,
    kind: str,
    y: np.ndarray,
    p: np.ndarray,
    names: list[str],
    threshold: float,
) -> None:
    """ROC, PR and the confusion matrix (or per-class AUPR) of one checked split."""
    n = y.shape[0]
    curve_names = None if kind == "binary" else names
    plot_roc(y, p, run_dir / f"{prefix}_roc.png", f"{prefix}: ROC (n = {n})", curve_names)
    title = f"{prefix}: precision-recall (n = {n})"
    plot_pr(y, p, run_dir / f"{prefix}_pr.png", title, curve_names)
    if kind == "multilabel":
        title = f"{prefix}: per-class AUPR (n = {n})"
        plot_class_aupr(y, p, names, run_dir / f"{prefix}_class_aupr.png", title)
        return
    if kind == "multiclass":
        preds, title = p.argmax(axis=1), f"{prefix}: confusion (n = {n})"
    else:
        preds = (p >= threshold).astype(np.int64)
        title = f"{prefix}: confusion at threshold {threshold:g} (n = {n})"
    plot_confusion(y.astype(np.int64), preds, names, run_dir / f"{prefix}_confusion.png", title)
