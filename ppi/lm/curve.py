"""A learning curve over data: ``ppi pretrain`` folders that learned from shares of one split.

Each folder is a run with its own ``pretrain.train_share`` on the same
held-out proteins (the same ``split.json``). Its held-out perplexity ratio is
measured again on its weights, as ``ppi pretrain`` measures it, and the
ratios are fitted with a straight line in the logarithm of the training
proteins. The line says how much one doubling of the training set lowers the
ratio, and how many proteins it would take to reach a target at that pace:
an extrapolation, which real curves bend away from (they flatten), so it is a
lower bound on what the target needs rather than a forecast.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ppi.errors import InputError
from ppi.lm import pretrain as pt
from ppi.lm.folder import CONFIG, read_json
from ppi.lm.pretrain_data import SPLIT


@dataclass(frozen=True)
class Point:
    """One run: the proteins it learned from, its compute and its held-out figures."""

    folder: str
    proteins: int
    share: float
    epochs: int
    perplexity_ratio: float
    heldout_perplexity: float
    unigram_perplexity: float


def measure(folders: list[str | Path], dumps: list[str]) -> list[Point]:
    """Each folder's held-out figures, measured now; the folders must share one held-out set.

    The splits are compared before any folder is measured, so a wrong folder
    is refused at once.
    """
    held = None
    for folder in map(Path, folders):
        split = folder / SPLIT
        if not split.is_file():
            raise InputError(f"{folder}: expected a ppi pretrain folder with {SPLIT}, found none")
        these = json.loads(split.read_text())["held_out"]
        if held is None:
            held, first = these, folder
        elif these != held:
            raise InputError(
                f"{folder}: its held-out proteins differ from those of {first}; "
                "a learning curve compares runs on one split (same dumps, heldout, seed)"
            )
    points = []
    for folder in map(Path, folders):
        settings = read_json(folder / CONFIG)["pretrain"]
        fig = pt.evaluate_folder(folder, dumps, annotations=False)
        points.append(
            Point(
                str(folder),
                fig["training_sequences"],
                float(settings.get("train_share", 1.0)),
                int(settings["epochs"]),
                fig["perplexity_ratio"],
                fig["heldout_perplexity"],
                fig["unigram_perplexity"],
            )
        )
    return sorted(points, key=lambda p: p.proteins)


@dataclass(frozen=True)
class Fit:
    """``ratio = intercept + per_doubling * log2(proteins)``; proteins that reach ``target``."""

    per_doubling: float
    intercept: float
    target: float
    proteins_for_target: float | None

    def ratio_at(self, proteins: float) -> float:
        """The line's ratio at ``proteins`` training proteins."""
        return self.intercept + self.per_doubling * math.log2(proteins)


def fit(points: list[Point], target: float) -> Fit:
    """Least squares over the points; ``proteins_for_target`` is None when the line does not fall.

    Raises:
        InputError: fewer than two distinct training-set sizes.
    """
    x = np.log2([p.proteins for p in points])
    if len(set(x.tolist())) < 2:
        raise InputError(
            f"a learning curve needs runs on at least 2 training-set sizes, got "
            f"{sorted({p.proteins for p in points})} (set pretrain.train_share)"
        )
    slope, intercept = np.polyfit(x, [p.perplexity_ratio for p in points], 1)
    needed = 2 ** ((target - intercept) / slope) if slope < 0 else None
    return Fit(float(slope), float(intercept), target, needed)


def plot(points: list[Point], line: Fit, path: str | Path) -> None:
    """The ratios against the training proteins (log scale), the line and the target."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    n = [p.proteins for p in points]
    ax.plot(n, [p.perplexity_ratio for p in points], "o", label="held-out ratio (measured)")
    end = max(n) * 4
    if line.proteins_for_target is not None:
        end = max(end, min(line.proteins_for_target, max(n) * 1e4))
    xs = np.geomspace(min(n), end, 50)
    ax.plot(
        xs, [line.ratio_at(v) for v in xs], "--", label=f"fit: {line.per_doubling:+.4f} a doubling"
    )
    ax.axhline(line.target, color="grey", lw=1, label=f"target {line.target}")
    ax.set_xscale("log")
    ax.set_xlabel("training proteins")
    ax.set_ylabel("held-out perplexity / unigram")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
