"""Protein structures (PDB or mmCIF, plain or gzipped) -> Cα coordinates aligned to a sequence.

One path for both formats, through Biopython:

- the first model only (NMR ensembles have many);
- amino-acid residues only: waters and ligands (HETATM) are left out, except
  selenomethionine (MSE), read as methionine;
- alternate locations: the Cα with the highest occupancy, and for a residue
  with two identities (a point mutation modelled as ``altloc``) the identity
  whose Cα has the higher occupancy;
- insertion codes keep their residues, in file order;
- residues without a Cα are skipped and counted.

For AlphaFold models the B-factor column holds pLDDT; it is kept per residue
as the confidence. :func:`align_structure` then maps structure residues to the
positions of the protein sequence the other channels read (Biopython's
``PairwiseAligner``), so graph node ``i`` is sequence position
``positions[i]``; a structure that does not match its sequence is rejected.
"""

from __future__ import annotations

import gzip
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from Bio.Align import PairwiseAligner
from Bio.Data.PDBData import protein_letters_3to1
from Bio.PDB import MMCIFParser, PDBParser
from Bio.PDB.PDBExceptions import PDBConstructionException, PDBConstructionWarning

from ppi.data._io import is_gzip, require_file
from ppi.errors import InputError

#: modified residues read as their parent amino acid
MODIFIED = {"MSE": "M"}
#: residues kept as hetero groups (Biopython marks them ``H_<name>``)
_KEPT_HETERO = {f"H_{name}" for name in MODIFIED}


@dataclass(frozen=True)
class Structure:
    """The Cα trace of one chain (or several chains, concatenated).

    Shapes:
        coords ``(N, 3)`` float32 Å; confidence ``(N,)`` (B-factor, pLDDT for
        AlphaFold models); ``residues`` has N one-letter codes.
    """

    coords: np.ndarray
    residues: str
    confidence: np.ndarray
    source: str
    chains: str
    skipped: int = 0


@dataclass(frozen=True)
class AlignedStructure:
    """A structure whose residues are mapped to sequence positions.

    Shapes:
        coords ``(N, 3)``; confidence ``(N,)``; positions ``(N,)`` int64, the
        0-based sequence position of each kept structure residue (increasing).

    Attributes:
        coverage: share of the sequence's residues that have a Cα.
        identity: share of identical residues among the aligned ones.
    """

    coords: np.ndarray
    confidence: np.ndarray
    positions: np.ndarray
    coverage: float
    identity: float


def _text(path: Path) -> str:
    raw = gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")
    try:
        with raw:
            return raw.read().decode("utf-8", errors="replace")
    except (OSError, EOFError) as exc:
        raise InputError(
            f"{path}: expected a structure file, got unreadable data ({exc})"
        ) from None


def _is_mmcif(path: Path, text: str) -> bool:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".cif", ".mmcif")):
        return True
    first = next((line for line in text.splitlines() if line.strip()), "")
    return first.startswith("data_")


def _parse_model(path: Path, text: str):
    if not text.strip():
        raise InputError(f"{path}: expected a PDB or mmCIF structure, got an empty file")
    cif = _is_mmcif(path, text)
    parser = MMCIFParser(QUIET=True) if cif else PDBParser(QUIET=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PDBConstructionWarning)
            structure = parser.get_structure(path.stem, io.StringIO(text))
    except KeyError as exc:
        raise InputError(
            f"{path}: expected an mmCIF file with an _atom_site loop, got none (missing {exc})"
        ) from None
    except (ValueError, IndexError, TypeError, ZeroDivisionError, PDBConstructionException) as exc:
        # Biopython's own errors for damaged records; the last three found by
        # tests/data/test_fuzz_parsers.py (a bad model number, an empty loop).
        kind, why = ("mmCIF" if cif else "PDB"), " ".join(str(exc).split())
        raise InputError(
            f"{path}: expected a {kind} structure, got unparsable data ({why})"
        ) from None
    models = list(structure)
    if not models:
        raise InputError(f"{path}: expected a PDB or mmCIF structure, got no ATOM records")
    return models[0]


def _pick(residue):
    """The identity of a residue modelled twice whose Cα has the higher occupancy."""
    if residue.is_disordered() != 2:
        return residue
    children = list(residue.child_dict.values())
    return max(children, key=lambda r: r["CA"].get_occupancy() if "CA" in r else -1.0)


def _chain_trace(chain) -> tuple[list[np.ndarray], list[str], list[float], int]:
    coords, letters, conf, skipped = [], [], [], 0
    for residue in chain:
        residue = _pick(residue)
        het = residue.id[0]
        if het != " " and het not in _KEPT_HETERO:
            continue  # water or ligand
        name = residue.get_resname().upper()
        letter = MODIFIED.get(name) or protein_letters_3to1.get(name)
        if "CA" not in residue:
            skipped += letter is not None  # nucleotides have no CA and are no residue of ours
            continue
        atom = residue["CA"]  # the highest-occupancy altloc for a disordered atom
        coords.append(atom.get_coord())
        letters.append(letter or "X")
        conf.append(float(atom.get_bfactor()))
    return coords, letters, conf, skipped


def read_structure(path: str | Path, chain: str = "") -> Structure:
    """Read the Cα trace of ``chain`` (several ids joined, e.g. ``"HL"``; empty = all).

    Raises:
        InputError: an empty or non-structure file, an mmCIF without atoms, a
            chain that does not exist, or no Cα at all; the message names the file.
    """
    path = require_file(path, "structure file")
    model = _parse_model(path, _text(path))
    present = [c.id for c in model]
    wanted = list(chain) if chain else present
    missing = [c for c in wanted if c not in present]
    if missing:
        raise InputError(
            f"{path}: chain {', '.join(missing)} not found (chains: {', '.join(present) or 'none'})"
        )
    coords, letters, conf, skipped = [], [], [], 0
    for cid in wanted:
        c, ltr, b, s = _chain_trace(model[cid])
        coords += c
        letters += ltr
        conf += b
        skipped += s
    if not coords:
        raise InputError(
            f"{path}: expected amino-acid residues with a CA atom in chain "
            f"{chain or ', '.join(present) or '(any)'}, got none"
        )
    return Structure(
        coords=np.asarray(coords, dtype=np.float32),
        residues="".join(letters),
        confidence=np.asarray(conf, dtype=np.float32),
        source=str(path),
        chains="".join(wanted),
        skipped=skipped,
    )


def _aligner() -> PairwiseAligner:
    aligner = PairwiseAligner()
    aligner.mode = "global"
    aligner.match_score = 2.0
    aligner.mismatch_score = -1.0
    aligner.open_gap_score = -5.0
    aligner.extend_gap_score = -0.5
    aligner.end_gap_score = 0.0  # a structure usually covers a part of the sequence
    return aligner


def align_structure(
    structure: Structure, sequence: str, min_identity: float = 0.5, name: str = ""
) -> AlignedStructure:
    """Map structure residues to sequence positions; reject a structure of another protein.

    Raises:
        InputError: identity over the aligned residues below ``min_identity``.
    """
    alignment = _aligner().align(structure.residues, sequence)[0]
    s_idx, q_idx = [], []
    for (s0, s1), (q0, q1) in zip(*alignment.aligned, strict=True):
        s_idx += range(s0, s1)
        q_idx += range(q0, q1)
    s_arr, q_arr = np.asarray(s_idx, dtype=np.int64), np.asarray(q_idx, dtype=np.int64)
    same = sum(structure.residues[s] == sequence[q] for s, q in zip(s_idx, q_idx, strict=True))
    identity = same / max(len(s_idx), 1)
    if identity < min_identity or not s_idx:
        raise InputError(
            f"{structure.source}: structure does not match the sequence of {name or 'its protein'} "
            f"(expected at least {min_identity:.0%} identity over the aligned part, "
            f"got {identity:.0%} over {len(s_idx)} residues)"
        )
    return AlignedStructure(
        coords=structure.coords[s_arr],
        confidence=structure.confidence[s_arr],
        positions=q_arr,
        coverage=len(q_idx) / max(len(sequence), 1),
        identity=identity,
    )
