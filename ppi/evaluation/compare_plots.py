"""Plots comparing a model with its baselines, and bar charts of ablations and trials.

Built like :mod:`ppi.evaluation.plots`: a :class:`~matplotlib.figure.Figure` on the Agg
canvas, written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve

from ppi.evaluation.metrics import safe_aupr
from ppi.evaluation.plots import _save


def plot_pr_compare(labels: np.ndarray, scores: Mapping[str, np.ndarray], path: Path, title: str):
    """Precision-recall curves of several predictors on one labelled set."""
    fig = Figure(figsize=(5.5, 5.5), layout="constrained")
    ax = fig.add_subplot()
    ax.axhline(labels.mean(), ls="--", color="grey", lw=1, label=f"chance ({labels.mean():.3f})")
    for name, p in scores.items():
        if labels.min() == labels.max():
            continue
        precision, recall, _ = precision_recall_curve(labels, p)
        label = f"{name} (AUPR = {safe_aupr(labels, p):.3f})"
        ax.plot(recall, precision, drawstyle="steps-post", label=label)
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel="Recall", ylabel="Precision")
    ax.set_title(title)
    ax.legend(fontsize="small", loc="upper right")
    _save(fig, path)


def plot_reliability(
    labels: np.ndarray, scores: Mapping[str, np.ndarray], path: Path, title: str, bins: int = 10
):
    """Reliability diagram: observed positive rate against mean predicted probability per bin."""
    fig = Figure(figsize=(5.5, 5.5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    for name, p in scores.items():
        which = np.minimum((p * bins).astype(int), bins - 1)  # (N,) bin of each prediction
        count = np.bincount(which, minlength=bins)
        used = count > 0
        conf = np.bincount(which, p, bins)[used] / count[used]
        rate = np.bincount(which, labels.astype(float), bins)[used] / count[used]
        ax.plot(conf, rate, marker="o", label=name)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="Mean predicted probability", ylabel="Positive rate")
    ax.set_title(title)
    ax.legend(fontsize="small", loc="upper left")
    _save(fig, path)


def plot_bars(
    names: Sequence[str],
    means: Sequence[float],
    spreads: Sequence[float],
    path: Path,
    ylabel: str,
    title: str,
):
    """One bar per configuration with its spread as an error bar."""
    fig = Figure(figsize=(max(4.5, 1.1 * len(names) + 2), 4.5), layout="constrained")
    ax = fig.add_subplot()
    pos = np.arange(len(names))
    ax.bar(pos, means, yerr=spreads, capsize=4, color="tab:blue", alpha=0.8)
    for x, m in zip(pos, means, strict=True):
        ax.text(x, m, f"{m:.3f}", ha="center", va="bottom", fontsize="small")
    ax.set_xticks(pos, list(names), rotation=20, ha="right")
    ax.set(ylabel=ylabel, title=title)
    _save(fig, path)


def plot_trials(rows: Sequence[Mapping], path: Path):
    """Each trial's objective (pruned ones at their last report) and the best so far."""
    fig = Figure(figsize=(6, 4.5), layout="constrained")
    ax = fig.add_subplot()
    colours = {"COMPLETE": "tab:blue", "PRUNED": "tab:orange", "FAIL": "tab:red"}
    best, xs, ys = float("-inf"), [], []
    for row in rows:
        if row["value"] is None:
            continue
        ax.scatter(row["trial"], row["value"], color=colours.get(row["state"], "grey"))
        if row["state"] == "COMPLETE":
            best = max(best, row["value"])
            xs.append(row["trial"])
            ys.append(best)
    ax.plot(xs, ys, drawstyle="steps-post", color="black", lw=1, label="best so far")
    for state, colour in colours.items():
        ax.scatter([], [], color=colour, label=state.lower())
    ax.set(xlabel="trial", ylabel="validation AUPR", title="Hyperparameter search")
    ax.legend(fontsize="small")
    _save(fig, path)
