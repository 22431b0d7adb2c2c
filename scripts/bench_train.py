"""Training pairs/s with a frozen (cached) or fine-tuned backbone, one process and two.

    python scripts/bench_train.py --limit 1000 --out bench_train.json [key=value ...]

Extra ``key=value`` arguments are config overrides given to every run.
"""

import argparse

from ppi.bench.train import benchmark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fasta", default="example:dscript_yeast/sequences.fasta.gz")
    parser.add_argument("--pairs", default="example:dscript_yeast/pairs.tsv.gz")
    parser.add_argument("--limit", type=int, default=1000, help="pairs read (train+valid+test)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--out", default="bench_train.json")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="process counts")
    parser.add_argument("overrides", nargs="*", help="config overrides, key=value")
    args = parser.parse_args()
    base = [
        f"data.fasta={args.fasta}",
        f"data.train={args.pairs}",
        f"data.limit={args.limit}",
        "data.valid_split=random",  # a timing run: any validation set will do
        "train.log_with=[]",
        *args.overrides,
    ]
    benchmark(base, args.threads, args.out, tuple(args.processes))


if __name__ == "__main__":
    main()
