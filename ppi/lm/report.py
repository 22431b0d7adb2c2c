"""What ``ppi generate`` writes beside each sequence: likelihood, checks, novelty, partners."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from ppi.errors import InputError
from ppi.lm.adapters import MaskedLM
from ppi.lm.generate import pseudo_log_likelihood


def novelty(seqs: Mapping[str, str], reference: Mapping[str, str]) -> dict[str, float]:
    """Each sequence's highest identity to any reference sequence (0 when phmmer finds none).

    Identity as CD-HIT counts it: identical residues of the best local
    alignment over the length of the shorter sequence (:mod:`ppi.homologs.align`).
    """
    from ppi.homologs.align import search

    best = dict.fromkeys(seqs, 0.0)
    for hit in search(seqs, reference, "phmmer", 1e-3):
        shorter = min(len(seqs[hit.query]), len(reference[hit.target]))
        best[hit.query] = max(best[hit.query], min(hit.identical / shorter, 1.0))
    return best


def likelihoods(
    lm: MaskedLM, seqs: list[str], positions: list[list[int]]
) -> list[tuple[float, float]]:
    """``(pseudo-log-likelihood, per residue)`` over each sequence's ``positions``."""
    totals = pseudo_log_likelihood(lm, seqs, positions)
    return [(t, t / max(len(p), 1)) for t, p in zip(totals, positions, strict=True)]


@torch.no_grad()
def partner_scores(
    run: str, seqs: dict[str, str], partners: dict[str, str]
) -> dict[str, dict[str, float]]:
    """Predicted interaction probability of each sequence with each partner, from a pair model."""
    from ppi.inference.score import load_pair_model, representations

    model = load_pair_model(run, "cpu")
    clash = sorted(set(seqs) & set(partners))
    if clash:
        raise InputError(f"--partner: id {clash[0]} is also a generated sequence's id")
    proteins = {**seqs, **partners}
    reps = representations(model, proteins, "cpu")
    out: dict[str, dict[str, float]] = {}
    for sid in seqs:
        za = torch.stack([reps[sid]] * len(partners))  # (P, M, D)
        zb = torch.stack([reps[p] for p in partners])  # (P, M, D)
        logits = model.pair.pairs(za, zb, [seqs[sid]] * len(partners), list(partners.values()))
        probs = logits.float().sigmoid().tolist()
        out[sid] = dict(zip(partners, probs, strict=True))
    return out


def table(rows: list[dict[str, object]]) -> str:
    """Rows of equal keys as a TSV with a header."""
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["\t".join(keys)]
    for row in rows:
        lines.append("\t".join(_cell(row[k]) for k in keys))
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def paths(out: Path) -> tuple[Path, Path]:
    """``(fasta, tsv)`` for ``--out``: the named file and its sibling of the other kind."""
    if out.suffix == ".tsv":
        return out.with_suffix(".fasta"), out
    return out, out.with_suffix(".tsv")
