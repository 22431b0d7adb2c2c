"""Screen all pairs among proteins (or N against M): top partners and high-scoring pairs.

Each protein's representation is computed once (and cached, as in ``ppi
score``); pairs are scored block by block through the pair stage only, so
memory stays bounded whatever the number of proteins. The output folder gets
``hits.tsv`` (every pair at or above ``--threshold``), ``top_partners.tsv``
(each protein's ``--top-k`` best partners), ``summary.json`` and
``score_histogram.png``. A killed screen started again with the same
arguments continues after its last finished blocks. Under ``accelerate
launch`` the processes share the blocks and the main process writes the same
files one process would; ``--prefilter F`` scores only the top fraction F of
each protein's partners by the model's retrieval vector (``ppi distill``).
"""

from __future__ import annotations

import argparse
import os
from datetime import timedelta
from pathlib import Path

import torch

from ppi.commands._args import count, default_device, device, output_dir, probability
from ppi.errors import InputError
from ppi.utils.locks import exclusive_across
from ppi.utils.logs import setup_logging


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi screen``."""
    parser.add_argument("--model", required=True, help="a model folder or a run directory")
    parser.add_argument("--fasta", required=True, help="proteins to screen (plain or .gz)")
    parser.add_argument(
        "--against", help="a second FASTA: score --fasta x --against instead of all pairs"
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--top-k", type=count(1), default=10, help="partners kept per protein")
    parser.add_argument(
        "--threshold", type=probability(), default=0.9, help="write every pair at or above this"
    )
    parser.add_argument("--block", type=count(1), default=512, help="proteins per block")
    parser.add_argument(
        "--prefilter",
        type=probability(low_open=True),
        help="score only this fraction of each protein's partners, ranked by the model's "
        "retrieval vector (add one with ppi distill)",
    )
    parser.add_argument("--device", default=default_device(), help="cpu, cuda or cuda:N")
    parser.add_argument(
        "--threads", type=count(0), default=0, help="CPU threads (0: torch's default, one per core)"
    )


def main(args: argparse.Namespace) -> int:
    """Check the output folder and device, lock the folder, then screen."""
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    setup_logging()
    out = output_dir(args.out)
    device(args.device)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    # a process done with its blocks waits at a barrier for the others: give them a day
    dist = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"), timeout=timedelta(days=1))
    if dist.num_processes > 1 and args.device.startswith("cuda"):
        args.device = str(dist.device)  # one GPU per process
    with exclusive_across(out, "--out", dist):
        return _screen(args, out, dist)


def _screen(args: argparse.Namespace, out: Path, dist) -> int:
    """Load the model and proteins, encode them (cached), screen and summarise."""
    from ppi.inference.score import load_pair_model
    from ppi.inference.screen import Plan, Screen
    from ppi.inference.screen_parts import check_record
    from ppi.utils.distributed import main_decides

    rows = read_unique(args.fasta)
    cols = read_unique(args.against) if args.against else {}
    if not args.against and len(rows) < 2:
        raise InputError(
            f"{args.fasta}: expected at least 2 proteins to screen all pairs among, got "
            f"{len(rows)} (or give --against)"
        )
    proteins = merge_sets(rows, cols, args.fasta, args.against)
    model = load_pair_model(args.model, args.device)
    retrieval = _retrieval(args) if args.prefilter else None
    record = screen_record(args, model, rows, cols, retrieval)
    agree(record, dist)
    main_decides(dist, lambda: check_record(out, record), InputError)
    ids = list(rows) + list(cols)
    z = shared_representations(model, proteins, ids, args.device, dist)  # (N, M, D)
    plan = Plan(ids, len(rows), all_vs_all=not cols, block=args.block)
    candidates = None
    if retrieval is not None:
        candidates = prefilter_candidates(retrieval, z, plan, args.prefilter, out, dist)
    bf16 = os.environ.get("ACCELERATE_MIXED_PRECISION") == "bf16" and z.device.type == "cuda"
    screen = Screen(
        model,
        plan,
        z,
        args.top_k,
        args.threshold,
        seqs=[proteins[i] for i in ids],
        candidates=candidates,
        autocast=torch.bfloat16 if bf16 else None,
    )
    summary = screen.run(out, dist)
    if summary is not None:
        print(
            f"screened {summary['pairs_scored']:,} of {summary['pairs']:,} pairs of "
            f"{summary['proteins']:,} proteins in {summary['seconds']:.1f} s of scoring "
            f"({summary['pairs_per_second']:,.0f} pairs/s); {summary['hits']:,} at or above "
            f"{args.threshold:g} -> {args.out}"
        )
    return 0


def _retrieval(args: argparse.Namespace):
    """The model's retrieval head; a model without one is an error saying how to add it."""
    from ppi.fusion.retrieval import RetrievalHead
    from ppi.inference.score import model_dir

    folder = model_dir(Path(args.model))
    head = RetrievalHead.load(folder)
    if head is None:
        raise InputError(
            f"--prefilter: the model {folder} has no retrieval vector; add one with "
            f"ppi distill --model {args.model} --fasta <proteins>"
        )
    return head


def screen_record(args, model, rows: dict, cols: dict, retrieval) -> dict[str, str]:
    """What a screen's results depend on, each part hashed (see ``check_record``)."""
    from ppi.utils.cache import digest

    def proteins(chosen: dict) -> str:
        return digest(*(f"{pid}\t{seq}" for pid, seq in chosen.items()))

    prefilter = "none"
    if retrieval is not None:
        prefilter = f"{args.prefilter:g}:{retrieval.identity}"
    return {
        "--model": model.identity(),
        "--fasta": proteins(rows),
        "--against": proteins(cols) if cols else "none",
        "--block": str(args.block),
        "--top-k": str(args.top_k),
        "--threshold": f"{args.threshold:g}",
        "--prefilter": prefilter,
    }


def agree(record: dict[str, str], dist) -> None:
    """Every process must screen the same thing; else all stop, naming what differs."""
    if dist.num_processes == 1:
        return
    from accelerate.utils import gather_object

    records = gather_object([record])
    for rank, other in enumerate(records):
        differ = [key for key, value in records[0].items() if other.get(key) != value]
        if differ:
            raise InputError(
                f"process {rank} was given other arguments than the main process "
                f"({', '.join(differ)} differ); expected every process to run the same screen"
            )


def shared_representations(model, proteins: dict, ids: list[str], device: str, dist):
    """Every protein's latents ``(N, M, D)``; each process encodes its share into the cache.

    The cache is content-addressed, so the processes (on one machine, or
    sharing ``PPI_CACHE``) then read the others' entries; a process that finds
    one missing (a cache of its own on another node) encodes it itself.
    """
    from ppi.inference.score import representations

    if dist.num_processes > 1:
        share = ids[dist.process_index :: dist.num_processes]
        representations(model, {i: proteins[i] for i in share}, device)
        dist.wait_for_everyone()
    reps = representations(model, proteins, device)
    return torch.stack([reps[i] for i in ids])  # (N, M, D)


@torch.no_grad()
def prefilter_candidates(retrieval, z: torch.Tensor, plan, fraction: float, out: Path, dist):
    """The candidate pairs: found once by the main process, read by every process."""
    from ppi.inference.prefilter import FILE, Candidates, retrieve

    path = out / FILE
    if dist.is_main_process and not path.is_file():
        vectors = retrieval(z.cpu().float())  # (N, W + 1)
        retrieve(vectors, plan.rows, plan.all_vs_all, fraction).save(path)
    dist.wait_for_everyone()
    return Candidates.load(path)


def read_unique(path: str) -> dict[str, str]:
    """Read a FASTA whose ids must all differ (a screen must not see a protein twice)."""
    from ppi.data.examples import resolve
    from ppi.data.fasta import duplicate_ids, read_fasta

    path = resolve(path)
    repeats = duplicate_ids(path)
    if repeats:
        rid, first, again = repeats[0]
        raise InputError(
            f"{path}:{again}: duplicate id '{rid}' (first at line {first}); expected each "
            f"protein once in a screen, found {len(repeats)} repeated id(s)"
        )
    return read_fasta(path)


def merge_sets(rows: dict[str, str], cols: dict[str, str], a: str, b: str | None) -> dict:
    """Rows and columns together; one id with two sequences is an error."""
    for pid, seq in cols.items():
        if pid in rows and rows[pid] != seq:
            raise InputError(
                f"{b}: protein '{pid}' has a different sequence than in {a}; expected one "
                "sequence per id"
            )
    return {**rows, **cols}
