"""Shortcut baselines of the held-out masked-LM perplexity.

A masked LM that beats the unigram perplexity may have learned no more than
each protein's composition, or what a residue's near neighbours say. Two
predictors that know only that much are fitted on the training proteins,
masked as the held-out figure is (15% hidden), and scored on exactly the
held-out positions of ``ppi pretrain``'s evaluation (:func:`ppi.lm.pretrain.heldout_batch`):

- ``composition``: softmax regression on the composition of the visible
  residues of the sequence's crop;
- ``window``: a small MLP on the visible tokens within ``window`` residues on
  each side (``<cls>``, ``<eos>`` and ``<mask>`` included) plus that composition.

The pretrained model is scored on the same positions, so the three ratios to
the unigram perplexity compare directly.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional
from tqdm.auto import tqdm

from ppi.backbones.base import RESIDUES as AMINO_ACIDS
from ppi.backbones.scratch import FIRST_RESIDUE
from ppi.lm import pretrain as pt
from ppi.lm.masking import IGNORE, eval_mask
from ppi.lm.pretrain_data import crops, encode

RESIDUES = len(AMINO_ACIDS)  # 20


@dataclasses.dataclass
class Positions:
    """Hidden positions and what a shortcut predictor may see of them.

    Shapes:
        composition ``(S, 20)`` float, window ``(S, 2 * w)`` uint8 token ids,
        target ``(S,)`` long residue index 0-19.
    """

    composition: torch.Tensor
    window: torch.Tensor
    target: torch.Tensor

    @classmethod
    def join(cls, parts: list[Positions]) -> Positions:
        """One set of positions from several."""
        return cls(
            *(torch.cat([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(cls))
        )


def position_features(inputs: torch.Tensor, labels: torch.Tensor, pad_id: int, w: int) -> Positions:
    """The composition and neighbour window of every hidden position of a batch.

    The composition counts the visible residues of the row (hidden ones are
    ``<mask>`` in ``inputs`` and do not count); the window holds the input
    tokens at distances 1..w on each side, ``pad_id`` beyond the row.

    Shapes:
        inputs, labels ``(B, T)`` -> :class:`Positions` of the S positions where labels != -100.
    """
    residue = (inputs >= FIRST_RESIDUE) & (inputs < FIRST_RESIDUE + RESIDUES)  # (B, T)
    index = (inputs - FIRST_RESIDUE).clamp(0, RESIDUES - 1)  # (B, T)
    counts = functional.one_hot(index, RESIDUES).float() * residue.unsqueeze(-1)  # (B, T, 20)
    comp = counts.sum(1)  # (B, 20)
    comp = comp / comp.sum(1, keepdim=True).clamp(min=1)
    padded = functional.pad(inputs, (w, w), value=pad_id)  # (B, T + 2w)
    windows = padded.unfold(1, 2 * w + 1, 1)  # (B, T, 2w + 1)
    windows = torch.cat([windows[..., :w], windows[..., w + 1 :]], -1)  # (B, T, 2w), centre out
    sel = labels != IGNORE  # (B, T)
    rows = sel.nonzero()[:, 0]  # (S,)
    return Positions(comp[rows], windows[sel].to(torch.uint8), labels[sel] - FIRST_RESIDUE)


def training_positions(
    tok, seqs: list[str], size: int, passes: int, w: int, seed: int
) -> Positions:
    """Hidden positions of ``passes`` random crops of every training sequence."""
    gen = torch.Generator().manual_seed(seed)
    parts = []
    for _ in tqdm(range(passes), desc="baseline positions", unit="pass", disable=None):
        cut = crops(seqs, size, gen)
        for start in range(0, len(cut), 512):
            ids, _, residue = encode(tok, cut[start : start + 512])
            inputs, labels = eval_mask(ids, residue, tok.mask_id, gen, pt.HELDOUT_MASK_RATE)
            parts.append(position_features(inputs, labels, tok.pad_id, w))
    return Positions.join(parts)


class WindowMLP(nn.Module):
    """Residue logits from the neighbour window (embedded) and the composition.

    Without the window it is a softmax regression on the composition alone.
    """

    def __init__(self, vocab: int, w: int, hidden: int = 512, use_window: bool = True) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 16) if use_window else None
        if use_window:
            self.net: nn.Module = nn.Sequential(
                nn.Linear(2 * w * 16 + RESIDUES, hidden),
                nn.GELU(),
                nn.Dropout(0.1),
                nn.Linear(hidden, hidden),
                nn.GELU(),
                nn.Dropout(0.1),
                nn.Linear(hidden, RESIDUES),
            )
        else:  # the composition regression: one linear map
            self.net = nn.Linear(RESIDUES, RESIDUES)

    def forward(self, comp: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        """Shapes: comp ``(S, 20)``, window ``(S, 2w)`` -> logits ``(S, 20)``."""
        if self.embed is None:
            return self.net(comp)
        return self.net(torch.cat([self.embed(window.long()).flatten(1), comp], 1))


def fit(model: WindowMLP, data: Positions, epochs: int, seed: int, batch: int = 1024) -> WindowMLP:
    """Adam on the cross-entropy of the hidden residues."""
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    n = len(data.target)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n)
        for start in tqdm(range(0, n, batch), desc="baseline fit", unit="batch", disable=None):
            b = order[start : start + batch]
            loss = functional.cross_entropy(
                model(data.composition[b], data.window[b]), data.target[b]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def nll_sum(model: WindowMLP, data: Positions) -> float:
    """Summed negative log-likelihood of the targets."""
    total = 0.0
    for start in range(0, len(data.target), 8192):
        part = slice(start, start + 8192)
        logits = model(data.composition[part], data.window[part])
        total += float(functional.cross_entropy(logits, data.target[part], reduction="sum"))
    return total


def shortcut_baselines(
    folder: str | Path,
    dumps: list[str],
    w: int = 8,
    passes: int = 20,
    epochs: int = 3,
    seed: int = 0,
) -> dict:
    """The folder's model, the unigram and both shortcut baselines on the same held-out positions.

    Returns ``{"positions": S, "unigram": {...}, "model": {...}, "composition": {...},
    "window": {...}}``, each predictor with its ``perplexity`` and ``ratio`` to the unigram.
    """
    config, data, net = pt.load_run(folder, dumps, annotations=False)  # the masked-LM figures
    tok = net.tokenizer
    unigram = pt.unigram_log_probs(data, len(tok))
    held, _ = pt.heldout_windows(data, config)
    groups = pt.heldout_groups(held, config)
    with torch.no_grad():
        everything = range(len(groups))
        sums, _ = pt._score_heldout(net, tok, held, groups, everything, unigram, "cpu")
    test = Positions.join(
        [
            position_features(*pt.heldout_batch(tok, held, groups, i)[1:], tok.pad_id, w)
            for i in range(len(groups))
        ]
    )
    count = len(test.target)
    if count != int(sums[2]):
        raise RuntimeError(f"baseline positions {count} != the model's {int(sums[2])}")
    train = training_positions(
        tok, data.store.sequences(data.train), config.backbone.max_len, passes, w, seed
    )
    out: dict = {"positions": count, "training_positions": len(train.target)}
    uni = float(sums[1]) / count
    out["unigram"] = {"perplexity": math.exp(uni), "ratio": 1.0}
    out["model"] = _figure(float(sums[0]) / count, uni)
    for name, use_window in (("composition", False), ("window", True)):
        model = fit(WindowMLP(len(tok), w, use_window=use_window), train, epochs, seed)
        out[name] = _figure(nll_sum(model, test) / count, uni)
    return out


def _figure(nll: float, unigram_nll: float) -> dict:
    return {"perplexity": math.exp(nll), "ratio": math.exp(nll - unigram_nll)}
