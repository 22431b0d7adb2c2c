from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np

from ppi.data.db55 import build_db55, make_pairs, read_interfaces, split_complexes
from ppi.data.fasta import read_fasta
from ppi.data.pairs import read_pairs
from ppi.data.structures import read_structure

FIX = Path(__file__).parents[1] / "fixtures" / "structure" / "db55"
ROOT = Path(__file__).parents[2]


def test_build_writes_sequences_pairs_and_true_interfaces(tmp_path):
    counts = build_db55(FIX, tmp_path, negatives=1)
    assert counts["complexes"] == 3
    proteins = read_fasta(tmp_path / "sequences.fasta")
    assert sorted(proteins) == ["1GCQ_l", "1GCQ_r", "2OOB_l", "2OOB_r", "2X9A_l", "2X9A_r"]
    lig = read_structure(FIX / "bound" / "2OOB_l_b.pdb.gz")
    rec = read_structure(FIX / "bound" / "2OOB_r_b.pdb.gz")
    assert proteins["2OOB_l"] == lig.residues
    truth = read_interfaces(tmp_path / "interfaces.tsv")[("2OOB_l", "2OOB_r")]
    d = np.linalg.norm(lig.coords[:, None] - rec.coords[None], axis=-1)
    assert {tuple(x) for x in truth} == {tuple(x) for x in np.argwhere(d <= 8.0)}
    assert len(truth) > 0
    mapping = (tmp_path / "structures.tsv").read_text().splitlines()
    assert len(mapping) == 7 and mapping[1].split("\t")[1].endswith("_b.pdb.gz")


def test_split_by_complex_keeps_proteins_apart():
    codes = [f"C{i:03d}" for i in range(40)]
    split = split_complexes(codes, seed=1)
    assert sorted(split.values()).count("train") == 28
    seen = {}
    for name in ("train", "valid", "test"):
        mine = sorted(c for c, s in split.items() if s == name)
        pairs = make_pairs(mine, negatives=2, seed=0)
        assert sum(p.label for p in pairs) == len(mine)
        for p in pairs:
            assert p.a[:-2] in mine and p.b[:-2] in mine
            if p.label == 0:
                assert p.a[:-2] != p.b[:-2]
            seen.setdefault(p.a, name)
            assert seen[p.a] == name


def test_build_script_runs(tmp_path, monkeypatch, capsys):
    script = str(ROOT / "scripts" / "build_db55.py")
    monkeypatch.setattr(sys, "argv", [script, str(FIX), str(tmp_path)])
    runpy.run_path(script, run_name="__main__")
    assert '"complexes": 3' in capsys.readouterr().out
    pairs = read_pairs(tmp_path / "pairs_train.tsv")
    assert all(p.label in (0.0, 1.0) for p in pairs)
