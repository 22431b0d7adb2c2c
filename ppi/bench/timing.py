"""Speed benchmarks behind ``scripts/bench_*.py``: timings, tables and JSON.

Every benchmark runs its contenders in one process on the same inputs, so the
ratios it prints are measured under the same conditions (on a shared machine
the absolute numbers move more than the ratios).
"""

from __future__ import annotations

import json
import platform
import random
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ppi.utils.files import atomic_write_text


def machine() -> dict:
    """What the numbers were measured on."""
    import os

    return {
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def matmul_gflops(n: int = 2048, repeats: int = 3) -> float:
    """Dense fp32 matrix-product throughput of this machine, best of ``repeats`` (GFLOP/s)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def best_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """The shortest wall time of ``repeats`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def best_times_in_turn(
    contenders: dict[str, Callable[[], object]], repeats: int
) -> dict[str, tuple[float, object]]:
    """Each contender's shortest wall time over ``repeats`` turns, and its last result.

    In each turn every contender runs once, one after another, so a burst of
    load from a neighbour on a shared machine slows them alike instead of
    whichever happened to be running all its repeats then.
    """
    best: dict[str, tuple[float, object]] = {name: (float("inf"), None) for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            took, result = best_time(fn, 1)
            best[name] = (min(best[name][0], took), result)
    return best


def table(rows: list[dict], columns: list[str]) -> str:
    """A Markdown table of ``rows`` (numbers rounded for reading)."""

    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
        return f"{v:,}" if isinstance(v, int) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_report(path: str | Path, name: str, rows: list[dict], extra: dict) -> None:
    """Write a benchmark's rows, the machine and settings as JSON (atomically)."""
    payload = {"benchmark": name, "machine": machine(), **extra, "results": rows}
    atomic_write_text(path, json.dumps(payload, indent=2) + "\n")


def sample_sequences(path: str, n: int, max_len: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` proteins of at most ``max_len`` residues drawn at random, kept in file order."""
    from ppi.data.examples import resolve
    from ppi.data.fasta import read_fasta

    items = [(k, v) for k, v in read_fasta(resolve(path)).items() if len(v) <= max_len]
    keep = set(random.Random(seed).sample(range(len(items)), min(n, len(items))))
    return [item for i, item in enumerate(items) if i in keep]
