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
from pathlib import Path

import torch

from ppi.backbones.scratch import ScratchTokenizer
from ppi.data.examples import resolve
from ppi.errors import InputError
from ppi.utils.batching import token_budget_groups
from ppi.utils.files import atomic_write_text

SPLIT = "split.json"
log = logging.getLogger("ppi")


def read_sequences(dumps: list[str]) -> dict[str, str]:
    """Accession -> sequence from FASTA, UniProt flat or XML dumps (plain or gzipped).

    Repeated sequences are kept once (the first accession), so a duplicate
    cannot sit on both sides of the split.
    """
    from ppi.data.uniprot_dump import read_dumps

    seen: dict[str, str] = {}
    out: dict[str, str] = {}
    for entry in read_dumps([resolve(d) for d in dumps]):
        if entry.sequence and entry.sequence not in seen:
            seen[entry.sequence] = entry.accession
            out[entry.accession] = entry.sequence
    if len(out) < 2:
        raise InputError(
            f"{', '.join(dumps)}: expected at least 2 distinct sequences, got {len(out)}"
        )
    return out


def cluster_split(
    proteins: dict[str, str], share: float, identity: float, measure: str, seed: int
) -> tuple[list[str], list[str]]:
    """``(train, held_out)`` ids: whole identity clusters drawn until ``share`` are held out.

    ``measure`` ``none`` runs no search: every sequence is its own cluster,
    which is right only for input already clustered below ``identity``
    (UniRef50 representatives, at 50%), where an all-against-all search of
    tens of millions of sequences would be a large job for nothing.
    """
    from ppi.data.leakage import cluster_groups
    from ppi.data.similarity import neighbours

    if measure == "none":
        log.warning(
            "pretrain.cluster_measure=none: held-out proteins are drawn one by one; "
            "this holds them out by cluster only if the input is already clustered "
            "below %.0f%% identity (as UniRef50 is at 50%%)",
            100 * identity,
        )
        groups = {}
    else:
        groups = cluster_groups(neighbours(measure, proteins, identity), identity)
    members: dict[int, list[str]] = {}
    for pid in proteins:
        members.setdefault(groups.get(pid, -1 - len(members)), []).append(pid)
    clusters = sorted(members.values(), key=lambda m: m[0])
    random.Random(seed).shuffle(clusters)
    target = max(1, round(share * len(proteins)))
    held: list[str] = []
    for m in clusters:
        if len(held) >= target:
            break
        if len(held) + len(m) <= 2 * target:  # a giant cluster stays in training
            held.extend(m)
    held_set = set(held)
    train = [p for p in proteins if p not in held_set]
    if not train or not held:
        raise InputError(
            f"pretrain: cannot hold out {share:.0%} of {len(proteins)} proteins by cluster "
            f"at identity {identity} (clusters: {len(clusters)})"
        )
    return train, [p for p in proteins if p in held_set]  # input order, in linear time


def load_or_split(
    out: Path, proteins: dict[str, str], settings, main: bool, key: str | None
) -> tuple[list, list]:
    """The split saved in ``out`` or a new one, written by the main process.

    A saved split is reused when ``key`` is None (a finished folder read
    again) or when it was drawn under the same ``key`` (inputs, share,
    identity, measure, seed); one drawn under another key is the leftover of
    a run stopped before its first epoch ended, and is drawn again. Splits
    saved before keys were recorded are reused.
    """
    path = out / SPLIT
    if path.is_file():
        data = json.loads(path.read_text())
        if key is None or data.get("key", key) == key:
            return data["train"], data["held_out"]
        log.info("%s: drawn for other inputs or settings; drawing the split again", path)
    train, held = cluster_split(
        proteins,
        settings.heldout,
        settings.cluster_identity,
        settings.cluster_measure,
        settings.seed,
    )
    if main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"key": key, "train": train, "held_out": held}))
    return train, held


def crops(seqs: list[str], size: int, gen: torch.Generator) -> list[str]:
    """A random window of at most ``size`` residues of each sequence."""
    out = []
    for s in seqs:
        room = len(s) - size
        start = int(torch.randint(room + 1, (1,), generator=gen)) if room > 0 else 0
        out.append(s[start : start + size])
    return out


def batches(lengths: list[int], budget: int, gen: torch.Generator) -> list[list[int]]:
    """Length-sorted groups under a padded-token budget, in a random order."""
    groups = token_budget_groups(lengths, budget, max_batch=1 << 16)
    order = torch.randperm(len(groups), generator=gen).tolist()
    return [groups[i] for i in order]


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
