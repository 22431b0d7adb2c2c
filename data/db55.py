"""Docking Benchmark 5.5 as a pair task with true interfaces, split by complex.

From a DB5.5 folder (``bound/<PDB>_l_b.pdb.gz`` and ``_r_b``, the two bound
partners in one frame) :func:`build_db55` writes:

- ``sequences.fasta``: one protein per partner (``<PDB>_l``, ``<PDB>_r``), the
  sequence of its resolved residues, all chains of the file joined in order;
- ``structures.tsv``: id -> structure file (for ``channels.structure.mapping``);
- ``pairs_{train,valid,test}.tsv`` and ``split.tsv``: complexes are split into
  train/valid/test; positives are the true ligand-receptor pairs, negatives
  pair a ligand with receptors of *other complexes of the same split*, so no
  protein is seen in two splits;
- ``interfaces.tsv``: the true interface residue pairs, defined as residue
  pairs whose Cα atoms are within ``cutoff`` Å (8 Å by default), as 0-based
  positions in the two sequences.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ppi.data.fasta import write_fasta
from ppi.data.pairs import Pair, write_pairs
from ppi.data.structures import Structure, read_structure
from ppi.errors import InputError
from ppi.utils.files import atomic_write_text

log = logging.getLogger("ppi")
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Complex:
    """One DB5.5 complex: its bound ligand and receptor."""

    code: str
    ligand: Structure
    receptor: Structure


def read_complexes(folder: str | Path) -> list[Complex]:
    """Every complex of ``folder/bound`` with both partners; bad files are skipped and listed."""
    bound = Path(folder).expanduser() / "bound"
    if not bound.is_dir():
        raise InputError(
            f"{folder}: expected a DB5.5 folder with bound/<PDB>_l_b.pdb[.gz], got none"
        )
    codes = sorted({p.name.split("_")[0] for p in bound.glob("*_l_b.pdb*")})
    out, skipped = [], []
    for code in tqdm(codes, desc="DB5.5 complexes", unit="complex", disable=None):
        try:
            parts = [read_structure(_one(bound, code, side)) for side in ("l", "r")]
        except InputError as exc:
            skipped.append(f"{code}: {exc}")
            continue
        out.append(Complex(code, *parts))
    for line in skipped:
        log.warning("DB5.5: skipped %s", line)
    if not out:
        raise InputError(
            f"{bound}: expected bound ligand/receptor PDB files, got no usable complex"
        )
    return out


def _one(bound: Path, code: str, side: str) -> Path:
    for name in (f"{code}_{side}_b.pdb.gz", f"{code}_{side}_b.pdb"):
        if (bound / name).is_file():
            return bound / name
    raise InputError(f"{bound}: complex {code} has no {side}_b partner file")


def interface_pairs(a: Structure, b: Structure, cutoff: float = 8.0) -> np.ndarray:
    """Residue pairs of A and B with Cα within ``cutoff`` Å.

    Shapes:
        returns ``(I, 2)`` int64 positions (row in A, row in B).
    """
    d = torch.cdist(torch.from_numpy(a.coords), torch.from_numpy(b.coords))  # (La, Lb)
    return (d <= cutoff).nonzero().numpy().astype(np.int64)


def split_complexes(codes: list[str], seed: int = 0, fractions=(0.7, 0.1, 0.2)) -> dict[str, str]:
    """Complex -> train/valid/test at random with ``seed``; valid and test get one at least."""
    order = sorted(codes)
    random.Random(seed).shuffle(order)
    n_valid = max(1, round(fractions[1] * len(order)))
    n_train = len(order) - n_valid - max(1, round(fractions[2] * len(order)))
    return {
        code: "train" if i < n_train else "valid" if i < n_train + n_valid else "test"
        for i, code in enumerate(order)
    }


def make_pairs(codes: list[str], negatives: int, seed: int) -> list[Pair]:
    """True ligand-receptor pairs plus ``negatives`` wrong receptors per ligand."""
    rng = random.Random(seed)
    pairs = [Pair(f"{c}_l", f"{c}_r", 1.0) for c in codes]
    for code in codes:
        others = [c for c in codes if c != code]
        for other in rng.sample(others, min(negatives, len(others))):
            pairs.append(Pair(f"{code}_l", f"{other}_r", 0.0))
    return pairs


def build_db55(
    folder: str | Path, out: str | Path, negatives: int = 2, seed: int = 0, cutoff: float = 8.0
) -> dict[str, int]:
    """Write the DB5.5 pair task (see the module docstring); returns counts."""
    out = Path(out)
    complexes = read_complexes(folder)
    split = split_complexes([c.code for c in complexes], seed)
    proteins, table, rows = {}, ["id\tpath\tchain"], ["id_a\tid_b\tpos_a\tpos_b"]
    for c in complexes:
        for side, s in (("l", c.ligand), ("r", c.receptor)):
            proteins[f"{c.code}_{side}"] = s.residues
            table.append(f"{c.code}_{side}\t{Path(s.source).resolve()}\t")
        rows += [
            f"{c.code}_l\t{c.code}_r\t{i}\t{j}"
            for i, j in interface_pairs(c.ligand, c.receptor, cutoff)
        ]
    write_fasta(proteins, out / "sequences.fasta")
    atomic_write_text(out / "structures.tsv", "\n".join(table) + "\n")
    atomic_write_text(out / "interfaces.tsv", "\n".join(rows) + "\n")
    atomic_write_text(out / "split.tsv", "".join(f"{k}\t{v}\n" for k, v in sorted(split.items())))
    counts = {"complexes": len(complexes), "interface_pairs": len(rows) - 1}
    for i, name in enumerate(SPLITS):
        codes = [c for c, s in split.items() if s == name]
        pairs = make_pairs(sorted(codes), negatives, seed + i)
        write_pairs(pairs, out / f"pairs_{name}.tsv")
        counts[f"{name}_pairs"] = len(pairs)
    return counts


def read_interfaces(path: str | Path) -> dict[tuple[str, str], np.ndarray]:
    """``interfaces.tsv`` -> (ligand, receptor) -> ``(I, 2)`` residue pairs."""
    found: dict[tuple[str, str], list[tuple[int, int]]] = {}
    with open(path) as handle:
        next(handle)
        for line in handle:
            a, b, i, j = line.rstrip("\n").split("\t")
            found.setdefault((a, b), []).append((int(i), int(j)))
    return {k: np.asarray(v, dtype=np.int64) for k, v in found.items()}


def time_structures(mapping: str | Path, fasta: str | Path, radius=10.0, k=16) -> dict[str, float]:
    """Seconds to parse, align and graph every structure of a mapping table (no cache).

    Wall-clock and CPU seconds both: on a shared machine the CPU time is the
    figure that says what the work costs.
    """
    from ppi.channels._graphs import build_edges
    from ppi.data.fasta import read_fasta
    from ppi.data.structure_sources import read_mapping
    from ppi.data.structures import align_structure

    proteins = read_fasta(fasta)
    table = read_mapping(mapping)
    spent = {"parse_align": [0.0, 0.0], "graph": [0.0, 0.0]}
    edges = 0
    for pid, source in tqdm(table.items(), desc="timing", unit="chain", disable=None):
        t0 = (time.perf_counter(), time.process_time())
        aligned = align_structure(read_structure(source.path, source.chain), proteins[pid])
        t1 = (time.perf_counter(), time.process_time())
        edges += build_edges(torch.from_numpy(aligned.coords), radius, k)[0].shape[1]
        t2 = (time.perf_counter(), time.process_time())
        for i in (0, 1):
            spent["parse_align"][i] += t1[i] - t0[i]
            spent["graph"][i] += t2[i] - t1[i]
    out = {"chains": len(table), "edges": edges}
    for step, (wall, cpu) in spent.items():
        out[f"{step}_wall_s"], out[f"{step}_cpu_s"] = round(wall, 2), round(cpu, 2)
    return out


def evaluate_interfaces(model, proteins: dict[str, str], truth, seed: int = 0) -> dict:
    """Rank true interface residue pairs with the model's maps and with a random ranking.

    Args:
        model: a trained pair model.
        proteins: ``{id: sequence}``.
        truth: ``{(ligand, receptor): (I, 2) residue pairs}`` of the complexes to rank.
        seed: seed of the random ranking.

    Returns:
        Means over complexes of each :func:`ppi.evaluation.interface.ranking` figure, for
        the model and for the random ranking, and the per-complex figures.
    """
    from ppi.evaluation.interface import pair_maps, ranking

    rng = np.random.default_rng(seed)
    per = {}
    maps = pair_maps(model, proteins, list(truth))
    for a, b, scores in tqdm(maps, total=len(truth), desc="interface maps", disable=None):
        model_rank = ranking(scores, truth[(a, b)])
        random_rank = ranking(rng.random(scores.shape), truth[(a, b)])
        per[f"{a}:{b}"] = {"model": model_rank, "random": random_rank}
    summary = {}
    for who in ("model", "random"):
        for metric in ("auroc", "precision_top_L10"):
            summary[f"{who}_{metric}"] = float(np.mean([v[who][metric] for v in per.values()]))
    summary["base_rate"] = float(np.mean([v["model"]["base_rate"] for v in per.values()]))
    return {"complexes": len(per), **summary, "per_complex": per}
