"""The masked-LM objective of BERT and ESM: which tokens are hidden and what the model sees.

Of the residue tokens, ``rate`` (15%) are selected; of those, 80% become
``<mask>``, 10% a random residue and 10% stay as they are. The loss is read
only at selected positions (labels elsewhere are -100, which
:func:`torch.nn.functional.cross_entropy` ignores). Special tokens and
padding are never selected.
"""

from __future__ import annotations

import torch

IGNORE = -100


def mask_tokens(
    ids: torch.Tensor,
    residue: torch.Tensor,
    mask_id: int,
    residue_ids: torch.Tensor,
    gen: torch.Generator,
    rate: float = 0.15,
    corrupt: tuple[float, float] = (0.8, 0.1),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupted inputs and labels for one batch.

    Args:
        ids: token ids.
        residue: True where a token is a residue (may be selected).
        mask_id: the ``<mask>`` token.
        residue_ids: the ids a random replacement is drawn from.
        gen: the random generator (so a resumed run draws the same masks).
        rate: share of residues selected.
        corrupt: shares of the selected that become ``<mask>`` and a random residue.

    Shapes:
        ids, residue ``(B, T)`` -> inputs ``(B, T)``, labels ``(B, T)`` (-100 where not selected).
    """
    draw = torch.rand(ids.shape, generator=gen)  # (B, T)
    selected = residue & (draw < rate)
    labels = ids.masked_fill(~selected, IGNORE)
    how = torch.rand(ids.shape, generator=gen)  # (B, T)
    to_mask = selected & (how < corrupt[0])
    to_random = selected & (how >= corrupt[0]) & (how < corrupt[0] + corrupt[1])
    random_ids = residue_ids[torch.randint(len(residue_ids), ids.shape, generator=gen)]
    inputs = ids.masked_fill(to_mask, mask_id)
    inputs = torch.where(to_random, random_ids, inputs)
    return inputs, labels


def eval_mask(
    ids: torch.Tensor, residue: torch.Tensor, mask_id: int, gen: torch.Generator, rate: float = 0.15
) -> tuple[torch.Tensor, torch.Tensor]:
    """Held-out masking: the selected residues are all hidden, so perplexity is of hidden residues.

    Shapes:
        ids, residue ``(B, T)`` -> inputs ``(B, T)``, labels ``(B, T)``.
    """
    selected = residue & (torch.rand(ids.shape, generator=gen) < rate)
    return ids.masked_fill(selected, mask_id), ids.masked_fill(~selected, IGNORE)
