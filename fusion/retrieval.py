"""The retrieval head: one vector per protein whose inner products rank pairs as the pair stage.

A small projection of a protein's fused latents ``(M, D)`` to ``[f, b]`` (``W``
numbers and a bias). The score of a pair is ``f_a . f_b + b_a + b_b``: cheap
enough to rank every partner of every protein (FAISS), and trained
(``ppi distill``, :mod:`ppi.training.distill`) to rank them as the pair stage's
logits do. It lives beside the model's weights in the model folder, as
``retrieval.safetensors`` and ``retrieval.json``, so adding it changes neither
the model's weights nor its cached representations.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from ppi.errors import WeightsError
from ppi.utils.cache import file_digest
from ppi.utils.files import atomic_save_tensors, atomic_write_text

WEIGHTS = "retrieval.safetensors"
META = "retrieval.json"


class RetrievalHead(nn.Module):
    """Latent tokens to one retrieval vector ``[f, b]``.

    Args:
        latents: ``M``, latent tokens per protein.
        dim: ``D``, their width.
        width: ``W``, the length of ``f``.
        hidden: width of the hidden layer.
    """

    def __init__(self, latents: int, dim: int, width: int = 32, hidden: int = 256) -> None:
        super().__init__()
        self.sizes = {"latents": latents, "dim": dim, "width": width, "hidden": hidden}
        self.net = nn.Sequential(
            nn.LayerNorm(latents * dim),
            nn.Linear(latents * dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, width + 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Each protein's vector.

        Shapes:
            z ``(N, M, D)`` -> ``(N, W + 1)``.
        """
        return self.net(z.flatten(1))  # (N, M*D) -> (N, W+1)

    @staticmethod
    def score(va: torch.Tensor, vb: torch.Tensor) -> torch.Tensor:
        """The retrieval score of every (a, b): ``f_a . f_b + b_a + b_b``.

        Shapes:
            va ``(R, W + 1)``, vb ``(C, W + 1)`` -> ``(R, C)``.
        """
        return va[:, :-1] @ vb[:, :-1].T + va[:, -1:] + vb[:, -1]

    def save(self, directory: Path, stats: dict) -> None:
        """Write the head and what its distillation measured into a model folder."""
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        atomic_save_tensors(tensors, directory / WEIGHTS)
        atomic_write_text(directory / META, json.dumps({**self.sizes, **stats}, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> RetrievalHead | None:
        """The head saved in a model folder, or None when it has none."""
        if not (directory / WEIGHTS).is_file():
            return None
        try:
            meta = json.loads((directory / META).read_text())
            head = cls(meta["latents"], meta["dim"], meta["width"], meta["hidden"])
            head.load_state_dict(load_file(directory / WEIGHTS), strict=True)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise WeightsError(
                f"{directory / WEIGHTS}: not a readable retrieval head ({exc}); "
                "add it again with ppi distill"
            ) from None
        head.identity = file_digest(directory / WEIGHTS)
        return head.eval()
