"""``ppi screen`` over two real CPU processes, resumed across process counts, and its prefilter."""

import csv
import itertools
import json
import os
import subprocess
import sys
import textwrap

import pytest

from ppi.bench.train import TWO_CPU_PROCESSES
from ppi.cli import run
from ppi.data.fasta import read_fasta, write_fasta
from ppi.inference.screen import Screen


@pytest.fixture(scope="module")
def few(guo_slice, tmp_path_factory):
    """30 real yeast proteins of the Guo slice, and two sets of 6 and 9 of them."""
    proteins = dict(itertools.islice(read_fasta(guo_slice[0]).items(), 30))
    ids, folder = list(proteins), tmp_path_factory.mktemp("sharded")
    a = write_fasta({i: proteins[i] for i in ids[:6]}, folder / "a.fasta")
    b = write_fasta({i: proteins[i] for i in ids[6:15]}, folder / "b.fasta")
    return write_fasta(proteins, folder / "few.fasta"), a, b


def _screen(model, fasta, out, *extra):
    return run(["screen", "--model", str(model), "--fasta", str(fasta), "--out", str(out), *extra])


def _same(one, two):
    """The same pairs in the same order, probabilities equal to 1e-6, the same histogram.

    Written with six decimals, a probability whose float32 sum rounds the other
    way in another process shows as 1e-6 apart; the histogram's counts are in
    ``summary.json``.
    """
    for name in ("hits.tsv", "top_partners.tsv"):
        rows_one, rows_two = _rows(one / name), _rows(two / name)
        assert rows_one and len(rows_one) == len(rows_two), name
        for r1, r2 in zip(rows_one, rows_two, strict=True):
            words = [(a, b) for a, b in zip(r1, r2, strict=True) if a != b]
            assert all(abs(float(a) - float(b)) <= 1.5e-6 for a, b in words), (name, r1, r2)
    timing = ("seconds", "pairs_per_second")
    s1, s2 = (json.loads((d / "summary.json").read_text()) for d in (one, two))
    assert {k: v for k, v in s1.items() if k not in timing} == {
        k: v for k, v in s2.items() if k not in timing
    }


LAUNCHED = """
import os, sys
from ppi.cli import run
from ppi.utils.distributed import end_process
model, few, a, b, other, out = sys.argv[1:]
rank = int(os.environ["RANK"])
codes = [
    run(["screen", "--model", model, "--fasta", few, "--out", out + "/resumed", "--block", "6",
         "--threshold", "0.3"]),
    run(["screen", "--model", model, "--fasta", a, "--against", b, "--out", out + "/nxm",
         "--block", "2", "--threshold", "0", "--top-k", "3"]),
    # process 1 is given another FASTA than the main process
    run(["screen", "--model", model, "--fasta", few if rank == 0 else other,
         "--out", out + "/refused"]),
]
print(f"codes {rank}: {codes}")
end_process(0, "screen")
"""


@pytest.mark.multiprocess
def test_two_processes_resume_a_one_process_screen_and_write_what_one_process_writes(
    trained_run, few, tmp_path, monkeypatch
):
    fasta, a, b = few
    args = ("--block", "6", "--threshold", "0.3")
    assert _screen(trained_run, fasta, tmp_path / "whole", *args) == 0
    nxm = ("--against", str(b), "--block", "2", "--threshold", "0", "--top-k", "3")
    assert _screen(trained_run, a, tmp_path / "nxm-one", *nxm) == 0
    # one process is killed after 3 of the 15 blocks
    real, calls = Screen.score_block, []

    def dies_on_the_fourth(self, rows, cols, only=None):
        calls.append(rows)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(self, rows, cols, only)

    monkeypatch.setattr(Screen, "score_block", dies_on_the_fourth)
    assert _screen(trained_run, fasta, tmp_path / "resumed", *args) == 130
    monkeypatch.undo()
    other = write_fasta(dict(itertools.islice(read_fasta(fasta).items(), 12)), tmp_path / "o.fa")
    script = tmp_path / "launched.py"
    script.write_text(textwrap.dedent(LAUNCHED))
    env = {
        **os.environ,
        "ACCELERATE_USE_CPU": "1",
        "OMP_NUM_THREADS": "1",
        "MASTER_PORT": str(29700 + os.getpid() % 1000),
    }
    argv = [trained_run, fasta, a, b, other, tmp_path]
    done = subprocess.run(
        [sys.executable, *TWO_CPU_PROCESSES, str(script), *map(str, argv)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "codes 0: [0, 0, 2]" in log and "codes 1: [0, 0, 2]" in log
    # the two processes scored the 12 missing blocks between them, and only those
    assert "process 0 of 2: 6 blocks to score (3 of 15 done before)" in log
    assert "process 1 of 2: 6 blocks to score (3 of 15 done before)" in log
    _same(tmp_path / "whole", tmp_path / "resumed")
    _same(tmp_path / "nxm-one", tmp_path / "nxm")
    assert "process 1 was given other arguments than the main process (--fasta differ)" in log
    assert not (tmp_path / "refused").exists()


def _rows(path):
    with open(path) as handle:
        return list(csv.reader(handle, delimiter="\t"))


def test_prefilter_scores_few_pairs_and_finds_the_best_partners(trained_run, few, tmp_path):
    import shutil

    fasta = few[0]
    model = tmp_path / "model"
    shutil.copytree(trained_run / "model", model)
    assert (
        run(
            [
                "distill",
                "--model",
                str(model),
                "--fasta",
                str(fasta),
                "--queries",
                "30",
                "--epochs",
                "100",
                "--fraction",
                "0.3",
            ]
        )
        == 0
    )
    assert (model / "retrieval.safetensors").is_file()
    extra = ("--block", "7", "--threshold", "0.5", "--top-k", "3")
    assert _screen(model, fasta, tmp_path / "all", *extra) == 0
    assert _screen(model, fasta, tmp_path / "pre", *extra, "--prefilter", "0.3") == 0
    summary = json.loads((tmp_path / "pre" / "summary.json").read_text())
    assert summary["pairs"] == 435 and summary["pairs_scored"] + summary["pairs_skipped"] == 435
    assert 0 < summary["pairs_scored"] < 435 * 0.6
    full = {tuple(r[:2]): float(r[2]) for r in _rows(tmp_path / "all" / "hits.tsv")}
    kept = {tuple(r[:2]): float(r[2]) for r in _rows(tmp_path / "pre" / "hits.tsv")}
    for pair, p in kept.items():  # every reported probability is the full pair stage's
        assert p == pytest.approx(full[pair], abs=2e-6)
    assert len(set(full) & set(kept)) >= 0.9 * len(full)
    best = {(r[0], r[2]) for r in _rows(tmp_path / "all" / "top_partners.tsv")[1:]}
    found = {(r[0], r[2]) for r in _rows(tmp_path / "pre" / "top_partners.tsv")[1:]}
    assert len(best & found) >= 0.9 * len(best)


def test_prefilter_without_a_retrieval_vector_says_how_to_add_one(
    trained_run, few, tmp_path, capsys
):
    assert _screen(trained_run, few[0], tmp_path / "out", "--prefilter", "0.05") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no retrieval vector; add one with ppi distill" in err[0]
    assert not any(tmp_path.iterdir())
