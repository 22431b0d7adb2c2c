"""Bad input to `ppi fetch-structures`, `ppi annotations` and `ppi fetch-uniprot`: one line, exit 2.

Each case also checks that nothing was fetched or written.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from ppi.cli import run

FIX = Path(__file__).parents[1] / "fixtures"
PDB = (FIX / "structure" / "pdb" / "1A8O.pdb").read_bytes()
GAF = FIX / "annotations" / "goa_yeast_head.gaf"


class _AnyPath(BaseHTTPRequestHandler):
    """Answers every path with the same PDB file, recording the paths asked."""

    asked: list[str] = []

    def do_GET(self):  # noqa: N802 (the http.server API)
        self.asked.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(PDB)))
        self.end_headers()
        self.wfile.write(PDB)

    def log_message(self, *args):
        pass


@pytest.fixture
def any_path_server(local_http):
    _AnyPath.asked = []
    return local_http(_AnyPath), _AnyPath.asked


def _one_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"ppi {command}: error: ")
    return err


def _fetch_structures(ids: Path, out: Path, url: str, *extra: str) -> int:
    argv = ["fetch-structures", "--ids", str(ids), "--out", str(out), "--url", url]
    return run([*argv, "--rate", "1000", "--retries", "0", *extra])


@pytest.mark.parametrize(
    ("source", "ref", "expected"),
    [
        ("alphafold", "../../etc/passwd", "expected a UniProt accession such as P12345"),
        ("alphafold", "P12345-../../x", "expected a UniProt accession such as P12345"),
        ("rcsb", "../../etc/passwd", "expected a PDB id with an optional chain"),
    ],
)
def test_a_reference_that_is_a_path_is_refused_before_any_fetch(
    any_path_server, tmp_path, capsys, source, ref, expected
):
    url, asked = any_path_server
    ids = tmp_path / "ids.txt"
    ids.write_text(f"good\t{'P11111' if source == 'alphafold' else '1A8O_A'}\nevil\t{ref}\n")
    out = tmp_path / "a" / "b" / "out"
    code = _fetch_structures(ids, out, f"{url}/{{id}}.pdb", "--source", source)
    err = _one_error(capsys, "fetch-structures")
    assert code == 2
    assert f"{ids}:2: {expected}" in err and repr(ref) in err
    assert asked == []
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["ids.txt"]


def test_a_url_without_the_id_placeholder_is_refused(any_path_server, tmp_path, capsys):
    url, asked = any_path_server
    ids = tmp_path / "ids.txt"
    ids.write_text("P11111\nP22222\n")
    code = _fetch_structures(ids, tmp_path / "out", f"{url}/fixed.pdb")
    err = _one_error(capsys, "fetch-structures")
    assert code == 2
    assert f"--url {url}/fixed.pdb: expected a URL template with {{id}}" in err
    assert "got none" in err
    assert asked == [] and sorted(p.name for p in tmp_path.iterdir()) == ["ids.txt"]


def test_a_protein_named_twice_is_refused_naming_both_lines(any_path_server, tmp_path, capsys):
    url, asked = any_path_server
    ids = tmp_path / "ids.txt"
    ids.write_text("prot1\tP12345\nprot2\tP11111\nprot1\tP99999\n")
    code = _fetch_structures(ids, tmp_path / "out", f"{url}/{{id}}.pdb")
    err = _one_error(capsys, "fetch-structures")
    assert code == 2
    assert f"{ids}:3: expected each protein once, got 'prot1' again" in err
    assert "line 1: P12345, line 3: P99999" in err
    assert asked == [] and sorted(p.name for p in tmp_path.iterdir()) == ["ids.txt"]
    # the same line twice loses nothing: it is fetched once
    ids.write_text("P11111\nP11111\n")
    assert _fetch_structures(ids, tmp_path / "out", f"{url}/{{id}}.pdb") == 0
    assert asked == ["/P11111.pdb"]
    mapping = (tmp_path / "out" / "structures.tsv").read_text()
    assert mapping == "id\tpath\tchain\nP11111\tP11111.pdb\t\n"


def test_structures_out_that_is_a_file_is_refused(any_path_server, tmp_path, capsys):
    url, asked = any_path_server
    ids = tmp_path / "ids.txt"
    ids.write_text("P11111\n")
    out = tmp_path / "o"
    out.write_text("mine\n")
    code = _fetch_structures(ids, out, f"{url}/{{id}}.pdb")
    err = _one_error(capsys, "fetch-structures")
    assert code == 2 and f"--out {out}: expected a folder (new or existing), got a file" in err
    assert asked == [] and out.read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.txt", "o"]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda p: p.write_text("x\n"),
            "expected an annotation store (an SQLite file), got a file",
        ),
        (lambda p: p.mkdir(), "expected a file to write, got an existing folder"),
    ],
)
def test_build_into_a_store_that_is_not_sqlite_is_refused(tmp_path, capsys, make, expected):
    store = tmp_path / "s.sqlite"
    make(store)
    code = run(["annotations", "build", "--store", str(store), "--gaf", str(GAF)])
    err = _one_error(capsys, "annotations")
    assert code == 2 and str(store) in err and expected in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["s.sqlite"]
    assert store.is_dir() or store.read_text() == "x\n"


def test_a_store_that_is_sqlite_but_damaged_is_one_line(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    store.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    code = run(["annotations", "build", "--store", str(store), "--gaf", str(GAF)])
    err = _one_error(capsys, "annotations")
    assert code == 2 and f"{store}: expected an annotation store, got " in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite"]


def test_map_out_that_is_a_folder_is_refused_before_reading(tmp_path, capsys):
    ids = tmp_path / "ids.txt"
    ids.write_text("4932.YIL037C\n")
    out = tmp_path / "h.tsv"
    out.mkdir()
    id_map = "example:yeast_swissprot/string_map.tsv"
    code = run(["annotations", "map", "--ids", str(ids), "--id-map", id_map, "--out", str(out)])
    err = _one_error(capsys, "annotations")
    assert code == 2 and f"--out {out}: expected a file to write, got an existing folder" in err
    assert list(out.iterdir()) == [] and capsys.readouterr().out == ""


def test_fetch_uniprot_without_accessions_names_the_ids_and_the_line(tmp_path, capsys):
    ids = tmp_path / "ids.txt"
    ids.write_text("# STRING ids\n4932.YIL037C\n4932.YAL001C\n")
    argv = ["fetch-uniprot", "--ids", str(ids), "--store", str(tmp_path / "s.sqlite")]
    code = run([*argv, "--cache", str(tmp_path / "cache"), "--base-url", "http://127.0.0.1:9"])
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert f"{ids}:2: expected UniProt accessions (or --id-map), got none" in err
    assert "2 ids that are not ('4932.YIL037C', '4932.YAL001C')" in err
    assert captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.txt"]
    ids.write_text("# comments only\n")
    code = run([*argv, "--cache", str(tmp_path / "cache"), "--base-url", "http://127.0.0.1:9"])
    assert code == 2
    assert "expected protein ids, got only comments" in _one_error(capsys, "fetch-uniprot")


def test_fetch_uniprot_into_a_store_that_is_not_sqlite_is_refused_first(tmp_path, capsys):
    ids = tmp_path / "ids.txt"
    ids.write_text("P40534\n")
    store = tmp_path / "s.sqlite"
    store.write_text("x\n")
    argv = ["fetch-uniprot", "--ids", str(ids), "--store", str(store)]
    code = run([*argv, "--cache", str(tmp_path / "cache"), "--base-url", "http://127.0.0.1:9"])
    err = _one_error(capsys, "fetch-uniprot")
    assert code == 2 and f"{store}: expected an annotation store (an SQLite file)" in err
    assert store.read_text() == "x\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.txt", "s.sqlite"]
