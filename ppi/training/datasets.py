"""Turn the configured files into protein tables and split example lists.

Pair task: a FASTA plus pair files -> ``{id: sequence}`` and lists of
:class:`ppi.data.pairs.Pair`. Single task: tables -> ``{id: sequence}`` and
``(id, target)`` examples with the class names. Either way each batch carries
every distinct protein once, so a protein in several pairs of a batch is
embedded once.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Sampler

from ppi.channels import RunData
from ppi.config.run import DataConfig
from ppi.data.examples import resolve
from ppi.data.fasta import read_fasta
from ppi.data.leakage import disjoint_validation
from ppi.data.pairs import Pair, count_repeats, each_pair_once, read_pairs, write_pairs
from ppi.data.splits import random_split
from ppi.data.tables import read_table
from ppi.errors import InputError
from ppi.training.preflight import refuse_conflicts

log = logging.getLogger("ppi")
SPLITS = ("train", "valid", "test")


@dataclass
class TaskData:
    """Everything a run reads: proteins, split examples and, for single tasks, classes."""

    proteins: dict[str, str]
    splits: dict[str, list]
    class_names: tuple[str, ...] = ()
    multi_label: bool = False
    sources: dict[str, str] = field(default_factory=dict)


def load_pair_data(cfg: DataConfig) -> TaskData:
    """Read the FASTA and pair files; split ``train`` where valid/test are not given.

    The validation part carved from ``train`` has proteins that training never
    sees (``data.valid_split=c3``, the default) or random pairs (``random``).
    Before a part is carved, each pair of ``train`` is kept once (either
    order), so that none is on two sides; one listed with two labels is an
    error unless ``data.allow_conflicts`` (then its first label is kept).
    """
    fasta = resolve(cfg.fasta)
    proteins = read_fasta(fasta)

    @functools.cache  # `ppi evaluate --model` names one file as train, valid and test
    def read(ref: str) -> list[Pair]:
        return read_pairs(resolve(ref), known_ids=proteins, fasta_name=fasta.name)

    train = read(cfg.train)
    valid = read(cfg.valid) if cfg.valid else None
    test = read(cfg.test) if cfg.test else None
    if valid is None or test is None:
        train = _each_pair_once(train, cfg)
    disjoint = cfg.valid_split == "c3" and valid is None and cfg.valid_fraction > 0
    if disjoint:  # the test part first, as a random split would carve it; then validation
        cut = dataclasses.replace(cfg, valid_fraction=0.0)
        train, _, test = _carve(train, [], test, cut, key=lambda p: p.label)
        train, valid, dropped = disjoint_validation(
            train, proteins, cfg.valid_fraction, cfg.split_seed
        )
        cfg = dataclasses.replace(cfg, limit=0)
    splits = _split(train, valid, test, cfg, key=lambda p: p.label)
    if disjoint:
        log.info(
            "validation: %d pairs of %d proteins never in training (data.valid_split=c3); "
            "%d pairs between them and training proteins dropped",
            len(splits["valid"]),
            len({x for p in splits["valid"] for x in (p.a, p.b)}),
            dropped,
        )
    used = {i for part in splits.values() for p in part for i in (p.a, p.b)}
    return TaskData({k: v for k, v in proteins.items() if k in used}, splits)


def load_single_data(cfg: DataConfig, classes: tuple[str, ...] = ()) -> TaskData:
    """Read single-task tables; labels become class indices or multi-hot vectors.

    ``classes`` fixes the class order (a trained model's); a label outside it
    is an error. Without it the classes are the sorted distinct labels.
    """
    sep = cfg.label_separator or None

    @functools.cache  # one file may serve as several splits
    def read(ref: str):
        return read_table(
            resolve(ref), cfg.sequence_column, cfg.label_column, cfg.id_column or None, sep
        )

    tables = {name: read(getattr(cfg, name)) for name in SPLITS if getattr(cfg, name)}
    proteins: dict[str, str] = {}
    examples: dict[str, list] = {}
    for name, table in tables.items():
        for i, (pid, seq, label) in enumerate(
            zip(table.ids, table.seqs, table.labels, strict=True)
        ):
            key = f"{name}:{pid}" if pid.startswith("row") else pid
            proteins[key] = seq
            examples.setdefault(name, []).append((key, label if sep else [label], i))
    seen = {lab for ex in examples.values() for _, labs, _ in ex for lab in labs}
    unknown = sorted(seen - set(classes)) if classes else []
    if unknown:
        raise InputError(
            f"{cfg.train}: labels the model was not trained on: {', '.join(unknown[:5])} "
            f"(known: {', '.join(classes)})"
        )
    classes = tuple(classes) or tuple(sorted(seen))
    index = {c: i for i, c in enumerate(classes)}
    converted = {
        n: [(pid, [index[x] for x in labs]) for pid, labs, _ in ex] for n, ex in examples.items()
    }
    splits = _split(
        converted["train"],
        converted.get("valid"),
        converted.get("test"),
        cfg,
        key=lambda ex: tuple(ex[1]),
    )
    return TaskData(proteins, splits, classes, multi_label=sep is not None)


def _each_pair_once(pairs: list[Pair], cfg: DataConfig) -> list[Pair]:
    """``pairs`` with repeats dropped; a pair with two labels is refused unless allowed."""
    found = count_repeats(pairs)
    if found.conflicts and not cfg.allow_conflicts:
        refuse_conflicts(cfg.train, found)
    if found.conflicts:
        log.warning(
            "%s: %d %s an earlier pair with a different label (data.allow_conflicts=true): "
            "the first label is kept",
            cfg.train,
            found.conflicts,
            "pair repeats" if found.conflicts == 1 else "pairs repeat",
        )
    return each_pair_once(pairs, cfg.train)


def _carve(train: list, valid: list | None, test: list | None, cfg: DataConfig, key) -> tuple:
    """``data.limit`` applied, then the missing valid/test parts carved at random."""
    if cfg.limit and cfg.limit < len(train):
        train = random.Random(cfg.split_seed).sample(train, cfg.limit)
    fractions = (
        0.0 if valid is not None else cfg.valid_fraction,
        0.0 if test is not None else cfg.test_fraction,
    )
    if any(fractions):
        train, v, t = random_split(train, *fractions, cfg.split_seed, key=key)
        valid = valid if valid is not None else v
        test = test if test is not None else t
    return train, valid, test


def _split(train: list, valid: list | None, test: list | None, cfg: DataConfig, key) -> dict:
    train, valid, test = _carve(train, valid, test, cfg, key)
    if not valid or not test:
        raise InputError(
            "data: need validation and test examples; give data.valid/data.test files "
            "or set data.valid_fraction/data.test_fraction above 0"
        )
    return {"train": train, "valid": valid, "test": test}


def run_data(data: TaskData) -> RunData:
    """What channels may learn from: the training split, and which proteins are held out."""

    def ids(part: list) -> set[str]:
        if part and isinstance(part[0], Pair):
            return {i for p in part for i in (p.a, p.b)}
        return {pid for pid, _ in part}

    train = data.splits["train"]
    pairs = (
        tuple((p.a, p.b, p.label) for p in train) if train and isinstance(train[0], Pair) else ()
    )
    holdout = ids(data.splits.get("valid", [])) | ids(data.splits.get("test", []))
    return RunData(frozenset(ids(train)), frozenset(holdout), pairs)


def write_splits(data: TaskData, directory: Path) -> None:
    """Keep the exact split of a pair run in its run directory (``splits/*.tsv``)."""
    for name, part in data.splits.items():
        if part and isinstance(part[0], Pair):
            write_pairs(part, directory / "splits" / f"{name}.tsv")


class PairCollator:
    """Batches of pairs -> distinct proteins, index pairs and labels."""

    def __init__(self, proteins: dict[str, str]) -> None:
        self.proteins = proteins

    def __call__(self, items: Sequence[Pair]) -> dict:
        """Collate pairs.

        Shapes:
            ``pairs`` ``(P, 2)`` long indices into ``ids``; ``labels`` ``(P,)``.
        """
        ids = list(dict.fromkeys(i for p in items for i in (p.a, p.b)))
        where = {pid: n for n, pid in enumerate(ids)}
        pairs = torch.tensor([[where[p.a], where[p.b]] for p in items], dtype=torch.long)
        labels = torch.tensor([p.label if p.label is not None else -1.0 for p in items])
        return {
            "ids": ids,
            "seqs": [self.proteins[i] for i in ids],
            "pairs": pairs,
            "labels": labels,
        }


class SingleCollator:
    """Batches of ``(id, class indices)`` -> proteins and targets."""

    def __init__(self, proteins: dict[str, str], classes: int, multi_label: bool) -> None:
        self.proteins = proteins
        self.classes = classes
        self.multi_label = multi_label

    def __call__(self, items: Sequence[tuple[str, list[int]]]) -> dict:
        """Collate proteins.

        Shapes:
            ``labels`` ``(B,)`` class indices, or ``(B, C)`` multi-hot when multi-label.
        """
        ids = [pid for pid, _ in items]
        if self.multi_label:
            labels = torch.zeros(len(items), self.classes)
            for row, (_, labs) in enumerate(items):
                labels[row, labs] = 1.0
        else:
            labels = torch.tensor([labs[0] for _, labs in items], dtype=torch.long)
        return {
            "ids": ids,
            "seqs": [self.proteins[i] for i in ids],
            "pairs": None,
            "labels": labels,
        }


class EpochSampler(torch.utils.data.Sampler):
    """A permutation that depends only on (seed, epoch), so a resumed run sees the same order."""

    def __init__(self, n: int, seed: int, shuffle: bool = True) -> None:
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the permutation of ``epoch``."""
        self.epoch = epoch

    def __iter__(self):
        if not self.shuffle:
            return iter(range(self.n))
        g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


def make_loader(
    task: str, data: TaskData, split: str, batch_size: int, sampler: Sampler | None = None
) -> DataLoader:
    """The loader of one split: its examples collated for the task, in order unless ``sampler``.

    Training, ``ppi evaluate`` and ``ppi ablate --mask`` all read their
    examples through this one loader.
    """
    if task == "pair":
        collate = PairCollator(data.proteins)
    else:
        collate = SingleCollator(data.proteins, len(data.class_names), data.multi_label)
    return DataLoader(
        data.splits[split], batch_size, shuffle=False, sampler=sampler, collate_fn=collate
    )
