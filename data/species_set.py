"""A cross-species test set built the way D-SCRIPT built its species sets.

From one species' interaction list (STRING-style ``item_id_a item_id_b ...``
rows, any interaction type): proteins longer than ``max_length`` residues are
dropped, each unordered positive pair is kept once, and for every positive
``negatives`` random pairs of the same proteins that are not known positives
become negatives (1 positive in 11 by default). Sammons et al., D-SCRIPT
(Cell Systems 2021), describe this protocol for their fly, worm, mouse and
human sets; this module reproduces it on any species list.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from pathlib import Path

from ppi.data._io import read_lines
from ppi.data.fasta import id_sequence_rows
from ppi.data.pairs import Pair
from ppi.errors import InputError


def read_interactions(path: Path) -> list[tuple[str, str]]:
    """Unordered interacting id pairs of a tab-separated list (header optional), once each."""
    seen: dict[tuple[str, str], None] = {}
    for number, line in read_lines(path):
        fields = line.split("\t")
        if not line.strip() or (number == 1 and fields[0].startswith("item_id")):
            continue
        if len(fields) < 2 or not fields[0] or not fields[1]:
            raise InputError(f"{path}:{number}: expected two tab-separated ids, got {line!r}")
        a, b = sorted(fields[:2])
        if a != b:
            seen[(a, b)] = None
    return list(seen)


def species_pairs(
    positives: Iterable[tuple[str, str]],
    proteins: Mapping[str, str],
    negatives: int = 10,
    max_length: int = 800,
    seed: int = 0,
) -> tuple[list[Pair], dict[str, str]]:
    """Positives among proteins of at most ``max_length`` residues, plus random negatives.

    Returns the labelled pairs (positives first, then negatives in drawing
    order) and the sequences of the proteins they use.
    """
    keep = {pid for pid, seq in proteins.items() if len(seq) <= max_length}
    pos = sorted({(a, b) for a, b in positives if a in keep and b in keep})
    used = sorted({x for p in pos for x in p})
    if len(used) < 3:
        raise InputError(f"species set: {len(used)} proteins left after the length filter")
    known = set(pos)
    rng = random.Random(seed)
    want, drawn = negatives * len(pos), {}
    total = len(used) * (len(used) - 1) // 2
    if want > total - len(known):
        raise InputError(f"species set: {want} negatives asked, {total - len(known)} possible")
    while len(drawn) < want:
        a, b = sorted(rng.sample(used, 2))
        if (a, b) not in known:
            drawn.setdefault((a, b), None)
    pairs = [Pair(a, b, 1.0) for a, b in pos] + [Pair(a, b, 0.0) for a, b in drawn]
    return pairs, {pid: proteins[pid] for pid in used}


def read_id_sequences(path: Path) -> dict[str, str]:
    """``id -> sequence`` from a two-column ``id<TAB>sequence`` file (no header)."""
    return {rid: seq for _, rid, seq, _ in id_sequence_rows(path)}
