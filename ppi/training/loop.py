"""Training on Accelerate: one CPU process, several processes, or GPUs.

Follows Accelerate's own examples: ``prepare``, ``accumulate``,
``gather_for_metrics`` (so two processes report the numbers one would),
``save_state`` each epoch for ``resume=<run dir>``, trackers through
``log_with``. The best model (by validation AUPR, or accuracy for single
tasks) is kept as a ``from_pretrained`` folder in ``<run dir>/model``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import os
import re
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import (
    ProjectConfiguration,
    broadcast_object_list,
    parse_flag_from_env,
    set_seed,
)
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ppi.backbones.base import one_line
from ppi.config.run import Config, dump_config, model_count
from ppi.data.pairs import Pair
from ppi.errors import ConfigError, InputError
from ppi.evaluation.plots import write_report
from ppi.evaluation.predict import loss_function, predict, selection_metric
from ppi.evaluation.report import finish_run
from ppi.fusion.evidence_memo import EvidenceMemo
from ppi.model import PPIModel
from ppi.training.averaging import WeightAverage
from ppi.training.datasets import (
    EpochSampler,
    TaskData,
    load_pair_data,
    load_single_data,
    make_loader,
    run_data,
    write_splits,
)
from ppi.training.evidence_prior import choose_evidence_prior
from ppi.training.preflight import check_inputs, check_resume, check_training_data, keep_inputs
from ppi.utils.files import output_dir
from ppi.utils.locks import exclusive_across

log = logging.getLogger("ppi")
STATE = "trainer_state.json"
#: called after each epoch with (epoch, validation score)
EpochHook = Callable[[int, float], None]


class _KnownTies(logging.Filter):
    """Drops accelerate's note on shared tensors when it names only ``names``."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "Removed shared tensor" not in text:
            return True
        named = set(re.findall(r"'([^']+)'", text.partition("{")[2].partition("}")[0]))
        return not named or not named <= self.names


@contextmanager
def _quiet_about_ties(model: torch.nn.Module):
    """Hush accelerate's note that it stored a tied tensor once, for this model's own ties.

    The pair stage's output norm is the fusion's (``fusion/pair_stage.py``), so
    ``save_state`` stores it once and warns at every checkpoint; the model's
    constructor ties it again on load (``tests/commands/test_train.py`` resumes to
    the same result). A note naming any other tensor is still shown.
    """
    first: dict[int, str] = {}
    tied: set[str] = set()
    for name, tensor in model.state_dict().items():
        storage = tensor.untyped_storage()
        if storage.nbytes() == 0:  # empty tensors share no memory
            continue
        key = storage.data_ptr()
        if key in first:
            tied.add(name)
        else:
            first[key] = name
    hush = _KnownTies(tied)
    target = logging.getLogger("accelerate.utils.other")
    target.addFilter(hush)
    try:
        yield
    finally:
        target.removeFilter(hush)


@dataclass
class TrainerState:
    """What a resumed run needs besides Accelerate's own state."""

    epoch: int = 0
    best: float = -math.inf
    best_epoch: int = -1
    bad_epochs: int = 0
    history: list[dict] = field(default_factory=list)


def load_task_data(config: Config) -> TaskData:
    """The data of the configured task."""
    return load_pair_data(config.data) if config.task == "pair" else load_single_data(config.data)


def build_model(config: Config, data: TaskData) -> PPIModel:
    """A fresh model sized for the task's outputs."""
    outputs = 1 if config.task == "pair" else len(data.class_names)
    return PPIModel(config, outputs, data.class_names, data.multi_label)


def make_loaders(config: Config, data: TaskData) -> dict[str, DataLoader]:
    """Train/valid/test loaders; the train sampler's order depends on (seed, epoch) only."""
    sampler = EpochSampler(len(data.splits["train"]), config.seed)
    loaders = {"train": make_loader(config.task, data, "train", config.train.batch_size, sampler)}
    for name in ("valid", "test"):
        loaders[name] = make_loader(config.task, data, name, config.train.eval_batch_size)
    return loaders


def make_optimizer(model: PPIModel, config: Config, steps: int):
    """AdamW with linear warm-up and cosine decay over ``steps`` updates."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.train.lr, weight_decay=config.train.weight_decay)
    warm = max(1, int(config.train.warmup * steps))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        progress = min(1.0, (step - warm) / max(1, steps - warm))
        return 0.5 * (1 + math.cos(math.pi * progress))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def resolve_run(config: Config, state: PartialState) -> tuple[Config, Path]:
    """The run directory (new, or the one being resumed) and the config to use.

    An ``output_dir`` or run directory that is a file is refused here, before any work,
    and so is a run directory that holds a run already: a second run of one
    ``run_name`` would replace the first one's model without a word.
    """
    if config.resume:
        check_resume(config, Path(config.resume))
        check_inputs(config, Path(config.resume))
        return config, Path(config.resume)
    name = config.run_name or f"{config.task}-{time.strftime('%Y%m%d-%H%M%S')}"
    shared = [name]
    if state.num_processes > 1:
        broadcast_object_list(shared)  # every process writes to the main process's folder
    run_dir = output_dir(output_dir(config.output_dir, "output_dir") / shared[0], "run_name")
    if (run_dir / "config.yaml").exists() or (run_dir / "model").exists():
        raise InputError(
            f"run_name={shared[0]}: {run_dir} holds a run already; resume={run_dir} continues "
            "it, or choose another run_name (or remove that folder)"
        )
    return config, run_dir


def set_cpu_threads(config: Config, state: PartialState) -> None:
    """On CPU, use the cores this process may run on, shared among local processes."""
    if state.device.type != "cpu":
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    local = max(int(os.environ.get("LOCAL_WORLD_SIZE", state.num_processes)), 1)
    torch.set_num_threads(config.train.cpu_threads or max(1, (cores or 1) // local))


def trackers(config: Config) -> list[str]:
    """Accelerate tracker names, checked to be installed."""
    from accelerate.utils import imports

    wanted = list(config.train.log_with)
    for name in wanted:
        check = getattr(imports, f"is_{name}_available", None)
        if check is None or not check():
            raise ConfigError(
                f"train.log_with: tracker '{name}' is not available "
                f"(install it, e.g. pip install 'ppi[{name}]', or set train.log_with=[])"
            )
    return wanted


def train(config: Config, on_epoch: EpochHook | None = None) -> Path:
    """Train, keep the best model, evaluate it on the test split; returns the run directory.

    ``on_epoch(epoch, validation score)`` is called after each epoch (e.g. by a
    hyperparameter search to prune a bad trial); an exception it raises ends
    the run.
    """
    # The run directory is agreed on before the Accelerator exists (its trackers
    # need it); PartialState reads ACCELERATE_USE_CPU only when told to.
    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    set_cpu_threads(config, state)
    config, run_dir = resolve_run(config, state)
    with exclusive_across(run_dir, "run directory", state):  # one training per run directory
        if model_count(config) > 1:
            return _train_members(config, run_dir, on_epoch)
        return _train(config, run_dir, on_epoch)


def _train_members(config: Config, run_dir: Path, on_epoch: EpochHook | None) -> Path:
    """Train :func:`~ppi.config.run.model_count` seeds in ``members/seed<N>/``, kept as one.

    Each member is a whole run of its own (its checkpoints, its report; no
    baselines, which the ensemble's report has). A member that finished is
    not trained again when the run is resumed; one that was interrupted
    resumes from its last epoch. ``<run>/model`` is the ensemble
    (:mod:`ppi.ensemble`) and the run's report is the ensemble's on the test
    split.
    """
    if config.task != "pair":
        raise ConfigError("train.members: ensembles average pair models; set it to 1")
    state = PartialState()
    folders, memo = [], EvidenceMemo()  # one memo: the members share the split and its evidence
    # the run's config is written with a member's folder, once its checks passed (bad input
    # writes nothing) and before its first epoch (so that resume=<run> finds the run)
    keep_run = functools.partial(_keep_config, config, run_dir)
    for k in range(model_count(config)):
        member = _member_config(config, k, run_dir)
        folder = _member_dir(run_dir, member.seed)
        if not (folder / "metrics.json").is_file():
            _train(member, folder, on_epoch, memo, before_write=keep_run)
            # the main process writes the report: every process looks once it is there
            state.wait_for_everyone()
            if not (folder / "metrics.json").is_file():
                state.print(f"member seed{member.seed} stopped; continue with resume={run_dir}")
                return run_dir
        folders.append(folder)
    _evaluate_ensemble(config, run_dir, folders, state)
    return run_dir


def _evaluate_ensemble(config: Config, run_dir: Path, folders: list[Path], state) -> None:
    """Keep the members as ``<run>/model`` and report the ensemble on the test split."""
    from ppi.ensemble import load_model, write_ensemble

    data = load_task_data(config)
    if state.is_main_process:
        write_splits(data, run_dir)
        shutil.rmtree(run_dir / "model", ignore_errors=True)
        write_ensemble(folders, run_dir / "model")
    state.wait_for_everyone()
    accelerator = Accelerator()
    model = load_model(run_dir / "model").to(accelerator.device)
    model.prepare_channels(data.proteins, accelerator)
    loader = make_loaders(config, data)["test"]
    model, loader = accelerator.prepare(model, loader)
    labels, probs, _ = predict(model, loader, accelerator)
    if accelerator.is_main_process:
        metrics = write_report(run_dir, "pair", labels, probs, prefix="test")
        text = f"aupr={metrics['aupr']:.4f} auroc={metrics['auroc']:.4f}"
        print(f"test: {text} (the mean of {len(folders)} members)")
        print(f"run directory: {run_dir}")
        finish_run(run_dir, config, data, labels, probs)


def _member_dir(run_dir: Path, seed: int) -> Path:
    """Where the member of ``seed`` trains: ``<run>/members/seed<N>``."""
    return run_dir / "members" / f"seed{seed}"


def _member_config(config: Config, k: int, run_dir: Path) -> Config:
    """The config of member ``k``: seed ``seed + k``, one model, no baselines."""
    seed = config.seed + k
    folder = _member_dir(run_dir, seed)
    return dataclasses.replace(
        config,
        seed=seed,
        resume=str(folder) if (folder / "config.yaml").is_file() else "",
        train=dataclasses.replace(config.train, members=1),
        evaluation=dataclasses.replace(config.evaluation, baselines=False),
    )


def _keep_config(config: Config, run_dir: Path) -> None:
    """``<run>/config.yaml`` and ``inputs.json``: what ``resume=<run>`` reads back and checks."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(dump_config(dataclasses.replace(config, resume="")))
    keep_inputs(config, run_dir)


def _remember_evidence(model: PPIModel, memo: EvidenceMemo | None) -> None:
    """Keep a pair model's evidence in ``memo`` (a new one if None) for the run."""
    if getattr(model, "pair", None) is not None:
        model.pair.remember(memo if memo is not None else EvidenceMemo())


def _train(
    config: Config,
    run_dir: Path,
    on_epoch: EpochHook | None,
    memo: EvidenceMemo | None = None,
    before_write: Callable[[], None] | None = None,
) -> Path:
    """:func:`train` into ``run_dir``, which this process has locked.

    The pairs' evidence is computed once and kept for the run in ``memo``
    (a new one if None), as it does not change while the model trains. The
    main process calls ``before_write`` once the data, the model and its
    channels' inputs passed their checks, just before it writes anything.
    """
    accelerator = Accelerator(
        gradient_accumulation_steps=config.train.grad_accum,
        log_with=trackers(config) or None,
        project_config=ProjectConfiguration(str(run_dir), str(run_dir / "tensorboard")),
    )
    if accelerator.mixed_precision != "no" and not accelerator.native_amp:
        log.warning(
            "mixed precision %s is not available on %s: training in float32",
            accelerator.mixed_precision,
            accelerator.device.type,
        )
    set_seed(config.seed)
    data = load_task_data(config)
    check_training_data(config, data)
    model = build_model(config, data).to(accelerator.device)
    # the channels read their files (tables, stores, weights, structures) here: the errors
    # of the data, the model and its inputs all come before any write
    model.prepare_channels(data.proteins, accelerator, run_data(data))
    _remember_evidence(model, memo)
    if accelerator.is_main_process:
        if before_write is not None:
            before_write()
        _keep_config(config, run_dir)
        write_splits(data, run_dir)
    loaders = make_loaders(config, data)
    steps = math.ceil(len(loaders["train"]) / config.train.grad_accum) * config.train.epochs
    optimizer, scheduler = make_optimizer(model, config, steps)
    model, optimizer, scheduler, train_dl, valid_dl, test_dl = accelerator.prepare(
        model, optimizer, scheduler, loaders["train"], loaders["valid"], loaders["test"]
    )
    average = WeightAverage(model, config.train.ema) if config.train.ema else None
    if average is not None:  # saved and restored with each epoch checkpoint
        accelerator.register_for_checkpointing(average)
    state = restore(accelerator, run_dir) if config.resume else TrainerState()
    if config.train.log_with:
        accelerator.init_trackers("ppi", config=_hparams(config))
    ctx = _Loop(accelerator, model, optimizer, scheduler, config, run_dir)
    ctx.average = average
    ctx.on_epoch = on_epoch
    done = ctx.fit(state, train_dl, valid_dl)
    if done:
        labels, probs = ctx.finish(state, test_dl, valid_dl, data)
        if accelerator.is_main_process:
            finish_run(run_dir, config, data, labels, probs)
    for tracker in accelerator.trackers:
        tracker.finish()
    # Not accelerator.end_training(): it also destroys the process group, each
    # process on its own, and a process that tears gloo down while its peer is
    # still writing the report aborts ("terminate called without an active
    # exception"; 1 run in 3 here). ppi.utils.distributed.end_process ends a distributed
    # process after a barrier instead, without tearing anything down.
    if accelerator.num_processes > 1:
        _KEEP_ALIVE.append((model, optimizer, ctx))
    return run_dir


#: The DDP model and what refers to it, in a run of several processes, kept until
#: the process ends: freeing a DDP model runs gloo's process-group destructor,
#: which can hang for ever (seen on CPU: one rank stuck in ``~ProcessGroupGloo``
#: after its work was done). :func:`ppi.utils.distributed.end_process` ends the process with
#: ``os._exit`` after a barrier, so these are never freed.
_KEEP_ALIVE: list = []


def restore(accelerator: Accelerator, run_dir: Path) -> TrainerState:
    """Load the newest complete checkpoint of a run."""
    ckpts = sorted(
        (p for p in (run_dir / "checkpoints").glob("epoch_*") if (p / STATE).is_file()),
        key=lambda p: int(p.name.split("_")[1]),
    )
    if not ckpts:
        raise InputError(f"resume={run_dir}: no finished epoch checkpoint to resume from")
    load_checkpoint(accelerator, ckpts[-1])
    state = TrainerState(**json.loads((ckpts[-1] / STATE).read_text()))
    accelerator.print(f"resuming {run_dir} after epoch {state.epoch}")
    return state


def load_checkpoint(accelerator: Accelerator, ckpt: Path) -> None:
    """``accelerator.load_state``; a file it cannot read is named in one line.

    Accelerate loads pickles with ``weights_only=True``, so a checkpoint file
    holding anything but tensors and plain values is refused, as is a damaged one.
    """
    try:
        accelerator.load_state(str(ckpt))
    except Exception as exc:  # which file and why: probe them one by one
        bad, why = _unreadable_file(ckpt) or (ckpt, exc)
        raise InputError(f"{bad}: cannot be loaded to resume ({_reason(why)})") from None


def _reason(exc: BaseException) -> str:
    """Why a checkpoint file did not load, in a few words."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:  # torch's weights_only refusal: keep its one fact
        detail = text.split("WeightsUnpickler error:", 1)[1].strip().split(". ")[0]
        return f"its pickle holds what weights_only loading refuses: {detail}"
    if not text.strip():
        return f"{type(exc).__name__}: the file is empty or truncated"
    return one_line(exc, 200)


def _unreadable_file(ckpt: Path) -> tuple[Path, BaseException] | None:
    """The first file of a checkpoint that does not load on its own, with its error."""
    from accelerate.utils import load
    from safetensors.torch import load_file

    for path in sorted(ckpt.iterdir()):
        try:
            if path.suffix == ".safetensors":
                load_file(str(path))
            elif path.suffix in (".bin", ".pkl", ".pt"):
                load(str(path), map_location="cpu")
        except Exception as exc:  # the error itself is what is reported
            return path, exc
    return None


def _hparams(config: Config) -> dict:
    flat = {}
    for section in ("backbone", "fusion", "train"):
        for key, value in asdict(getattr(config, section)).items():
            if isinstance(value, (int, float, str, bool)):
                flat[f"{section}.{key}"] = value
    flat["channels"] = ",".join(n for n, c in config.channels.items() if c.enabled)
    return flat


class _Loop:
    """The epoch loop and its checkpoints, sharing the prepared objects."""

    def __init__(self, accelerator, model, optimizer, scheduler, config: Config, run_dir: Path):
        self.acc, self.model, self.opt, self.sched = accelerator, model, optimizer, scheduler
        self.config, self.run_dir = config, run_dir
        self.loss_fn = loss_function(config.task, accelerator.unwrap_model(model).multi_label)
        self.on_epoch: EpochHook | None = None
        self.average: WeightAverage | None = None

    def averaged(self):
        """A block in which the model holds the averaged weights (``train.ema``), if any."""
        return self.average.applied() if self.average is not None else nullcontext()

    def fit(self, state: TrainerState, train_dl, valid_dl) -> bool:
        """Run the remaining epochs; False when stopped early by ``stop_after``."""
        cfg, ran = self.config.train, 0
        for epoch in range(state.epoch, cfg.epochs):
            if state.bad_epochs >= cfg.patience:
                break
            # Through the prepared loader: it also keeps its own epoch counter,
            # which would otherwise restart at 0 in a resumed run.
            train_dl.set_epoch(epoch)
            start = time.perf_counter()
            train_loss = self._epoch(train_dl, epoch)
            seconds = time.perf_counter() - start  # the training pass alone (benchmarks read it)
            with self.averaged():  # validated and kept with the averaged weights
                labels, probs, valid_loss = predict(self.model, valid_dl, self.acc, self.loss_fn)
                score, metric = selection_metric(self.config.task, labels, probs)
                self._keep_best(state, score, epoch)
            row = {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                "valid_loss": valid_loss,
                f"valid_{metric}": score,
                "train_seconds": round(seconds, 3),
            }
            state.history.append(row)
            self.acc.log(row, step=epoch + 1)
            self.acc.print(
                " ".join(
                    f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                )
            )
            state.epoch = epoch + 1
            self._checkpoint(state)
            if self.on_epoch is not None:
                self.on_epoch(epoch + 1, score)
            ran += 1
            if cfg.stop_after and ran >= cfg.stop_after and state.epoch < cfg.epochs:
                self.acc.print(f"stopped after {ran} epoch(s); continue with resume={self.run_dir}")
                return False
        return True

    def _epoch(self, loader, epoch: int) -> float:
        self.model.train()
        total, count = torch.zeros((), device=self.acc.device), 0
        bar = tqdm(
            loader,
            desc=f"epoch {epoch + 1}",
            disable=None if self.acc.is_local_main_process else True,
            leave=False,
        )
        for batch in bar:
            with self.acc.accumulate(self.model):
                logits = self.model(batch["ids"], batch["seqs"], batch["pairs"])
                loss = self.loss_fn(logits, batch["labels"])
                self.acc.backward(loss)
                if self.config.train.max_grad_norm and self.acc.sync_gradients:
                    self.acc.clip_grad_norm_(
                        self.model.parameters(), self.config.train.max_grad_norm
                    )
                self.opt.step()
                self.sched.step()
                self.opt.zero_grad()
                if self.average is not None and self.acc.sync_gradients:
                    self.average.update()
            total += loss.detach()
            count += 1
            bar.set_postfix(loss=f"{total.item() / count:.4f}")
        mean = self.acc.reduce(total / max(count, 1), reduction="mean")
        return float(mean)

    def _keep_best(self, state: TrainerState, score: float, epoch: int) -> None:
        if not score > state.best:  # NaN never counts as better
            state.bad_epochs += 1
            return
        state.best, state.best_epoch, state.bad_epochs = score, epoch + 1, 0
        if self.acc.is_main_process:
            tmp = self.run_dir / "model.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            self.acc.unwrap_model(self.model).save_pretrained(tmp)
            shutil.rmtree(self.run_dir / "model", ignore_errors=True)
            tmp.rename(self.run_dir / "model")
        self.acc.wait_for_everyone()

    def _evidence_prior(self, model: PPIModel, valid_dl, data: TaskData) -> None:
        """Fit the evidence prior (:mod:`ppi.training.evidence_prior`) and keep it with the model.

        Every process fits the same regression and sees the same gathered
        validation predictions, so all choose the same weight.
        """
        pair = getattr(model, "pair", None)
        if not self.config.train.evidence_prior or pair is None or not len(valid_dl):
            return
        train = [p for p in data.splits.get("train", []) if isinstance(p, Pair)]
        prior = choose_evidence_prior(
            pair,
            train,
            data.proteins,
            lambda: predict(self.model, valid_dl, self.acc, self.loss_fn)[:2],
            self.config.train.evidence_prior_interologs,
        )
        if prior is None:
            return
        scores = dict(prior.valid)  # weight -> validation AUPR
        alone = f"AUPR {scores[0.0]:.4f} at weight 0, " if 0.0 in scores else "AUPR "
        own = ", interolog regression at its fitted strength" if any(prior.direct) else ""
        self.acc.print(
            f"evidence prior: weight {prior.weight:g} chosen on validation "
            f"({alone}{scores[prior.weight]:.4f} with it){own}"
        )
        if self.acc.is_main_process:
            prior.save(self.run_dir / "model")
        self.acc.wait_for_everyone()

    def _checkpoint(self, state: TrainerState) -> None:
        root = self.run_dir / "checkpoints"
        final = root / f"epoch_{state.epoch}"
        tmp = root / f".epoch_{state.epoch}.tmp"
        if self.acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
        self.acc.wait_for_everyone()
        with _quiet_about_ties(self.acc.unwrap_model(self.model)):
            self.acc.save_state(str(tmp))
        if self.acc.is_main_process:
            (tmp / STATE).write_text(json.dumps(asdict(state)))
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
            done = sorted(root.glob("epoch_*"), key=lambda p: int(p.name.split("_")[1]))
            for old in done[: -max(self.config.train.keep_checkpoints, 1)]:
                shutil.rmtree(old, ignore_errors=True)
        self.acc.wait_for_everyone()

    def finish(self, state: TrainerState, test_dl, valid_dl, data: TaskData):
        """Evaluate the best model on the test split and write the report; returns labels, probs."""
        model = self.acc.unwrap_model(self.model)
        model.load_weights(self.run_dir / "model" / "model.safetensors")  # copied onto the device
        self._evidence_prior(model, valid_dl, data)
        labels, probs, _ = predict(self.model, test_dl, self.acc, self.loss_fn)
        if self.acc.is_main_process:
            metrics = write_report(
                self.run_dir,
                self.config.task,
                labels,
                probs,
                history=state.history,
                class_names=list(model.class_names) or None,
                prefix="test",
            )
            summary = {k: v for k, v in metrics.items() if isinstance(v, float)}
            (self.run_dir / "model" / "test_metrics.json").write_text(json.dumps(summary, indent=2))
            shown = ("aupr", "auroc", "accuracy", "f1", "mcc", "macro_f1", "aupr_macro")
            text = " ".join(f"{k}={metrics[k]:.4f}" for k in shown if k in metrics)
            self.acc.print(f"test: {text} (best epoch {state.best_epoch})")
            self.acc.print(f"run directory: {self.run_dir}")
        return labels, probs
