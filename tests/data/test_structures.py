from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from ppi.data.structures import align_structure, read_structure
from ppi.errors import InputError

PDB = Path(__file__).parents[1] / "fixtures" / "structure" / "pdb"


def _ca_lines(text: str) -> list[str]:
    """CA atoms of the first model, by hand, to compare the parser with."""
    first = text.split("ENDMDL")[0]
    return [
        line
        for line in first.splitlines()
        if line.startswith(("ATOM", "HETATM")) and line[12:16] == " CA "
    ]


def test_pdb_and_mmcif_of_one_entry_agree():
    pdb, cif = read_structure(PDB / "1A8O.pdb"), read_structure(PDB / "1A8O.cif")
    assert pdb.residues == cif.residues
    np.testing.assert_allclose(pdb.coords, cif.coords, atol=1e-3)
    assert pdb.coords.shape == (70, 3)


def test_mse_read_as_met_and_waters_left_out():
    text = (PDB / "1A8O.pdb").read_text()
    assert "HETATM" in text and "MSE" in text and "HOH" in text
    s = read_structure(PDB / "1A8O.pdb")
    mse = [line for line in _ca_lines(text) if line[17:20] == "MSE"]
    assert mse and s.residues.count("M") == len(mse)
    assert len(s.residues) == len([x for x in _ca_lines(text) if x[17:20] != "HOH"])
    assert s.residues.startswith("MDIRQGPKEPF")


def test_first_nmr_model_and_gzip():
    text = gzip.decompress((PDB / "1LCD.pdb.gz").read_bytes()).decode()
    assert text.count("\nMODEL") >= 2
    s = read_structure(PDB / "1LCD.pdb.gz")
    expected = np.array(
        [[float(x[30:38]), float(x[38:46]), float(x[46:54])] for x in _ca_lines(text)]
    )
    np.testing.assert_allclose(s.coords, expected, atol=1e-3)
    assert s.skipped == 0  # DNA nucleotides are not counted as residues without a CA


def test_insertion_codes_keep_their_residues():
    text = (PDB / "2n0n_M1.pdb").read_text()
    lines = [line for line in _ca_lines(text) if line.startswith("ATOM")]  # AIB ligands out
    inserted = [i for i, line in enumerate(lines) if line[26] != " "]
    assert inserted
    s = read_structure(PDB / "2n0n_M1.pdb")
    assert len(s.residues) == len(lines)
    assert s.coords[inserted[0]][0] == pytest.approx(float(lines[inserted[0]][30:38]), abs=1e-3)


def test_altloc_takes_the_highest_occupancy(tmp_path):
    lines = (PDB / "disordered.pdb").read_text().splitlines()
    ca = next(i for i, line in enumerate(lines) if line[12:16] == " CA ")
    low = lines[ca][:16] + "A" + lines[ca][17:54] + "  0.30" + lines[ca][60:]
    high = (
        lines[ca][:16] + "B" + lines[ca][17:30] + "  99.000  99.000  99.000  0.70" + lines[ca][60:]
    )
    lines[ca : ca + 1] = [low, high]
    path = tmp_path / "alt.pdb"
    path.write_text("\n".join(lines) + "\n")
    s = read_structure(path)
    np.testing.assert_allclose(s.coords[0], [99.0, 99.0, 99.0])


def test_point_mutation_altloc_takes_the_likelier_residue(tmp_path):
    gly = "ATOM      1  CA AGLY A  10      -6.498   5.882  20.072  0.67 23.51           C"
    ser = "ATOM      2  CA BSER A  10      -5.000   5.000  20.000  0.33 23.51           C"
    (tmp_path / "mut.pdb").write_text(f"{gly}\n{ser}\nEND\n")
    s = read_structure(tmp_path / "mut.pdb")
    assert s.residues == "G"


def test_residues_without_ca_are_counted(tmp_path):
    text = (PDB / "disordered.pdb").read_text().splitlines()
    kept = [line for line in text if not (line[12:16] == " CA " and line[22:26].strip() == "26")]
    (tmp_path / "noca.pdb").write_text("\n".join(kept) + "\n")
    s = read_structure(tmp_path / "noca.pdb")
    assert s.skipped == 1 and len(s.residues) == 5


def test_chain_selection():
    two = read_structure(PDB / "1LCD.pdb.gz")
    assert two.chains == "BCA"  # file order
    one = read_structure(PDB / "1LCD.pdb.gz", chain="A")
    assert one.chains == "A" and 0 < len(one.residues) <= len(two.residues)


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("empty.pdb", "", "empty file"),
        ("notes.pdb", "hello\nnot a structure\n", "no ATOM records"),
        ("bare.cif", "data_x\n_entry.id x\n", "_atom_site loop"),
    ],
)
def test_bad_files_name_the_file(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=expected) as err:
        read_structure(path)
    assert name in str(err.value)


def test_missing_chain_and_no_ca():
    with pytest.raises(InputError, match=r"chain Z not found \(chains: A\)"):
        read_structure(PDB / "1A8O.pdb", chain="Z")
    with pytest.raises(InputError, match="1SSU_mod.pdb: expected amino-acid residues with a CA"):
        read_structure(PDB / "1SSU_mod.pdb")


def test_alignment_maps_structure_residues_to_sequence_positions():
    s = read_structure(PDB / "1A8O.pdb")
    seq = "GSHM" + s.residues[:30] + s.residues[35:]  # a tag, and five residues deleted
    aligned = align_structure(s, seq)
    assert aligned.identity == 1.0
    assert len(aligned.positions) == len(s.residues) - 5
    assert all(
        seq[p] == s.residues[i] for i, p in zip(range(30), aligned.positions[:30], strict=True)
    )
    assert aligned.positions[0] == 4
    assert aligned.coverage == pytest.approx((len(s.residues) - 5) / len(seq))


def test_alignment_rejects_another_protein():
    s = read_structure(PDB / "1A8O.pdb")
    with pytest.raises(InputError, match="does not match the sequence of P1"):
        align_structure(s, "W" * 70, min_identity=0.5, name="P1")
