import sqlite3
from pathlib import Path

import pytest

from ppi.data.annotation_store import AnnotationStore, write_store
from ppi.data.annotations import Annotation
from ppi.data.go_files import read_gaf
from ppi.errors import InputError

FIX = Path(__file__).parents[1] / "fixtures" / "annotations"


def test_store_keeps_every_field_and_reads_by_accession(tmp_path):
    store_path = tmp_path / "a.sqlite"
    n = write_store(store_path, read_gaf(FIX / "goa_yeast_head.gaf"))
    store = AnnotationStore(store_path)
    rows = [x for x in (FIX / "goa_yeast_head.gaf").read_text().splitlines() if x[:1] != "!"]
    assert n == len(rows) == 52
    got = store.annotations(["A0A023PXA5", "NOPE"])
    assert set(got) == {"A0A023PXA5"}
    assert {(a.term, a.evidence, a.source, a.date) for a in got["A0A023PXA5"]} >= {
        ("GO:0003674", "ND", "goa_yeast_head.gaf", "2003-07-30")
    }
    assert store.summary()["accessions"] == len(store.accessions())
    first = store.version
    write_store(store_path, [Annotation("P1", "KW-0001", "keyword", source="x")])
    again = AnnotationStore(store_path)
    assert again.version != first  # cached representations see the change
    assert "P1" in again.accessions() and "A0A023PXA5" in again.accessions()


def test_a_failing_source_leaves_the_store_as_it_was(tmp_path):
    store_path = tmp_path / "a.sqlite"
    write_store(store_path, [Annotation("P1", "KW-0001", "keyword", source="x")])
    before = store_path.read_bytes()

    def records():
        yield Annotation("P2", "KW-0002", "keyword", source="y")
        raise InputError("bad.gaf:3: expected 17 columns, got 5")

    with pytest.raises(InputError, match="bad.gaf:3"):
        write_store(store_path, records())
    assert store_path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.sqlite"]  # no temp file left
    with pytest.raises(InputError):
        write_store(tmp_path / "new.sqlite", records())
    assert not (tmp_path / "new.sqlite").exists()


def test_missing_or_foreign_store_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="annotation store not found"):
        AnnotationStore(tmp_path / "none.sqlite")
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE x (y)")
    with pytest.raises(InputError, match="expected an annotation store"):
        AnnotationStore(other)
