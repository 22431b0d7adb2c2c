"""Pairs/s of ppi screen and ppi score, cold cache and warm cache, in one process.

python scripts/bench_score.py --model runs/<run> --proteins 1000 --out bench_score.json
"""

import argparse

from ppi.bench.score import benchmark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained pair model or run directory")
    parser.add_argument("--fasta", default="example:dscript_yeast/sequences.fasta.gz")
    parser.add_argument("--proteins", type=int, default=1000, help="proteins sampled")
    parser.add_argument("--score-pairs", type=int, default=20000, help="pairs given to score")
    parser.add_argument("--out", default="bench_score.json")
    args = parser.parse_args()
    benchmark(args.model, args.fasta, args.proteins, args.score_pairs, args.out)


if __name__ == "__main__":
    main()
