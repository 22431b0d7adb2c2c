"""The data of ``ppi pretrain``: sequences from dumps, a held-out set by identity cluster, batches.

Held-out proteins are whole single-linkage clusters of proteins at or above
``cluster_identity`` alignment identity (MMSeqs2 or phmmer, as ``ppi split``
computes it), so no held-out protein has a close relative in training and
the held-out loss measures generalisation, not memory.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ppi.backbones.scratch import ScratchTokenizer
from ppi.data.sequence_store import SequenceStore
from ppi.errors import InputError
from ppi.utils.batching import as_groups, token_budget_bounds
from ppi.utils.files import atomic_write_text

SPLIT = "split.json"
#: no cap on the number of crops in a batch: the token budget decides
MAX_BATCH = 1 << 16
log = logging.getLogger("ppi")


def cluster_split(
    store: SequenceStore, share: float, identity: float, measure: str, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, held_out)`` store indices, ascending: whole identity clusters until ``share``.

    ``measure`` ``none`` runs no search: every sequence is its own cluster,
    which is right only for input already clustered below ``identity``
    (UniRef50 representatives, at 50%), where an all-against-all search of
    tens of millions of sequences would be a large job for nothing.
    """
    target = max(1, round(share * len(store)))
    if measure == "none":
        log.warning(
            "pretrain.cluster_measure=none: held-out proteins are drawn one by one; "
            "this holds them out by cluster only if the input is already clustered "
            "below %.0f%% identity (as UniRef50 is at 50%%)",
            100 * identity,
        )
        # one cluster a protein, ordered by the hash of its accession (not by the order
        # of the dumps) and shuffled: the first target are held out
        order = np.argsort(np.asarray(store.id_hashes), kind="stable").tolist()
        random.Random(seed).shuffle(order)
        held = np.sort(np.asarray(order[:target], dtype=np.int64))
    else:
        held = _held_clusters(store, identity, measure, seed, target)
    train = np.setdiff1d(np.arange(len(store)), held)
    if not len(train) or not len(held):
        raise InputError(
            f"pretrain: cannot hold out {share:.0%} of {len(store)} proteins by cluster "
            f"at identity {identity}"
        )
    return train, held


def _held_clusters(
    store: SequenceStore, identity: float, measure: str, seed: int, target: int
) -> np.ndarray:
    """Whole single-linkage clusters drawn in a random order until ``target`` proteins."""
    from ppi.data.leakage import cluster_groups
    from ppi.data.similarity import neighbours

    proteins = store.named(range(len(store)))
    groups = cluster_groups(neighbours(measure, proteins, identity), identity)
    members: dict[int, list[int]] = {}
    for i, pid in enumerate(proteins):
        members.setdefault(groups.get(pid, -1 - len(members)), []).append(i)
    clusters = sorted(members.values(), key=lambda m: store.accession(m[0]))
    random.Random(seed).shuffle(clusters)
    held: list[int] = []
    for m in clusters:
        if len(held) >= target:
            break
        if len(held) + len(m) <= 2 * target:  # a giant cluster stays in training
            held.extend(m)
    return np.sort(np.asarray(held, dtype=np.int64))


def load_or_split(
    out: Path, store: SequenceStore, settings, key: str | None, resuming: bool = False
) -> tuple[np.ndarray, np.ndarray, bool]:
    """The split saved in ``out`` or a new one: store indices, and whether it is new.

    A new split is not written here: the caller saves it with
    :func:`save_split` once the rest of its input is known to be good, so
    bad input leaves no folder behind.

    A saved split is reused when ``key`` is None (a finished folder read
    again) or when it was drawn under the same ``key`` (inputs, share,
    identity, measure, seed); one drawn under another key is the leftover of
    a run stopped before its first epoch ended, and is drawn again. Splits
    saved before keys were recorded are reused. The file names the held-out
    proteins; the training ones are all the others (files written before
    this list them too, and are read as they are), so a split drawn from
    other proteins than the dumps hold now is an error for a finished folder
    or a resumed job (``resuming``), and is drawn again otherwise.
    """
    path = out / SPLIT
    if path.is_file():
        data = _read_split(path)
        same = _same_proteins(data, store)
        if key is None or (data.get("key", key) == key and (same or resuming)):
            where = f"{path}: the saved split"
            if not same:
                raise InputError(
                    f"{where} was drawn from {data.get('sequences')} proteins whose accessions "
                    f"(or their order) differ from the {len(store)} the dumps hold now; "
                    "give the dumps it was drawn from, in the same order, or another --out"
                )
            held = store.indices(data["held_out"], where)
            if "train" in data:
                return store.indices(data["train"], where), held, False
            return np.setdiff1d(np.arange(len(store)), held), held, False
        log.info("%s: drawn for other inputs or settings; drawing the split again", path)
    train, held = cluster_split(
        store,
        settings.heldout,
        settings.cluster_identity,
        settings.cluster_measure,
        settings.seed,
    )
    return train, held, True


def save_split(out: Path, store: SequenceStore, held: np.ndarray, key: str | None) -> None:
    """Write a newly drawn split to ``out/split.json`` (the main process only)."""
    out.mkdir(parents=True, exist_ok=True)
    saved = {"key": key, "held_out": store.accessions(held), "sequences": len(store)}
    saved["proteins_digest"] = store.accessions_digest
    atomic_write_text(out / SPLIT, json.dumps(saved))


def _read_split(path: Path) -> dict:
    """``split.json``; a damaged one is a one-line error."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"{path}: cannot be read as JSON ({exc}); delete it to draw again"
        ) from None
    if not isinstance(data, dict) or not _names(data.get("held_out")):
        raise InputError(f"{path}: expected a JSON object whose held_out is a list of accessions")
    if "train" in data and not _names(data["train"]):
        raise InputError(f"{path}: expected its train to be a list of accessions")
    return data


def _names(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _same_proteins(data: dict, store: SequenceStore) -> bool:
    """Whether a saved split was drawn from the proteins ``store`` holds (by their accessions).

    The training set is every protein not held out, so a protein added to the
    dumps since would join the training set of a resumed job unseen. Splits
    that list their training proteins, or that predate the digest, pass.
    """
    saved = data.get("proteins_digest")
    if saved is None or "train" in data:
        return True
    return saved == store.accessions_digest


def crop_starts(lengths, size: int, gen: torch.Generator) -> np.ndarray:
    """Where a random window of at most ``size`` residues begins in each sequence, ``(N,)``.

    One draw from ``gen`` for each sequence longer than ``size``, in order.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    out = np.zeros(len(lengths), dtype=np.int64)
    for i in np.nonzero(lengths > size)[0]:
        out[i] = int(torch.randint(int(lengths[i]) - size + 1, (1,), generator=gen))
    return out


def crops(seqs: list[str], size: int, gen: torch.Generator) -> list[str]:
    """A random window of at most ``size`` residues of each sequence."""
    starts = crop_starts([len(s) for s in seqs], size, gen).tolist()
    return [s[a : a + size] for s, a in zip(seqs, starts, strict=True)]


def batch_order(lengths, budget: int, gen) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`batches` as arrays ``(order, begins, ends)``: batch b is order[begins[b]:ends[b]]."""
    order, begins, ends = token_budget_bounds(lengths, budget, MAX_BATCH)
    shuffled = torch.randperm(len(ends), generator=gen).numpy()
    return order, begins[shuffled], ends[shuffled]


def batches(lengths: list[int], budget: int, gen: torch.Generator) -> list[list[int]]:
    """Length-sorted groups under a padded-token budget, in a random order."""
    return as_groups(*batch_order(lengths, budget, gen))


class EpochBatches(Sequence):
    """An epoch's batches of one process, each read from the store when asked.

    Batch b is ``order[begins[b]:ends[b]]``, positions in ``train`` (the store
    indices of the training proteins); item b is ``(crops, rows)``: the
    crops' residues and those positions (the rows of the GO targets). Only the
    batch being trained on is held in memory, not the epoch's crops.
    """

    def __init__(self, store: SequenceStore, train, order, begins, ends, starts, size: int):
        self.store, self.train, self.order = store, train, order
        self.begins, self.ends, self.starts, self.size = begins, ends, starts, size

    def __len__(self) -> int:
        return len(self.begins)

    def __getitem__(self, b: int) -> tuple[list[str], list[int]]:
        rows = self.order[self.begins[b] : self.ends[b]].tolist()
        train, starts = self.train, self.starts
        seqs = [self.store.window(int(train[r]), int(starts[r]), self.size) for r in rows]
        return seqs, rows


def encode(
    tok: ScratchTokenizer, seqs: list[str]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token ids, the not-padding mask and the residue mask (not special, not padding).

    Shapes:
        returns three ``(B, L + 2)`` tensors.
    """
    ids, keep = tok.encode(seqs)
    residue = keep & (ids != tok.cls_id) & (ids != tok.eos_id) & (ids != tok.unk_id)
    return ids, keep, residue
