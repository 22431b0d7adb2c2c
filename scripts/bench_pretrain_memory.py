"""Memory of ppi pretrain's sequences in 1 and 2 processes: the memory-mapped store against strings.

    python scripts/bench_pretrain_memory.py --entries 300000 --out bench_pretrain_memory.json

Writes a synthetic UniRef50-like FASTA (random residues, lengths around 280),
builds the sequence store once, then runs each contender in 1 and 2 worker
processes at once (see ppi/bench/pretrain_memory.py): the rise of their
summed proportional set size while they hold the sequences and read one
epoch's batches, and the ratio store / strings in the same run.
"""

import argparse
import tempfile
from pathlib import Path

from ppi.bench.dumps import write_dump
from ppi.bench.pretrain_memory import compare
from ppi.bench.timing import table, write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=300_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", default="bench_pretrain_memory.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "uniref_like.fasta"
        residues = write_dump(dump, args.entries, mean_log_length=5.4)
        rows, once = compare(dump, Path(tmp) / "store", args.processes)
    once["residues"] = residues
    columns = ["contender", "processes", "pss_rise_mb", "per_process_mb", "load_and_epoch_s"]
    print(table(rows, [*columns, "pss_vs_strings"]))
    print(
        ", ".join(
            f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v:,}" for k, v in once.items()
        )
    )
    write_report(args.out, "pretrain_memory", rows, {"entries": args.entries, **once})


if __name__ == "__main__":
    main()
