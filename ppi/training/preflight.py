"""What a training run checks before it writes anything: its data can train, its resume matches.

A run that fails here leaves no run directory behind (or, when resuming,
leaves the run untouched), and says in one line what is wrong.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ppi.config import tools as configtools
from ppi.config.run import Config, config_from_dict, config_to_dict
from ppi.data.pairs import Pair, Repeats, count_repeats, pair_key
from ppi.errors import ConfigError, InputError
from ppi.utils.cache import file_digest
from ppi.utils.files import atomic_write_text

log = logging.getLogger("ppi")

#: settings a resumed run may change: how long it trains and how it reports,
#: never what the model or its data are
RESUMABLE = (
    "resume",
    "output_dir",
    "run_name",
    "train.epochs",
    "train.stop_after",
    "train.patience",
    "train.keep_checkpoints",
    "train.log_with",
    "train.cpu_threads",
    "train.eval_batch_size",
    "evaluation.",
)


def check_training_data(config: Config, data: Any) -> None:
    """Refuse data a model cannot learn from or be chosen on.

    Pair task: every split needs positive and negative pairs (the loss, the
    validation AUPR that picks the best epoch and the test AUPR need both), and
    pairs that repeat with another label are refused unless
    ``data.allow_conflicts``; a pair in two splits (given files) is warned
    about. Single task: at least two classes.
    """
    if config.task == "pair":
        for name, part in data.splits.items():
            _check_both_classes(_source(config, name), part)
        if not config.data.allow_conflicts:
            _check_conflicts(config, [p for part in data.splits.values() for p in part])
        _report_shared(config, data.splits)
    elif not data.multi_label and len(data.class_names) < 2:
        raise InputError(
            f"{config.data.train}: expected at least two classes in column "
            f"'{config.data.label_column}', got {list(data.class_names)}"
        )


def _source(config: Config, split: str) -> str:
    """The file a split came from, as the user named it."""
    given = getattr(config.data, split, "") if split != "train" else ""
    return given or f"{config.data.train} ({split} split)"


def _check_both_classes(where: str, pairs: list[Pair]) -> None:
    positives = sum(p.label == 1 for p in pairs)
    if 0 < positives < len(pairs):
        return
    raise InputError(
        f"{where}: expected positive and negative pairs, got {positives} positive and "
        f"{len(pairs) - positives} negative; a model cannot be trained or chosen on one class"
    )


def _check_conflicts(config: Config, pairs: list[Pair]) -> None:
    found = count_repeats(pairs)
    if not found.conflicts:
        return
    files = ", ".join(
        dict.fromkeys(f for f in (config.data.train, config.data.valid, config.data.test) if f)
    )
    refuse_conflicts(files, found)


def refuse_conflicts(files: str, found: Repeats) -> None:
    """The error for pairs that repeat with a different label, in ``files``."""
    a, b = found.first_conflict
    raise InputError(
        f"{files}: {found.conflicts} {'pair repeats' if found.conflicts == 1 else 'pairs repeat'} "
        f"an earlier pair with a different label "
        f"(first: {a} {b}); remove them or set data.allow_conflicts=true"
    )


def _report_shared(config: Config, splits: dict[str, list[Pair]]) -> None:
    """Warn when one pair (either order) is in two splits: given files can share pairs.

    Parts carved from ``data.train`` never share one (each pair is kept once
    before the carve), so this names the files the user gave.
    """
    keys = {name: {pair_key(p): p for p in part} for name, part in splits.items()}
    names = list(keys)
    for n, first in enumerate(names):
        for second in names[n + 1 :]:
            shared = [p for k, p in keys[second].items() if k in keys[first]]
            if shared:
                log.warning(
                    "%s: %d %s also in %s (first: %s %s): a model is scored on pairs it "
                    "was trained or chosen on",
                    _source(config, second),
                    len(shared),
                    "pair is" if len(shared) == 1 else "pairs are",
                    _source(config, first),
                    shared[0].a,
                    shared[0].b,
                )


def check_resume(config: Config, run_dir: Path) -> None:
    """Refuse to resume ``run_dir`` with settings that change the model or its data."""
    saved = run_dir / "config.yaml"
    before = flatten(config_to_dict(config_from_dict(configtools.load_yaml(saved))))
    after = flatten(config_to_dict(config))
    changed = [
        key
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key) and not key.startswith(RESUMABLE)
    ]
    if changed:
        shown = "; ".join(f"{k}: {before.get(k)!r} there, {after.get(k)!r} now" for k in changed)
        raise ConfigError(
            f"resume={run_dir}: settings differ from the run being resumed ({saved}): {shown}; "
            f"a resumed run may change only {', '.join(k.rstrip('.') for k in RESUMABLE[3:])}"
        )


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else key))
    return out


#: the run's record of its data files' contents (``resume=`` compares them)
INPUTS = "inputs.json"
DATA_FILES = ("fasta", "train", "valid", "test")


def input_digests(config: Config) -> dict[str, str]:
    """sha256 of each data file the run reads, by its key (``data.train``...)."""
    from ppi.data.examples import resolve

    digests = {}
    for key in DATA_FILES:
        value = getattr(config.data, key)
        path = resolve(value) if value else None
        if path is not None and path.is_file():
            digests[f"data.{key}"] = file_digest(path)
    return digests


def keep_inputs(config: Config, run_dir: Path) -> None:
    """``<run>/inputs.json``: the digests a resumed run must find again."""
    atomic_write_text(run_dir / INPUTS, json.dumps(input_digests(config), indent=2) + "\n")


def check_inputs(config: Config, run_dir: Path) -> None:
    """Refuse to resume ``run_dir`` on data files whose contents changed since it started.

    The settings name the files by path (relative ones from the folder the
    run was started in), so the same path may hold other pairs now. Runs
    started before the record was kept are not checked.
    """
    saved = run_dir / INPUTS
    if not saved.is_file():
        return
    try:
        before = json.loads(saved.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{saved}: expected the run's JSON record of its data files") from None
    now = input_digests(config)
    changed = [k for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)]
    if changed:
        key = changed[0]
        value = getattr(config.data, key.split(".", 1)[1])
        raise InputError(
            f"resume={run_dir}: {key}={value} is not the file the run started with "
            f"(its contents differ from those recorded in {saved}); resume from the folder the "
            "run was started in, with the same files, or start a new run"
        )
