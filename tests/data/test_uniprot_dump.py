"""UniProt dump parsing: three formats agree, damaged files fail with the file and line."""

import gzip
from pathlib import Path

import pytest

from ppi.data.uniprot_dump import parse_fasta_header, read_dump, read_dumps
from ppi.errors import InputError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "uniprot"


def test_fasta_flat_and_xml_give_the_same_entries():
    by_format = {s: list(read_dump(FIXTURES / f"multi_ex.{s}")) for s in ("fasta", "txt", "xml")}
    fasta, flat, xml = by_format["fasta"], by_format["txt"], by_format["xml"]
    assert len(fasta) == 8
    assert [e.accession for e in fasta] == [e.accession for e in flat] == [e.accession for e in xml]
    assert [e.sequence for e in fasta] == [e.sequence for e in flat] == [e.sequence for e in xml]
    assert [e.entry_name for e in flat] == [e.entry_name for e in xml]
    assert fasta[0].accession == "P00750" and fasta[0].entry_name == "TPA_HUMAN"
    assert fasta[0].organism == xml[0].organism == "Homo sapiens"
    assert flat[0].organism == "Homo sapiens (Human)"
    assert len(fasta[0].sequence) == 562


def test_uniref_xml_and_header():
    (entry,) = read_dump(FIXTURES / "UniRef90_P99999.xml")
    assert (entry.accession, entry.entry_name) == ("UniRef90_P99999", "CYC_HUMAN")
    assert entry.sequence.startswith("MGDVEKGKKIF") and len(entry.sequence) == 105
    header = "UniRef50_Q6GZX4 Putative transcription factor 001R n=2 Tax=Frog virus 3 TaxID=10493"
    assert parse_fasta_header(header + " RepID=001R_FRG3G") == (
        "UniRef50_Q6GZX4",
        "001R_FRG3G",
        "Frog virus 3",
    )


def test_gzipped_dumps_stream_one_after_the_other(tmp_path):
    for suffix in ("txt", "xml"):
        (tmp_path / f"d.{suffix}.gz").write_bytes(
            gzip.compress((FIXTURES / f"multi_ex.{suffix}").read_bytes())
        )
    entries = list(read_dumps([tmp_path / "d.txt.gz", tmp_path / "d.xml.gz"]))
    assert len(entries) == 16
    assert [(e.accession, e.sequence) for e in entries[:8]] == [
        (e.accession, e.sequence) for e in entries[8:]
    ]


def _write(path, data):
    path.write_bytes(data)
    return path


def test_truncated_gzip(tmp_path):
    data = gzip.compress((FIXTURES / "multi_ex.xml").read_bytes())
    path = _write(tmp_path / "cut.xml.gz", data[: len(data) // 2])
    with pytest.raises(InputError, match="gzip"):
        list(read_dump(path))


def test_xml_cut_mid_record_names_the_line(tmp_path):
    text = (FIXTURES / "multi_ex.xml").read_bytes()
    path = _write(tmp_path / "cut.xml", text[: len(text) // 2])
    with pytest.raises(InputError, match=r"cut\.xml:\d+: expected well-formed"):
        list(read_dump(path))


def test_flat_file_malformed_entry_names_the_line(tmp_path):
    lines = (FIXTURES / "multi_ex.txt").read_text().splitlines()
    lines[5] = "this is not a flat-file line"
    path = _write(tmp_path / "bad.txt", ("\n".join(lines) + "\n").encode())
    with pytest.raises(InputError, match=r"bad\.txt:6: entry 'TPA_HUMAN'"):
        list(read_dump(path))


def test_flat_file_without_closing_slashes(tmp_path):
    text = (FIXTURES / "multi_ex.txt").read_text()
    path = _write(tmp_path / "cut.txt", text[: text.rindex("//")].encode())
    with pytest.raises(InputError, match="without its closing '//'"):
        list(read_dump(path))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty file"),
        ("\n\n", "empty file"),
        ("hello\n", "expected a UniProt dump"),
        (">sp|P1|A_B x OS=y\nMK7V\n", "invalid residue '7' at position 3"),
    ],
)
def test_bad_dumps(tmp_path, text, expected):
    with pytest.raises(InputError, match=expected):
        list(read_dump(_write(tmp_path / "dump.fasta", text.encode())))
