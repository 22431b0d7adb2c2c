"""Pretrain the scratch backbone: masked-LM (and GO terms) on your own sequences.

Inputs are UniProt dumps as ``ppi build-index`` reads them (FASTA, flat
files, XML; gzipped or not). Settings are ``backbone.*`` (the scratch
encoder: dim, layers, heads, max_len; ``backbone.path`` to continue from a
folder), ``pretrain.*`` (see :class:`ppi.lm.pretrain.PretrainSettings`) and
``resume=true``. The result in ``--out`` is a backbone folder for
``ppi train backbone.name=scratch backbone.path=OUT`` and ``ppi generate --model OUT``.
"""

from __future__ import annotations

import argparse

from ppi.commands._args import output_dir


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi pretrain``."""
    parser.add_argument("--out", required=True, help="the backbone folder to write")
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="DUMP|key=value",
        help="UniProt dumps (or example:...) and settings such as backbone.dim=128",
    )


def main(args: argparse.Namespace) -> int:
    """Split inputs from settings, build the config, run the job."""
    from accelerate import PartialState

    from ppi.config import tools as configtools
    from ppi.errors import InputError
    from ppi.lm.pretrain import PretrainConfig
    from ppi.lm.trainer import run
    from ppi.utils.logs import setup_logging

    setup_logging()
    out = output_dir(args.out)
    settings = [a for a in args.inputs if "=" in a and not a.startswith("example:")]
    dumps = [a for a in args.inputs if a not in settings]
    if not dumps:
        raise InputError("ppi pretrain: expected at least one sequence dump (FASTA, .dat, .xml)")
    data = configtools.apply_overrides({"backbone": {"name": "scratch"}}, settings)
    if data["backbone"].get("name") != "scratch":
        raise InputError(
            f"backbone.name={data['backbone'].get('name')}: ppi pretrain trains only 'scratch'"
        )
    config = configtools.build(PretrainConfig, data)
    metrics = run(config, dumps, out)
    if PartialState().is_main_process:  # under accelerate launch: once
        figures = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
        done, planned = metrics.get("epoch", config.pretrain.epochs), config.pretrain.epochs
        if done < planned:  # pretrain.stop_after: the folder holds an unfinished job
            print(
                f"stopped after epoch {done} of {planned} -> {out}: {figures}; continue with the "
                "same command and resume=true"
            )
        else:
            print(f"pretrained -> {out}: {figures}")
    return 0
