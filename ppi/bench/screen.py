"""``ppi screen`` at scale: two processes against one, the prefilter's recall and speed, memory.

Every contender is a real ``ppi screen`` command in its own process (pinned
with ``taskset`` to the cores given), on the same proteins and model, with the
representation cache warm (a first screen of every set fills it), so the
times compare scoring, not encoding:

* two CPU processes (``accelerate launch``) against one on a subset: every
  output file compared byte for byte (``summary.json`` without its timings);
* the exhaustive screen against ``--prefilter F`` for each fraction: recall of
  each protein's exhaustive top-10 partners and of the exhaustive hits at or
  above 0.9 (and 0.5 and 0.3), pairs scored, and the speed-up (wall time of the whole
  command, and scoring time alone);
* peak memory (``VmHWM``) of one screening process at two protein counts, the
  larger padded with synthetic sequences, measured once a few blocks are done
  (the memory is flat from the first block on), against the bytes of the
  per-protein tensors it must hold.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from ppi.bench.timing import table, write_report
from ppi.bench.train import TWO_CPU_PROCESSES

TIMINGS = ("seconds", "pairs_per_second")
TOLERANCE = 1e-5  # probabilities of one pair scored in a block and as a listed pair
FILES = ("hits.tsv", "top_partners.tsv", "score_histogram.png", "summary.json")


def _command(argv: list[str], cores: str, processes: int = 1) -> list[str]:
    launch = TWO_CPU_PROCESSES if processes == 2 else []
    return ["taskset", "-c", cores, sys.executable, *launch, "-m", "ppi", *argv]


def _env(processes: int = 1) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if processes == 2:
        env.update(ACCELERATE_USE_CPU="1", MASTER_PORT=str(29800 + os.getpid() % 100))
    return env


def screen(model: str, fasta: Path, out: Path, cores: str, *extra: str, processes=1) -> dict:
    """One ``ppi screen`` command; returns its summary with the command's wall time."""
    argv = ["screen", "--threads", "1", "--model", model, "--fasta", str(fasta), "--out", str(out)]
    cmd = _command([*argv, *extra], cores, processes)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=_env(processes), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return {**json.loads((out / "summary.json").read_text()), "wall": wall}


def same_outputs(one: Path, two: Path) -> dict[str, bool]:
    """Each output file of two screens compared (the summary without its timings)."""
    result = {}
    for name in FILES:
        a, b = (one / name).read_bytes(), (two / name).read_bytes()
        if name == "summary.json":
            a, b = ({k: v for k, v in json.loads(x).items() if k not in TIMINGS} for x in (a, b))
        result[name] = a == b
    return result


def _rows(path: Path) -> list[list[str]]:
    with open(path) as handle:
        return list(csv.reader(handle, delimiter="\t"))


def top_partners(folder: Path) -> set[tuple[str, str]]:
    """(protein, partner) of every row of ``top_partners.tsv``."""
    return {(r[0], r[2]) for r in _rows(folder / "top_partners.tsv")[1:]}


def hits(folder: Path, threshold: float) -> set[tuple[str, str]]:
    """The pairs of ``hits.tsv`` at or above ``threshold``."""
    return {(r[0], r[1]) for r in _rows(folder / "hits.tsv") if float(r[2]) >= threshold}


def recall(found: set, wanted: set) -> float | str:
    """Share of ``wanted`` in ``found`` ('none' when nothing was wanted)."""
    return len(found & wanted) / len(wanted) if wanted else "none"


def hit_recall(prefiltered: Path, exhaustive: Path, threshold: float) -> tuple[int, float | str]:
    """The exhaustive screen's pairs at or above ``threshold`` and the share the prefilter found.

    A wanted pair is found when the prefiltered screen reports it at or above
    ``threshold`` less ``TOLERANCE``: both screens score it with the full pair
    stage, but a listed pair and a pair of a whole block agree to about 1e-6,
    so a pair at 0.900000 in one may read 0.899999 in the other. Below the
    exhaustive screen's own threshold its ``hits.tsv`` does not list them, so
    they are counted from its histogram (``threshold`` on a bin edge); every
    pair the prefilter reports carries the full pair stage's probability, so
    its own count of them is exact.
    """
    summary = json.loads((exhaustive / "summary.json").read_text())
    if threshold >= summary["threshold"]:
        wanted = hits(exhaustive, threshold)
        return len(wanted), recall(hits(prefiltered, threshold - TOLERANCE), wanted)
    found = hits(prefiltered, threshold)
    counts = summary["histogram"]["counts"]
    wanted = sum(counts[round(threshold * len(counts)) :])
    return wanted, len(found) / wanted if wanted else "none"


def prefilter_rows(model, fasta, work, cores, fractions, reference=None) -> list[dict]:
    """The exhaustive screen (or a given one) and the prefilter at each fraction."""
    if reference is None:
        exhaustive = screen(model, fasta, work / "exhaustive", cores, "--threshold", "0.3")
        folder = work / "exhaustive"
    else:
        folder, wall = reference
        exhaustive = {**json.loads((folder / "summary.json").read_text()), "wall": wall}
    rows = [_row("exhaustive", exhaustive, exhaustive)]
    best = top_partners(folder)
    for fraction in fractions:
        out = work / f"prefilter-{fraction:g}"
        summary = screen(
            model, fasta, out, cores, "--threshold", "0.3", "--prefilter", str(fraction)
        )
        row = _row(f"prefilter {fraction:g}", summary, exhaustive)
        row["top10_recall"] = recall(top_partners(out), best)
        for t in (0.9, 0.5, 0.3):
            row[f"hits>={t:g}"], row[f"recall>={t:g}"] = hit_recall(out, folder, t)
        rows.append(row)
    return rows


def _row(name: str, summary: dict, exhaustive: dict) -> dict:
    return {
        "screen": name,
        "pairs_scored": summary["pairs_scored"],
        "scored_share": summary["pairs_scored"] / summary["pairs"],
        "wall_s": summary["wall"],
        "scoring_s": summary["seconds"],
        "speedup_wall": exhaustive["wall"] / summary["wall"],
        "speedup_scoring": exhaustive["seconds"] / max(summary["seconds"], 1e-9),
    }


def two_processes(model: str, fasta: Path, work: Path, cores: str) -> list[dict]:
    """One process against two on the same proteins: wall times and every file compared."""
    one = screen(model, fasta, work / "one", cores, "--threshold", "0.5")
    two = screen(model, fasta, work / "two", cores, "--threshold", "0.5", processes=2)
    same = same_outputs(work / "one", work / "two")
    rows = []
    for processes, summary in ((1, one), (2, two)):
        rows.append(
            {
                "processes": processes,
                "pairs": summary["pairs"],
                "wall_s": summary["wall"],
                "vs_one_process": one["wall"] / summary["wall"],
                "identical_files": "-" if processes == 1 else f"{sum(same.values())}/{len(same)}",
            }
        )
    rows[1]["files"] = ", ".join(f"{k}: {'same' if v else 'DIFFERENT'}" for k, v in same.items())
    return rows


def synthetic(proteins: dict[str, str], n: int, seed: int = 0) -> dict[str, str]:
    """``proteins`` padded to ``n`` with random sequences of their residue mix and lengths."""
    rng = random.Random(seed)
    residues = "".join(proteins.values())
    lengths = [len(s) for s in proteins.values()]
    out = dict(proteins)
    for i in range(n - len(out)):
        length = min(rng.choice(lengths), 400)
        out[f"synthetic_{i}"] = "".join(rng.choice(residues) for _ in range(length))
    return out


def peak_memory(model: str, fasta: Path, out: Path, cores: str, block: int, blocks=3) -> tuple:
    """Peak resident memory (MiB) of one screening process: in all, and while screening.

    Once the first block is done the peak is reset (``/proc/<pid>/clear_refs``),
    so the second figure is the screening's alone (encoding excluded), read
    when ``blocks`` blocks are done.
    """
    from ppi.inference.screen_parts import Part

    argv = ["screen", "--threads", "1", "--model", model, "--fasta", str(fasta), "--out", str(out)]
    argv += ["--block", str(block)]
    proc = subprocess.Popen(_command(argv, cores), env=_env(), stderr=subprocess.DEVNULL)
    part, status = out / "parts" / "part-0.safetensors", Path(f"/proc/{proc.pid}/status")
    overall = None
    try:
        while proc.poll() is None:
            time.sleep(1)
            done = len(Part.load(part).blocks) if part.is_file() else 0
            if done >= 1 and overall is None:
                overall = _hwm(status)
                Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
            if done >= blocks:
                return overall, _hwm(status)
        raise RuntimeError(f"ppi screen of {fasta} ended (code {proc.returncode}) too soon")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait()


def _hwm(status: Path) -> float:
    return int(status.read_text().split("VmHWM:")[1].split()[0]) / 1024


def memory_rows(model, proteins: dict, sizes: list[int], work: Path, cores: str, block: int):
    """Peak memory at each protein count, against the per-protein tensors held."""
    from ppi.data.fasta import write_fasta
    from ppi.inference.score import load_pair_model

    config = load_pair_model(model, "cpu").config.fusion
    # latents, queries, keys, base (M x D each), values (H M x D), and through the
    # feed-forward projection base (M x 2D) and values (H M x 2D), float32
    per_protein = 4 * config.latents * config.dim * (4 + 2 + 3 * config.heads)
    rows = []
    for n in sizes:
        fasta = write_fasta(synthetic(proteins, n), work / f"mem-{n}.fasta")
        overall, screening = peak_memory(model, fasta, work / f"mem-{n}", cores, block)
        held = n * per_protein / 2**20
        rows.append(
            {
                "proteins": n,
                "peak_with_encoding_MiB": overall,
                "peak_screening_MiB": screening,
                "per_protein_tensors_MiB": held,
                "screening_minus_tensors_MiB": screening - held,
            }
        )
    return rows


def benchmark(args) -> dict:
    """Every measurement; prints the tables and writes the JSON report."""
    from ppi.data.examples import resolve
    from ppi.data.fasta import read_fasta, write_fasta

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    proteins = read_fasta(resolve(args.fasta))
    if args.proteins:
        proteins = dict(list(proteins.items())[: args.proteins])
    fasta = write_fasta(proteins, work / "proteins.fasta")
    report = {}
    if args.memory:
        report["memory"] = memory_rows(
            args.model, proteins, args.memory, work, args.cores, args.block
        )
        print(table(report["memory"], list(report["memory"][0])))
    if args.fractions:
        reference = (Path(args.exhaustive), args.exhaustive_wall) if args.exhaustive else None
        rows = prefilter_rows(args.model, fasta, work, args.cores, args.fractions, reference)
        report["prefilter"] = rows
        print(f"{len(proteins):,} proteins")
        print(table(rows, list(rows[-1])))
    if args.two_processes:
        subset = write_fasta(dict(list(proteins.items())[: args.two_processes]), work / "sub.fasta")
        rows = two_processes(args.model, subset, work, args.two_process_cores)
        report["two_processes"] = rows
        print(table(rows, list(rows[1])))
    write_report(args.out, "screen", [], {"model": args.model, **report})
    return report
