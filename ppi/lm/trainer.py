"""The epoch loop of ``ppi pretrain`` under Accelerate: prepare, accumulate, save_state, resume."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
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

CHECKPOINTS = "checkpoints"


def latest_checkpoint(out: Path) -> Path | None:
    """The newest finished epoch checkpoint of a job folder."""
    done = [p for p in (out / CHECKPOINTS).glob("epoch_*") if (p / pt.STATE).is_file()]
    return max(done, key=lambda p: int(p.name.split("_")[1]), default=None)


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
    saved = json.loads((ckpt / pt.STATE).read_text())
    if saved.get("job") != key:
        raise InputError(
            f"resume=true: {out} holds another job (its settings or inputs differ); "
            "resume with the same inputs and settings, or choose another --out"
        )
    return ckpt


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
    """Pretrain into ``out``; returns the last epoch's held-out metrics."""
    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    key = pt.job_key(config, dumps)
    ckpt = check_resume(config, out, key)
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
    data = pt.load_data(config, dumps, out, acc.is_main_process)
    model = build_model(config, len(data.terms))
    tok = model.tokenizer
    unigram = pt.unigram_log_probs(data, len(tok))
    per_epoch = len(pt.epoch_batches(data, config, 0, 0, 1)[0])
    total = math.ceil(per_epoch / s.grad_accum) * s.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, pt.lr_lambda(total, s.warmup))
    model, opt, sched = acc.prepare(model, opt, sched)
    start = 0
    if ckpt is not None:
        acc.load_state(str(ckpt))
        start = json.loads((ckpt / pt.STATE).read_text())["epoch"]
        acc.print(f"resuming {out} after epoch {start}")
    if acc.is_main_process:
        pt.trim_metrics(out, start)
    if s.log_with:
        acc.init_trackers("ppi-pretrain", config={"dim": config.backbone.dim, "lr": s.lr})
    acc.print(
        f"{acc.num_processes} process(es): {len(data.train)} training sequences in "
        f"{per_epoch // acc.num_processes} batches each an epoch, {len(data.held)} held out"
    )
    loop = _Loop(acc, model, opt, sched, config, data, out, key, unigram)
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
        self.retriever = None
        if config.pretrain.retrieval and acc.is_main_process:
            from ppi.lm.retrieval import Retriever

            self.retriever = Retriever(self.tok, data, config, unigram, device=acc.device)

    def fit(self, start: int, per_epoch: int) -> dict:
        s, acc = self.config.pretrain, self.acc
        bar = tqdm(
            total=per_epoch * s.epochs,
            initial=per_epoch * start,
            unit="batch",
            desc="pretraining",
            disable=not acc.is_main_process or None,
        )
        metrics: dict = {}
        for epoch in range(start, s.epochs):
            torch.manual_seed(s.seed * 7919 + epoch)  # dropout, the same after a resume
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
        held = torch.cat([log_probs[i] for i in sorted(log_probs)]).numpy()
        out = self.retriever.figures(self.acc.unwrap_model(self.model), held)
        return {
            "perplexity_ratio_retrieval": out["perplexity_ratio_mixed"],
            "retrieval_covered": out["covered"],
        }

    def epoch(self, epoch: int, bar) -> tuple[float, int]:
        """Train one epoch: the mean batch loss and the residues of its crops, all processes."""
        acc = self.acc
        mine, gen = pt.epoch_batches(
            self.data, self.config, epoch, acc.process_index, acc.num_processes
        )
        total, n, residues = 0.0, 0, 0
        self.model.train()
        for seqs, rows in mine:
            residues += sum(len(q) for q in seqs)
            with acc.accumulate(self.model):
                with acc.autocast():
                    loss = pt.step_loss(
                        self.model, self.tok, seqs, rows, self.data, self.config, gen, acc.device
                    )
                acc.backward(loss)
                self.opt.step()
                self.sched.step()
                self.opt.zero_grad()
            total, n = total + float(loss.detach()), n + 1
            bar.update(acc.num_processes)
            bar.set_postfix(loss=f"{total / n:.3f}")
        # the mean over every process's batches, not the main process's alone
        sums = torch.tensor([total, n, residues], dtype=torch.float64, device=acc.device)
        sums = acc.reduce(sums, "sum")
        return float(sums[0] / max(float(sums[1]), 1.0)), int(sums[2])

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
        (ckpt / pt.STATE).write_text(json.dumps({"epoch": epoch, "job": self.key}))
        for old in (self.out / CHECKPOINTS).glob("epoch_*"):
            if old != ckpt:
                shutil.rmtree(old, ignore_errors=True)
