"""Channel ablation: retrain on channel subsets over seeds, or mask channels of one model.

Retraining (default): from one config (``--config`` plus ``KEY=VALUE``
overrides, as ``ppi train``), train and test every subset of ``--channels``
(``--mode leave-one-out``, ``all`` or ``list`` with ``--subsets
'a+b;a'``) for each of ``--seeds``, on the same split; writes
``ablation.{md,csv,json,png}`` and ``report.md`` in ``--out``. Run it again
after a kill: finished runs are reused.

Masking (``--mask`` with ``--run`` or ``--model``/``--fasta``/``--pairs``):
evaluate one trained model with each of its channels hidden at prediction
time; writes ``masking.{md,csv,json,png}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ppi.commands._args import count, output_dir
from ppi.utils.logs import setup_logging


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi ablate``."""
    parser.add_argument("--out", required=True, help="folder for the table, chart and runs")
    parser.add_argument("--config", help="YAML config (default: the bundled quick start)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    parser.add_argument(
        "--channels", default="", help="comma-separated channels (default: the config's enabled)"
    )
    parser.add_argument("--mode", default="leave-one-out", help="leave-one-out, all or list")
    parser.add_argument("--subsets", default="", help="with --mode list: 'a+b;a;b'")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2")
    parser.add_argument("--mask", action="store_true", help="mask channels of one trained model")
    parser.add_argument("--run", help="with --mask: a run directory (its model and test split)")
    parser.add_argument("--model", help="with --mask: a model folder")
    parser.add_argument("--fasta", help="with --mask --model: sequences")
    parser.add_argument("--pairs", help="with --mask --model: labelled pairs")
    parser.add_argument(
        "--batch-size", type=count(1), default=256, help="pairs per evaluation step"
    )


def main(args: argparse.Namespace) -> int:
    """Run the ablation and print its table."""
    from ppi.errors import InputError

    setup_logging()
    out = output_dir(args.out)
    if args.mask:
        if not (args.run or args.model):
            raise InputError("--mask: expected --run RUN_DIR or --model MODEL_DIR")
        if args.config or args.overrides:  # the model's own config is evaluated
            given = f"--config {args.config}" if args.config else f"'{args.overrides[0]}'"
            raise InputError(
                f"--mask: expected no --config or KEY=VALUE overrides (no training happens; "
                f"the model keeps its own config), got {given}"
            )
        stem = _mask(args, out)
    else:
        if args.run or args.model:
            raise InputError("--run/--model only go with --mask (retraining reads --config)")
        stem = _retrain(args, out)
    from ppi.evaluation.report import write_run_report

    write_run_report(out)
    print((out / f"{stem}.md").read_text(), end="")
    return 0


def _seeds(text: str) -> list[int]:
    from ppi.config.run import Config
    from ppi.config.tools import check_value
    from ppi.errors import InputError

    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise InputError(f"--seeds: expected integers like 0,1,2, got {text!r}") from None
    if not seeds:
        raise InputError(f"--seeds: expected at least one seed, like 0,1,2, got {text!r}")
    repeated = next((s for i, s in enumerate(seeds) if s in seeds[:i]), None)
    if repeated is not None:
        raise InputError(f"--seeds: expected different seeds, got {repeated} twice in {text!r}")
    for seed in seeds:
        check_value(Config, "seed", seed, "--seeds")
    return seeds


#: settings ablate gives each retrained run itself: an override of one would be lost
OWN_KEYS = ("seed", "output_dir", "run_name", "resume")


def _retrain(args: argparse.Namespace, out: Path) -> str:
    from ppi.config.run import load_config
    from ppi.errors import InputError
    from ppi.evaluation.ablation import channel_subsets, run_ablation, write_table
    from ppi.training.loop import train

    # every input is checked before the first run folder is made
    seeds = _seeds(args.seeds)
    for override in args.overrides:  # what ablate sets for each run itself
        key = override.split("=", 1)[0]
        if key in OWN_KEYS:
            raise InputError(
                f"'{override}': ablate sets {key} for each run itself (--seeds, --out); "
                f"expected none of {', '.join(OWN_KEYS)}"
            )
    config = load_config(args.config, args.overrides)
    names = [c.strip() for c in args.channels.split(",") if c.strip()]
    names = names or [n for n, c in config.channels.items() if c.enabled]
    subsets = channel_subsets(names, args.mode, args.subsets)
    rows = run_ablation(config, subsets, seeds, out, train)
    write_table(rows, out, "ablation", "Channel ablation (retrained per subset)")
    return "ablation"


def _mask(args: argparse.Namespace, out: Path) -> str:
    from accelerate import Accelerator

    from ppi.commands.evaluate import _inputs, _loader
    from ppi.evaluation.ablation import summarise, write_table
    from ppi.evaluation.calibration import realistic_metrics
    from ppi.evaluation.metrics import binary_metrics
    from ppi.evaluation.predict import predict

    args.table, args.out, args.train_pairs = None, str(out), None
    model, data, _ = _inputs(args)
    accelerator = Accelerator()
    model.to(accelerator.device)
    model.prepare_channels(data.proteins, accelerator)
    loader = accelerator.prepare(_loader(model, data, args.batch_size))
    names = model.sources()  # channels, then pair-evidence providers
    chosen = [c for c in args.channels.split(",") if c] or names
    rows = []
    for hidden in [(), *((c,) for c in chosen)]:
        with model.hide(hidden):  # an unknown name: one line naming the choices
            labels, probs, _ = predict(model, loader, accelerator)
        metrics = binary_metrics(labels, probs)
        metrics |= realistic_metrics(labels, probs, model.config.evaluation.prevalence)
        label = "none masked" if not hidden else f"without {'+'.join(hidden)}"
        rows.append(summarise(label, [metrics]))
    title = "Channels and pair evidence masked at prediction time (one trained model)"
    write_table(rows, out, "masking", title)
    return "masking"
