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

from ppi.commands._args import count, output_dir, probability
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
    known = _train_pairs(args, model, data) if model.task == "pair" else None
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
            metrics = _baselines(args, inner, data.splits["test"], known, out, labels, probs)
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
    if args.out:
        output_dir(args.out)


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
        config = load_config(run / "config.yaml")
        for key in ("fasta", "train", "valid", "test"):
            _data_path(config.data, key, run / "config.yaml", RUN_HINT.format(run=run))
        data = load_task_data(config)
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


def _baselines(args, model, test, known, out: Path, labels, probs) -> dict:
    """Calibration, realistic prevalence and, with training pairs, the baselines.

    ``known`` is what :func:`_train_pairs` read: the training pairs (or ``None``)
    and the sequences of every protein involved.
    """
    from ppi.evaluation.baselines import compare_with_baselines
    from ppi.evaluation.report import baseline_line

    settings = model.config.evaluation
    if args.prevalence is not None:
        settings = dataclasses.replace(settings, prevalence=args.prevalence)
    train, proteins = known
    one_class = len(set(labels.tolist())) < 2  # no AUPR to compare: the baselines say nothing
    if not train or one_class:
        settings = dataclasses.replace(settings, baselines=False)
    both = (train or [], test, proteins)
    result = compare_with_baselines(out, labels, probs, both, settings)
    if result["baselines"]:
        print(baseline_line(result))
    return {k: v for k, v in result.items() if k != "baselines"}


#: what to do when a run's data path does not resolve from the current folder
RUN_HINT = "run from that folder, or give --model {run}/model with --pairs and --fasta"
MODEL_HINT = (
    "run from that folder, give --fasta with every protein of the training pairs, or --no-baselines"
)


def _train_pairs(args, model, data):
    """The pairs the baselines learn from and the sequences of every protein involved.

    Read before any prediction, so a bad training pairs file writes nothing;
    no pairs with ``--no-baselines`` or where there are none to read. Ids
    not in the evaluated proteins are looked up in the model's training FASTA;
    an id in neither is an error, as in ``--pairs``.
    """
    from ppi.data.examples import resolve
    from ppi.data.fasta import read_fasta
    from ppi.data.pairs import read_pairs

    if args.no_baselines:
        return None, data.proteins
    if args.train_pairs:
        path = resolve(args.train_pairs)
    else:
        path = Path(args.model).parent / "splits" / "train.tsv"  # a run's model folder
        if not path.is_file():
            return None, data.proteins
    train = read_pairs(path)
    proteins = dict(data.proteins)
    missing = {x for p in train for x in (p.a, p.b)} - set(proteins)
    if missing:
        config_file = _config_file(args, model)
        fasta = _data_path(model.config.data, "fasta", config_file, MODEL_HINT)
        known = read_fasta(fasta)
        proteins.update({k: known[k] for k in missing if k in known})
        read_pairs(path, known_ids=proteins, fasta_name=_fasta_names(args, fasta))
    return train, proteins


def _fasta_names(args, training: Path) -> str:
    """The FASTA files the training pairs' proteins were looked up in, for an error."""
    from ppi.data.examples import resolve

    given = resolve(args.fasta) if args.fasta else None
    if given is None or given.resolve() == training.resolve():
        return str(training)
    return f"{args.fasta} or the model's training FASTA {training}"


def _config_file(args, model) -> Path:
    """The file the model's training settings were read from."""
    if args.run:
        return Path(args.run) / "config.yaml"
    first = getattr(model, "members", [model])[0]  # an ensemble's settings are its first member's
    return Path(first.source) / "config.json"


def _data_path(data_config, key: str, config_file: Path, hint: str) -> Path | None:
    """A data file of a run's settings, checked to exist (``None`` where the key is empty).

    Runs keep data paths as they were given, so a relative one resolves only
    from the folder the run was started in.
    """
    from ppi.data.examples import resolve
    from ppi.errors import InputError

    value = getattr(data_config, key)
    if not value:
        return None
    path = resolve(value)
    if not path.exists():
        where = "" if path.is_absolute() else " (relative to the folder the run was started in)"
        raise InputError(f"{config_file}: data.{key}={value}{where} not found; {hint}")
    return path
