"""A pair listed twice is split once: no pair on two sides of any split."""

from __future__ import annotations

import random

import pytest

from ppi.data.leakage import SplitRequest, split_pairs
from ppi.data.pairs import Pair, pair_key, read_pairs
from ppi.errors import InputError


def _twice():
    """30 proteins, 200 distinct pairs, each listed again in the other order."""
    rng = random.Random(0)
    aa = "ACDEFGHIKLMNPQRSTVWY"
    proteins = {f"P{i}": "".join(rng.choice(aa) for _ in range(60)) for i in range(30)}
    keys = rng.sample([(a, b) for a in proteins for b in proteins if a < b], 200)
    pairs = [Pair(a, b, float(rng.random() < 0.4)) for a, b in keys]
    return proteins, pairs + [Pair(p.b, p.a, p.label) for p in pairs]


@pytest.mark.parametrize("method", ["random", "c3", "homology"])
def test_a_repeated_pair_is_in_one_part_of_every_split(method):
    proteins, pairs = _twice()
    req = SplitRequest(method, 0.2, 0.3, 1, threshold=0.9, measure="kmer")
    split, _, _ = split_pairs(pairs, proteins, req)
    where: dict[tuple[str, str], set[str]] = {}
    for name, part in split.parts.items():
        if name == "test":  # the C3 part under another name
            continue
        for pair in part:
            where.setdefault(pair_key(pair), set()).add(name)
    assert max(len(names) for names in where.values()) == 1
    assert sum(len(part) for name, part in split.parts.items() if name != "test") == len(where)
    assert split.dropped >= 200  # the repeats, and for c3/homology pairs across held-out sides
    assert split.notes == ["200 repeats of an earlier pair (either order) dropped before the split"]


def test_a_pair_with_two_labels_names_both_lines(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("id_a\tid_b\tlabel\nA\tB\t1\nC\tD\t0\nB\tA\t0\n")
    assert len(read_pairs(path)) == 3  # allowed unless asked for
    with pytest.raises(InputError) as err:
        read_pairs(path, one_label=True)
    assert str(err.value) == (
        f"{path}:4: expected one label per pair, got B A with label 0 here and 1 at line 2; "
        "keep one of the two lines"
    )
    path.write_text("A\tB\t1\nB\tA\t1\n")
    assert len(read_pairs(path, one_label=True)) == 2  # the same label: a repeat, not an error
