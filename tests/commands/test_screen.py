import csv
import itertools
import json

import pytest

from ppi.cli import run
from ppi.data.fasta import read_fasta, write_fasta
from ppi.inference.screen import Screen


@pytest.fixture(scope="module")
def few(guo_slice, tmp_path_factory):
    """30 real yeast proteins of the Guo slice."""
    proteins = dict(itertools.islice(read_fasta(guo_slice[0]).items(), 30))
    return write_fasta(proteins, tmp_path_factory.mktemp("screen") / "few.fasta")


def _screen(model, fasta, out, *extra):
    return run(["screen", "--model", str(model), "--fasta", str(fasta), "--out", str(out), *extra])


def _rows(path):
    with open(path) as handle:
        return list(csv.reader(handle, delimiter="\t"))


def _scores(model, fasta, out, *which):
    assert run(["score", "--model", str(model), "--fasta", str(fasta), *which, "--out", out]) == 0
    return {(a, b): float(p) for a, b, p in _rows(out)[1:]}


def test_screen_matches_score_all(trained_run, few, tmp_path):
    out = tmp_path / "screen"
    assert _screen(trained_run, few, out, "--block", "7", "--threshold", "0.5", "--top-k", "3") == 0
    scores = _scores(trained_run, few, str(tmp_path / "all.tsv"), "--all")
    assert len(scores) == 30 * 29 // 2
    hits = {(a, b): float(p) for a, b, p in _rows(out / "hits.tsv")}
    assert set(hits) == {pair for pair, p in scores.items() if p >= 0.5}
    for pair, p in hits.items():
        assert p == pytest.approx(scores[pair], abs=2e-6)
    # each protein's top partners are its three best in the full score table
    top = _rows(out / "top_partners.tsv")
    assert top[0] == ["id", "rank", "partner", "probability"] and len(top) == 1 + 30 * 3
    first = top[1][0]
    mine = sorted(
        ((p, b if a == first else a) for (a, b), p in scores.items() if first in (a, b)),
        reverse=True,
    )[:3]
    assert [row[2] for row in top[1:4]] == [partner for _, partner in mine]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pairs"] == 435 and summary["hits"] == len(hits)
    assert sum(summary["histogram"]["counts"]) == 435
    assert (out / "score_histogram.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in out.iterdir()) == [
        "hits.tsv",
        "score_histogram.png",
        "summary.json",
        "top_partners.tsv",
    ]


def test_killed_screen_resumes_after_its_last_block(
    trained_run, few, tmp_path, monkeypatch, capsys
):
    args = ("--block", "6", "--threshold", "0.3")
    assert _screen(trained_run, few, tmp_path / "whole", *args) == 0
    real, calls = Screen.score_block, []

    def dies_on_the_fourth(self, rows, cols, only=None):
        calls.append((rows, cols))
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(self, rows, cols, only)

    monkeypatch.setattr(Screen, "score_block", dies_on_the_fourth)
    out = tmp_path / "resumed"
    assert _screen(trained_run, few, out, *args) == 130
    assert (out / "parts" / "part-0.safetensors").is_file()
    with open(out / "parts" / "hits-0.tsv", "a") as handle:
        handle.write("half a li")  # a line cut off by the kill
    # other settings cannot continue this screen
    capsys.readouterr()
    assert _screen(trained_run, few, out, "--block", "6", "--threshold", "0.4") == 2
    assert "(--threshold differ)" in capsys.readouterr().err
    calls.clear()
    monkeypatch.setattr(
        Screen, "score_block", lambda s, r, c, o=None: calls.append(r) or real(s, r, c, o)
    )
    assert _screen(trained_run, few, out, *args) == 0
    assert len(calls) == 15 - 3  # 5 row blocks -> 15 upper-triangle blocks; 3 were done
    for name in ("hits.tsv", "top_partners.tsv"):
        assert (out / name).read_text() == (tmp_path / "whole" / name).read_text()


def test_n_against_m(trained_run, few, tmp_path):
    proteins = read_fasta(few)
    ids = list(proteins)
    a = write_fasta({i: proteins[i] for i in ids[:4]}, tmp_path / "a.fasta")
    b = write_fasta({i: proteins[i] for i in ids[4:9]}, tmp_path / "b.fasta")
    out = tmp_path / "nm"
    assert (
        _screen(trained_run, a, out, "--against", str(b), "--threshold", "0", "--top-k", "2") == 0
    )
    hits = {(x, y): float(p) for x, y, p in _rows(out / "hits.tsv")}
    assert set(hits) == {(x, y) for x in ids[:4] for y in ids[4:9]}
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"{x}\t{y}\n" for x, y in hits))
    scores = _scores(trained_run, few, str(tmp_path / "s.tsv"), "--pairs", str(pairs))
    for pair, p in hits.items():
        assert p == pytest.approx(scores[pair], abs=2e-6)
    top = _rows(out / "top_partners.tsv")[1:]
    assert len(top) == 4 * 2 + 5 * 2  # each side ranks partners from the other side


def test_duplicate_ids_and_bad_threshold_are_errors(trained_run, few, tmp_path, capsys):
    dup = tmp_path / "dup.fasta"
    dup.write_text(">P1\nMKTAYIAK\n>P2\nMSTNPKPQ\n>P1\nMKTAYIAK\n")
    assert _screen(trained_run, dup, tmp_path / "x") == 2
    err = capsys.readouterr().err
    assert "dup.fasta:5" in err and "'P1'" in err and "line 1" in err
    assert _screen(trained_run, few, tmp_path / "y", "--threshold", "1.5") == 2
    assert "--threshold" in capsys.readouterr().err
