"""Score candidate pairs with a trained model: a TSV of interaction probabilities.

Each protein is encoded once and its representation kept in the cache
(``PPI_CACHE``), keyed by the model's weights and the sequence, so scoring the
same proteins again computes nothing. Pairs are scored in large batches
through the pair stage only and written as they go; an interrupted run picks
up after the last written pair.
"""

from __future__ import annotations

import argparse
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ppi.logs import setup_logging

HEADER = "id_a\tid_b\tprobability\n"


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi score``."""
    parser.add_argument("--model", required=True, help="a model folder or a run directory")
    parser.add_argument("--fasta", required=True, help="sequences of the proteins (plain or .gz)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--pairs", help="candidate pairs TSV/CSV (id_a id_b [label])")
    which.add_argument("--all", action="store_true", help="every pair among the FASTA's proteins")
    parser.add_argument("--out", required=True, help="output TSV (id_a, id_b, probability)")
    parser.add_argument("--batch-size", type=int, default=4096, help="pairs per scoring step")
    parser.add_argument(
        "--interface",
        metavar="DIR",
        help="also write per pair a residue map (.npy/.tsv), a heatmap PNG and top residue pairs",
    )
    parser.add_argument("--interface-format", choices=("npy", "tsv"), default="npy")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")


def main(args: argparse.Namespace) -> int:
    """Encode proteins (cached), then stream scored pairs to ``--out``."""
    from ppi.data.fasta import read_fasta
    from ppi.data.pairs import read_pairs
    from ppi.errors import InputError

    setup_logging()
    if args.interface and not args.pairs:
        raise InputError("--interface: expected --pairs (maps for --all would be every pair)")
    model = load_pair_model(args.model, args.device)
    proteins = read_fasta(args.fasta)
    if args.pairs:
        pairs = [
            (p.a, p.b)
            for p in read_pairs(
                args.pairs,
                known_ids=proteins,
                fasta_name=Path(args.fasta).name,
                require_labels=False,
            )
        ]
        total = len(pairs)
    else:
        pairs = itertools.combinations(list(proteins), 2)
        total = len(proteins) * (len(proteins) - 1) // 2
    reps = representations(model, proteins, args.device)
    written = write_scores(model, reps, pairs, total, Path(args.out), args.batch_size, proteins)
    print(f"scored {written} pairs -> {args.out}")
    if args.interface:
        _interfaces(model, proteins, args)
    return 0


def _interfaces(model, proteins: dict[str, str], args: argparse.Namespace) -> None:
    from ppi.interface import write_interfaces

    pairs = [line.split("\t")[:2] for line in Path(args.out).read_text().splitlines()[1:]]
    written = write_interfaces(model, proteins, pairs, Path(args.interface), args.interface_format)
    print(f"wrote {written} interface maps -> {args.interface}")


def load_pair_model(path: str, device: str):
    """A pair model from a model folder or a run directory, in eval mode on ``device``."""
    from ppi.errors import InputError
    from ppi.model import PPIModel

    model = PPIModel.from_pretrained(_model_dir(Path(path)), map_location=device)
    if model.task != "pair":
        raise InputError(f"--model {path}: a {model.task} model cannot score pairs")
    return model.to(device).eval()


def _model_dir(path: Path) -> Path:
    return path / "model" if (path / "model" / "config.json").is_file() else path


@torch.no_grad()
def representations(model, proteins: dict[str, str], device: str) -> dict[str, torch.Tensor]:
    """Each protein's fused tokens ``(M, D)``, from the cache or computed once.

    The cache key is the sequence, or the id and the sequence when a channel
    reads per-protein data by id (annotations, structures).
    """
    from ppi.cache import EmbeddingCache, token_budget_batches
    from ppi.channels import Proteins

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


def _done_rows(partial: Path) -> int:
    if not partial.is_file():
        return 0
    with open(partial) as handle:
        lines = handle.read().split("\n")
    complete = lines[:-1]  # a last line without its newline was cut off mid-write
    with open(partial, "w") as handle:
        handle.writelines(line + "\n" for line in complete)
    return max(len(complete) - 1, 0)


@torch.no_grad()
def write_scores(
    model, reps, pairs, total: int, out: Path, batch_size: int, proteins: dict[str, str]
) -> int:
    """Score pairs in batches, appending to ``<out>.partial``; rename when all are done."""
    partial = out.with_name(out.name + ".partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    skip = _done_rows(partial)
    with open(partial, "a") as handle:
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
        for batch in _batches(pairs, batch_size, skip):
            za = torch.stack([reps[a] for a, _ in batch])  # (P, M, D)
            zb = torch.stack([reps[b] for _, b in batch])  # (P, M, D)
            evidence = model.pair_evidence(
                [proteins[a] for a, _ in batch], [proteins[b] for _, b in batch]
            )  # (P, E) or None
            probs = model.pair_logits(za, zb, evidence).float().sigmoid().tolist()
            handle.write(
                "".join(f"{a}\t{b}\t{p:.6f}\n" for (a, b), p in zip(batch, probs, strict=True))
            )
            handle.flush()
            bar.update(len(batch))
        bar.close()
    os.replace(partial, out)
    return total
