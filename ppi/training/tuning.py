"""Hyperparameter search with Optuna over a shared storage, pruning bad trials early.

Each trial samples config overrides from a search space, trains with them
(``ppi.training.loop.train``) and reports the validation AUPR after every epoch to
Optuna's pruner, which stops trials that trail the others. The study lives in
an Optuna storage URL (SQLite in the output folder by default; a PostgreSQL
or MySQL URL lets several machines work on one study). Failed or killed
trials are retried once their heartbeat stops.

A search space is a mapping ``key -> spec`` where ``key`` is a config key
(``fusion.dim``) or ``channels`` (a set of channels), and ``spec`` is a list
of choices or ``{low, high, log, int}``. The default space
(:func:`default_space`) covers backbone choice, width, depth, heads, dropout,
learning rate and channel set.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ppi.config.run import Config, dump_config, load_config, one_model
from ppi.errors import InputError
from ppi.utils.files import atomic_write_text

SCRATCH_ONLY = ("backbone.dim", "backbone.layers")


def default_space(backbones: Sequence[str], channels: Sequence[str]) -> dict[str, Any]:
    """Backbone, widths, depths, heads, dropout, learning rate and channel sets."""
    subsets = [
        "+".join(c)
        for k in range(len(channels), 0, -1)
        for c in itertools.combinations(channels, k)
    ]
    return {
        "backbone.name": list(backbones),
        "backbone.dim": [32, 64, 128],
        "backbone.layers": {"low": 1, "high": 3, "int": True},
        "fusion.dim": [32, 64, 128],
        "fusion.heads": [2, 4],
        "fusion.encoder_layers": {"low": 1, "high": 2, "int": True},
        "fusion.pair_layers": {"low": 1, "high": 2, "int": True},
        "fusion.dropout": {"low": 0.0, "high": 0.3},
        "train.lr": {"low": 1e-4, "high": 3e-3, "log": True},
        "channels": subsets,
    }


def check_space(space: Any, where: str) -> dict[str, Any]:
    """A space must map keys to a non-empty list or a ``{low, high}`` range."""
    if not isinstance(space, dict) or not space:
        raise InputError(f"{where}: expected a mapping of config keys to choices or ranges")
    for key, spec in space.items():
        ok_list = isinstance(spec, list) and spec
        ok_range = isinstance(spec, dict) and {"low", "high"} <= set(spec)
        if not (ok_list or ok_range):
            raise InputError(
                f"{where}: key '{key}': expected a list of choices or {{low, high}}, got {spec!r}"
            )
        if ok_range and not spec["low"] < spec["high"]:
            raise InputError(f"{where}: key '{key}': expected low < high, got {spec!r}")
    return space


def sample(trial, space: dict[str, Any]) -> list[str]:
    """Draw one value per key from ``trial``; returns ``key=value`` overrides."""
    out = []
    backbone = None
    for key, spec in space.items():
        if key in SCRATCH_ONLY and backbone not in (None, "scratch"):
            continue  # widths of the from-scratch transformer only
        if isinstance(spec, list):
            value = trial.suggest_categorical(key, spec)
        elif spec.get("int"):
            value = trial.suggest_int(
                key, int(spec["low"]), int(spec["high"]), log=spec.get("log", False)
            )
        else:
            value = trial.suggest_float(key, spec["low"], spec["high"], log=spec.get("log", False))
        if key == "backbone.name":
            backbone = value
        out.extend(_channel_overrides(value) if key == "channels" else [f"{key}={value}"])
    return out


def _channel_overrides(value: str) -> list[str]:
    from ppi.channels import CHANNELS

    chosen = set(value.split("+"))
    return [f"channels.{n}.enabled={str(n in chosen).lower()}" for n in CHANNELS.names()]


def trial_config(
    base_file: str | None, overrides: list[str], sampled: list[str], name: str, out: Path
) -> Config:
    """The config of one trial: the base, then the sampled values, in its own run folder.

    One model unless ``train.members`` is set: pruning reads one model's epochs.
    """
    extra = [f"output_dir={out / 'trials'}", f"run_name={name}", "resume="]
    return one_model(load_config(base_file, [*overrides, *sampled, *extra]))


def write_results(study, out: Path, best: Config | None) -> list[dict]:
    """``trials.csv``, ``best_config.yaml``, ``tune.md`` and ``tune.png``; returns the rows."""
    from ppi.evaluation.compare_plots import plot_trials

    rows = [
        {"trial": t.number, "state": t.state.name, "value": _value(t), **t.params}
        for t in study.trials
    ]
    keys = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "trials.csv", buf.getvalue())
    if best is not None:
        atomic_write_text(out / "best_config.yaml", dump_config(best))
    atomic_write_text(out / "tune.md", _markdown(study, rows))
    plot_trials(rows, out / "tune.png")
    return rows


def _value(trial) -> float | None:
    """The objective, or for a pruned trial the last validation score it reported."""
    if trial.value is not None:
        return trial.value
    steps = trial.intermediate_values
    return steps[max(steps)] if steps else None


def _markdown(study, rows: list[dict]) -> str:
    done = [r for r in rows if r["state"] == "COMPLETE"]
    lines = [f"# Hyperparameter search: {study.study_name}", ""]
    lines.append(
        f"{len(rows)} trials: {len(done)} complete, "
        f"{sum(r['state'] == 'PRUNED' for r in rows)} pruned, "
        f"{sum(r['state'] == 'FAIL' for r in rows)} failed. Objective: best validation AUPR."
    )
    if done:
        best = max(done, key=lambda r: r["value"])
        lines += [
            "",
            f"Best: trial {best['trial']}, validation AUPR {best['value']:.4f}; "
            "config in [best_config.yaml](best_config.yaml).",
        ]
    keys = [k for k in rows[0] if k not in ("trial", "state", "value")] if rows else []
    head = ["trial", "state", "valid AUPR", *keys]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        value = "" if r["value"] is None else f"{r['value']:.4f}"
        cells = [str(r["trial"]), r["state"], value, *(_cell(r.get(k)) for k in keys)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "![trials](tune.png)", "All trials: [trials.csv](trials.csv)"]
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
