"""Pairs per second of ``ppi screen`` and ``ppi score``, with a cold and a warm cache.

Both commands run in this process through :func:`ppi.cli.run` on the same
proteins and the same model. "Cold" starts from an empty ``PPI_CACHE`` (every
protein is encoded first, and that time counts); "warm" runs again with every
representation cached. ``ppi score`` gets the first ``score_pairs`` pairs of
the screen (in the screen's own order) as a pairs file.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from pathlib import Path

from ppi.bench.timing import sample_sequences, table, write_report


def _timed(argv: list[str], cache: Path) -> float:
    from ppi.cli import run

    previous = os.environ.get("PPI_CACHE")
    os.environ["PPI_CACHE"] = str(cache)
    try:
        start = time.perf_counter()
        if run(argv) != 0:
            raise RuntimeError(f"ppi {' '.join(argv)} failed")
        return time.perf_counter() - start
    finally:
        if previous is None:
            os.environ.pop("PPI_CACHE", None)
        else:
            os.environ["PPI_CACHE"] = previous


def benchmark(model: str, fasta: str, proteins: int, score_pairs: int, out: str) -> list[dict]:
    """Time screen and score cold and warm; print the table and write JSON."""
    from ppi.data.fasta import write_fasta

    chosen = dict(sample_sequences(fasta, proteins, 1 << 30))
    n = len(chosen)
    screen_pairs = n * (n - 1) // 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fa = write_fasta(chosen, work / "proteins.fasta")
        pairs = itertools.islice(itertools.combinations(list(chosen), 2), score_pairs)
        pf = work / "pairs.tsv"
        pf.write_text("".join(f"{a}\t{b}\n" for a, b in pairs))
        k = min(score_pairs, screen_pairs)
        rows = []
        for command, count in (("screen", screen_pairs), ("score", k)):
            cache = work / f"cache-{command}"
            for state in ("cold", "warm"):
                dest = work / f"{command}-{state}"
                argv = ["screen", "--fasta", str(fa), "--out", str(dest)]
                if command == "score":
                    argv = ["score", "--fasta", str(fa), "--pairs", str(pf), "--out", f"{dest}.tsv"]
                seconds = _timed([*argv, "--model", model], cache)
                rows.append(
                    {
                        "command": f"ppi {command}",
                        "cache": state,
                        "pairs": count,
                        "seconds": round(seconds, 2),
                        "pairs_per_s": count / seconds,
                    }
                )
    warm_score = rows[3]["pairs_per_s"]
    for row in rows:
        row["vs_warm_score"] = row["pairs_per_s"] / warm_score
    print(f"{n:,} proteins ({screen_pairs:,} pairs for screen, {k:,} for score)")
    print(table(rows, list(rows[0])))
    write_report(out, "score", rows, {"proteins": n, "model": model})
    return rows
