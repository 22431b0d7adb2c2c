"""An exponential moving average of the trained weights (``train.ema``).

The pair model's best epoch on proteins outside training is the first
(``train.patience``): it is taken while the learning rate is still near its
peak, so the weights of that moment carry the noise of the last few hundred
updates. Their running average is a cheaper cousin of averaging the
predictions of several seeds (RESULTS.md). Validation, the kept model and the
test report all use the averaged weights; training goes on from the raw ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class WeightAverage:
    """Running average of a model's trainable parameters, updated after each optimiser step.

    Early updates weigh more (the decay is ``min(decay, (1 + n) / (10 + n))``
    after ``n`` updates), so a short run is not dominated by its random start.
    Registered with ``accelerator.register_for_checkpointing``, it is saved and
    restored with each epoch checkpoint.

    Args:
        model: the model (or its distributed wrapper); its trainable parameters
            are averaged, in ``parameters()`` order.
        decay: weight of the average against the newest weights, in (0, 1).
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"expected a decay in (0, 1), got {decay}")
        self.decay = decay
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.shadow = [p.detach().clone() for p in self.params]
        self.updates = 0

    @torch.no_grad()
    def update(self) -> None:
        """Fold the current weights into the average."""
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self.shadow, [p.detach() for p in self.params], 1 - d)
        self.updates += 1

    @contextmanager
    @torch.no_grad()
    def applied(self) -> Iterator[None]:
        """Within the block the model holds the averaged weights; the raw ones come back after."""
        raw = [p.detach().clone() for p in self.params]
        for p, s in zip(self.params, self.shadow, strict=True):
            p.copy_(s)
        try:
            yield
        finally:
            for p, r in zip(self.params, raw, strict=True):
                p.copy_(r)

    def state_dict(self) -> dict:
        """The average and its update count (for ``accelerator.save_state``)."""
        return {"decay": self.decay, "updates": self.updates, "shadow": list(self.shadow)}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`; a saved average of other shapes is refused."""
        shadow = state["shadow"]
        shapes = [tuple(t.shape) for t in shadow]
        if shapes != [tuple(p.shape) for p in self.params]:
            raise ValueError(
                f"the saved weight average holds {len(shapes)} tensors of other shapes "
                f"than this model's {len(self.params)} trainable parameters"
            )
        self.updates = int(state["updates"])
        for s, t in zip(self.shadow, shadow, strict=True):
            s.copy_(t)
