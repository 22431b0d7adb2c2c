"""Deterministic, optionally stratified train/valid/test splits."""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from ppi.errors import InputError

T = TypeVar("T")


def random_split(
    items: Sequence[T],
    valid_fraction: float,
    test_fraction: float,
    seed: int,
    key: Callable[[T], Hashable] | None = None,
) -> tuple[list[T], list[T], list[T]]:
    """Split items into train, valid and test parts.

    The same items in the same order with the same seed give the same split.
    With ``key`` (for example ``lambda pair: pair.label``) each part keeps the
    proportions of the key's values to within one item per value: the items of
    each value are shuffled and spread evenly over one ordering, whose first
    ``n_test`` items are the test part and next ``n_valid`` the valid part.

    Args:
        items: what to split (pairs, ids, rows).
        valid_fraction: share of items for validation, in ``[0, 1)``.
        test_fraction: share of items for test, in ``[0, 1)``.
        seed: the random seed.
        key: optional stratification key of an item.

    Returns:
        ``(train, valid, test)``, each in the original item order. A part whose
        fraction is above zero has at least one item; train is never empty.

    Raises:
        InputError: fractions out of range, or too few items for every part.
    """
    n_valid, n_test = _part_sizes(len(items), valid_fraction, test_fraction)
    order = _stratified_order(items, seed, key)
    test_idx = set(order[:n_test])
    valid_idx = set(order[n_test : n_test + n_valid])
    parts: tuple[list[T], list[T], list[T]] = ([], [], [])
    for index, item in enumerate(items):
        part = 2 if index in test_idx else 1 if index in valid_idx else 0
        parts[part].append(item)
    return parts


def _part_sizes(n_items: int, valid_fraction: float, test_fraction: float) -> tuple[int, int]:
    """``(n_valid, n_test)``: rounded shares, at least one when the fraction is > 0."""
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise InputError(f"{name}: expected a value in [0, 1), got {value}")
    if valid_fraction + test_fraction >= 1.0:
        raise InputError(
            "valid_fraction + test_fraction: expected less than 1 so training keeps items, "
            f"got {valid_fraction} + {test_fraction}"
        )
    sizes = [
        max(1, round(n_items * fraction)) if fraction > 0 else 0
        for fraction in (valid_fraction, test_fraction)
    ]
    if n_items - sum(sizes) < 1:
        needed = 1 + sum(fraction > 0 for fraction in (valid_fraction, test_fraction))
        raise InputError(
            f"cannot split {n_items} items with valid_fraction={valid_fraction} and "
            f"test_fraction={test_fraction}: expected at least {needed} items and a "
            f"non-empty train part, got {n_items}"
        )
    return sizes[0], sizes[1]


def _stratified_order(
    items: Sequence[T], seed: int, key: Callable[[T], Hashable] | None
) -> list[int]:
    """Item indices in an order where every key value is spread evenly.

    Within each key value the items are shuffled; the r-th of n items sits at
    position ``(r + 0.5) / n``; items are then sorted by position (ties broken
    at random), so any prefix holds each value in proportion.
    """
    rng = random.Random(seed)
    groups: dict[Hashable, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(key(item) if key is not None else None, []).append(index)
    placed: list[tuple[float, float, int]] = []
    for members in groups.values():
        rng.shuffle(members)
        n = len(members)
        placed.extend(((rank + 0.5) / n, rng.random(), index) for rank, index in enumerate(members))
    placed.sort()
    return [index for _, _, index in placed]
