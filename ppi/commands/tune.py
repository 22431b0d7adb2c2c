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
import math
from pathlib import Path

from ppi.commands._args import count, number
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
        type=number(),  # a floor above 1 prunes every trial, which has its uses
        default=0.0,
        help="threshold pruner: lowest validation AUPR (above 1: prune every trial)",
    )
    parser.add_argument("--seed", type=count(0), default=0, help="sampler seed")


def main(args: argparse.Namespace) -> int:
    """Run the remaining trials and write the results."""
    from ppi.evaluation.report import write_run_report
    from ppi.training.tuning import write_results

    setup_logging()
    optuna = _optuna()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    space = _space(args)
    study = optuna.create_study(
        study_name=args.study,
        storage=_storage(optuna, args.storage or f"sqlite:///{out.resolve() / 'study.db'}"),
        direction="maximize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=args.seed),
        pruner=_pruner(optuna, args),
    )
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    remaining = args.trials - len(study.get_trials(states=states))
    if remaining > 0:
        stop = optuna.study.MaxTrialsCallback(args.trials, states=states)
        study.optimize(_objective(args, space, out), n_trials=remaining, callbacks=[stop])
    best = _best_config(args, study, optuna)
    write_results(study, out, best)
    write_run_report(out, ["", (out / "tune.md").read_text().replace("# ", "## ", 1)])
    print((out / "tune.md").read_text(), end="")
    return 0


def _optuna():
    from ppi.errors import InputError

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
    from ppi.errors import InputError

    if args.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    if args.pruner == "threshold":
        return optuna.pruners.ThresholdPruner(lower=args.prune_below)
    if args.pruner == "none":
        return optuna.pruners.NopPruner()
    raise InputError(f"--pruner: expected one of {', '.join(PRUNERS)}, got {args.pruner!r}")


def _space(args):
    from ppi.config.run import load_config
    from ppi.config.tools import load_yaml
    from ppi.errors import InputError
    from ppi.training.tuning import check_space, default_space

    if args.trials < 1:
        raise InputError(f"--trials: expected at least 1, got {args.trials}")
    if args.space:
        return check_space(load_yaml(args.space), args.space)
    from ppi.backbones import BACKBONES
    from ppi.evaluation.ablation import check_channels

    base = load_config(args.config, args.overrides)
    channels = [c for c in args.channels.split(",") if c]
    channels = check_channels(channels) or [n for n, c in base.channels.items() if c.enabled]
    backbones = [b for b in args.backbones.split(",") if b]
    for name in backbones:
        BACKBONES.get(name)  # unknown: the list of choices
    return default_space(backbones, channels)


def _objective(args, space, out: Path):
    import optuna

    from ppi.training.loop import train
    from ppi.training.tuning import sample, trial_config

    def objective(trial) -> float:
        sampled = sample(trial, space)
        trial.set_user_attr("overrides", sampled)
        config = trial_config(args.config, args.overrides, sampled, f"trial-{trial.number}", out)
        best = [-math.inf]

        def on_epoch(epoch: int, score: float) -> None:
            best[0] = max(best[0], score) if score == score else best[0]
            trial.report(score, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"validation AUPR {score:.4f} after epoch {epoch}")

        train(config, on_epoch=on_epoch)
        return best[0]

    return objective


def _best_config(args, study, optuna):
    from ppi.config.run import load_config

    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    if not done:
        return None
    return load_config(args.config, [*args.overrides, *study.best_trial.user_attrs["overrides"]])
