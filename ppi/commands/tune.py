"""Search hyperparameters with Optuna (shared storage, early pruning); save trials and best config.

From one config (``--config`` plus ``KEY=VALUE`` overrides, as ``ppi
train``), run ``--trials`` trainings with values drawn from the search space
(the default covers ``--backbones``, widths, depths, heads, dropout, learning
rate and subsets of ``--channels``; ``--space FILE.yaml`` replaces it). Each
epoch's validation AUPR goes to the pruner, which stops trials that trail.
Point several machines at one ``--storage`` URL and ``--study`` name to share
the work; run it again to continue. Writes ``trials.csv``,
``best_config.yaml`` (train it with ``ppi train --config``), ``tune.md``,
``tune.png`` and ``report.md`` in ``--out``. Needs ``pip install 'ppi[tune]'``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import shutil
from collections.abc import Iterator
from pathlib import Path

from ppi.commands._args import count, number, output_dir
from ppi.errors import InputError
from ppi.utils.logs import setup_logging

PRUNERS = ("median", "threshold", "none")


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi tune``."""
    parser.add_argument("--out", required=True, help="folder for the study, trials and results")
    parser.add_argument("--config", help="base YAML config (default: the bundled quick start)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="base config overrides")
    parser.add_argument("--trials", type=count(1), default=20, help="trials the study should have")
    parser.add_argument("--storage", help="Optuna storage URL (default: sqlite:///OUT/study.db)")
    parser.add_argument("--study", default="ppi", help="study name within the storage")
    parser.add_argument("--space", help="YAML search space (key: [choices] or {low, high, log})")
    parser.add_argument("--backbones", default="scratch", help="backbone choices, comma-separated")
    parser.add_argument(
        "--channels", default="", help="channels whose subsets are searched (default: enabled)"
    )
    parser.add_argument("--pruner", default="median", help="median, threshold or none")
    parser.add_argument(
        "--prune-below",
        type=number(0.0),  # a floor above 1 prunes every trial, which has its uses
        default=0.0,
        help="threshold pruner: lowest validation AUPR, 0 or more (above 1: prune every trial)",
    )
    parser.add_argument("--seed", type=count(0), default=0, help="sampler seed")


def main(args: argparse.Namespace) -> int:
    """Run the remaining trials and write the results."""
    from ppi.config.run import load_config
    from ppi.evaluation.report import write_run_report
    from ppi.training.tuning import write_results

    setup_logging()
    optuna = _optuna()
    out = output_dir(args.out)
    base = load_config(args.config, args.overrides)
    space = _space(args, base)
    pruner = _pruner(optuna, args)
    with _undone_on_input_error(out):
        out.mkdir(parents=True, exist_ok=True)
        study = _study(optuna, args, out, pruner)
        _same_search(study, args, base, space)
        _optimize(optuna, study, args, space, out)
        best = _best_config(args, study, optuna)
        write_results(study, out, best)
        write_run_report(out, ["", (out / "tune.md").read_text().replace("# ", "## ", 1)])
    print((out / "tune.md").read_text(), end="")
    return 0


@contextlib.contextmanager
def _undone_on_input_error(out: Path) -> Iterator[None]:
    """On bad input, remove what this run made: the folders it made for ``out``, or its new files.

    A study that was already there keeps its files; a trial stopped by bad
    input stays in it as failed.
    """
    made = [p for p in (out, *out.parents) if not p.exists()]
    before = set(out.iterdir()) if out.is_dir() else set()
    try:
        yield
    except InputError:
        for path in made[-1:] or sorted(set(out.iterdir()) - before):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        raise


def _study(optuna, args, out: Path, pruner):
    """The study in ``--storage`` (default: ``study.db`` in ``out``), created or continued."""
    from sqlalchemy.exc import SQLAlchemyError

    url = args.storage or f"sqlite:///{out.resolve() / 'study.db'}"
    try:
        return optuna.create_study(
            study_name=args.study,
            storage=_storage(optuna, url),
            direction="maximize",
            load_if_exists=True,
            sampler=optuna.samplers.TPESampler(seed=args.seed),
            pruner=pruner,
        )
    except (SQLAlchemyError, ImportError) as exc:  # a bad URL, a file that is no database
        reason = str(exc).strip().splitlines()[0]
        raise InputError(
            f"--storage {url}: expected an Optuna storage (sqlite:///FILE, postgresql://..., "
            f"mysql://...), got {reason}"
        ) from None


#: the study's record of what it searches (a rerun must search the same)
SEARCH = "ppi_search"


def _same_search(study, args, base, space) -> None:
    """Record the search in a new study; refuse to continue one that searched another.

    The search is the base config (its data files by contents too) and the
    space: trials of another search would be mixed in one ranking, and Optuna
    refuses a parameter whose range changed with a traceback, after a trial
    has started. The pruner and the number of trials may change.
    """
    import json

    from ppi.config.run import config_to_dict
    from ppi.training.preflight import flatten, input_digests

    now = flatten(
        {
            "base": config_to_dict(base),
            "data files": input_digests(base),
            "space": json.loads(json.dumps(space, default=str)),
        }
    )
    now = {k: v for k, v in now.items() if not k.startswith(("base.output_dir", "base.run_name"))}
    now = json.loads(json.dumps(now, default=str))  # as the study's storage gives it back
    kept = study.user_attrs.get(SEARCH)
    if kept is None:
        study.set_user_attr(SEARCH, now)
        return
    changed = [k for k in sorted(set(kept) | set(now)) if kept.get(k) != now.get(k)]
    if changed:
        shown = "; ".join(f"{k}: {kept.get(k)!r} there, {now.get(k)!r} now" for k in changed[:3])
        more = f" (and {len(changed) - 3} more)" if len(changed) > 3 else ""
        raise InputError(
            f"--out {args.out}: study '{args.study}' searched something else: {shown}{more}; "
            "rerun it with the same settings, space and data to continue it, or give another "
            "--out or --study"
        )


def _optimize(optuna, study, args, space, out: Path) -> None:
    """Run the trials the study still lacks; a trial stopped by bad input ends it."""
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    remaining = args.trials - len(study.get_trials(states=states))
    if remaining <= 0:
        return
    stop = optuna.study.MaxTrialsCallback(args.trials, states=states)
    quiet = _QuietInputError()
    logger = logging.getLogger("optuna.study._optimize")  # where Optuna reports failed trials
    logger.addFilter(quiet)
    try:
        study.optimize(_objective(args, space, out, quiet), n_trials=remaining, callbacks=[stop])
    finally:
        logger.removeFilter(quiet)


class _QuietInputError(logging.Filter):
    """Drops Optuna's report (with traceback) of the trial that bad input stopped.

    The error itself ends the study and the CLI prints it as one line.
    """

    def __init__(self):
        super().__init__()
        self.trial: int | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        """False for the records about the trial in :attr:`trial`."""
        return self.trial is None or not record.getMessage().startswith(
            f"Trial {self.trial} failed"
        )


def _optuna():
    try:
        import optuna
    except ImportError:
        raise InputError("ppi tune needs Optuna: pip install 'ppi[tune]'") from None
    return optuna


def _storage(optuna, url: str):
    import warnings

    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    if url.startswith(("sqlite", "postgresql", "mysql")):
        with warnings.catch_warnings():  # heartbeats are marked experimental in Optuna
            warnings.simplefilter("ignore")
            return RDBStorage(
                url,
                heartbeat_interval=60,
                grace_period=180,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
            )
    return url  # e.g. journal storage objects are not URLs; let Optuna judge


def _pruner(optuna, args):
    if args.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    if args.pruner == "threshold":
        return optuna.pruners.ThresholdPruner(lower=args.prune_below)
    if args.pruner == "none":
        return optuna.pruners.NopPruner()
    raise InputError(f"--pruner: expected one of {', '.join(PRUNERS)}, got {args.pruner!r}")


def _space(args, base):
    """The search space, checked with the ``base`` config before any trial."""
    from ppi.config.tools import load_yaml
    from ppi.training.tuning import check_space, check_values, default_space

    if args.space:
        space, where = check_space(load_yaml(args.space), args.space), args.space
    else:
        from ppi.backbones import BACKBONES
        from ppi.evaluation.ablation import check_channels

        channels = [c for c in args.channels.split(",") if c]
        channels = check_channels(channels) or [n for n, c in base.channels.items() if c.enabled]
        backbones = [b for b in args.backbones.split(",") if b]
        for name in backbones:
            BACKBONES.get(name)  # unknown: the list of choices
        space, where = default_space(backbones, channels), "the default search space"
    check_values(space, where, args.config, args.overrides)
    return space


def _objective(args, space, out: Path, quiet: _QuietInputError):
    import optuna

    from ppi.training.loop import train
    from ppi.training.tuning import sample, trial_config

    def objective(trial) -> float:
        sampled = sample(trial, space)
        trial.set_user_attr("overrides", sampled)
        best = [-math.inf]

        def on_epoch(epoch: int, score: float) -> None:
            best[0] = max(best[0], score) if score == score else best[0]
            trial.report(score, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"validation AUPR {score:.4f} after epoch {epoch}")

        try:
            name = f"trial-{trial.number}"
            train(trial_config(args.config, args.overrides, sampled, name, out), on_epoch=on_epoch)
        except InputError:
            quiet.trial = trial.number
            raise
        return best[0]

    return objective


def _best_config(args, study, optuna):
    from ppi.config.run import load_config

    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    if not done:
        return None
    return load_config(args.config, [*args.overrides, *study.best_trial.user_attrs["overrides"]])
