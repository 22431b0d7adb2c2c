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
    return as_groups(*token_budget_bounds(lengths, max_tokens, max_batch))


def as_groups(order: np.ndarray, begins: np.ndarray, ends: np.ndarray) -> list[list[int]]:
    """Group g as the list ``order[begins[g]:ends[g]]``."""
    return [order[a:b].tolist() for a, b in zip(begins, ends, strict=True)]


def token_budget_bounds(
    lengths, max_tokens: int, max_batch: int = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`token_budget_groups` as three arrays: ``(order, begins, ends)``.

    ``order`` holds the indices longest first (ties in index order) and group
    g is ``order[begins[g]:ends[g]]``: for tens of millions of items, arrays
    instead of as many Python lists.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    bounds = [0]
    while bounds[-1] < len(order):
        at = bounds[-1]
        longest = int(lengths[order[at]])
        fit = max_tokens // longest if longest > 0 else max_batch
        bounds.append(min(len(order), at + max(1, min(max_batch, fit))))
    edges = np.asarray(bounds, dtype=np.int64)
    return order, edges[:-1], edges[1:]


def token_budget_batches(seqs: list[str], max_tokens: int, max_batch: int = 256) -> list[list[str]]:
    """Length-sorted batches of sequences under a padded-token budget."""
    groups = token_budget_groups([len(s) for s in seqs], max_tokens, max_batch)
    return [[seqs[i] for i in group] for group in groups]
