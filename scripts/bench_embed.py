"""Residues/s of ppi's ESM-2 embedding path vs fair-esm's extract.py batching and a naive loop.

python scripts/bench_embed.py --n 64 --out bench_embed.json
"""

import argparse

from ppi.bench.embed import benchmark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fasta", default="example:dscript_yeast/sequences.fasta.gz")
    parser.add_argument("--n", type=int, default=64, help="proteins sampled (<= 1022 residues)")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs each")
    parser.add_argument("--max-len", type=int, default=1022, help="longest protein sampled")
    parser.add_argument("--matmul-size", type=int, default=2048, help="n of the n x n matmul")
    parser.add_argument("--out", default="bench_embed.json")
    args = parser.parse_args()
    benchmark(args.fasta, args.n, args.repeats, args.out, args.max_len, args.matmul_size)


if __name__ == "__main__":
    main()
