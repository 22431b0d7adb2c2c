from pathlib import Path

import pytest

from ppi.data.fasta import read_fasta
from ppi.data.leakage import (
    SplitRequest,
    canonical_ids,
    classify,
    split_pairs,
)
from ppi.data.pairs import Pair, read_pairs
from ppi.data.similarity import check_threshold, kmer_neighbours
from ppi.errors import InputError

FIX = Path(__file__).parents[1] / "fixtures" / "marcotte2012"


def test_published_c1_c2_c3_files_match_our_definitions():
    train = read_pairs(FIX / "train.tsv")
    canon = canonical_ids(read_fasta(FIX / "sequences.fasta"), train)
    for cls in ("C1", "C2", "C3"):
        counts = classify(train, read_pairs(FIX / f"test_{cls}.tsv"), canon)
        assert counts[cls] == 30 and sum(counts.values()) == 30


def test_kmer_identity_is_one_for_copies_and_low_for_unrelated():
    proteins = read_fasta(FIX / "sequences.fasta")
    ids = sorted(proteins)[:40]
    sub = {i: proteins[i] for i in ids} | {"copy": proteins[ids[0]]}
    nb = kmer_neighbours(sub, 0.3)
    pairs = {(nb.ids[i], nb.ids[j]): s for i, j, s in zip(nb.i, nb.j, nb.score, strict=True)}
    assert pairs[(ids[0], "copy")] == pytest.approx(1.0)
    unrelated = [s for (a, b), s in pairs.items() if "copy" not in (a, b)]
    assert max(unrelated, default=0) < 0.9
    assert nb.nearest({"copy"}, {ids[0]}) == {"copy": pytest.approx(1.0)}


def _toy(n=60):
    """Proteins from 30 families of two near-identical members, pairs within and across."""
    import random

    rng = random.Random(0)
    aa = "ACDEFGHIKLMNPQRSTVWY"
    proteins = {}
    for f in range(n // 2):
        base = "".join(rng.choice(aa) for _ in range(120))
        proteins[f"f{f}a"] = base
        proteins[f"f{f}b"] = base[:60] + "W" + base[61:]  # one substitution
    ids = list(proteins)
    pairs = [Pair(rng.choice(ids), rng.choice(ids), float(rng.random() < 0.3)) for _ in range(600)]
    return proteins, [p for p in pairs if p.a != p.b]


def test_c3_split_shares_no_protein_and_classes_hold():
    proteins, pairs = _toy()
    split, canon, _ = split_pairs(pairs, proteins, SplitRequest("c3", 0.2, 0.3, 1))
    train = split.parts["train"]
    for name, cls in (("test", "C3"), ("valid", "C3"), ("C2", "C2"), ("C1", "C1")):
        counts = classify(train, split.parts[name], canon)
        assert counts[cls] == len(split.parts[name]) > 0
    everything = sum(len(v) for k, v in split.parts.items() if k != "test") + split.dropped
    assert everything == len(pairs)


def test_homology_split_keeps_families_on_one_side():
    proteins, pairs = _toy()
    split, _, nb = split_pairs(pairs, proteins, SplitRequest("homology", 0.2, 0.3, 1, 0.8))
    train_ids = {x for p in split.parts["train"] for x in (p.a, p.b)}
    test_ids = {x for p in split.parts["test"] for x in (p.a, p.b)}
    assert test_ids and not test_ids & train_ids
    assert max(nb.nearest(test_ids, train_ids).values()) < 0.8
    families = {x[:-1] for x in test_ids}
    assert not families & {x[:-1] for x in train_ids}
    # the plain C3 split puts family members on both sides
    c3, _, _ = split_pairs(pairs, proteins, SplitRequest("c3", 0.2, 0.3, 1))
    c3_test = {x[:-1] for p in c3.parts["test"] for x in (p.a, p.b)}
    assert c3_test & {x[:-1] for p in c3.parts["train"] for x in (p.a, p.b)}


def test_same_sequence_under_two_ids_is_one_protein(caplog):
    import logging

    proteins = {"A": "MKV" * 20, "A2": "MKV" * 20, "B": "WWPP" * 15, "C": "GHIL" * 15}
    logger = logging.getLogger("ppi")  # the CLI's set-up stops it propagating to caplog's root
    logger.addHandler(caplog.handler)
    try:
        canon = canonical_ids(proteins, [Pair("A", "B", 1.0), Pair("A2", "C", 0.0)])
    finally:
        logger.removeHandler(caplog.handler)
    assert canon["A2"] == "A"
    assert "share one sequence" in caplog.text
    counts = classify([Pair("A", "B", 1.0)], [Pair("A2", "C", 0.0)], canon)
    assert counts["C2"] == 1  # A2 is A: seen in training


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, float("nan")])
def test_threshold_outside_zero_one_is_an_input_error(bad):
    with pytest.raises(InputError, match=r"\(0, 1\]"):
        check_threshold(bad)
