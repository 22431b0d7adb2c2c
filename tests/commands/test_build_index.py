"""``ppi build-index`` and ``ppi search`` end to end, and every bad input as one line and exit 2."""

import gzip
import shutil
from pathlib import Path

import pytest

from ppi.cli import run

FIXTURES = Path(__file__).parents[1] / "fixtures" / "uniprot"
TINY = ["backbone.dim=16", "backbone.layers=1", "backbone.heads=2", "backbone.max_len=64"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """An index over the 8 Swiss-Prot entries of the flat-file fixture, gzipped as downloaded."""
    tmp = tmp_path_factory.mktemp("cli")
    dump = tmp / "sprot.dat.gz"
    dump.write_bytes(gzip.compress((FIXTURES / "multi_ex.txt").read_bytes()))
    assert run(["build-index", "--out", str(tmp / "idx"), str(dump), *TINY]) == 0
    return tmp / "idx"


def _fails(capsys, args, *expected):
    assert run(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for part in expected:
        assert part in err, err


def test_search_writes_the_top_hits(built, tmp_path, capsys):
    out = tmp_path / "hits.tsv"
    query = FIXTURES / "multi_ex.fasta"
    assert run(["search", "--index", str(built), "--fasta", str(query), "--out", str(out)]) == 0
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert rows[0] == [
        "query",
        "rank",
        "accession",
        "similarity",
        "entry_name",
        "organism",
        "length",
    ]
    assert len(rows) == 1 + 8 * 8, "k=10 but the index holds 8 proteins"
    firsts = [r for r in rows[1:] if r[1] == "1"]
    assert all(r[0] == r[2] and float(r[3]) > 0.999 for r in firsts), firsts
    assert firsts[0][4:] == ["TPA_HUMAN", "Homo sapiens (Human)", "562"]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("cut.fasta.gz", gzip.compress((FIXTURES / "multi_ex.fasta").read_bytes())[:900], "gzip"),
        ("cut.xml", (FIXTURES / "multi_ex.xml").read_bytes()[:50_000], "expected well-formed"),
        ("empty.fasta", b"", "empty file"),
        ("bad.txt", b"ID   X_Y Reviewed; 3 AA.\nAC   P1;\nbad line\n", "bad.txt:3"),
        ("bad.fasta", b">sp|P1|X_Y\nMKV\n>sp|P2|Z_Y\nMK7V\n", "bad.fasta:4"),
        (
            "latin1.fasta",
            b">sp|P1|X_Y\nMKV\n>sp|P2|Z_Y caf\xe9\nMKV\n",
            "latin1.fasta:3: expected UTF-8",
        ),
    ],
    ids=["truncated-gzip", "xml-cut", "empty", "flat-malformed", "bad-residue", "not-utf8"],
)
def test_bad_dumps_leave_no_index_folder(tmp_path, capsys, name, data, expected):
    (tmp_path / name).write_bytes(data)
    out = tmp_path / "idx"
    _fails(capsys, ["build-index", "--out", str(out), str(tmp_path / name), *TINY], expected)
    assert not out.exists()


def test_a_bad_dump_leaves_a_finished_index_finished(built, tmp_path, capsys):
    out = tmp_path / "idx"
    shutil.copytree(built, out)
    (tmp_path / "bad.fasta").write_bytes(b">sp|P1|X_Y\nMK7V\n")
    _fails(capsys, ["build-index", "--out", str(out), str(tmp_path / "bad.fasta"), *TINY], "'7'")
    assert (out / "manifest.json").is_file()


def test_bad_settings_and_queries(built, tmp_path, capsys):
    _fails(capsys, ["build-index", "--out", str(tmp_path / "x"), "faiss.type=lsh"], "dump file")
    dump = str(FIXTURES / "multi_ex.fasta")
    _fails(capsys, ["build-index", "--out", str(tmp_path / "x"), dump, "pooling=cls"], "pooling")
    (tmp_path / "q.fasta").write_text(">q\nMKV7L\n")
    search = ["search", "--index", str(built), "--out", str(tmp_path / "h.tsv"), "--fasta"]
    _fails(capsys, [*search, str(tmp_path / "q.fasta")], "invalid residue '7'")
    _fails(capsys, [*search, dump, "backbone.dim=32"], "built with backbone")
    assert not (tmp_path / "h.tsv").exists()


def test_index_folder_that_does_not_match_its_manifest(built, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(built, broken)
    search = ["search", "--fasta", str(FIXTURES / "multi_ex.fasta"), "--out", str(tmp_path / "h")]
    (broken / "index.faiss").write_bytes((broken / "index.faiss").read_bytes()[:-8])
    _fails(capsys, [*search, "--index", str(broken)], "does not match manifest.json")
    (broken / "manifest.json").unlink()
    _fails(capsys, [*search, "--index", str(broken)], "no manifest.json")
