"""Distil the pair stage into a retrieval head: one vector per protein that ranks partners alike.

The teacher is the trained pair model itself; no labels are used. Sampled
query proteins are scored against every protein by the pair stage's block
entry point (the teacher's logits, computed once); the head
(:class:`ppi.fusion.retrieval.RetrievalHead`) then learns, for each query, a
distribution over partners close to the teacher's: a listwise softmax
cross-entropy at temperature ``temperature``, which weighs the top of each
list most, as retrieval needs. A tenth of the queries is held out to measure
how many of the teacher's top partners the head's top ``fraction`` holds.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from ppi.fusion.retrieval import RetrievalHead

#: the teacher's top partners of a held-out query that the recall looks for
TOP = 10
#: proteins distillation needs: a query besides its top partners
MIN_PROTEINS = TOP + 1


@dataclass(frozen=True)
class DistillConfig:
    """How ``ppi distill`` trains the retrieval head.

    Attributes:
        queries: proteins scored against every protein by the teacher.
        width: length of each protein's vector (plus one bias).
        hidden: the head's hidden width.
        epochs: passes over the queries.
        lr: Adam's learning rate.
        temperature: of the listwise softmax over each query's partners.
        fraction: the prefilter fraction the held-out recall is measured at.
        seed: of the query sample and the head's initial weights.
    """

    queries: int = 256
    width: int = 32
    hidden: int = 256
    epochs: int = 150
    lr: float = 2e-3
    temperature: float = 1.0
    fraction: float = 0.05
    seed: int = 0


@torch.no_grad()
def teacher_logits(model, sides, queries: torch.Tensor, step: int = 32) -> torch.Tensor:
    """The pair stage's logits of each query against every protein, self-pairs at ``-inf``.

    Shapes:
        queries ``(Q,)`` -> ``(Q, N)``.
    """
    parts = []
    for start in range(0, len(queries), step):
        chunk = queries[start : start + step]
        parts.append(model.pair.block(sides.take(chunk), sides).float().cpu())  # (q, N)
    logits = torch.cat(parts)  # (Q, N)
    logits[torch.arange(len(queries)), queries] = -torch.inf
    return logits


def distill(model, z: torch.Tensor, seqs: list[str], config: DistillConfig):
    """Fit a retrieval head to the pair stage on these proteins; returns it and its figures.

    Shapes:
        z ``(N, M, D)`` latents of the proteins, ``seqs`` their sequences.
    """
    n = len(z)
    gen = torch.Generator().manual_seed(config.seed)
    queries = torch.randperm(n, generator=gen)[: min(config.queries, n)]
    start = time.perf_counter()
    teacher = teacher_logits(model, model.pair.sides(z, seqs), queries)  # (Q, N)
    teacher_seconds = time.perf_counter() - start
    held = max(1, len(queries) // 10)
    torch.manual_seed(config.seed)
    head = RetrievalHead(z.shape[1], z.shape[2], config.width, config.hidden)
    _fit(head, z.cpu().float(), queries[held:], teacher[held:], config)
    recall = held_out_recall(head, z.cpu().float(), queries[:held], teacher[:held], config.fraction)
    stats = {
        "proteins": n,
        "queries": len(queries),
        "teacher_pairs": len(queries) * (n - 1),
        "teacher_seconds": round(teacher_seconds, 1),
        "fit_seconds": round(time.perf_counter() - start - teacher_seconds, 1),
        f"held_out_top10_recall_at_{config.fraction:g}": round(recall, 4),
    }
    return head.eval(), stats


def _fit(head: RetrievalHead, z, queries, teacher, config: DistillConfig) -> None:
    """Listwise softmax distillation over the queries' rows of teacher logits."""
    opt = torch.optim.Adam(head.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.epochs)
    target = (teacher / config.temperature).softmax(1)  # (Q, N)
    head.train()
    for _ in range(config.epochs):
        for batch in torch.randperm(len(queries)).split(128):
            vectors = head(z)  # (N, W+1)
            student = RetrievalHead.score(vectors[queries[batch]], vectors)  # (b, N)
            student = student.masked_fill(teacher[batch].isinf(), -torch.inf)
            logp = (student / config.temperature).log_softmax(1)
            loss = -(target[batch] * logp.masked_fill(logp.isinf(), 0)).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()


@torch.no_grad()
def held_out_recall(head, z, queries, teacher, fraction: float, top: int = TOP) -> float:
    """Share of each query's teacher top-``top`` partners within the head's top ``fraction``."""
    vectors = head.eval()(z)  # (N, W+1)
    student = RetrievalHead.score(vectors[queries], vectors)  # (Q, N)
    student[torch.arange(len(queries)), queries] = -torch.inf
    keep = math.ceil(fraction * (len(z) - 1))
    kept = student.topk(keep, 1).indices  # (Q, keep)
    best = teacher.topk(top, 1).indices  # (Q, top)
    found = (best[:, :, None] == kept[:, None, :]).any(2)  # (Q, top)
    return found.float().mean().item()
