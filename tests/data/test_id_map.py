import pytest

from ppi.data.id_map import is_accession, read_id_map, read_ids, unmapped_report
from ppi.errors import InputError


def test_string_map_maps_dscript_ids_and_reports_the_rest():
    id_map = read_id_map("example:yeast_swissprot/string_map.tsv")
    mapped, missing = id_map.map_ids(["4932.YIL037C", "4932.NOTHING", "P40454"])
    assert mapped == {"4932.YIL037C": "P40534", "P40454": "P40454"}
    assert missing == ["4932.NOTHING"]
    assert "1 of 3 ids could not be mapped (4932.NOTHING)" in unmapped_report(missing, 3, "x")


def test_uniprot_fasta_headers_map_gene_and_entry_names():
    id_map = read_id_map("example:yeast_swissprot/uniprot_sprot_yeast.fasta.gz")
    assert id_map.lookup("PRM2") == ["P40534"]
    assert id_map.lookup("PRM2_YEAST") == ["P40534"]
    assert id_map.lookup("NOT_A_GENE", count=True) == []
    assert id_map.unmapped == {"NOT_A_GENE": 1}


def test_accession_format_and_bad_map(tmp_path):
    assert is_accession("P40534") and is_accession("A0A023PXA5") and is_accession("P40534-2")
    assert not is_accession("4932.YIL037C") and not is_accession("PRM2")
    bad = tmp_path / "map.tsv"
    bad.write_text("only_one_column\n")
    with pytest.raises(InputError, match=r"map\.tsv:1: expected two columns"):
        read_id_map(bad)


def test_read_ids_from_list_fasta_and_pairs(tmp_path):
    (tmp_path / "l.txt").write_text("P1\n# c\nP2\nP1\n")
    assert read_ids(tmp_path / "l.txt") == ["P1", "P2"]
    (tmp_path / "p.tsv").write_text("A\tB\t1\nB\tC\t0\n")
    assert read_ids(tmp_path / "p.tsv") == ["A", "B", "C"]
    (tmp_path / "s.fasta").write_text(">X\nMKV\n>Y\nMKT\n")
    assert read_ids(tmp_path / "s.fasta") == ["X", "Y"]
