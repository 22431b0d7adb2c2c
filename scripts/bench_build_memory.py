"""Peak memory of `ppi build-index` on a SwissProt-sized dump against one ten times smaller.

    python scripts/bench_build_memory.py --entries 570000 --out bench_build_memory.json

Writes synthetic UniProt FASTA dumps (gzipped; random residues, lengths drawn
around SwissProt's mean of about 360) of ``--entries`` and ``--entries / 10``
entries, then builds an index over each in a child process whose backbone
forward is replaced by random vectors: parsing, sharding, the embedding
cache, index training and assembly and the metadata table are the real code;
only the network's arithmetic is skipped, so the run measures what the dump's
size does to memory. Prints peak resident memory of both builds and their
ratio (a streaming build stays near 1 while the dump grows ten times).
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ppi.bench.dumps import write_dump
from ppi.bench.timing import table, write_report

CHILD = """
import sys, resource, torch
from ppi.homologs.index import PooledEmbedder
PooledEmbedder._compute = lambda self, batch: [torch.randn(self.backbone.dim) for _ in batch]
from ppi.cli import run
code = run(["build-index", "--out", sys.argv[1], sys.argv[2], "backbone.dim=64"])
print("peak_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def build(dump: Path, out: Path, cache: Path) -> dict:
    """Build an index in a child process; its peak memory and the index size."""
    env = {**os.environ, "PPI_CACHE": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(out), str(dump)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"build of {dump} failed: {done.stderr[-2000:]}")
    peak_kb = int(next(x for x in done.stdout.splitlines() if x.startswith("peak_kb")).split()[1])
    index_mb = (out / "index.faiss").stat().st_size / 2**20
    return {"peak_mb": peak_kb / 1024, "index_mb": index_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=570_000)
    parser.add_argument("--out", default="bench_build_memory.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for entries in (args.entries // 10, args.entries):
            dump = Path(tmp) / f"dump{entries}.fasta.gz"
            residues = write_dump(dump, entries)
            row = {"entries": entries, "residues": residues}
            row.update(build(dump, Path(tmp) / f"index{entries}", Path(tmp) / f"cache{entries}"))
            rows.append(row)
    for row in rows:
        row["peak_vs_small"] = row["peak_mb"] / rows[0]["peak_mb"]
        row["peak_without_index_mb"] = row["peak_mb"] - row["index_mb"]
    columns = [
        "entries",
        "residues",
        "peak_mb",
        "index_mb",
        "peak_without_index_mb",
        "peak_vs_small",
    ]
    print(table(rows, columns))
    write_report(args.out, "build_memory", rows, {"entries": args.entries})


if __name__ == "__main__":
    main()
