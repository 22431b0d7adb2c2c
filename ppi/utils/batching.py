"""Length-sorted batches under a padded-token budget, shared by every embedding path."""

from __future__ import annotations

import numpy as np


def token_budget_groups(
    lengths: list[int], max_tokens: int, max_batch: int = 256
) -> list[list[int]]:
    """Indices grouped longest first so each group's padded size stays under ``max_tokens``.

    Sorting by length keeps padding small; an item longer than the budget gets
    a group of its own.
    """
    order, ends = token_budget_bounds(lengths, max_tokens, max_batch)
    begins = np.concatenate(([0], ends))[:-1]
    return [order[a:b].tolist() for a, b in zip(begins, ends, strict=True)]


def token_budget_bounds(
    lengths, max_tokens: int, max_batch: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`token_budget_groups` as two arrays: ``(order, ends)``.

    ``order`` holds the indices longest first (ties in index order) and group
    g is ``order[ends[g - 1]:ends[g]]``: for tens of millions of items, two
    arrays instead of as many Python lists.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    ends = []
    at = 0
    while at < len(order):
        longest = int(lengths[order[at]])
        fit = max_tokens // longest if longest > 0 else max_batch
        at = min(len(order), at + max(1, min(max_batch, fit)))
        ends.append(at)
    return order, np.asarray(ends, dtype=np.int64)


def token_budget_batches(seqs: list[str], max_tokens: int, max_batch: int = 256) -> list[list[str]]:
    """Length-sorted batches of sequences under a padded-token budget."""
    groups = token_budget_groups([len(s) for s in seqs], max_tokens, max_batch)
    return [[seqs[i] for i in group] for group in groups]
