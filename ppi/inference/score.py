"""Scoring lists of pairs with a trained model: cached representations, resumable output.

Each protein is encoded once and its representation kept in the cache
(``PPI_CACHE``), keyed by the model's weights and the sequence, so scoring the
same proteins again computes nothing. Pairs are scored in large batches
through the pair stage's list entry point
(:meth:`ppi.fusion.pair_stage.PairStage.pairs`) and written as they go; an
interrupted run picks up after the last written pair.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ppi.errors import InputError

HEADER = "id_a\tid_b\tprobability\n"


def load_pair_model(path: str, device: str):
    """A pair model from a model folder, an ensemble folder or a run directory, in eval mode."""
    from ppi.ensemble import load_model

    model = load_model(model_dir(Path(path)), map_location=device)
    if model.task != "pair":
        raise InputError(f"--model {path}: a {model.task} model cannot score pairs")
    return model.to(device).eval()


def model_dir(path: Path) -> Path:
    """The model folder of a run directory (``<run>/model``), or ``path`` itself.

    ``<run>/model`` holds one model (``config.json``) or an ensemble.
    """
    from ppi.ensemble import MANIFEST

    inner = path / "model"
    return inner if (inner / "config.json").is_file() or (inner / MANIFEST).is_file() else path


@torch.no_grad()
def representations(model, proteins: dict[str, str], device: str) -> dict[str, torch.Tensor]:
    """Each protein's fused tokens ``(M, D)``, from the cache or computed once.

    The cache key is the sequence, or the id and the sequence when a channel
    reads per-protein data by id (annotations, structures).
    """
    from ppi.channels import Proteins
    from ppi.utils.batching import token_budget_batches
    from ppi.utils.cache import EmbeddingCache

    def key(pid: str) -> str:
        return f"{pid}\t{proteins[pid]}" if model.uses_ids else proteins[pid]

    by_key = {key(pid): pid for pid in proteins}
    cache = EmbeddingCache(model.identity(), kind="representations", dtype=torch.float32)
    todo = cache.missing(by_key)
    if todo:
        model.prepare_channels({by_key[k]: proteins[by_key[k]] for k in todo})

        def encode(batch: list[str]) -> list[torch.Tensor]:
            ids = [by_key[k] for k in batch]
            return list(model.encode(Proteins(ids, [proteins[i] for i in ids])))

        cache.fill(
            todo,
            encode,
            lambda keys: token_budget_batches(keys, 16384),
            lambda it: tqdm(it, desc="encoding proteins", unit="batch", disable=None),
        )
    return {pid: cache.get(key(pid)).to(device) for pid in proteins}


def _batches(pairs, size: int, skip: int) -> Iterator[list[tuple[str, str]]]:
    it = itertools.islice(iter(pairs), skip, None)
    while batch := list(itertools.islice(it, size)):
        yield batch


@dataclass(frozen=True)
class ScoreJob:
    """Where scores go and what they are scores of.

    Attributes:
        out: the TSV written at the end; rows go to ``<out>.partial`` meanwhile.
        record: the inputs' fingerprint (see :func:`inputs_record`), kept in
            ``<out>.partial.json`` so a resume continues only the same scoring.
        batch_size: pairs per scoring step (does not change the scores).
    """

    out: Path
    record: dict[str, str]
    batch_size: int

    @property
    def partial(self) -> Path:
        """The rows written so far."""
        return self.out.with_name(self.out.name + ".partial")

    @property
    def sidecar(self) -> Path:
        """The fingerprint of the inputs of ``partial``."""
        return self.out.with_name(self.out.name + ".partial.json")


def inputs_record(model, proteins: dict[str, str], pairs: list | None) -> dict[str, str]:
    """What the rows of a score depend on, each part hashed: model, proteins and pairs."""
    from ppi.utils.cache import digest

    return {
        "--model": model.identity(),
        "--fasta": digest(*(f"{pid}\t{seq}" for pid, seq in proteins.items())),
        "--pairs/--all": "all" if pairs is None else digest(*(f"{a}\t{b}" for a, b in pairs)),
        "columns": HEADER.strip(),
    }


def resume_point(job: ScoreJob) -> int:
    """Rows already scored for these same inputs (0 for a new score).

    A partial file left by a score of other inputs, or without a record of
    them, is refused with an error naming what differs.
    """
    from ppi.utils.files import atomic_write_text

    if not job.partial.is_file():
        atomic_write_text(job.sidecar, json.dumps(job.record, indent=1) + "\n")
        return 0
    differ = _differences(job)
    if differ:
        raise InputError(
            f"{job.partial}: an unfinished score of other inputs ({differ}); expected the "
            f"same --model, --fasta and --pairs/--all to resume, or delete {job.partial.name} "
            "to start again"
        )
    return _done_rows(job.partial)


def _differences(job: ScoreJob) -> str:
    """Which inputs of the partial file differ from the job's ('' when none)."""
    try:
        saved = json.loads(job.sidecar.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return f"no readable record of them in {job.sidecar.name}"
    differ = [key for key, value in job.record.items() if saved.get(key) != value]
    return f"{', '.join(differ)} differ" if differ else ""


def _done_rows(partial: Path) -> int:
    with open(partial) as handle:
        lines = handle.read().split("\n")
    complete = lines[:-1]  # a last line without its newline was cut off mid-write
    with open(partial, "w") as handle:
        handle.writelines(line + "\n" for line in complete)
    return max(len(complete) - 1, 0)


@torch.no_grad()
def write_scores(model, reps, pairs, total: int, job: ScoreJob, proteins: dict[str, str]) -> int:
    """Score pairs in batches, appending to ``<out>.partial``; rename when all are done."""
    job.out.parent.mkdir(parents=True, exist_ok=True)
    skip = resume_point(job)
    with open(job.partial, "a") as handle:
        if skip == 0 and handle.tell() == 0:
            handle.write(HEADER)
        bar = tqdm(
            total=total,
            initial=skip,
            desc="scoring pairs",
            unit="pair",
            unit_scale=True,
            disable=None,
        )
        for batch in _batches(pairs, job.batch_size, skip):
            za = torch.stack([reps[a] for a, _ in batch])  # (P, M, D)
            zb = torch.stack([reps[b] for _, b in batch])  # (P, M, D)
            seqs_a, seqs_b = [proteins[a] for a, _ in batch], [proteins[b] for _, b in batch]
            probs = model.pair.pairs(za, zb, seqs_a, seqs_b).float().sigmoid().tolist()
            handle.write(
                "".join(f"{a}\t{b}\t{p:.6f}\n" for (a, b), p in zip(batch, probs, strict=True))
            )
            handle.flush()
            bar.update(len(batch))
        bar.close()
    _publish(job)
    return total


def _publish(job: ScoreJob) -> None:
    """Put the finished rows in place and drop their inputs' record."""
    os.replace(job.partial, job.out)
    job.sidecar.unlink(missing_ok=True)
