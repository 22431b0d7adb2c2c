"""Evaluate a trained model: metrics.json and ROC, PR, confusion and loss plots.

Either ``--run RUN_DIR`` (its best model on its own test split) or
``--model MODEL_DIR`` with ``--pairs`` and ``--fasta`` (pair task) or
``--table`` (single task). Runs under ``accelerate launch`` too; several
processes report the same numbers as one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from ppi.commands._args import count, probability
from ppi.utils.logs import setup_logging


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi evaluate``."""
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="a training run directory (uses its model and test split)")
    src.add_argument("--model", help="a model folder (config.json + model.safetensors)")
    parser.add_argument("--pairs", help="labelled pairs TSV/CSV (with --model, pair task)")
    parser.add_argument("--fasta", help="sequences of the pairs' proteins (with --model)")
    parser.add_argument("--table", help="labelled sequence table (with --model, single task)")
    parser.add_argument("--out", help="report folder (default: <run>/ or <model>/evaluation)")
    parser.add_argument(
        "--batch-size", type=count(1), default=256, help="pairs or proteins per step"
    )
    parser.add_argument(
        "--train-pairs",
        help="training pairs the baselines learn from (default: the run's splits/train.tsv)",
    )
    parser.add_argument(
        "--prevalence",
        type=probability(low_open=True, high_open=True, what="a positive fraction"),
        help="realistic positive fraction (default: the model's, 0.01)",
    )
    parser.add_argument(
        "--no-baselines", action="store_true", help="skip the baselines (degree, composition, aa20)"
    )


def main(args: argparse.Namespace) -> int:
    """Predict, gather, and write the report."""
    from accelerate import Accelerator

    from ppi.evaluation.plots import write_report
    from ppi.evaluation.predict import loss_function, predict

    setup_logging()
    _check_args(args)
    accelerator = Accelerator()
    model, data, out = _inputs(args)
    model.to(accelerator.device)
    model.prepare_channels(data.proteins, accelerator)
    loader = _loader(model, data, args.batch_size)
    model, loader = accelerator.prepare(model, loader)
    inner = accelerator.unwrap_model(model)
    labels, probs, _ = predict(
        model, loader, accelerator, loss_function(inner.task, inner.multi_label)
    )
    if accelerator.is_main_process:
        metrics = write_report(
            out,
            inner.task,
            labels,
            probs,
            class_names=list(inner.class_names) or None,
            prefix="test",
        )
        if inner.task == "pair":
            metrics = _baselines(args, inner, data, out, labels, probs)
        _print_metrics(accelerator, metrics, labels)
        from ppi.evaluation.report import write_run_report

        write_run_report(out)
        accelerator.print(f"report: {out}")
    return 0


def _check_args(args: argparse.Namespace) -> None:
    """Options checked before any work, so a bad one writes nothing."""
    from ppi.config.run import EvalConfig
    from ppi.config.tools import check_value

    if args.prevalence is not None:
        check_value(EvalConfig, "prevalence", args.prevalence, "--prevalence")


def _print_metrics(accelerator, metrics: dict, labels) -> None:
    """The defined metrics as JSON, then which are not defined for these labels, and why."""
    import math

    import numpy as np

    numbers = {k: v for k, v in metrics.items() if isinstance(v, float) or v is None}
    shown = {k: round(v, 4) for k, v in numbers.items() if v is not None and not math.isnan(v)}
    accelerator.print(json.dumps(shown))
    undefined = sorted(set(numbers) - set(shown))
    if undefined:
        classes = ", ".join(f"{int(n)} with label {int(c)}" for c, n in _counts(np, labels))
        accelerator.print(f"not defined for these labels ({classes}): {', '.join(undefined)}")


def _counts(np, labels):
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    return zip(values, counts, strict=True)


def _inputs(args: argparse.Namespace):
    from ppi.config.run import load_config
    from ppi.ensemble import load_model
    from ppi.errors import InputError
    from ppi.training.datasets import load_pair_data, load_single_data
    from ppi.training.loop import load_task_data

    if args.run:
        run = Path(args.run)
        if not (run / "model").is_dir():
            raise InputError(f"--run {run}: no trained model in it (expected {run / 'model'})")
        model = load_model(run / "model")
        data = load_task_data(load_config(run / "config.yaml"))
        data.splits = {"test": data.splits["test"]}
        if not args.train_pairs and (run / "splits" / "train.tsv").is_file():
            args.train_pairs = str(run / "splits" / "train.tsv")
        return model, data, Path(args.out or run)
    model = load_model(args.model)
    need = ("pairs", "fasta") if model.task == "pair" else ("table",)
    missing = [f"--{n}" for n in need if not getattr(args, n)]
    if missing:
        raise InputError(f"--model with a {model.task} model needs {' and '.join(missing)}")
    data_cfg = dataclasses.replace(model.config.data, valid="", limit=0)
    if model.task == "pair":
        data_cfg = dataclasses.replace(
            data_cfg, fasta=args.fasta, train=args.pairs, valid=args.pairs, test=args.pairs
        )
        data = load_pair_data(data_cfg)
    else:
        data_cfg = dataclasses.replace(
            data_cfg, train=args.table, valid=args.table, test=args.table
        )
        data = load_single_data(data_cfg, classes=model.class_names)
    data.splits = {"test": data.splits["test"]}
    return model, data, Path(args.out or Path(args.model) / "evaluation")


def _loader(model, data, batch_size: int):
    from ppi.training.datasets import make_loader

    return make_loader(model.task, data, "test", batch_size)


def _baselines(args, model, data, out: Path, labels, probs) -> dict:
    """Calibration, realistic prevalence and, with training pairs, the two baselines."""
    from ppi.evaluation.baselines import compare_with_baselines
    from ppi.evaluation.report import baseline_line

    settings = model.config.evaluation
    if args.prevalence is not None:
        settings = dataclasses.replace(settings, prevalence=args.prevalence)
    train, proteins = _train_pairs(args, model, data)
    one_class = len(set(labels.tolist())) < 2  # no AUPR to compare: the baselines say nothing
    if args.no_baselines or not train or one_class:
        settings = dataclasses.replace(settings, baselines=False)
    both = (train or [], data.splits["test"], proteins)
    result = compare_with_baselines(out, labels, probs, both, settings)
    if result["baselines"]:
        print(baseline_line(result))
    return {k: v for k, v in result.items() if k != "baselines"}


def _train_pairs(args, model, data):
    """The pairs the baselines learn from and the sequences of every protein involved."""
    from ppi.data.examples import resolve
    from ppi.data.fasta import read_fasta
    from ppi.data.pairs import read_pairs

    if args.train_pairs:
        train = read_pairs(resolve(args.train_pairs))
    else:
        default = Path(args.model).parent / "splits" / "train.tsv"  # a run's model folder
        train = read_pairs(default) if default.is_file() else None
    proteins = dict(data.proteins)
    missing = {x for p in train or [] for x in (p.a, p.b)} - set(proteins)
    if missing:
        known = read_fasta(resolve(model.config.data.fasta))
        proteins.update({k: known[k] for k in missing if k in known})
        train = [p for p in train if p.a in proteins and p.b in proteins]
    return train, proteins
