"""Build a cross-species test set the way D-SCRIPT built its species sets.

python scripts/build_species_set.py --interactions ACTIONS.tsv --sequences ID_SEQ.tsv \
    --out benchmarks/human [--negatives 10] [--max-length 800] [--seed 0]

Writes ``sequences.fasta`` and ``pairs.tsv`` (id_a, id_b, label) under
``--out``. With the SHS27k human list of ``shared/data/shs27k`` and seed 0 it
gives 1,311 proteins, 5,446 positives and 54,460 negatives.
"""

import argparse
import sys
from pathlib import Path

from ppi.data.fasta import write_fasta
from ppi.data.pairs import write_pairs
from ppi.data.species_set import read_id_sequences, read_interactions, species_pairs
from ppi.errors import InputError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=Path, required=True)
    parser.add_argument("--sequences", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--negatives", type=int, default=10)
    parser.add_argument("--max-length", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        proteins = read_id_sequences(args.sequences)
        pairs, used = species_pairs(
            read_interactions(args.interactions),
            proteins,
            args.negatives,
            args.max_length,
            args.seed,
        )
    except InputError as exc:
        print(f"build_species_set: error: {exc}", file=sys.stderr)
        return 2
    write_fasta(used, args.out / "sequences.fasta")
    write_pairs(pairs, args.out / "pairs.tsv")
    pos = sum(p.label == 1 for p in pairs)
    print(f"{len(used)} proteins, {pos} positives, {len(pairs) - pos} negatives -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
