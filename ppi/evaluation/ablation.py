"""Channel ablation: retrain on channel subsets, or mask channels of one trained model.

:func:`run_ablation` trains and tests one model per (channel subset, seed)
from one config, on the same split (``data.split_seed`` is not touched), and
writes a table with the mean and spread over seeds. A killed ablation started
again skips the runs that finished and resumes the one that was cut off.

The cheap variant masks channels (or pair-evidence providers) of one trained
model at prediction time: :meth:`ppi.model.PPIModel.hide`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ppi.channels import CHANNELS
from ppi.config.run import Config, one_model
from ppi.errors import InputError
from ppi.evaluation.compare_plots import plot_bars
from ppi.evaluation.metrics import load_metrics
from ppi.utils.files import atomic_write_text

MODES = ("leave-one-out", "all", "list")
#: metrics shown in ablation tables: (key, title)
SHOWN = (("aupr", "AUPR"), ("auroc", "AUROC"), ("realistic_aupr", "AUPR @prev"), ("ece", "ECE"))


def check_channels(names: Sequence[str], allowed: Sequence[str] | None = None) -> list[str]:
    """Registered channel names (and, with ``allowed``, ones among them), else an error."""
    for name in names:
        CHANNELS.get(name)  # unknown: "Unknown channel 'x' (choices: ...)"
        if allowed is not None and name not in allowed:
            raise InputError(
                f"channel '{name}' is not in this model (its channels: {', '.join(allowed)})"
            )
    return list(names)


def channel_subsets(channels: Sequence[str], mode: str, listed: str = "") -> list[tuple[str, ...]]:
    """The subsets to train: all channels then each left out, every non-empty subset, or a list.

    ``listed`` is ``a+b;a;b`` (``;`` between subsets, ``+`` inside one).
    """
    if mode not in MODES:
        raise InputError(f"--mode: expected one of {', '.join(MODES)}, got {mode!r}")
    if mode == "list":
        subsets = [tuple(s.split("+")) for s in listed.split(";") if s.strip()]
        if not subsets:
            raise InputError("--mode list: expected --subsets like 'sequence+homology;sequence'")
        for subset in subsets:
            check_channels([c.strip() for c in subset])
        return [tuple(c.strip() for c in s) for s in subsets]
    check_channels(channels)
    if not channels:
        raise InputError("--channels: expected at least one channel name")
    if mode == "all":
        sizes = range(len(channels), 0, -1)
        return [c for k in sizes for c in itertools.combinations(channels, k)]
    leave = [tuple(c for c in channels if c != out) for out in channels]
    return [tuple(channels), *(s for s in leave if s)]


def subset_config(config: Config, subset: Sequence[str], seed: int, out: Path) -> Config:
    """``config`` with exactly ``subset`` enabled, this seed, and a run folder under ``out``.

    One model per seed unless ``train.members`` is set (:func:`ppi.config.run.one_model`).
    """
    channels = {n: dataclasses.replace(c, enabled=n in subset) for n, c in config.channels.items()}
    return dataclasses.replace(
        one_model(config),
        channels=channels,
        seed=seed,
        output_dir=str(out / "runs"),
        run_name=f"{'+'.join(subset)}-seed{seed}",
        resume="",
    )


def run_ablation(
    config: Config,
    subsets: Sequence[tuple[str, ...]],
    seeds: Sequence[int],
    out: Path,
    train_fn: Callable[[Config], Path],
) -> list[dict]:
    """Train and test every (subset, seed); returns one row per subset with mean and spread."""
    results: dict[tuple[str, ...], list[dict]] = {}
    for subset in subsets:
        for seed in seeds:
            cfg = subset_config(config, subset, seed, out)
            run_dir = Path(cfg.output_dir) / cfg.run_name
            test = load_metrics(run_dir / "metrics.json").get("test")
            if test is None:
                train_fn(_resumable(cfg, run_dir))
                test = load_metrics(run_dir / "metrics.json")["test"]
            else:
                print(f"ablation: {cfg.run_name} already done, reusing its test metrics")
            results.setdefault(subset, []).append(test)
    return [summarise("+".join(s), runs) for s, runs in results.items()]


def _resumable(cfg: Config, run_dir: Path) -> Config:
    """Resume a run cut off after a finished epoch; start over one cut off before."""
    if any((run_dir / "checkpoints").glob("epoch_*/trainer_state.json")):
        return dataclasses.replace(cfg, resume=str(run_dir))
    shutil.rmtree(run_dir, ignore_errors=True)
    return cfg


def summarise(name: str, runs: Sequence[dict]) -> dict:
    """Mean and standard deviation over seeds of each shown metric."""
    row: dict = {"channels": name, "seeds": len(runs)}
    for key, _ in SHOWN:
        values = np.array([r.get(key) for r in runs if r.get(key) is not None], dtype=float)
        row[key] = float(values.mean()) if values.size else float("nan")
        row[f"{key}_sd"] = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return row


def write_table(rows: Sequence[dict], out: Path, stem: str, title: str) -> None:
    """``<stem>.csv``, ``<stem>.md`` (mean ± sd) and ``<stem>.png`` (AUPR bars)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / f"{stem}.csv", buf.getvalue())
    head = ["channels", "seeds", *(t for _, t in SHOWN)]
    lines = [f"# {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [f"{row[k]:.4f} ± {row[f'{k}_sd']:.4f}" for k, _ in SHOWN]
        lines.append(f"| {row['channels']} | {row['seeds']} | " + " | ".join(cells) + " |")
    lines += ["", f"![{title}]({stem}.png)", f"Numbers: [{stem}.csv]({stem}.csv)"]
    atomic_write_text(out / f"{stem}.md", "\n".join(lines) + "\n")
    names = [r["channels"] for r in rows]
    plot_bars(
        names,
        [r["aupr"] for r in rows],
        [r["aupr_sd"] for r in rows],
        out / f"{stem}.png",
        "test AUPR (mean ± sd)",
        title,
    )
    atomic_write_text(out / f"{stem}.json", json.dumps(list(rows), indent=2) + "\n")
