"""Length-sorted batches under a padded-token budget, shared by every embedding path."""

from __future__ import annotations


def token_budget_groups(
    lengths: list[int], max_tokens: int, max_batch: int = 256
) -> list[list[int]]:
    """Indices grouped longest first so each group's padded size stays under ``max_tokens``.

    Sorting by length keeps padding small; an item longer than the budget gets
    a group of its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    group: list[int] = []
    for i in order:
        longest = lengths[group[0]] if group else lengths[i]
        if group and ((len(group) + 1) * longest > max_tokens or len(group) >= max_batch):
            groups.append(group)
            group = []
        group.append(i)
    if group:
        groups.append(group)
    return groups


def token_budget_batches(seqs: list[str], max_tokens: int, max_batch: int = 256) -> list[list[str]]:
    """Length-sorted batches of sequences under a padded-token budget."""
    groups = token_budget_groups([len(s) for s in seqs], max_tokens, max_batch)
    return [[seqs[i] for i in group] for group in groups]
