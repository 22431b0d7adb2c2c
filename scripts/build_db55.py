"""Build the DB5.5 pair task with true interfaces: python scripts/build_db55.py DB55_DIR OUT_DIR."""

import argparse
import json

import torch

from ppi.data.db55 import build_db55, time_structures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", help="a DB5.5 folder holding bound/<PDB>_{l,r}_b.pdb[.gz]")
    parser.add_argument("out", help="output folder")
    parser.add_argument("--negatives", type=int, default=2, help="wrong receptors per ligand")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cutoff", type=float, default=8.0, help="interface: Ca-Ca distance (A)")
    parser.add_argument("--time", action="store_true", help="also time parsing and graphing")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    counts = build_db55(args.folder, args.out, args.negatives, args.seed, args.cutoff)
    if args.time:
        counts.update(time_structures(f"{args.out}/structures.tsv", f"{args.out}/sequences.fasta"))
    print(json.dumps(counts, indent=2))


if __name__ == "__main__":
    main()
