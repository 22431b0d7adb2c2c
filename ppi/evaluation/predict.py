"""Predictions gathered across processes, and the metric that picks the best epoch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ppi.evaluation.metrics import binary_metrics, multilabel_metrics


def loss_function(
    task: str, multi_label: bool
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Binary cross-entropy for pairs and labels; cross-entropy for classes."""
    if task == "pair" or multi_label:
        return lambda logits, y: F.binary_cross_entropy_with_logits(logits, y.float())
    return lambda logits, y: F.cross_entropy(logits, y)


def to_probs(logits: torch.Tensor, task: str, multi_label: bool) -> torch.Tensor:
    """Sigmoid for pairs and labels, softmax for classes."""
    if task == "pair" or multi_label:
        return logits.float().sigmoid()
    return logits.float().softmax(-1)


@torch.no_grad()
def predict(model, loader, accelerator, loss_fn=None) -> tuple[np.ndarray, np.ndarray, float]:
    """Labels, probabilities and mean loss over a prepared loader, from every process.

    ``gather_for_metrics`` drops the samples Accelerate repeats to even out the
    last batch, so one process and several report the same numbers.
    """
    model.eval()
    inner = accelerator.unwrap_model(model)
    labels, probs, losses = [], [], []
    memo: dict[str, torch.Tensor] = {}  # each protein is encoded once per pass
    for batch in loader:
        with accelerator.autocast():
            logits = inner.memo_forward(batch["ids"], batch["seqs"], batch["pairs"], memo)
        prob = to_probs(logits, inner.task, inner.multi_label)
        y = batch["labels"]
        if loss_fn is not None:
            per = loss_fn(logits, y).reshape(1).expand(y.shape[0]).contiguous()  # (P,)
            losses.append(accelerator.gather_for_metrics(per).cpu())
        prob, y = accelerator.gather_for_metrics((prob, y))
        labels.append(y.cpu())
        probs.append(prob.cpu())
    loss = float(torch.cat(losses).mean()) if losses else float("nan")
    return torch.cat(labels).numpy(), torch.cat(probs).numpy(), loss


def selection_metric(task: str, labels: np.ndarray, probs: np.ndarray) -> tuple[float, str]:
    """The validation number that picks the best epoch: AUPR for pairs and labels, else accuracy."""
    if task == "pair":
        return binary_metrics(labels, probs)["aupr"], "aupr"
    if labels.ndim == 2:
        names = [str(i) for i in range(labels.shape[1])]  # names do not change the score
        return multilabel_metrics(labels, probs, names)["aupr_macro"], "aupr_macro"
    return float((probs.argmax(-1) == labels).mean()), "accuracy"
