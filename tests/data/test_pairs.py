import gzip
import logging

import pytest

from ppi.data.pairs import Pair, read_pairs, write_pairs
from ppi.errors import InputError


def write(tmp_path, text, name="pairs.tsv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_tsv_without_header(tmp_path):
    path = write(tmp_path, "P1\tP2\t1\nP3\tP4\t0\n")
    assert read_pairs(path) == [Pair("P1", "P2", 1.0), Pair("P3", "P4", 0.0)]


@pytest.mark.parametrize(
    "header", ["id_a\tid_b\tlabel", "protein_a\tprotein_b\tinteraction", "A\tB\tY"]
)
def test_tsv_header_is_detected_and_skipped(tmp_path, header):
    path = write(tmp_path, f"{header}\nP1\tP2\t1\n")
    assert read_pairs(path) == [Pair("P1", "P2", 1.0)]


def test_csv_is_sniffed_and_float_labels_accepted(tmp_path):
    path = write(tmp_path, 'id_a,id_b,label\nP1,P2,1.0\n\n"P3", P4 ,0.0\n', name="pairs.csv")
    assert read_pairs(path) == [Pair("P1", "P2", 1.0), Pair("P3", "P4", 0.0)]


def test_gzipped_pairs(tmp_path):
    path = tmp_path / "pairs.tsv.gz"
    path.write_bytes(gzip.compress(b"P1\tP2\t1\n"))
    assert read_pairs(path) == [Pair("P1", "P2", 1.0)]


def test_two_columns_when_labels_are_not_required(tmp_path):
    path = write(tmp_path, "id_a\tid_b\nP1\tP2\nP3\tP1\n")
    assert read_pairs(path, require_labels=False) == [
        Pair("P1", "P2", None),
        Pair("P3", "P1", None),
    ]
    # a two-column file whose first row is data keeps that row
    data_only = write(tmp_path, "P1\tP2\n", name="unlabelled.tsv")
    assert read_pairs(data_only, require_labels=False) == [Pair("P1", "P2", None)]


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", ["pairs.tsv", "expected at least one pair", "got none"]),
        ("\n  \n", ["pairs.tsv", "expected at least one pair"]),
        ("id_a\tid_b\tlabel\n", ["pairs.tsv", "expected at least one pair"]),
        ("P1\tP2\t1\nP3\tP4\t2\n", ["pairs.tsv:2", "expected label 0 or 1", "'2'"]),
        ("P1\tP2\t1\nP3\tP4\tyes\n", ["pairs.tsv:2", "'yes'"]),
        ("P1\tP2\tyes\n", ["pairs.tsv:1", "'yes'"]),
        ("P1\tP2\t1\n\nP3\tP4\n", ["pairs.tsv:3", "expected 3 columns", "got 2"]),
        ("P1\tP2\t1\tx\n", ["pairs.tsv:1", "expected 3 columns (id_a, id_b, label)", "got 4"]),
        ("P1\tP2\nP3\tP4\n", ["pairs.tsv:1", "labels missing", "got 2"]),
        ("P1\t\t1\n", ["pairs.tsv:1", "expected two protein ids"]),
        ("P1 P2 1\n", ["pairs.tsv:1", "tab- or comma-separated"]),
    ],
)
def test_bad_pairs_name_file_line_and_value(tmp_path, text, parts):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_pairs(path)
    message = str(err.value)
    assert "\n" not in message
    for part in parts:
        assert part in message


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="nope.tsv: pairs file not found"):
        read_pairs(tmp_path / "nope.tsv")


def test_unknown_ids_are_one_error_with_counts_and_first_ids(tmp_path):
    rows = [f"P{i}\tQ{i}\t1" for i in range(8)] + ["P0\tP1\t0"]
    path = write(tmp_path, "\n".join(rows) + "\n")
    known = {f"P{i}" for i in range(8)}
    with pytest.raises(InputError) as err:
        read_pairs(path, known_ids=known, fasta_name="proteins.fasta")
    message = str(err.value)
    assert message == (
        f"{path}: 8 ids in 8 pairs are not in proteins.fasta (first: Q0, Q1, Q2, Q3, Q4, ...)"
    )
    # a mapping (the FASTA dict) works as known_ids too
    seqs = dict.fromkeys(known | {f"Q{i}" for i in range(8)}, "MKV")
    assert len(read_pairs(path, known_ids=seqs)) == 9


def test_single_unknown_id_message_is_singular(tmp_path):
    path = write(tmp_path, "P1\tP2\t1\n")
    with pytest.raises(
        InputError, match=r"1 id in 1 pair is not in the sequence file \(first: P2\)"
    ):
        read_pairs(path, known_ids={"P1"})


def test_repeated_pairs_are_logged_and_kept(tmp_path, caplog):
    path = write(tmp_path, "P1\tP2\t1\nP2\tP1\t1\nP3\tP4\t0\nP4\tP3\t1\n")
    with caplog.at_level(logging.INFO, logger="ppi"):
        pairs = read_pairs(path)
    assert len(pairs) == 4
    record = next(r for r in caplog.records if "repeat" in r.getMessage())
    assert record.levelno == logging.WARNING  # one repeat has a different label
    assert (
        "2 pairs repeat an earlier pair (either order), 1 with a different label"
        in record.getMessage()
    )


def test_write_pairs_round_trips_with_header(tmp_path):
    pairs = [Pair("P1", "P2", 1.0), Pair("P3", "P4", 0.0)]
    path = write_pairs(pairs, tmp_path / "out" / "pairs.tsv")
    assert path.read_text() == "id_a\tid_b\tlabel\nP1\tP2\t1\nP3\tP4\t0\n"
    assert read_pairs(path) == pairs
    unlabelled = write_pairs([("P1", "P2")], tmp_path / "u.tsv")
    assert unlabelled.read_text() == "id_a\tid_b\nP1\tP2\n"
    assert read_pairs(unlabelled, require_labels=False) == [Pair("P1", "P2", None)]


def test_write_pairs_rejects_mixed_and_bad_labels(tmp_path):
    with pytest.raises(InputError, match="a mix of labelled and unlabelled"):
        write_pairs([Pair("P1", "P2", 1.0), Pair("P3", "P4", None)], tmp_path / "x.tsv")
    with pytest.raises(InputError, match="expected label 0 or 1, got 0.5"):
        write_pairs([Pair("P1", "P2", 0.5)], tmp_path / "x.tsv")
    assert not (tmp_path / "x.tsv").exists()


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_non_utf8_file_names_the_line_and_byte(tmp_path, compress):
    data = "A\tB\t1\nC\tD\t0\nE\tF\u00e9\t1\n".encode("latin-1")
    path = tmp_path / ("p.tsv.gz" if compress else "p.tsv")
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(InputError, match=r"p.tsv(.gz)?:3: expected UTF-8 text, .*b'\\xe9' at col"):
        read_pairs(path)
