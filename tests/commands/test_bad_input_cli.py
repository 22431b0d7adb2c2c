"""Bad input through the real entry point: exit code, one message, nothing half-written.

Each row of ``ROWS`` is run as ``python -m ppi ...`` in its own folder (the
rows run side by side, a few at a time, since each pays for importing torch).
The concurrency tests below start two real ``ppi`` processes on one output.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

from ppi.data.fasta import read_fasta, write_fasta
from ppi.utils.locks import exclusive

TINY = ["backbone.dim=16", "backbone.layers=1", "backbone.heads=2", "backbone.max_len=64"]
DUMP = Path(__file__).parents[1] / "fixtures" / "uniprot" / "multi_ex.txt"
NO_GPU = not torch.cuda.is_available()


class Row(NamedTuple):
    """One bad command line and what it must give.

    ``argv`` and ``message`` may name ``{model}``, ``{fasta}`` (6 proteins),
    ``{guo}`` and ``{pairs}`` (the Guo slice),
    ``{tmp}`` (the row's folder), ``{closed}`` (a port nobody listens on) and
    ``{pid}`` (this test process, the holder of ``hold``). ``make`` lists files
    to create first (a name ending in ``/`` is a folder), ``hold`` an output
    this process keeps locked during the run, ``absent`` what must not exist
    afterwards (relative to the row's folder).
    """

    argv: list[str]
    code: int
    message: str
    absent: tuple[str, ...] = ()
    make: dict[str, str] = {}
    hold: str = ""


SCORE = ["score", "--model", "{model}", "--fasta", "{fasta}", "--all"]
SCREEN = ["screen", "--model", "{model}", "--fasta", "{fasta}"]
SCORE_OUT = ("o.tsv", "o.tsv.partial", "o.tsv.partial.json", "o.tsv.lock")
OTHER_INPUTS = json.dumps(
    {
        "--model": "another",
        "--fasta": "other",
        "--pairs/--all": "P",
        "columns": "id_a\tid_b\tprobability",
    }
)

ROWS = {
    # item 2: counts, sizes and probabilities are checked while parsing
    "score --batch-size 0": Row(
        [*SCORE, "--out", "{tmp}/o.tsv", "--batch-size", "0"],
        2,
        "argument --batch-size: expected a whole number >= 1, got 0",
        SCORE_OUT,
    ),
    "score --batch-size -5": Row(
        [*SCORE, "--out", "{tmp}/o.tsv", "--batch-size", "-5"],
        2,
        "argument --batch-size: expected a whole number >= 1, got -5",
        SCORE_OUT,
    ),
    "screen --top-k 0": Row(
        [*SCREEN, "--out", "{tmp}/s", "--top-k", "0"],
        2,
        "argument --top-k: expected a whole number >= 1, got 0",
        ("s", "s.lock"),
    ),
    "screen --block -1": Row(
        [*SCREEN, "--out", "{tmp}/s", "--block", "-1"],
        2,
        "argument --block: expected a whole number >= 1",
        ("s",),
    ),
    "screen --threshold nan": Row(
        [*SCREEN, "--out", "{tmp}/s", "--threshold", "nan"],
        2,
        "argument --threshold: expected a probability in [0, 1], got nan",
        ("s",),
    ),
    "screen --threads -2": Row(
        [*SCREEN, "--out", "{tmp}/s", "--threads", "-2"],
        2,
        "argument --threads: expected a whole number >= 0, got -2",
        ("s",),
    ),
    "evaluate --batch-size 0": Row(
        ["evaluate", "--run", "{model}", "--out", "{tmp}/e", "--batch-size", "0"],
        2,
        "argument --batch-size: expected a whole number >= 1",
        ("e",),
    ),
    "evaluate --prevalence 0": Row(
        ["evaluate", "--run", "{model}", "--out", "{tmp}/e", "--prevalence", "0"],
        2,
        "argument --prevalence: expected a positive fraction in (0, 1), got 0",
        ("e",),
    ),
    "ablate --batch-size 0": Row(
        ["ablate", "--out", "{tmp}/a", "--mask", "--run", "{model}", "--batch-size", "0"],
        2,
        "argument --batch-size: expected a whole number >= 1",
        ("a",),
    ),
    "search -k 0": Row(
        ["search", "--index", "{tmp}/i", "--fasta", "{fasta}", "--out", "{tmp}/h.tsv", "-k", "0"],
        2,
        "argument -k: expected a whole number >= 1, got 0",
        ("h.tsv",),
    ),
    "split --valid 1": Row(
        ["split", "--pairs", "{pairs}", "--out", "{tmp}/sp", "--valid", "1"],
        2,
        "argument --valid: expected a share in [0, 1), got 1",
        ("sp",),
    ),
    "split --limit -1": Row(
        ["split", "--pairs", "{pairs}", "--out", "{tmp}/sp", "--limit", "-1"],
        2,
        "argument --limit: expected a whole number >= 0, got -1",
        ("sp",),
    ),
    "tune --trials 0": Row(
        ["tune", "--out", "{tmp}/t", "--trials", "0"],
        2,
        "argument --trials: expected a whole number >= 1, got 0",
        ("t",),
    ),
    "tune --prune-below nan": Row(
        ["tune", "--out", "{tmp}/t", "--prune-below", "nan"],
        2,
        "argument --prune-below: expected a number in [0, inf), got nan",
        ("t",),
    ),
    "fetch-uniprot --batch-size 0": Row(
        ["fetch-uniprot", "--ids", "{fasta}", "--store", "{tmp}/a.db", "--batch-size", "0"],
        2,
        "argument --batch-size: expected a whole number >= 1",
        ("a.db",),
    ),
    "fetch-structures --timeout 0": Row(
        ["fetch-structures", "--ids", "{tmp}/ids.txt", "--out", "{tmp}/st", "--timeout", "0"],
        2,
        "argument --timeout: expected a number in (0, inf), got 0",
        ("st",),
        {"ids.txt": "P12345\n"},
    ),
    "fetch-structures --retries -1": Row(
        ["fetch-structures", "--ids", "{tmp}/ids.txt", "--out", "{tmp}/st", "--retries", "-1"],
        2,
        "argument --retries: expected a whole number >= 0, got -1",
        ("st",),
        {"ids.txt": "P12345\n"},
    ),
    # item 8: output paths are checked before any work
    "score --out <a folder>": Row(
        [*SCORE, "--out", "{tmp}/there"],
        2,
        "--out {tmp}/there: expected a file to write, got an existing folder",
        ("there.partial", "there.partial.json", "there.lock"),
        {"there/": ""},
    ),
    "score --out <a folder to be>": Row(
        [*SCORE, "--out", "{tmp}/new/"],
        2,
        "--out {tmp}/new/: expected a file to write, got a folder (ending in /)",
        ("new", "new.partial", "new.lock"),
    ),
    "score --out <under a file>": Row(
        [*SCORE, "--out", "{tmp}/f/o.tsv"],
        2,
        "expected {tmp}/f to be a folder, got a file",
        ("f.lock",),
        {"f": "a file"},
    ),
    "screen --out <a file>": Row(
        [*SCREEN, "--out", "{tmp}/hits"],
        2,
        "--out {tmp}/hits: expected a folder (new or existing), got a file",
        ("hits.lock", "hits.partial"),
        {"hits": "a file\n"},
    ),
    "screen <one protein>": Row(
        ["screen", "--model", "{model}", "--fasta", "{tmp}/one.fasta", "--out", "{tmp}/s"],
        2,
        "{tmp}/one.fasta: expected at least 2 proteins to screen all pairs among, got 1",
        ("s", "s.lock"),
        {"one.fasta": ">a\nMKVLAAGIVGLLLA\n"},
    ),
    # item 9: a device this machine lacks
    "score --device cuda": Row(
        [*SCORE, "--out", "{tmp}/o.tsv", "--device", "cuda"],
        2,
        "--device cuda: no GPU is visible",
        SCORE_OUT,
    ),
    "screen --device cuda": Row(
        [*SCREEN, "--out", "{tmp}/s", "--device", "cuda"], 2, "no GPU is visible", ("s",)
    ),
    "score --device gpu": Row(
        [*SCORE, "--out", "{tmp}/o.tsv", "--device", "gpu"],
        2,
        "--device: expected cpu, cuda or cuda:N, got 'gpu'",
        SCORE_OUT,
    ),
    # item 1: a partial score of other inputs is not continued
    "score over a partial of other inputs": Row(
        [*SCORE, "--out", "{tmp}/o.tsv"],
        2,
        "o.tsv.partial: an unfinished score of other inputs (--model, --fasta, --pairs/--all "
        "differ)",
        ("o.tsv", "o.tsv.lock"),
        {
            "o.tsv.partial": "id_a\tid_b\tprobability\nA\tB\t0.5\n",
            "o.tsv.partial.json": OTHER_INPUTS,
        },
    ),
    "score over a partial without its record": Row(
        [*SCORE, "--out", "{tmp}/o.tsv"],
        2,
        "(no readable record of them in o.tsv.partial.json)",
        ("o.tsv",),
        {"o.tsv.partial": "id_a\tid_b\tprobability\nA\tB\t0.5\n"},
    ),
    # item 3: an output another process is writing
    "score --out <locked>": Row(
        [*SCORE, "--out", "{tmp}/o.tsv"],
        2,
        "--out {tmp}/o.tsv: another process is writing it (pid {pid} on",
        ("o.tsv", "o.tsv.partial"),
        hold="o.tsv",
    ),
    "train into a locked run directory": Row(
        ["train", *TINY, "data.fasta={guo}", "data.train={pairs}", "output_dir={tmp}/runs"]
        + ["run_name=r"],
        2,
        "run directory {tmp}/runs/r: another process is writing it (pid {pid} on",
        ("runs/r",),
        hold="runs/r",
    ),
    "build-index into a locked folder": Row(
        ["build-index", "--out", "{tmp}/idx", str(DUMP), *TINY],
        2,
        "--out {tmp}/idx: another process is writing it (pid {pid} on",
        ("idx",),
        hold="idx",
    ),
    # item 4: no network
    "fetch-structures without network": Row(
        ["fetch-structures", "--ids", "{tmp}/ids.txt", "--out", "{tmp}/st", "--retries", "1"]
        + ["--url", "http://127.0.0.1:{closed}/{{id}}.pdb"],
        2,
        "no answer for 2 of 2 ids",
        ("st/P12345.pdb",),
        {"ids.txt": "P12345\nP67890\n"},
    ),
    # handled before this test existed
    "score with an id not in the FASTA": Row(
        ["score", "--model", "{model}", "--fasta", "{fasta}", "--pairs", "{tmp}/p.tsv"]
        + ["--out", "{tmp}/o.tsv"],
        2,
        "ZZZ",
        SCORE_OUT,
        {"p.tsv": "A\tZZZ\n"},
    ),
    "screen of a FASTA with a repeated id": Row(
        ["screen", "--model", "{model}", "--fasta", "{tmp}/d.fasta", "--out", "{tmp}/s"],
        2,
        "duplicate id 'P1'",
        ("s", "s.lock"),
        {"d.fasta": ">P1\nMKTAYIAK\n>P1\nMKTAYIAK\n"},
    ),
    "train with an unknown key": Row(
        ["train", "train.epoch=3", "output_dir={tmp}/runs"],
        2,
        "Unknown config key 'train.epoch'",
        ("runs",),
    ),
}
GPU_ROWS = {"score --device cuda", "screen --device cuda"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(base: Path) -> dict[str, str]:
    return {**os.environ, "PPI_CACHE": str(base / "ppi-cache"), "OMP_NUM_THREADS": "1"}


def _run_row(row: Row, tmp: Path, fill: dict[str, str], env: dict[str, str]):
    for name, text in row.make.items():
        path = tmp / name
        path.mkdir(parents=True) if name.endswith("/") else path.write_text(text)
    argv = [arg.format(**fill) for arg in row.argv]
    with ExitStack() as held:
        if row.hold:
            held.enter_context(exclusive(tmp / row.hold))
        command = [sys.executable, "-m", "ppi", *argv]
        try:
            return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        except subprocess.TimeoutExpired:  # a row that got to work instead of refusing
            return subprocess.CompletedProcess(command, -9, "", "timed out after 120 s")


@pytest.fixture(scope="module")
def outcomes(trained_run, guo_slice, tmp_path_factory):
    """Every row run through ``python -m ppi``: ``{name: (process, folder, placeholders)}``."""
    base = tmp_path_factory.mktemp("bad-cli")
    fasta, pairs = guo_slice
    few = write_fasta(dict(itertools.islice(read_fasta(fasta).items(), 6)), base / "few.fasta")
    names = [n for n in ROWS if not (n in GPU_ROWS and not NO_GPU)]
    folders = {n: base / f"row{i}" for i, n in enumerate(names)}
    fills = {
        n: {
            "model": str(trained_run),
            "fasta": str(few),
            "pairs": str(pairs),
            "guo": str(fasta),
            "tmp": str(folders[n]),
            "closed": str(_closed_port()),
            "pid": str(os.getpid()),
        }
        for n in names
    }
    for folder in folders.values():
        folder.mkdir()
    env = _env(base)
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        futures = {n: pool.submit(_run_row, ROWS[n], folders[n], fills[n], env) for n in names}
    return {n: (futures[n].result(), folders[n], fills[n]) for n in names}


@pytest.mark.parametrize("name", sorted(ROWS))
def test_bad_command_line(name, outcomes):
    if name in GPU_ROWS and not NO_GPU:
        pytest.skip("a GPU is visible here")
    row = ROWS[name]
    done, folder, fill = outcomes[name]
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert done.returncode == row.code, output
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ppi {row.argv[0]}: error: "), output
    assert row.message.format(**fill) in last, output
    assert "usage: ppi" not in done.stderr, output  # argparse's usage would be lines more
    left = [a for a in row.absent if (folder / a).exists()]
    assert not left, f"left behind: {left}"


# -- two runs on one output ------------------------------------------------------------


def _start(argv, env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ppi", *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _holding(process: subprocess.Popen, lock: Path, seconds: float = 120) -> None:
    """Wait until ``process`` holds ``lock`` (its pid is written in the lock file)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if lock.is_file() and lock.read_text().startswith(f"{process.pid}\t"):
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    pytest.fail(f"{lock} was not taken")


def _race(argv, lock: Path, env) -> tuple[int, tuple[int, str, str], tuple[int, str, str]]:
    """Start a run; while it holds ``lock`` (paused), run the same command to its end.

    The first run is stopped with SIGSTOP while the second runs, so the two
    overlap however fast the machine is; then it continues and finishes.
    Returns the first's pid and each run's exit code, stdout and stderr.
    """
    first = _start(argv, env)
    try:
        _holding(first, lock)
        first.send_signal(signal.SIGSTOP)
        second = _start(argv, env)
        out2, err2 = second.communicate(timeout=300)
        first.send_signal(signal.SIGCONT)
        out1, err1 = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    return first.pid, (first.returncode, out1, err1), (second.returncode, out2, err2)


def _check_second_refused(first, second, out: Path, pid_of_first: int) -> None:
    code, stdout, stderr = second
    assert code == 2, stderr
    assert f"--out {out}: another process is writing it (pid {pid_of_first} on" in stderr, stderr
    assert "Traceback" not in stdout + stderr + first[1] + first[2]
    assert first[0] == 0, first[2]


@pytest.fixture
def proteins(guo_slice, tmp_path):
    """30 real yeast proteins: 435 pairs."""
    chosen = dict(itertools.islice(read_fasta(guo_slice[0]).items(), 30))
    return write_fasta(chosen, tmp_path / "p.fasta"), list(chosen)


def test_two_scores_on_one_out(trained_run, proteins, tmp_path):
    fasta, ids = proteins
    out = tmp_path / "o.tsv"
    argv = ["score", "--model", trained_run, "--fasta", fasta, "--all", "--out", out]
    argv += ["--batch-size", "20"]
    pid, first, second = _race(argv, tmp_path / "o.tsv.lock", _env(tmp_path))
    _check_second_refused(first, second, out, pid)
    assert "scored 435 pairs" in first[1]
    rows = out.read_text().splitlines()
    assert rows[0] == "id_a\tid_b\tprobability"
    assert [tuple(r.split("\t")[:2]) for r in rows[1:]] == list(itertools.combinations(ids, 2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.tsv", "p.fasta", "ppi-cache"]


def test_two_screens_on_one_out_folder(trained_run, proteins, tmp_path):
    fasta, ids = proteins
    out = tmp_path / "screen"
    argv = ["screen", "--model", trained_run, "--fasta", fasta, "--out", out]
    argv += ["--block", "8", "--threshold", "0.0", "--top-k", "3"]
    pid, first, second = _race(argv, tmp_path / "screen.lock", _env(tmp_path))
    _check_second_refused(first, second, out, pid)
    hits = [tuple(line.split("\t")[:2]) for line in (out / "hits.tsv").read_text().splitlines()]
    pairs = {frozenset(p) for p in itertools.combinations(ids, 2)}
    assert len(hits) == len(set(hits)) == 435 and {frozenset(h) for h in hits} == pairs
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hits"] == 435 and summary["pairs"] == 435
    assert "435 at or above 0" in first[1]
    assert not (tmp_path / "screen.lock").exists()
