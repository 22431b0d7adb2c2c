import json

from ppi.cli import run
from ppi.data.annotation_store import AnnotationStore


def _fetch(server, tmp_path, ids, *extra):
    return run(
        [
            "fetch-uniprot",
            "--ids",
            str(ids),
            "--store",
            str(tmp_path / "s.sqlite"),
            "--cache",
            str(tmp_path / "cache"),
            "--base-url",
            server.base,
            "--rate",
            "0",
            "--retries",
            "1",
            *extra,
        ]
    )


def test_fetch_stores_reports_merged_and_fails_on_unknown(
    uniprot_server, tmp_path, make_entry, capsys
):
    ids = tmp_path / "ids.txt"
    ids.write_text("P40534\nQ00001\nP99999\n")
    entries = [make_entry("P40534"), make_entry("P40454", secondary=["Q00001"])]
    uniprot_server.replies = [(200, {}, json.dumps({"results": entries}), 0)]
    assert _fetch(uniprot_server, tmp_path, ids) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "UniProt knows 1 accession(s) not: P99999" in err
    assert "merged: 1 (Q00001)" in captured.out
    store = AnnotationStore(tmp_path / "s.sqlite")
    assert store.accessions() == {"P40534", "P40454", "Q00001"}  # merged: under both names
    got = {
        (a.term, a.namespace, a.evidence, a.source) for a in store.annotations(["P40534"])["P40534"]
    }
    assert got == {
        ("GO:0005737", "go_cc", "IDA", "uniprot-rest"),
        ("KW-0963", "keyword", "", "uniprot-rest"),
    }
    report = (tmp_path / "s.fetch_report.tsv").read_text().splitlines()
    assert report[1:] == ["P40534\tfound\t", "Q00001\tmerged\tP40454", "P99999\tunknown\t"]
    # a rerun asks nothing (all outcomes cached) and may accept unknown accessions
    assert _fetch(uniprot_server, tmp_path, ids, "--allow-unknown") == 0
    assert len(uniprot_server.requests) == 1


def test_ids_that_are_not_accessions_fail_before_any_request(uniprot_server, tmp_path, capsys):
    ids = tmp_path / "ids.txt"
    ids.write_text("4932.YIL037C\n")
    assert _fetch(uniprot_server, tmp_path, ids) == 2
    assert "expected UniProt accessions (or --id-map), got none" in capsys.readouterr().err
    assert uniprot_server.requests == []
    uniprot_server.replies = [(200, {}, json.dumps({"results": []}), 0)]
    assert (
        _fetch(uniprot_server, tmp_path, ids, "--id-map", "example:yeast_swissprot/string_map.tsv")
        == 2
    )
    assert "UniProt knows 1 accession(s) not: P40534" in capsys.readouterr().err
    assert not uniprot_server.requests[0][0].count("4932")  # the mapped accession was asked


def test_server_failure_is_one_line_and_writes_no_store(uniprot_server, tmp_path, capsys):
    ids = tmp_path / "ids.txt"
    ids.write_text("P40534\n")
    uniprot_server.replies = [(503, {"Retry-After": "0"}, "down", 0)] * 2
    assert _fetch(uniprot_server, tmp_path, ids) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "got HTTP 503 after 2 attempts" in err
    assert not (tmp_path / "s.sqlite").exists()
