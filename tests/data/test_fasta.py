import gzip
import logging

import pytest

from ppi.data.fasta import read_fasta, validate_sequence, write_fasta
from ppi.errors import InputError


def write(tmp_path, text, name="proteins.fasta"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_multiline_records_in_order_cleaned(tmp_path):
    path = write(tmp_path, ">P1 some description\nmkv\nLLa\n\n>P2\nAC DE*\n")
    assert read_fasta(path) == {"P1": "MKVLLA", "P2": "ACDE"}
    assert list(read_fasta(path)) == ["P1", "P2"]


def test_gzip_is_detected_by_magic_bytes_not_extension(tmp_path):
    path = tmp_path / "proteins.fasta"  # no .gz suffix
    path.write_bytes(gzip.compress(b">P1\nMKV\n"))
    assert read_fasta(path) == {"P1": "MKV"}
    named = tmp_path / "proteins.fa.gz"
    named.write_bytes(gzip.compress(b">P2\nACD\n"))
    assert read_fasta(named) == {"P2": "ACD"}


def test_uniprot_headers_give_the_accession(tmp_path):
    path = write(
        tmp_path,
        ">sp|P12345|NAME_YEAST Protein OS=Saccharomyces OX=4932\nMKV\n"
        ">tr|A0A001|A0A001_YEAST Other\nACD\n>plain|id with bars\nGG\n",
    )
    assert list(read_fasta(path)) == ["P12345", "A0A001", "plain|id"]


def test_ambiguous_codes_become_x_and_are_logged_once(tmp_path, caplog):
    path = write(tmp_path, ">P1\nABZ\n>P2\nMJUO\n>P3\nMKV\n>P4\nXX\n")
    with caplog.at_level(logging.INFO, logger="ppi"):
        seqs = read_fasta(path)
    assert seqs == {"P1": "AXX", "P2": "MXXX", "P3": "MKV", "P4": "XX"}
    lines = [r.getMessage() for r in caplog.records if "ambiguous" in r.getMessage()]
    assert lines == [f"{path}: 7 ambiguous residues (B, Z, J, U, O, X) in 3 records read as X"]


def test_identical_duplicates_are_merged_with_a_warning(tmp_path, caplog):
    path = write(tmp_path, ">P1\nMKV\n>P2\nAC\n>P1 again\nmkv\n")
    with caplog.at_level(logging.WARNING, logger="ppi"):
        assert read_fasta(path) == {"P1": "MKV", "P2": "AC"}
    assert "'P1' at lines 1 and 5" in caplog.text


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", ["proteins.fasta", "no FASTA records"]),
        ("\n\n", ["proteins.fasta", "no FASTA records"]),
        ("MKV\n>P1\nMKV\n", ["proteins.fasta:1", "header", "'MKV'"]),
        (">P1\nMKV\n>P2\n>P3\nAC\n", ["proteins.fasta:3", "'P2'", "expected a sequence"]),
        (">P1\nMKV\n>P2\n\n", ["proteins.fasta:3", "'P2'", "expected a sequence"]),
        (">\nMKV\n", ["proteins.fasta:1", "empty header"]),
        (">P1\nMKV\n>P1\nMKA\n", ["proteins.fasta:3", "duplicate id 'P1'", "line 1"]),
    ],
)
def test_bad_files_name_file_line_and_record(tmp_path, text, parts):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_fasta(path)
    message = str(err.value)
    assert "\n" not in message
    for part in parts:
        assert part in message


def test_invalid_residue_names_record_char_position_and_its_line(tmp_path):
    # residue 7 of P2 is the '7' on the second sequence line of that record (file line 5)
    path = write(tmp_path, ">P1\nMKV\n>P2\nMKVLL\nA7C\n")
    with pytest.raises(InputError) as err:
        read_fasta(path)
    message = str(err.value)
    assert message.startswith(f"{path}:5: record 'P2'")
    assert "invalid residue '7' at position 7" in message


def test_stop_codon_inside_a_sequence_is_invalid(tmp_path):
    path = write(tmp_path, ">P1\nMK*V\n")
    with pytest.raises(InputError, match=r"invalid residue '\*' at position 3"):
        read_fasta(path)


def test_missing_file_and_binary_garbage(tmp_path):
    with pytest.raises(InputError, match="nothere.fasta: FASTA file not found"):
        read_fasta(tmp_path / "nothere.fasta")
    bad = tmp_path / "binary.fasta"
    bad.write_bytes(b">P1\n\xff\xfe\x00")
    with pytest.raises(InputError, match="binary.fasta:2: expected UTF-8 text"):
        read_fasta(bad)
    truncated = tmp_path / "cut.fasta.gz"
    truncated.write_bytes(gzip.compress(b">P1\nMKV\n" * 100)[:30])
    with pytest.raises(InputError, match="cut.fasta.gz: expected a readable gzip file"):
        read_fasta(truncated)


def test_validate_sequence_cleans_counts_and_locates():
    assert validate_sequence(" mk vb\n*", "t.csv: row 1") == ("MKVX", 1)
    with pytest.raises(
        InputError, match=r"^t.csv: row 2 \(id 'Q'\): invalid residue '-' at position 3"
    ):
        validate_sequence("MK-V", "t.csv: row 2 (id 'Q')")
    with pytest.raises(
        InputError, match="t.csv: row 3: expected a protein sequence, got an empty one"
    ):
        validate_sequence("*", "t.csv: row 3")


def test_write_fasta_round_trips_wraps_and_gzips(tmp_path):
    records = {"P1": "M" * 130, "P2": "ACD"}
    path = write_fasta(records, tmp_path / "out" / "seqs.fasta", width=60)
    assert [len(x) for x in path.read_text().splitlines()] == [3, 60, 60, 10, 3, 3]
    assert read_fasta(path) == records
    gz = write_fasta(list(records.items()), tmp_path / "seqs.fasta.gz", width=0)
    assert gz.read_bytes()[:2] == b"\x1f\x8b"
    assert read_fasta(gz) == records
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_write_fasta_rejects_ids_that_would_not_read_back(tmp_path):
    with pytest.raises(InputError, match="'P 1'"):
        write_fasta({"P 1": "MKV"}, tmp_path / "x.fasta")
    with pytest.raises(InputError, match="at least one record"):
        write_fasta({}, tmp_path / "x.fasta")
    assert not (tmp_path / "x.fasta").exists()
