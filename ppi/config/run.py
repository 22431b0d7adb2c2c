"""The run configuration: one frozen dataclass tree, read from YAML plus overrides.

The defaults are the quick start: the bundled Guo yeast pairs, a small
transformer trained from scratch, the sequence channel alone.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ppi.backbones import BACKBONES, BackboneConfig
from ppi.channels import CHANNELS, ChannelConfig
from ppi.config import tools as configtools
from ppi.config.tools import setting
from ppi.errors import ConfigError
from ppi.fusion import EVIDENCE, FUSIONS, FusionConfig, HeadConfig

#: seeds numpy accepts (``set_seed`` seeds numpy, torch and random)
SEEDS = "[0, 4294967295]"
#: Accelerate's trackers (``accelerate.utils.LoggerType``); each is checked to be installed
TRACKERS = (
    *("aim", "clearml", "comet_ml", "dvclive", "mlflow"),
    *("swanlab", "tensorboard", "trackio", "wandb"),
)


@dataclass(frozen=True)
class DataConfig:
    """Where the data comes from and how it is split.

    Attributes:
        fasta: protein sequences (pair task). ``example:...`` names bundled data.
        train: training pairs (pair task) or table (single task).
        valid: validation file; empty = carved out of ``train``.
        test: test file; empty = carved out of ``train``.
        valid_fraction: share of ``train`` used for validation when ``valid`` is empty:
            of the pairs with ``valid_split=random``, of the proteins with ``c3``.
        valid_split: how the pair task carves validation from ``train``: ``c3``
            (default) holds out proteins, so early stopping and the best epoch
            are chosen on proteins training never saw (pairs between them and
            training proteins are dropped); ``random`` holds out random pairs,
            whose proteins training has seen. Single tasks always use ``random``.
        test_fraction: share of ``train`` used for testing when ``test`` is empty.
        split_seed: seed of that random split.
        limit: keep only this many training examples (0 = all), for quick trials.
        sequence_column: sequence column of a single-task table.
        label_column: label column of a single-task table.
        id_column: id column of a single-task table (empty = row numbers).
        label_separator: separator of several labels in one cell (multi-label).
        allow_conflicts: train even when a pair repeats with a different label
            (otherwise an error saying how many do); in ``data.train`` the pair's
            first label is kept. A pair repeated with its label is always kept once.
    """

    fasta: str = "example:guo_yeast/sequences.fasta"
    train: str = "example:guo_yeast/pairs.tsv"
    valid: str = ""
    test: str = ""
    valid_fraction: float = setting(0.1, "[0, 1)")
    valid_split: Literal["c3", "random"] = "c3"
    test_fraction: float = setting(0.1, "[0, 1)")
    split_seed: int = setting(0, SEEDS)
    limit: int = setting(0, "[0, inf)")
    sequence_column: str = "sequence"
    label_column: str = "label"
    id_column: str = ""
    label_separator: str = ""
    allow_conflicts: bool = False

    def problems(self) -> Iterator[tuple[str, str]]:
        """Fractions that would leave no training examples (see :func:`ppi.config.tools.check`)."""
        carved = (0.0 if self.valid else self.valid_fraction) + (
            0.0 if self.test else self.test_fraction
        )
        if carved >= 1:
            yield (
                "test_fraction",
                f"expected valid_fraction + test_fraction below 1 so some pairs train, "
                f"got {self.valid_fraction} + {self.test_fraction}",
            )


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and checkpointing.

    Attributes:
        epochs: most epochs.
        batch_size: pairs (or proteins) per step and process.
        eval_batch_size: pairs (or proteins) per evaluation step.
        lr: peak learning rate (AdamW, linear warm-up then cosine decay).
        weight_decay: AdamW weight decay.
        warmup: share of steps spent warming up.
        grad_accum: steps whose gradients add up before an update.
        max_grad_norm: gradient clipping norm (0 = none).
        patience: epochs without a better validation AUPR (or AUROC/accuracy
            for single tasks) before stopping. 1 by default: on proteins
            outside training (``data.valid_split=c3``) validation AUPR peaks
            after the first epoch and falls from then on, as the model learns
            the training proteins (RESULTS.md), so more epochs only cost time.
        stop_after: end this invocation after this many epochs (0 = never);
            the run resumes with ``resume=<run dir>``. For time-sliced queues.
        keep_checkpoints: epoch checkpoints kept on disk.
        ema: decay of a running average of the weights, updated after each
            optimiser step, that validation, the kept model and the test
            report use (:mod:`ppi.training.averaging`); 0 = the raw weights.
            On by default: over three seeds it lifted the protein-disjoint
            benchmarks by 0.006 to 0.017 AUPR (RESULTS.md).
        evidence_prior: after training a pair model with pair evidence, fit a
            logistic regression on the training pairs' evidence alone and add
            it to the logit with the weight (0 to 1.5) that gives the best
            validation AUPR (``evidence_prior.json`` in the model folder). The
            network alone underuses evidence that is rare within one species,
            such as interologs (RESULTS.md).
        evidence_prior_interologs: add to the prior a second regression, on
            the pair's own interolog numbers alone, at the strength fitted on
            the training pairs rather than chosen on validation, which holds
            too few interologs to weigh them (2 to 5 pairs on the benchmarks).
            Across species it raised test AUPR from 0.202 to 0.249 (RESULTS.md).
        members: models trained with seeds ``seed``, ``seed + 1``, ... and kept
            as one ensemble whose probability is the mean of theirs
            (:mod:`ppi.ensemble`; pair task). 0, the default, is the task's
            own number (:func:`model_count`): three pair models, one
            single-sequence model. On proteins outside training three
            members lifted all four benchmarks over one model (D-SCRIPT C3
            0.580 against 0.568; RESULTS.md). Each member costs its epochs and
            evaluation; embeddings, alignments and the pairs' evidence are
            computed once. ``ppi ablate`` and ``ppi tune`` read 0 as one model.
        log_with: accelerate trackers (tensorboard, mlflow, wandb; empty = none).
        cpu_threads: torch threads per process on CPU; 0 = the cores available
            divided among the processes on this machine (``accelerate launch``
            otherwise sets one thread per process).
    """

    epochs: int = setting(4, "[1, inf)")
    batch_size: int = setting(64, "[1, inf)")
    eval_batch_size: int = setting(256, "[1, inf)")
    lr: float = setting(5e-4, "(0, inf)")
    weight_decay: float = setting(0.01, "[0, inf)")
    warmup: float = setting(0.05, "[0, 1)")
    grad_accum: int = setting(1, "[1, inf)")
    max_grad_norm: float = setting(1.0, "[0, inf)")
    patience: int = setting(1, "[1, inf)")
    stop_after: int = setting(0, "[0, inf)")
    keep_checkpoints: int = setting(2, "[1, inf)")
    ema: float = setting(0.995, "[0, 1)")
    evidence_prior: bool = True
    evidence_prior_interologs: bool = True
    members: int = setting(0, "[0, inf)")
    log_with: tuple[str, ...] = setting(("tensorboard",), choices=TRACKERS)
    cpu_threads: int = setting(0, "[0, inf)")


@dataclass(frozen=True)
class EvalConfig:
    """What every pair evaluation reports besides the model's own metrics.

    Attributes:
        prevalence: the realistic positive fraction metrics are rescaled to
            (``realistic_*``), e.g. 0.01 for one interacting pair in 100.
        calibration_bins: equal-width bins of the expected calibration error.
        baselines: fit the node-degree and sequence-composition baselines on
            the training pairs and report the model's lift over them.
    """

    prevalence: float = setting(0.01, "(0, 1)")
    calibration_bins: int = setting(10, "[1, inf)")
    baselines: bool = True


@dataclass(frozen=True)
class Config:
    """One training run.

    Attributes:
        task: ``pair`` (interaction of two proteins) or ``single`` (classes or
            labels of one protein).
        seed: seed of initialisation, data order and dropout.
        output_dir: where run directories are made.
        run_name: the run directory's name (empty = task and time stamp).
        resume: a run directory to continue from its last checkpoint.
        data: inputs and split.
        backbone: the sequence backbone (registry name plus its settings).
        channels: one entry per registered channel; ``enabled`` switches it.
        evidence: one entry per registered pair-evidence provider (numbers
            about a pair given to the pair head, e.g. interologs); ``enabled``
            switches it.
        fusion: the cross-attention fusion.
        head: the classification head.
        train: optimisation.
        evaluation: realistic prevalence, calibration and baselines.
    """

    task: Literal["pair", "single"] = "pair"
    seed: int = setting(0, SEEDS)
    output_dir: str = "runs"
    run_name: str = ""
    resume: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    backbone: BackboneConfig = field(
        default_factory=lambda: BACKBONES.config_class("scratch")(),
        metadata={"registry": BACKBONES},
    )
    channels: dict[str, ChannelConfig] = field(
        default_factory=lambda: {n: CHANNELS.config_class(n)() for n in CHANNELS.names()},
        metadata={"registry": CHANNELS, "mapping": True},
    )
    evidence: dict[str, Any] = field(
        default_factory=lambda: {n: EVIDENCE.config_class(n)() for n in EVIDENCE.names()},
        metadata={"registry": EVIDENCE, "mapping": True},
    )
    fusion: FusionConfig = field(default_factory=FusionConfig, metadata={"registry": FUSIONS})
    head: HeadConfig = field(default_factory=HeadConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluation: EvalConfig = field(default_factory=EvalConfig)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Build a :class:`Config` from an optional YAML file and ``key=value`` overrides.

    With ``resume=<run dir>`` the run's own ``config.yaml`` is the base and the
    other overrides apply on top (e.g. ``train.epochs=20`` to train longer).
    """
    data: dict[str, Any] = configtools.load_yaml(path) if path else {}
    data = configtools.apply_overrides(data, list(overrides or []))
    resume = data.get("resume")
    if resume:
        saved = Path(str(resume)) / "config.yaml"
        if not saved.is_file():
            raise ConfigError(f"resume={resume}: not a run directory (no config.yaml)")
        base = saved_defaults(configtools.load_yaml(saved))
        data = configtools.apply_overrides(base, list(overrides or []))
    return configtools.build(Config, data)


#: Settings whose default changed after folders were saved without them: the
#: value such a folder was trained with, which it keeps when read back.
CHANGED_DEFAULTS: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("evidence", "interolog", "enabled"), False),
    (("channels", "sequence", "enabled"), True),
    (("channels", "properties", "pretrained"), ""),
    (("evidence", "neighbours", "enabled"), False),
    (("train", "ema"), 0.0),
    (("train", "members"), 1),
)


#: models that ``train.members=0`` (the default) trains for the pair task
PAIR_MEMBERS = 3


def model_count(config: Config) -> int:
    """How many models a run trains: ``train.members``, or for 0 the task's default."""
    if config.train.members:
        return config.train.members
    return PAIR_MEMBERS if config.task == "pair" else 1


def one_model(config: Config) -> Config:
    """``config`` with the task's default number of models (0) read as one model.

    What ``ppi ablate`` and ``ppi tune`` train: they compare settings, each over
    its own seeds or trials. A number set explicitly is kept.
    """
    if config.train.members:
        return config
    return dataclasses.replace(config, train=dataclasses.replace(config.train, members=1))


def saved_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """A saved config (run directory or model folder) read as it was written.

    A key of :data:`CHANGED_DEFAULTS` that the folder lacks takes the value it
    had when the folder was written, not today's default: interolog evidence,
    for one, became the default after folders were saved without an
    ``evidence`` section, so in such a folder it stays off.
    """
    if not isinstance(data, dict):
        return data
    data = copy.deepcopy(data)
    for path, value in CHANGED_DEFAULTS:
        section = data
        for key in path[:-1]:
            section = section.setdefault(key, {})
            if not isinstance(section, dict):
                break
        else:
            section.setdefault(path[-1], value)
    return data


def config_from_dict(data: dict[str, Any]) -> Config:
    """Rebuild a :class:`Config` from :func:`config_to_dict` output (or a saved one)."""
    return configtools.build(Config, saved_defaults(data))


def config_to_dict(config: Config) -> dict[str, Any]:
    """A plain dict of the whole resolved config."""
    return configtools.to_dict(config)


def dump_config(config: Config) -> str:
    """The resolved config as YAML text (what each run directory keeps)."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)
