import logging

import pandas as pd
import pytest

from ppi.data.tables import SequenceTable, read_table
from ppi.errors import InputError


def test_csv_with_default_row_ids(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("sequence,label\nmkv,binder\nACDB,other\n")
    table = read_table(path)
    assert table == SequenceTable(
        ids=["row1", "row2"], seqs=["MKV", "ACDX"], labels=["binder", "other"]
    )
    assert len(table) == 2


def test_tsv_with_id_column_and_multilabel(tmp_path, caplog):
    path = tmp_path / "t.tsv"
    path.write_text("name\tseq\tterms\nP1\tMKVX\tGO:1; GO:2\nP2\tAC\t\n")
    with caplog.at_level(logging.INFO, logger="ppi"):
        table = read_table(path, "seq", "terms", id_column="name", label_separator=";")
    assert table.ids == ["P1", "P2"]
    assert table.labels == [["GO:1", "GO:2"], []]
    assert f"{path}: 1 ambiguous residues (B, Z, J, U, O, X) in 1 records read as X" in caplog.text


def test_parquet_with_other_label_column(tmp_path):
    path = tmp_path / "t.parquet"
    frame = pd.DataFrame(
        {"sequence": ["MKV", "ACD"], "target": ["HIV-1", "SARS-CoV2"]}, index=[7, 3]
    )
    frame.to_parquet(path)
    table = read_table(path, label_column="target")
    assert table.seqs == ["MKV", "ACD"]
    assert table.labels == ["HIV-1", "SARS-CoV2"]
    unlabelled = read_table(path, label_column=None)
    assert unlabelled.labels is None


def test_missing_column_lists_present_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("seq,target\nMKV,a\n")
    with pytest.raises(InputError) as err:
        read_table(path)
    assert str(err.value) == f"{path}: sequence column 'sequence' not found (columns: seq, target)"
    with pytest.raises(InputError, match="label column 'label' not found"):
        read_table(path, sequence_column="seq")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (
            "id,sequence,label\nA,MKV,x\nB,MK7V,y\n",
            ["row 2 (id 'B')", "invalid residue '7' at position 3"],
        ),
        ("sequence,label\nMKV,x\n,y\n", ["row 2 (id 'row2')", "expected a protein sequence"]),
        (
            "id,sequence,label\nA,MKV,x\nB,ACD,\n",
            ["row 2 (id 'B')", "expected a label in column 'label'"],
        ),
        ("id,sequence,label\nA,MKV,x\nA,ACD,y\n", ["row 2", "duplicate id 'A'", "row 1"]),
        ("id,sequence,label\n,MKV,x\n", ["row 1", "expected an id"]),
        ("sequence,label\n", ["expected at least one row"]),
        ("", ["empty file"]),
    ],
)
def test_bad_rows_name_row_and_id(tmp_path, text, parts):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_table(path, id_column="id" if text.startswith("id") else None)
    message = str(err.value)
    assert message.startswith(f"{path}:")
    assert "\n" not in message
    for part in parts:
        assert part in message


def test_parquet_missing_value_and_unknown_extension(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"sequence": ["MKV", None], "label": ["a", "b"]}).to_parquet(path)
    with pytest.raises(
        InputError, match=r"row 2 \(id 'row2'\): expected a sequence string, got an empty cell"
    ):
        read_table(path)
    other = tmp_path / "t.xlsx"
    other.write_text("x")
    with pytest.raises(
        InputError, match=r"t.xlsx: expected a .csv, .tsv or .parquet table, got extension '.xlsx'"
    ):
        read_table(other)
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(InputError, match="broken.parquet: expected a parquet table"):
        read_table(broken)
    with pytest.raises(InputError, match="none.csv: table not found"):
        read_table(tmp_path / "none.csv")


def test_non_utf8_table_names_the_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("sequence,label\nMKV,a\nMKV,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"t.csv:3: expected UTF-8 text"):
        read_table(path, "sequence", "label")
