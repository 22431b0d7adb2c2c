from __future__ import annotations

import pytest

from ppi.data.structure_sources import StructureLocator, find_in_folder, read_mapping
from ppi.errors import InputError


def test_mapping_table_paths_chains_and_header(tmp_path):
    table = tmp_path / "sub" / "map.tsv"
    table.parent.mkdir()
    table.write_text("id\tpath\tchain\nP1\tfiles/p1.cif\tB\nP2\t/abs/p2.pdb\n")
    found = read_mapping(table)
    assert found["P1"].path == table.parent / "files" / "p1.cif" and found["P1"].chain == "B"
    assert str(found["P2"].path) == "/abs/p2.pdb" and found["P2"].chain == ""


def test_mapping_table_bad_row_names_the_line(tmp_path):
    table = tmp_path / "map.tsv"
    table.write_text("P1\tp1.pdb\nP2\n")
    with pytest.raises(InputError, match=r"map.tsv:2: expected 'id<TAB>path\[<TAB>chain\]'"):
        read_mapping(table)


def test_folder_lookup_by_accession_and_alphafold_name(tmp_path):
    (tmp_path / "P12345.cif.gz").write_bytes(b"")
    (tmp_path / "AF-Q99999-F1-model_v4.pdb").write_text("")
    assert find_in_folder(tmp_path, "P12345").name == "P12345.cif.gz"
    assert find_in_folder(tmp_path, "Q99999").name.startswith("AF-Q99999")
    assert find_in_folder(tmp_path, "O00000") is None
    locate = StructureLocator(folder=str(tmp_path), chain="A")
    assert locate("Q99999").chain == "A" and locate("O00000") is None
    with pytest.raises(InputError, match="expected a folder of structure files"):
        StructureLocator(folder=str(tmp_path / "nowhere"))
