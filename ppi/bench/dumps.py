"""Synthetic UniProt-style FASTA dumps for the benchmarks that measure size, not biology."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np


def write_dump(path: Path, entries: int, seed: int = 0, mean_log_length: float = 5.7) -> int:
    """A UniProt-style FASTA of ``entries`` random proteins (gzipped if ``.gz``); its residues.

    Lengths are log-normal around ``exp(mean_log_length)``: 5.7 gives SwissProt's
    mean of about 360, 5.4 UniRef50's of about 280.
    """
    rng = np.random.default_rng(seed)
    alphabet = np.frombuffer(b"ACDEFGHIKLMNPQRSTVWY", dtype=np.uint8)
    lengths = np.clip(rng.lognormal(mean_log_length, 0.6, entries).astype(int), 20, 5000)
    opener = gzip.open if path.name.endswith(".gz") else open
    kwargs = {"compresslevel": 1} if path.name.endswith(".gz") else {}
    with opener(path, "wt", **kwargs) as handle:
        for i, length in enumerate(lengths):
            seq = alphabet[rng.integers(0, 20, length)].tobytes().decode()
            handle.write(
                f">sp|Q{i:07d}|S{i}_SYNTH Synthetic {i} OS=Homo sapiens OX=9606 PE=1 SV=1\n"
            )
            handle.writelines(seq[j : j + 60] + "\n" for j in range(0, length, 60))
    return int(lengths.sum())
