"""Two real CPU processes through ``accelerate launch`` report what one process reports."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ppi.bench.train import TWO_CPU_PROCESSES
from ppi.cli import run

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = [sys.executable, *TWO_CPU_PROCESSES]

pytestmark = pytest.mark.multiprocess


def _launch(args, tmp_path, ok=True):
    env = {
        **os.environ,
        "ACCELERATE_USE_CPU": "1",
        "OMP_NUM_THREADS": "1",
        "MASTER_PORT": str(29500 + os.getpid() % 1000),
    }
    done = subprocess.run(
        [*LAUNCH, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert (done.returncode == 0) == ok, done.stderr[-3000:]
    return done


def test_two_process_evaluation_equals_one_process(trained_run, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert run(["evaluate", "--run", str(trained_run), "--out", str(one), "--batch-size", "5"]) == 0
    _launch(
        [
            "-m",
            "ppi",
            "evaluate",
            "--run",
            str(trained_run),
            "--out",
            str(two),
            "--batch-size",
            "5",
        ],
        tmp_path,
    )
    m1 = json.loads((one / "metrics.json").read_text())["test"]
    m2 = json.loads((two / "metrics.json").read_text())["test"]
    assert m1["n"] == m2["n"] == 24
    # calibration errors average float32 probabilities, whose last bits depend on
    # the batch a pair was computed in; every other number is identical
    assert m1 == pytest.approx(m2, rel=1e-6, abs=1e-9)
    assert {k: v for k, v in m1.items() if "ece" not in k} == {
        k: v for k, v in m2.items() if "ece" not in k
    }


def test_two_process_training_script(guo_slice, tmp_path, train_args):
    fasta, pairs = guo_slice
    args = train_args(fasta, pairs, tmp_path, "train.epochs=1", "run_name=two")[1:]
    done = _launch([str(ROOT / "scripts" / "train_ppi.py"), *args], tmp_path)
    assert done.stdout.count("run directory:") == 1  # printed by the main process only
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())["test"]
    assert metrics["n"] == 24


def test_two_process_training_of_the_default_ensemble(guo_slice, tmp_path, train_args):
    """The default's members, each trained by both processes, kept and reported once."""
    fasta, pairs = guo_slice
    args = train_args(fasta, pairs, tmp_path, "train.epochs=1", "run_name=ens", "train.members=0")
    done = _launch([str(ROOT / "scripts" / "train_ppi.py"), *args[1:]], tmp_path)
    assert done.stdout.count("(the mean of 3 members)") == 1  # the main process's report
    run_dir = tmp_path / "ens"
    manifest = json.loads((run_dir / "model" / "ensemble.json").read_text())
    assert len(manifest["members"]) == 3
    assert all((run_dir / "members" / f"seed{s}" / "metrics.json").is_file() for s in (0, 1, 2))
    assert json.loads((run_dir / "metrics.json").read_text())["test"]["n"] == 24


def test_two_process_index_build_splits_the_shards_and_equals_one_process(
    guo_slice, tmp_path, monkeypatch
):
    import numpy as np

    from ppi.homologs.index import HomologyIndex

    tiny = ["backbone.dim=16", "backbone.layers=1", "backbone.heads=2", "backbone.max_len=64"]
    args = [str(guo_slice[0]), *tiny, "shard_size=40"]
    assert run(["build-index", "--out", str(tmp_path / "one"), *args]) == 0
    # a cache of its own, so the two processes really embed rather than read the cache
    monkeypatch.setenv("PPI_CACHE", str(tmp_path / "cache2"))
    done = _launch(["-m", "ppi", "build-index", "--out", str(tmp_path / "two"), *args], tmp_path)
    # the main process embedded half of the 10 shards; the other process the rest
    assert "process 0: 0 shards reused, 5 embedded" in done.stdout + done.stderr
    assert (done.stdout + done.stderr).count("384 proteins, flat index") == 1  # printed once
    one, two = HomologyIndex.open(tmp_path / "one"), HomologyIndex.open(tmp_path / "two")
    assert one.manifest["count"] == two.manifest["count"] > 80
    assert one.metadata["accession"].tolist() == two.metadata["accession"].tolist()
    rows = np.arange(one.manifest["count"])
    np.testing.assert_allclose(one.vectors(rows), two.vectors(rows), atol=1e-5)


def test_two_process_pretrain_scores_each_held_out_sequence_once_and_resumes(tmp_path):
    """Two processes: world size 2 in the metrics, the whole held-out set once, a resume."""
    from ppi.data.examples import resolve
    from ppi.data.fasta import read_fasta, write_fasta

    proteins = read_fasta(resolve("example:yeast_swissprot/uniprot_sprot_yeast.fasta.gz"))
    write_fasta(dict(list(proteins.items())[:150]), tmp_path / "slice.fasta")
    args = [
        *("-m", "ppi", "pretrain", "--out", str(tmp_path / "lm"), str(tmp_path / "slice.fasta")),
        *("backbone.dim=16", "backbone.layers=1", "backbone.heads=2", "backbone.max_len=64"),
        *("pretrain.cluster_measure=kmer", "pretrain.heldout=0.2", "pretrain.batch_tokens=2048"),
        "pretrain.annotations=example:go_yeast/go_annotations.tsv.gz",
        "pretrain.id_map=example:yeast_swissprot/uniprot_sprot_yeast.fasta.gz",
        *("pretrain.min_freq=3", "pretrain.cpu_threads=1", "pretrain.epochs=2"),
    ]
    # the held-out windows fill about ten batches: each process scores every other one
    first = _launch([*args, "pretrain.stop_after=1"], tmp_path)
    assert "2 process(es)" in first.stdout and first.stdout.count("stopped after epoch 1 of 2") == 1
    # switching the retrieval figure on is the same job; the main process alone searches
    second = _launch([*args, "resume=true", "pretrain.retrieval=true"], tmp_path)
    assert "resuming" in second.stdout
    rows = [
        json.loads(line) for line in (tmp_path / "lm" / "metrics.jsonl").read_text().splitlines()
    ]
    held = json.loads((tmp_path / "lm" / "split.json").read_text())["held_out"]
    assert [r["epoch"] for r in rows] == [1, 2]
    windows = sum(math.ceil(len(proteins[p]) / 64) for p in held)  # every residue, max_len 64
    assert all(r["processes"] == 2 and r["heldout_sequences"] == len(held) == 30 for r in rows)
    assert all(r["heldout_windows"] == windows > 30 for r in rows)
    assert all(0 <= r["go_fmax"] <= 1 for r in rows)
    assert "perplexity_ratio_retrieval" not in rows[0]
    assert 0 < rows[1]["perplexity_ratio_retrieval"] <= rows[1]["perplexity_ratio"] * 1.05
    # the two processes' held-out predictions, gathered, are those of the weights in one process
    from ppi.lm.retrieval import retrieval_figures

    again = retrieval_figures(tmp_path / "lm", [str(tmp_path / "slice.fasta")])
    assert again["perplexity_ratio_mixed"] == pytest.approx(
        rows[1]["perplexity_ratio_retrieval"], rel=1e-5
    )
    # the residues trained on are counted on both processes, not the main one's alone
    from ppi.lm import pretrain as pt

    config, data, _ = pt.load_run(tmp_path / "lm", [str(tmp_path / "slice.fasta")])
    for epoch, row in enumerate(rows):
        both = [pt.epoch_batches(data, config, epoch, rank, 2)[0] for rank in (0, 1)]
        mine = [sum(len(s) for seqs, _ in part for s in seqs) for part in both]
        assert row["train_residues"] == sum(mine) and min(mine) > 0
    # one batch an epoch for two processes would leave one without work: refused in one line
    few = [
        a if a != "pretrain.batch_tokens=2048" else "pretrain.batch_tokens=1000000" for a in args
    ]
    few[few.index(str(tmp_path / "lm"))] = str(tmp_path / "few")
    refused = _launch(few, tmp_path, ok=False)
    assert "1 batch(es) an epoch for 2 processes" in refused.stderr
    assert not (tmp_path / "few").exists()  # refused before its split is saved


def test_two_process_pretrain_killed_inside_an_epoch_resumes_to_the_same_weights(tmp_path):
    """pretrain.save_every under two processes: each keeps its generators, the main one the sums."""
    import signal
    import time

    import psutil

    from ppi.data.examples import resolve
    from ppi.data.fasta import read_fasta, write_fasta
    from ppi.lm.trainer import latest_checkpoint

    proteins = read_fasta(resolve("example:yeast_swissprot/uniprot_sprot_yeast.fasta.gz"))
    write_fasta(dict(list(proteins.items())[:150]), tmp_path / "slice.fasta")

    def args(out, *more):
        return [
            *("-m", "ppi", "pretrain", "--out", str(tmp_path / out), str(tmp_path / "slice.fasta")),
            *("backbone.dim=16", "backbone.layers=1", "backbone.heads=2", "backbone.max_len=64"),
            *("pretrain.cluster_measure=kmer", "pretrain.heldout=0.2", "pretrain.batch_tokens=256"),
            *("backbone.dropout=0.1", "pretrain.cpu_threads=1", "pretrain.epochs=2", *more),
        ]

    _launch(args("full"), tmp_path)
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    env["MASTER_PORT"] = str(29500 + os.getpid() % 1000)
    cut = args("cut", "pretrain.save_every=2")
    proc = subprocess.Popen(
        [*LAUNCH, *cut],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    marker = tmp_path / "cut" / "checkpoints" / "epoch_1_batch_2" / "trainer_state.json"
    deadline = time.monotonic() + 300
    while not marker.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    alive = proc.poll() is None
    # the launcher and both workers (torch's elastic agent starts them in their own sessions)
    for p in [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]:
        p.send_signal(signal.SIGKILL)
    proc.wait()
    assert alive and marker.is_file(), "the run ended before it could be killed in epoch 2"
    stopped = latest_checkpoint(tmp_path / "cut").name
    assert stopped.startswith("epoch_1_batch_"), stopped
    # one process would split the epoch's batches otherwise: refused, the checkpoint kept
    assert run([*cut[2:], "resume=true"]) == 2
    assert latest_checkpoint(tmp_path / "cut").name == stopped
    second = _launch([*cut, "resume=true"], tmp_path)
    assert f"after epoch 1, batch {stopped.split('_')[-1]}" in second.stdout
    from safetensors.torch import load_file

    a = load_file(str(tmp_path / "full" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    rows = [
        [json.loads(x) for x in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]
        for d in ("full", "cut")
    ]
    assert [r["epoch"] for r in rows[1]] == [1, 2]
    assert rows[1][-1]["train_loss"] == pytest.approx(rows[0][-1]["train_loss"], rel=1e-9)
    assert rows[1][-1]["train_residues"] == rows[0][-1]["train_residues"]
