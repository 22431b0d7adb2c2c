"""The epoch loop of ``ppi pretrain`` under Accelerate: prepare, accumulate, save_state, resume."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path

import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import (
    ProjectConfiguration,
    gather_object,
    parse_flag_from_env,
    set_seed,
)
from tqdm.auto import tqdm

from ppi.errors import InputError
from ppi.lm import pretrain as pt
from ppi.lm.folder import load_strict, read_backbone, read_tensors
from ppi.lm.model import ScratchLM
from ppi.utils.files import atomic_write_text
from ppi.utils.locks import exclusive_across

CHECKPOINTS = "checkpoints"


def latest_checkpoint(out: Path) -> Path | None:
    """The newest finished checkpoint of a job folder: ``epoch_E`` or ``epoch_E_batch_B``.

    ``epoch_E`` is saved when E epochs are done; ``epoch_E_batch_B`` when B
    batches of each process's share of epoch E + 1 are done as well.
    """
    done = [p for p in (out / CHECKPOINTS).glob("epoch_*") if (p / pt.STATE).is_file()]
    return max(done, key=_place, default=None)


def _place(ckpt: Path) -> tuple[int, int]:
    """``(epochs done, batches done of the next)`` from a checkpoint's name."""
    parts = ckpt.name.split("_")  # epoch, E[, batch, B]
    return int(parts[1]), int(parts[3]) if len(parts) == 4 else 0


#: each process's random generators at a checkpoint inside an epoch (rank-numbered)
RNG = "rng_{}.pt"


def read_marker(ckpt: Path) -> dict:
    """The record that marks ``ckpt`` finished (written atomically, last)."""
    path = ckpt / pt.STATE
    text = path.read_text()
    try:
        marker = json.loads(text)
    except ValueError:
        marker = None
    if not isinstance(marker, dict) or "job" not in marker:
        raise InputError(
            f"{path}: expected the JSON record of a finished checkpoint, got {text[:60]!r}; "
            "the file was changed outside ppi: remove that checkpoint folder to resume "
            "from an earlier one, or start again"
        )
    return marker


def check_resume(config: pt.PretrainConfig, out: Path, key: str) -> Path | None:
    """The checkpoint to resume from; an error when resuming another job or overwriting one."""
    ckpt = latest_checkpoint(out)
    if not config.resume:
        if ckpt is not None:
            raise InputError(
                f"--out {out}: holds a pretraining job already (epoch checkpoints); add "
                "resume=true to continue it, or choose another --out"
            )
        return None
    if ckpt is None:
        raise InputError(f"resume=true: {out} has no finished epoch checkpoint to resume from")
    saved = read_marker(ckpt)
    if saved.get("job") != key:
        raise InputError(
            f"resume=true: {out} holds another job ({_what_differs(config, out)}); "
            "resume with the same inputs and settings, or choose another --out"
        )
    return ckpt


def _what_differs(config: pt.PretrainConfig, out: Path) -> str:
    """The settings that differ from those ``out/config.json`` keeps, or else the dumps."""
    try:
        kept = json.loads((out / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        kept = {}
    now = {"backbone": pt.to_dict(config.backbone), "pretrain": pt.to_dict(config.pretrain)}
    changed = [
        f"{part}.{key}: {there!r} there, {value!r} now"
        for part in ("backbone", "pretrain")
        if isinstance(kept.get(part), dict)
        for key, value in now[part].items()
        if key not in pt.OUTSIDE_THE_JOB
        and key in kept[part]
        and (there := kept[part][key]) != value
        and not (isinstance(value, tuple) and list(value) == there)
    ]
    return (
        "; ".join(changed)
        if changed
        else "its settings are these, so the dumps or their order differ"
    )


def build_model(config: pt.PretrainConfig, terms: int) -> ScratchLM:
    """A fresh model, or one that starts from ``backbone.path`` (a pretrain or model folder)."""
    if not config.backbone.path:
        return ScratchLM(config.backbone, terms)
    backbone_cfg, state = read_backbone(config.backbone)
    model = ScratchLM(backbone_cfg, terms)
    load_strict(model.backbone, state, config.backbone.path)
    heads = read_tensors(Path(config.backbone.path) / "model.safetensors")
    lm_head = {k[len("lm_head.") :]: v for k, v in heads.items() if k.startswith("lm_head.")}
    if lm_head:  # a pretrain folder: continue its LM head too
        load_strict(model.lm_head, lm_head, config.backbone.path)
    return model


def run(config: pt.PretrainConfig, dumps: list[str], out: Path) -> dict:
    """Pretrain into ``out``; returns the last epoch's held-out metrics.

    One job per folder at a time: ``<out>.lock`` is held for the whole run, so
    a second invocation (or a resume while the workers of a killed launcher
    still run) is refused in one line instead of writing beside it.
    """
    # the other processes wait while one writes the sequence store (some 35 minutes for
    # UniRef50): longer than the default 10 (NCCL) or 30 (gloo) minutes of a collective
    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"), timeout=timedelta(hours=6))
    with exclusive_across(out, "--out", state):
        return _run(config, dumps, out, state)


def _run(config: pt.PretrainConfig, dumps: list[str], out: Path, state) -> dict:
    key = pt.job_key(config, dumps)
    ckpt = check_resume(config, out, key)
    start, skip = _place(ckpt) if ckpt is not None else (0, 0)
    if skip:
        saved = read_marker(ckpt).get("processes")
        if saved != state.num_processes:
            raise InputError(
                f"resume=true: {ckpt} was saved inside an epoch by {saved} process(es), whose "
                f"batches are split {saved} ways; resume it with {saved}, not "
                f"{state.num_processes}"
            )
    s = config.pretrain
    if state.device.type == "cpu":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        torch.set_num_threads(s.cpu_threads or max(1, cores // max(state.num_processes, 1)))
    acc = Accelerator(
        gradient_accumulation_steps=s.grad_accum,
        log_with=list(s.log_with) or None,
        project_config=ProjectConfiguration(str(out), str(out / "tensorboard")),
    )
    set_seed(s.seed)
    # one process a machine writes the sequence store in the cache, which may be the
    # machine's own disk; the others then map it
    with acc.local_main_process_first():
        data = pt.load_data(
            config,
            dumps,
            out,
            acc.is_main_process,
            resuming=ckpt is not None,
            processes=acc.num_processes,
        )
    model = build_model(config, len(data.terms))
    tok = model.tokenizer
    unigram = pt.unigram_log_probs(data, len(tok))
    per_epoch = pt.batches_per_epoch(data, config)  # at least one a process (load_data)
    total = math.ceil(per_epoch / s.grad_accum) * s.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, pt.lr_lambda(total, s.warmup))
    model, opt, sched = acc.prepare(model, opt, sched)
    if ckpt is not None:
        acc.load_state(str(ckpt))
        acc.print(f"resuming {out} after epoch {start}" + (f", batch {skip}" if skip else ""))
    if acc.is_main_process:
        pt.trim_metrics(out, start)
    if s.log_with:
        acc.init_trackers("ppi-pretrain", config={"dim": config.backbone.dim, "lr": s.lr})
    acc.print(
        f"{acc.num_processes} process(es): {len(data.train)} training sequences in "
        f"{per_epoch // acc.num_processes} batches each an epoch, {len(data.held)} held out"
    )
    loop = _Loop(acc, model, opt, sched, config, data, out, key, unigram)
    loop.resumed = ckpt if skip else None
    metrics = loop.fit(start, per_epoch)
    if s.log_with:
        acc.end_training()
    return metrics


class _Loop:
    """The prepared objects and what an epoch does with them."""

    def __init__(self, acc, model, opt, sched, config, data, out: Path, key: str, unigram):
        self.acc, self.model, self.opt, self.sched = acc, model, opt, sched
        self.config, self.data, self.out, self.key, self.unigram = config, data, out, key, unigram
        self.tok = acc.unwrap_model(model).tokenizer
        self.resumed: Path | None = None  # a checkpoint inside the first epoch to run
        self.retriever = None
        if config.pretrain.retrieval and acc.is_main_process:
            from ppi.lm.retrieval import Retriever

            self.retriever = Retriever(self.tok, data, config, unigram, device=acc.device)

    def fit(self, start: int, per_epoch: int) -> dict:
        s, acc = self.config.pretrain, self.acc
        skip = _place(self.resumed)[1] if self.resumed else 0
        bar = tqdm(
            total=per_epoch * s.epochs,
            initial=per_epoch * start + skip * acc.num_processes,
            unit="batch",
            desc="pretraining",
            disable=not acc.is_main_process or None,
        )
        metrics: dict = {}
        for epoch in range(start, s.epochs):
            began = time.monotonic()
            loss, residues = self.epoch(epoch, bar)
            log_probs: dict = {}  # the held-out predictions, for pretrain.retrieval
            metrics = {
                "epoch": epoch + 1,
                "processes": acc.num_processes,
                "train_loss": loss,
                # the epoch's training steps on the main process's clock, evaluation aside
                "train_seconds": round(pt.elapsed(began), 2),
                "train_residues": residues,
                **pt.evaluate(
                    self.model, self.tok, self.data, self.config, self.unigram, acc, log_probs
                ),
                **self.retrieval(log_probs),
            }
            acc.log(metrics, step=epoch + 1)
            acc.print(
                json.dumps(
                    {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}
                )
            )
            self.checkpoint(epoch + 1, metrics)
            if s.stop_after and epoch + 1 - start >= s.stop_after:
                break
        bar.close()
        return metrics

    def retrieval(self, log_probs: dict) -> dict:
        """``pretrain.retrieval``: the held-out ratio mixed with training homologs (main only).

        ``log_probs`` holds this process's held-out predictions from :func:`pt.evaluate`,
        by batch index; every process sends its own to the main one.
        """
        if not self.config.pretrain.retrieval:
            return {}
        if self.acc.num_processes > 1:
            log_probs = {k: v for part in gather_object([log_probs]) for k, v in part.items()}
        if self.retriever is None:
            return {}
        from ppi.lm.retrieval import in_batch_order

        held = in_batch_order(log_probs)
        out = self.retriever.figures(self.acc.unwrap_model(self.model), held)
        return {
            "perplexity_ratio_retrieval": out["perplexity_ratio_mixed"],
            "retrieval_covered": out["covered"],
        }

    def epoch(self, epoch: int, bar) -> tuple[float, int]:
        """Train one epoch: the mean batch loss and the residues of its crops, all processes.

        After a checkpoint inside this epoch, the batches it holds are skipped and
        the mask and dropout generators and the loss sums are where it left them.
        """
        acc, s = self.acc, self.config.pretrain
        mine, gen = pt.epoch_batches(
            self.data, self.config, epoch, acc.process_index, acc.num_processes
        )
        sums = torch.zeros(3, dtype=torch.float64)  # loss, batches, residues
        skip = 0
        if self.resumed is not None:
            skip, sums = self.restore(self.resumed, gen)
            self.resumed = None
        else:
            torch.manual_seed(s.seed * 7919 + epoch)  # dropout, the same after a resume
        self.model.train()
        for i in range(skip, len(mine)):
            seqs, rows = mine[i]
            with acc.accumulate(self.model):
                with acc.autocast():
                    loss = pt.step_loss(
                        self.model, self.tok, seqs, rows, self.data, self.config, gen, acc.device
                    )
                acc.backward(loss)
                self.opt.step()
                self.sched.step()
                self.opt.zero_grad()
            sums += torch.tensor([float(loss.detach()), 1, sum(len(q) for q in seqs)])
            bar.update(acc.num_processes)
            bar.set_postfix(loss=f"{sums[0] / sums[1]:.3f}")
            done = i + 1
            if s.save_every and done % s.save_every == 0 and done < len(mine):
                if acc.sync_gradients:  # on an optimizer step: no gradient is half accumulated
                    self.checkpoint_within(epoch, done, gen, sums)
        # the mean over every process's batches, not the main process's alone
        sums = acc.reduce(sums.to(acc.device), "sum").cpu()
        return float(sums[0] / max(float(sums[1]), 1.0)), int(sums[2])

    def checkpoint_within(self, epoch: int, done: int, gen, sums: torch.Tensor) -> None:
        """Accelerate state, each process's generators and the loss sums so far in the epoch.

        The main process keeps the sums of all processes (the others start again
        from zero), so the epoch's mean loss comes out as if never stopped.
        """
        acc = self.acc
        ckpt = self.out / CHECKPOINTS / f"epoch_{epoch}_batch_{done}"
        acc.save_state(str(ckpt))
        ckpt.mkdir(parents=True, exist_ok=True)
        state = {"mask": gen.get_state(), "torch": torch.get_rng_state()}
        if acc.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(acc.device)
        torch.save(state, ckpt / RNG.format(acc.process_index))
        total = acc.reduce(sums.to(acc.device), "sum").cpu()
        acc.wait_for_everyone()
        if acc.is_main_process:
            marker = {"epoch": epoch, "batch": done, "job": self.key, "sums": total.tolist()}
            marker["processes"] = acc.num_processes
            atomic_write_text(ckpt / pt.STATE, json.dumps(marker))
            self.drop_older(ckpt)

    def restore(self, ckpt: Path, gen) -> tuple[int, torch.Tensor]:
        """The batches done, and this process's sums, at a checkpoint inside the epoch."""
        acc = self.acc
        state = torch.load(ckpt / RNG.format(acc.process_index))
        gen.set_state(state["mask"])
        torch.set_rng_state(state["torch"])
        if "cuda" in state and acc.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda"], acc.device)
        marker = read_marker(ckpt)
        sums = torch.zeros(3, dtype=torch.float64)
        if acc.is_main_process:
            sums = torch.tensor(marker["sums"], dtype=torch.float64)
        return marker["batch"], sums

    def drop_older(self, ckpt: Path) -> None:
        """Remove every checkpoint but ``ckpt`` (main process)."""
        for old in (self.out / CHECKPOINTS).glob("epoch_*"):
            if old != ckpt:
                shutil.rmtree(old, ignore_errors=True)

    def checkpoint(self, epoch: int, metrics: dict) -> None:
        """Accelerate state for resume, then the backbone folder and the metrics line."""
        acc = self.acc
        ckpt = self.out / CHECKPOINTS / f"epoch_{epoch}"
        acc.save_state(str(ckpt))
        acc.wait_for_everyone()
        if not acc.is_main_process:
            return
        pt.save_folder(acc.unwrap_model(self.model), self.out, self.data, metrics, self.config)
        with open(self.out / pt.METRICS, "a") as handle:
            handle.write(json.dumps(metrics) + "\n")
        pt.plot_curves(self.out)
        atomic_write_text(ckpt / pt.STATE, json.dumps({"epoch": epoch, "job": self.key}))
        self.drop_older(ckpt)
