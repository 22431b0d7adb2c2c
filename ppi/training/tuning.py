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
#: the keys of a ``{low, high}`` range
RANGE_KEYS = ("low", "high", "log", "int")


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
    """A space must map keys to a non-empty list of plain values or a ``{low, high}`` range."""
    if not isinstance(space, dict) or not space:
        raise InputError(f"{where}: expected a mapping of config keys to choices or ranges")
    for key, spec in space.items():
        ok_list = isinstance(spec, list) and spec
        ok_range = isinstance(spec, dict) and {"low", "high"} <= set(spec)
        if not (ok_list or ok_range):
            raise InputError(
                f"{where}: key '{key}': expected a list of choices or {{low, high}}, got {spec!r}"
            )
        problem = _range_problem(spec) if ok_range else _choices_problem(spec)
        if problem:
            raise InputError(f"{where}: key '{key}': {problem}, got {spec!r}")
    return space


def _range_problem(spec: dict[str, Any]) -> str | None:
    unknown = sorted(set(spec) - set(RANGE_KEYS), key=str)
    if unknown:
        return f"expected only {', '.join(RANGE_KEYS)} in a range, not '{unknown[0]}'"
    if not all(_is_number(spec[k]) for k in ("low", "high")):
        return "expected numbers for low and high"
    if not all(isinstance(spec.get(k, False), bool) for k in ("log", "int")):
        return "expected true or false for log and int"
    if not spec["low"] < spec["high"]:
        return "expected low < high"
    if spec.get("log") and spec["low"] <= 0:
        return "expected low > 0 with log: true"
    if spec.get("int") and not all(float(spec[k]).is_integer() for k in ("low", "high")):
        return "expected whole numbers for low and high with int: true"
    return None


def _choices_problem(spec: list) -> str | None:
    if all(v is None or isinstance(v, (bool, int, float, str)) for v in spec):
        return None
    return "expected choices that are numbers, strings, true, false or null"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_values(
    space: dict[str, Any], where: str, base_file: str | None, overrides: list[str]
) -> None:
    """Build the config of trials that draw each choice and range end of the space.

    Every other key takes its first choice (or ``low``). An unknown key, a
    value the config refuses, or a float range of a whole-number setting
    (without ``int: true``) stops the search here, before its first trial.
    The caller has loaded the base config (``base_file`` with ``overrides``)
    already, so an error here is the space's and names its key.
    """
    from optuna.trial import FixedTrial

    firsts = {k: _ends(spec)[0] for k, spec in space.items()}
    for key, spec in space.items():
        for value in _ends(spec):
            params = {**firsts, key: value}
            if key in SCRATCH_ONLY and "scratch" in space.get("backbone.name", ()):
                params["backbone.name"] = "scratch"  # where these keys are drawn
            try:
                config = load_config(base_file, [*overrides, *sample(FixedTrial(params), space)])
            except ValueError as exc:  # the config's InputError, or Optuna's on a range
                raise InputError(f"{where}: key '{key}' = {value!r}: {exc}") from None
            if isinstance(spec, dict) and not spec.get("int") and _whole(config, key):
                raise InputError(
                    f"{where}: key '{key}': expected int: true for a range of a whole-number "
                    f"setting, got {spec!r}"
                )


def _ends(spec: list | dict[str, Any]) -> list:
    """The choices of a list, or the two ends of a range."""
    if isinstance(spec, list):
        return spec
    cast = int if spec.get("int") else float
    return [cast(spec["low"]), cast(spec["high"])]


def _whole(config: Config, key: str) -> bool:
    """Whether the setting ``key`` of ``config`` holds a whole number (not true/false)."""
    node: Any = config
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
    return isinstance(node, int) and not isinstance(node, bool)


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
    from ppi.evaluation.ablation import check_channels

    chosen = set(check_channels(str(value).split("+")))  # an unknown name: the choices
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
