"""Index types against exact search: recall@10, QPS ratio, build time, bytes per vector.

    nice python scripts/bench_index.py --sizes 100000 1000000 --index indices/yeast --out bench.json

Synthetic sets are clustered random unit vectors of ``--dim`` (64, the default
backbone's width); ``--index`` adds the vectors of a built index (queries: a
sample of its own proteins). Prints a Markdown table; ``--out`` keeps JSON.
"""

import argparse
import json
import sys
import time

import faiss
import numpy as np

from ppi.bench.index import bench, clustered_vectors, queries_from, table
from ppi.homologs.index import HomologyIndex
from ppi.utils.files import atomic_write_text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000])
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--types", nargs="+", default=["ivf-flat", "hnsw", "ivf-pq"])
    parser.add_argument("--index", help="an index folder whose vectors are benchmarked too")
    parser.add_argument("--threads", type=int, default=0, help="FAISS threads (0 = all cores)")
    parser.add_argument("--out", help="JSON file of the rows")
    args = parser.parse_args()
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    rows = []
    for size in args.sizes:
        start = time.perf_counter()
        base = clustered_vectors(size, args.dim)
        print(f"{size} vectors made in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        rows += bench(
            f"clustered {size}x{args.dim}", base, queries_from(base, args.queries), args.types
        )
        print(table(rows), file=sys.stderr)
    if args.index:
        index = HomologyIndex.open(args.index)
        base = index.vectors(np.arange(index.index.ntotal))
        picks = np.random.default_rng(2).choice(len(base), min(args.queries, len(base)), False)
        rows += bench(f"{args.index} ({len(base)}x{base.shape[1]})", base, base[picks], args.types)
    print(table(rows))
    if args.out:
        atomic_write_text(args.out, json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
