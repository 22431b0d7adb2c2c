from collections import Counter

import pytest

from ppi.data.pairs import Pair
from ppi.data.splits import random_split
from ppi.errors import InputError


def test_same_seed_same_split_other_seed_other_split():
    items = list(range(100))
    first = random_split(items, 0.1, 0.2, seed=3)
    assert first == random_split(items, 0.1, 0.2, seed=3)
    assert first != random_split(items, 0.1, 0.2, seed=4)
    train, valid, test = first
    assert (len(train), len(valid), len(test)) == (70, 10, 20)
    assert sorted(train + valid + test) == items
    assert train == sorted(train)  # parts keep the original order


def test_stratified_split_keeps_label_proportions():
    pairs = [Pair(f"A{i}", f"B{i}", 1.0 if i % 5 == 0 else 0.0) for i in range(200)]  # 20% positive
    train, valid, test = random_split(pairs, 0.1, 0.2, seed=0, key=lambda p: p.label)
    assert Counter(p.label for p in test) == {0.0: 32, 1.0: 8}
    assert Counter(p.label for p in valid) == {0.0: 16, 1.0: 4}
    assert Counter(p.label for p in train) == {0.0: 112, 1.0: 28}


def test_stratification_holds_for_every_seed_within_one_item():
    items = [("x", i) for i in range(90)] + [("y", i) for i in range(10)]
    for seed in range(20):
        _, _, test = random_split(items, 0.0, 0.3, seed=seed, key=lambda item: item[0])
        assert len(test) == 30
        assert abs(sum(label == "y" for label, _ in test) - 3) <= 1


def test_small_inputs_still_fill_every_part():
    train, valid, test = random_split(["a", "b", "c"], 0.1, 0.1, seed=0)
    assert (len(train), len(valid), len(test)) == (1, 1, 1)
    train, valid, test = random_split(["a", "b"], 0.0, 0.1, seed=0)
    assert (len(train), len(valid), len(test)) == (1, 0, 1)


@pytest.mark.parametrize(
    ("n", "valid", "test", "match"),
    [
        (2, 0.1, 0.1, "cannot split 2 items.*at least 3 items"),
        (10, 0.5, 0.5, r"valid_fraction \+ test_fraction: expected less than 1"),
        (10, -0.1, 0.1, r"valid_fraction: expected a value in \[0, 1\), got -0.1"),
        (10, 0.1, 1.0, r"test_fraction: expected a value in \[0, 1\), got 1.0"),
    ],
)
def test_impossible_splits_explain(n, valid, test, match):
    with pytest.raises(InputError, match=match):
        random_split(list(range(n)), valid, test, seed=0)
