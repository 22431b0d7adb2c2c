"""Leakage-aware splits of labelled pairs, and the overlap between split parts.

Three ways to split (:data:`METHODS`):

- ``random``: pairs drawn at random (stratified by label); proteins are shared.
- ``c3``: Park & Marcotte (Nat Methods 2012). Proteins are split into train,
  valid and test groups. Training pairs have both proteins in the train group;
  test pairs fall in classes by how many of their proteins training has seen:
  C1 both (a held-out share of the train group's pairs whose proteins keep
  other training pairs), C2 one, C3 none. Validation pairs are C3 pairs of the
  valid group, so model selection also sees unseen proteins.
- ``homology``: as ``c3``, but whole clusters of similar proteins (single
  linkage over a registered similarity measure at ``threshold``) go to one
  group, so no held-out protein has a training protein at or above it.

Proteins with the same sequence under two ids count as one protein for all of
this (a warning names them: they are a leakage source). A pair listed twice
(either order) is split once, so it cannot be on two sides.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ppi.data.pairs import Pair, each_pair_once
from ppi.data.similarity import Neighbours, check_threshold, neighbours
from ppi.data.splits import random_split
from ppi.errors import InputError

log = logging.getLogger("ppi")
METHODS = ("random", "c3", "homology")
CLASSES = ("C1", "C2", "C3")
#: lowest similarity kept for the report's nearest-neighbour identities
REPORT_FLOOR = 0.3


@dataclass
class PairSplit:
    """The parts of a split: ``train``, ``valid``, ``test`` and, for c3/homology, ``C1..C3``."""

    method: str
    parts: dict[str, list[Pair]]
    dropped: int = 0
    notes: list[str] = field(default_factory=list)


def same_sequence_groups(proteins: Mapping[str, str], used: set[str]) -> list[list[str]]:
    """Groups of two or more ids among ``used`` that carry one identical sequence."""
    by_seq: dict[str, list[str]] = {}
    for pid in sorted(used):
        if pid in proteins:
            by_seq.setdefault(proteins[pid], []).append(pid)
    return [ids for ids in by_seq.values() if len(ids) > 1]


def canonical_ids(proteins: Mapping[str, str] | None, pairs: Sequence[Pair]) -> dict[str, str]:
    """``id -> representative id``: ids with one sequence share the first (sorted) one.

    Logs a warning naming the duplicates, because a protein in training under
    one id and in the test under another is leakage that id checks miss.
    """
    used = {x for p in pairs for x in (p.a, p.b)}
    canon = {pid: pid for pid in used}
    if not proteins:
        return canon
    groups = same_sequence_groups(proteins, used)
    for ids in groups:
        canon.update({pid: ids[0] for pid in ids})
    if groups:
        shown = "; ".join(",".join(g) for g in groups[:3])
        log.warning(
            "%d groups of ids share one sequence (%d ids; first: %s): each group is treated "
            "as one protein so it cannot sit on both sides of the split",
            len(groups),
            sum(len(g) for g in groups),
            shown,
        )
    return canon


def pair_class(pair: Pair, seen: set[str], canon: Mapping[str, str]) -> str:
    """``C1``, ``C2`` or ``C3``: how many of the pair's proteins training has seen (2, 1, 0)."""
    n = (canon.get(pair.a, pair.a) in seen) + (canon.get(pair.b, pair.b) in seen)
    return CLASSES[2 - n]


def classify(train: Sequence[Pair], test: Sequence[Pair], canon: Mapping[str, str]) -> dict:
    """Count the test pairs of each class against the proteins of ``train``."""
    seen = {canon.get(x, x) for p in train for x in (p.a, p.b)}
    counts = dict.fromkeys(CLASSES, 0)
    for pair in test:
        counts[pair_class(pair, seen, canon)] += 1
    return counts


def random_pairs(pairs: list[Pair], valid: float, test: float, seed: int) -> PairSplit:
    """Pairs at random, stratified by label."""
    train, val, tst = random_split(pairs, valid, test, seed, key=lambda p: p.label)
    return PairSplit("random", {"train": train, "valid": val, "test": tst})


def group_split(
    pairs: list[Pair],
    groups: Mapping[str, int],
    fractions: tuple[float, float],
    seed: int,
    method: str,
) -> PairSplit:
    """Assign protein groups (clusters) to train/valid/test, then sort the pairs.

    ``groups`` maps each protein to its group; whole groups go to one side, in
    random order until each held-out side has its share of the proteins.
    """
    side = _assign_groups(groups, fractions, seed)
    parts: dict[str, list[Pair]] = {k: [] for k in ("train", "valid", "C2", "C3")}
    dropped = 0
    for pair in pairs:
        a, b = side[pair.a], side[pair.b]
        if a == b:
            parts["train" if a == "train" else "valid" if a == "valid" else "C3"].append(pair)
        elif "train" in (a, b) and "test" in (a, b):
            parts["C2"].append(pair)
        else:
            dropped += 1  # valid-test or valid-train: would leak between held-out sides
    parts["train"], parts["C1"] = _hold_out_c1(parts["train"], fractions[1], seed)
    seen = {x for p in parts["train"] for x in (p.a, p.b)}
    c2 = [p for p in parts["C2"] if p.a in seen or p.b in seen]
    dropped += len(parts["C2"]) - len(c2)  # its train-side protein has no training pair
    parts["C2"], parts["test"] = c2, parts["C3"]
    split = PairSplit(method, parts, dropped)
    for name in ("train", "valid", "test"):
        if not parts[name]:
            raise InputError(
                f"{method} split: the {name} part is empty ({len(pairs)} pairs, "
                f"{len(set(groups.values()))} protein groups); use more pairs or larger fractions"
            )
    return split


def _assign_groups(groups: Mapping[str, int], fractions: tuple[float, float], seed: int) -> dict:
    members: dict[int, list[str]] = {}
    for pid, g in groups.items():
        members.setdefault(g, []).append(pid)
    order = sorted(members)
    random.Random(seed).shuffle(order)
    total = len(groups)
    want = {"valid": fractions[0] * total, "test": fractions[1] * total}
    got = {"valid": 0, "test": 0}
    group_side = {}
    for g in order:
        target = next((s for s in ("test", "valid") if got[s] < want[s]), "train")
        group_side[g] = target
        if target != "train":
            got[target] += len(members[g])
    return {pid: group_side[g] for pid, g in groups.items()}


def _hold_out_c1(train: list[Pair], fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """Move a share of training pairs to C1, keeping each moved pair's proteins in training."""
    rng = random.Random(seed + 1)
    order = list(range(len(train)))
    rng.shuffle(order)
    count: dict[str, int] = {}
    for pair in train:
        for x in {pair.a, pair.b}:
            count[x] = count.get(x, 0) + 1
    wanted, held = round(fraction * len(train)), set()
    for index in order:
        if len(held) >= wanted:
            break
        pair = train[index]
        ids = {pair.a, pair.b}
        if all(count[x] > 1 for x in ids):
            held.add(index)
            for x in ids:
                count[x] -= 1
    keep = [p for n, p in enumerate(train) if n not in held]
    return keep, [p for n, p in enumerate(train) if n in held]


def disjoint_validation(
    pairs: list[Pair], proteins: Mapping[str, str] | None, fraction: float, seed: int
) -> tuple[list[Pair], list[Pair], int]:
    """Carve a validation part whose proteins training never sees (C3, as ``ppi split``).

    A random ``fraction`` of the proteins (ids of one sequence kept together)
    forms the validation group: pairs with both proteins in it are the
    validation part, pairs with neither stay in training, and pairs with one
    in each are dropped. Returns ``(train, valid, dropped)``.

    Raises:
        InputError: the carve leaves a part empty or of one class, with the
            counts, naming ``data.valid_split=random`` as the way out.
    """
    canon = canonical_ids(proteins, pairs)
    side = _assign_groups(identity_groups(pairs, canon), (fraction, 0.0), seed)
    train = [p for p in pairs if side[p.a] == side[p.b] == "train"]
    valid = [p for p in pairs if side[p.a] == side[p.b] == "valid"]
    n_valid = sum(s == "valid" for s in side.values())
    for name, part in (("validation", valid), ("training", train)):
        if len({p.label for p in part}) < 2:
            raise InputError(
                f"data.valid_split=c3: cannot carve a protein-disjoint validation set from "
                f"{len(pairs)} pairs over {len(side)} proteins: {n_valid} validation proteins "
                f"give {len(valid)} validation and {len(train)} training pairs, and the {name} "
                f"part has {len({p.label for p in part})} class(es); "
                "use more pairs, a larger data.valid_fraction, or data.valid_split=random"
            )
    return train, valid, len(pairs) - len(train) - len(valid)


def identity_groups(pairs: Sequence[Pair], canon: Mapping[str, str]) -> dict[str, int]:
    """Each protein its own group, except ids of one sequence, which share one."""
    reps = sorted({canon[x] for p in pairs for x in (p.a, p.b)})
    index = {r: n for n, r in enumerate(reps)}
    return {x: index[canon[x]] for p in pairs for x in (p.a, p.b)}


def cluster_groups(nb: Neighbours, threshold: float) -> dict[str, int]:
    """Single-linkage clusters: proteins joined by any pair at or above ``threshold``."""
    keep = nb.score >= threshold
    n = len(nb.ids)
    graph = coo_matrix((np.ones(int(keep.sum())), (nb.i[keep], nb.j[keep])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return {pid: int(labels[k]) for k, pid in enumerate(nb.ids)}


@dataclass
class SplitRequest:
    """How to split: method, held-out shares, seed, and the similarity settings."""

    method: str = "random"
    valid: float = 0.1
    test: float = 0.1
    seed: int = 0
    threshold: float = 0.5
    measure: str = "phmmer"


def split_pairs(
    pairs: list[Pair], proteins: Mapping[str, str] | None, req: SplitRequest
) -> tuple[PairSplit, dict[str, str], Neighbours | None]:
    """Split ``pairs`` as ``req`` says; returns the split, the id map and the neighbours.

    Neighbours (for the homology clusters and the report's nearest identities)
    are computed when sequences are given. A pair that repeats an earlier one
    (either order) is dropped first, so no pair is on two sides of the split;
    it counts in :attr:`PairSplit.dropped`, with a note.
    """
    check_threshold(req.threshold)
    if req.method not in METHODS:
        raise InputError(f"--method: expected one of {', '.join(METHODS)}, got {req.method!r}")
    if req.method == "homology" and not proteins:
        raise InputError("--method homology: needs the sequences (--fasta)")
    once = each_pair_once(pairs)
    canon = canonical_ids(proteins, once)
    nb = None
    if proteins:
        used = {x for p in once for x in (p.a, p.b)}
        floor = min(REPORT_FLOOR, req.threshold)
        nb = neighbours(req.measure, {k: proteins[k] for k in sorted(used)}, floor)
    if req.method == "random":
        split = random_pairs(once, req.valid, req.test, req.seed)
    else:
        if req.method == "c3":
            groups = identity_groups(once, canon)
        else:
            groups = cluster_groups(nb, req.threshold)
        split = group_split(once, groups, (req.valid, req.test), req.seed, req.method)
    if len(once) < len(pairs):
        split.dropped += len(pairs) - len(once)
        split.notes.append(
            f"{len(pairs) - len(once)} repeats of an earlier pair (either order) dropped "
            "before the split"
        )
    return split, canon, nb
