"""The prefilter bench's recall of hits: listed pairs, the histogram below the threshold."""

import json

import pytest

from ppi.bench.screen import hit_recall

BINS = 50


def _screen(folder, hits: dict[tuple[str, str], float], threshold=0.3, histogram=None):
    """A screen folder: ``hits.tsv`` as ``ppi screen`` writes it and a summary."""
    folder.mkdir()
    lines = "".join(f"{a}\t{b}\t{p:.6f}\n" for (a, b), p in hits.items())
    (folder / "hits.tsv").write_text(lines)
    counts = histogram or [0] * BINS
    summary = {"threshold": threshold, "histogram": {"bins": BINS, "counts": counts}}
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


EXHAUSTIVE = {
    ("A", "B"): 0.97,
    ("A", "C"): 0.93,
    ("B", "D"): 0.9,
    ("C", "D"): 0.91,
    ("A", "D"): 0.6,
    ("B", "C"): 0.35,
}


@pytest.fixture
def folders(tmp_path):
    counts = [0] * BINS
    counts[10], counts[17], counts[30] = 4, 1, 1  # 0.20-0.22, 0.34-0.36, 0.60-0.62
    counts[45], counts[46], counts[48] = 2, 1, 1  # 0.90, 0.91; 0.93; 0.97
    exhaustive = _screen(tmp_path / "exhaustive", EXHAUSTIVE, histogram=counts)
    found = {pair: p for pair, p in EXHAUSTIVE.items() if pair != ("C", "D")}
    found[("B", "D")] = 0.899999  # the same pair, 1e-6 lower as a listed pair: not a miss
    found[("A", "E")] = 0.95  # a pair the exhaustive screen lacks: not counted
    return _screen(tmp_path / "prefilter", found), exhaustive


def test_hits_above_0_9_are_found_by_pair(folders):
    prefiltered, exhaustive = folders
    assert hit_recall(prefiltered, exhaustive, 0.9) == (4, 0.75)
    assert hit_recall(prefiltered, exhaustive, 0.5) == (5, 0.8)
    assert hit_recall(exhaustive, exhaustive, 0.9) == (4, 1.0)


def test_a_pair_well_below_the_threshold_is_a_miss(folders, tmp_path):
    _, exhaustive = folders
    low = _screen(tmp_path / "low", {("A", "B"): 0.97, ("B", "D"): 0.89})
    assert hit_recall(low, exhaustive, 0.9) == (4, 0.25)


def test_none_to_find_above_every_hit(folders):
    assert hit_recall(*folders, 0.98) == (0, "none")


def test_below_the_screen_threshold_counts_come_from_the_histogram(folders):
    prefiltered, exhaustive = folders
    # 10 pairs at or above 0.2 in the histogram; the prefilter lists 6 at or above 0.2
    assert hit_recall(prefiltered, exhaustive, 0.2) == (10, 0.6)
