"""The downloader against a local HTTP server serving recorded files and errors."""

from __future__ import annotations

import gzip
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from ppi.cli import run
from ppi.data.structure_fetch import StructureFetcher
from ppi.data.structures import read_structure

PDB = Path(__file__).parents[1] / "fixtures" / "structure" / "pdb"
RECORDED = (PDB / "1A8O.pdb").read_bytes()
HTML = b"<!DOCTYPE html><html><body>Sorry, something went wrong</body></html>"


class _Handler(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}
    offline = False  # P7xxxx: the connection drops without an answer

    def do_GET(self):  # noqa: N802 (the http.server API)
        name = self.path.rsplit("/", 1)[-1]
        self.hits[name] = self.hits.get(name, 0) + 1
        if self.offline and name.startswith("AF-P7"):
            self.close_connection = True
            return
        status, body = self._answer(name, self.hits[name])
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    @staticmethod
    def _answer(name: str, hit: int) -> tuple[int, bytes]:
        if name.startswith("AF-P11111"):
            return 200, RECORDED
        if name.startswith("AF-P22222"):
            return 200, gzip.compress(RECORDED)
        if name.startswith("AF-P33333"):  # fails twice, then serves the file
            return (503, b"busy") if hit <= 2 else (200, RECORDED)
        if name.startswith("AF-P44444"):
            return 200, HTML
        if name.startswith("AF-P55555"):
            return 500, b"down"
        if name.startswith("AF-P66666"):  # too slow the first time: the client times out
            if hit == 1:
                time.sleep(1.0)
            return 200, RECORDED
        if name == "1A8O.cif":
            return 200, (PDB / "1A8O.cif").read_bytes()
        return 404, b"not found"

    def log_message(self, *args):
        pass


@pytest.fixture
def server(local_http):
    _Handler.hits = {}
    _Handler.offline = False
    return local_http(_Handler), _Handler.hits


def _fetcher(url: str, out: Path, **kw) -> StructureFetcher:
    template = f"{url}/files/AF-{{id}}-F1-model_v4.pdb"
    return StructureFetcher(out, "alphafold", template, timeout=5, backoff=0.01, rate=1000, **kw)


def test_fetch_records_errors_retries_and_resumes(server, tmp_path):
    url, hits = server
    refs = {p: p for p in ("P11111", "P22222", "P33333", "P44444", "P55555", "P99999")}
    report = _fetcher(url, tmp_path, retries=2).fetch(refs)
    assert sorted(report.fetched) == ["P11111", "P22222", "P33333"]
    assert hits["AF-P33333-F1-model_v4.pdb"] == 3  # two 503s, then the file
    assert "HTML error page" in report.failed["P44444"]
    assert "not found (HTTP 404)" in report.failed["P99999"]
    assert "no answer after 3 attempts (HTTP 500)" in report.unreached["P55555"]
    assert "P55555" not in report.failed
    # a gzipped answer is stored as the plain structure, and parses
    assert read_structure(tmp_path / "P22222.pdb").residues.startswith("MDIRQ")
    mapping = (tmp_path / "structures.tsv").read_text().splitlines()
    assert mapping[0] == "id\tpath\tchain" and len(mapping) == 4
    failures = (tmp_path / "failures.tsv").read_text()
    assert "P99999" in failures and "P44444" in failures and "P55555" not in failures
    assert "P55555" in (tmp_path / "unreached.tsv").read_text()

    before = dict(hits)
    again = _fetcher(url, tmp_path, retries=0).fetch(refs)
    asked = {k: hits[k] - before.get(k, 0) for k in hits if hits[k] != before.get(k, 0)}
    # only the transient failure is asked again; files and permanent failures are not
    assert asked == {"AF-P55555-F1-model_v4.pdb": 1}
    assert sorted(again.cached) == ["P11111", "P22222", "P33333"]
    assert "P99999" in again.failed and list(again.unreached) == ["P55555"]


def test_rcsb_entry_and_chain(server, tmp_path):
    url, _ = server
    fetcher = StructureFetcher(tmp_path, "rcsb", f"{url}/download/{{id}}.cif", rate=1000)
    report = fetcher.fetch({"capsid": "1a8o_A"})
    assert report.fetched == ["capsid"]
    assert (tmp_path / "structures.tsv").read_text().splitlines()[1] == "capsid\t1A8O.cif\tA"


def test_fetch_command(server, tmp_path, capsys):
    url, _ = server
    ids = tmp_path / "ids.txt"
    ids.write_text("P11111\nmine\tP99999\n")
    code = run(
        [
            "fetch-structures",
            "--ids",
            str(ids),
            "--out",
            str(tmp_path / "out"),
            "--url",
            f"{url}/AF-{{id}}-F1-model_v4.pdb",
            "--rate",
            "1000",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "fetched 1, already there 0, without a structure 1" in out


def test_a_slow_answer_times_out_and_is_retried(server, tmp_path):
    url, hits = server
    template = f"{url}/files/AF-{{id}}-F1-model_v4.pdb"
    fetcher = StructureFetcher(
        tmp_path, "alphafold", template, timeout=0.2, backoff=0.01, rate=1000
    )
    report = fetcher.fetch({"P66666": "P66666"})
    assert report.fetched == ["P66666"] and hits["AF-P66666-F1-model_v4.pdb"] == 2
    one_try = StructureFetcher(tmp_path / "b", "alphafold", template, timeout=0.2, retries=0)
    _Handler.hits.pop("AF-P66666-F1-model_v4.pdb")
    failed = one_try.fetch({"P66666": "P66666"}).unreached["P66666"]
    assert "no answer after 1 attempts" in failed and "Timeout" in failed


def test_requests_are_spaced_by_the_rate_limit(server, tmp_path, monkeypatch):
    import ppi.data.structure_fetch as fetch_module

    url, _ = server
    slept = []
    monkeypatch.setattr(fetch_module.time, "sleep", slept.append)  # the clock stands still
    refs = {p: p for p in ("P11111", "P22222", "P99999")}
    _fetcher(url, tmp_path, retries=0).fetch(refs)  # rate=1000: at most 1 ms apart
    assert all(d <= 0.001 for d in slept)
    slept.clear()
    template = f"{url}/files/AF-{{id}}-F1-model_v4.pdb"
    StructureFetcher(tmp_path / "b", "alphafold", template, retries=0, rate=4).fetch(refs)
    assert len(slept) == 2 and all(d == pytest.approx(0.25, abs=0.05) for d in slept)


def _fetch_cli(url, ids, out, *extra):
    argv = ["fetch-structures", "--ids", str(ids), "--out", str(out), "--rate", "1000"]
    return run([*argv, "--url", f"{url}/AF-{{id}}-F1-model_v4.pdb", *extra])


def test_ids_without_an_answer_are_kept_apart_and_asked_again(server, tmp_path, capsys):
    url, hits = server
    ids = tmp_path / "ids.txt"
    ids.write_text("P11111\nP99999\nP77771\nP77772\n")
    _Handler.offline = True
    assert _fetch_cli(url, ids, tmp_path / "out", "--retries", "1") == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the warnings of 404s
    assert last.startswith("ppi fetch-structures: error: ") and "no answer for 2 of 4 ids" in last
    assert "unreached.tsv" in last
    assert hits["AF-P77771-F1-model_v4.pdb"] == 2  # retried once
    failures = (tmp_path / "out" / "failures.tsv").read_text()
    assert "P99999" in failures and "P7777" not in failures  # not "without a structure"
    unreached = (tmp_path / "out" / "unreached.tsv").read_text().splitlines()
    assert [row.split("\t")[0] for row in unreached[1:]] == ["P77771", "P77772"]

    _Handler.offline = False  # the network is back: only the unreached ids are asked
    before = dict(hits)
    assert _fetch_cli(url, ids, tmp_path / "out", "--retries", "1") == 0
    asked = sorted(k for k in hits if hits[k] != before.get(k, 0))
    assert asked == ["AF-P77771-F1-model_v4.pdb", "AF-P77772-F1-model_v4.pdb"]
    assert not (tmp_path / "out" / "unreached.tsv").exists()


def test_a_server_down_for_several_ids_in_a_row_is_not_asked_for_the_rest(server, tmp_path):
    url, hits = server
    _Handler.offline = True
    refs = {f"P7777{i}": f"P7777{i}" for i in range(6)}
    report = _fetcher(url, tmp_path, retries=0).fetch(refs)
    assert list(report.unreached) == list(refs) and not report.failed
    assert len(hits) == 3  # GIVE_UP ids in a row without an answer, then no more requests
    assert "not asked" in report.unreached["P77775"]
