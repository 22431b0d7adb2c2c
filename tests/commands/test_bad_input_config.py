"""Bad settings, data and model folders through the real entry point: one line, nothing left behind.

Each row is ``(argv, exit code, message fragment, paths that must not exist
afterwards)``, run as ``python -m ppi ...`` in a subprocess. The rows start
together (the interpreter's start-up dominates each), then every row is its
own test. No output may contain a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import pytest


class Row(NamedTuple):
    argv: str
    code: int
    message: str
    absent: tuple[str, ...] = ()


TINY = (
    "backbone.dim=16 backbone.layers=1 backbone.heads=2 backbone.max_len=64 fusion.dim=16 "
    "fusion.heads=2 fusion.latents=4 head.hidden=16 train.log_with=[]"
).split()
TRAIN = " ".join([*TINY, "data.fasta={fasta}", "data.train={pairs}", "output_dir={tmp}/runs"])
MODEL = "--fasta {fasta} --pairs {pairs} --out {tmp}/ev-{name}"
RUNS = ("runs",)

ROWS = {
    # settings (item 5): refused before config.yaml or splits/ exist
    "lr-negative": Row(
        f"train {TRAIN} train.lr=-1", 2, "train.lr: expected a number in (0, inf), got -1.0", RUNS
    ),
    "lr-nan": Row(
        f"train {TRAIN} train.lr=nan", 2, "train.lr: expected a number in (0, inf), got nan", RUNS
    ),
    "batch-size-0": Row(
        f"train {TRAIN} train.batch_size=0",
        2,
        "train.batch_size: expected an integer in [1, inf), got 0",
        RUNS,
    ),
    "eval-batch-size": Row(
        f"train {TRAIN} train.eval_batch_size=-1",
        2,
        "train.eval_batch_size: expected an integer in [1, inf), got -1",
        RUNS,
    ),
    "epochs-0": Row(
        f"train {TRAIN} train.epochs=0",
        2,
        "train.epochs: expected an integer in [1, inf), got 0",
        RUNS,
    ),
    "grad-accum-0": Row(
        f"train {TRAIN} train.grad_accum=0",
        2,
        "train.grad_accum: expected an integer in [1, inf), got 0",
        RUNS,
    ),
    "heads-not-dividing": Row(
        f"train {TRAIN} fusion.dim=32 fusion.heads=3",
        2,
        "fusion.dim: expected a multiple of heads (3), got 32",
        RUNS,
    ),
    "fusion-dim-0": Row(
        f"train {TRAIN} fusion.dim=0", 2, "fusion.dim: expected an integer in [1, inf), got 0", RUNS
    ),
    "prevalence-2": Row(
        f"train {TRAIN} evaluation.prevalence=2",
        2,
        "evaluation.prevalence: expected a number in (0, 1), got 2.0",
        RUNS,
    ),
    "max-len-0": Row(
        f"train {TRAIN} backbone.max_len=0",
        2,
        "backbone.max_len: expected an integer in [1, inf), got 0",
        RUNS,
    ),
    "warmup-5": Row(
        f"train {TRAIN} train.warmup=5",
        2,
        "train.warmup: expected a number in [0, 1), got 5.0",
        RUNS,
    ),
    "train-not-a-mapping": Row(
        f"train {TRAIN} train=5", 2, "train: expected a mapping of keys, got 5", RUNS
    ),
    "backbone-a-name": Row(
        f"train {TRAIN} backbone=esm2",
        2,
        "backbone: expected a mapping with a 'name', got 'esm2' (write backbone.name=esm2)",
        RUNS,
    ),
    "unknown-key": Row(f"train {TRAIN} train.epoch=3", 2, "Unknown config key 'train.epoch'", RUNS),
    # data (items 6, 10 and what was handled before)
    "one-class": Row(
        f"train {TRAIN} data.train={{tmp}}/positive.tsv data.valid_split=random",
        2,
        "positive.tsv (train split): expected positive and negative pairs",
        RUNS,
    ),
    "conflicts": Row(
        f"train {TRAIN} data.train={{tmp}}/conflicts.tsv data.valid_split=random",
        2,
        "conflicts.tsv: 3 pairs repeat an earlier pair with a different label",
        RUNS,
    ),
    "not-utf8": Row(
        f"train {TRAIN} data.train={{tmp}}/latin1.tsv",
        2,
        "latin1.tsv:3: expected UTF-8 text, got undecodable byte",
        RUNS,
    ),
    "bad-residue": Row(
        f"train {TRAIN} data.fasta={{tmp}}/bad.fasta", 2, "invalid residue '7' at position 3", RUNS
    ),
    "missing-fasta": Row(f"train {TRAIN} data.fasta={{tmp}}/none.fasta", 2, "none.fasta", RUNS),
    # resume (item 7): which settings differ; a refused pickle names its file
    "resume-wider": Row(
        "train resume={tmp}/run backbone.dim=32",
        2,
        "settings differ from the run being resumed ({tmp}/run/config.yaml): "
        "backbone.dim: 16 there, 32 now",
        ("run/checkpoints/epoch_3",),
    ),
    "resume-refused-pickle": Row(
        "train resume={tmp}/pickled train.epochs=3",
        2,
        "pickled/checkpoints/epoch_2/optimizer.bin: cannot be loaded to resume "
        "(its pickle holds what weights_only loading refuses: Unsupported global",
        ("pickled/checkpoints/epoch_3",),
    ),
    # evaluate (items 5, 6, 7)
    "evaluate-prevalence-0": Row(
        f"evaluate --model {{run}}/model {MODEL} --prevalence 0",
        2,
        "argument --prevalence: expected a positive fraction in (0, 1), got 0",
        ("ev-evaluate-prevalence-0",),
    ),
    "evaluate-prevalence-nan": Row(
        f"evaluate --model {{run}}/model {MODEL} --prevalence nan",
        2,
        "argument --prevalence: expected a positive fraction in (0, 1), got nan",
        ("ev-evaluate-prevalence-nan",),
    ),
    "evaluate-one-class": Row(
        "evaluate --model {run}/model --fasta {fasta} --pairs {tmp}/positive.tsv "
        "--out {tmp}/ev-one",
        0,
        "not defined for these labels (120 with label 1): aupr, auroc",
    ),
    "truncated-weights": Row(
        f"evaluate --model {{tmp}}/truncated {MODEL}",
        2,
        "truncated/model.safetensors: not a readable safetensors file, damaged or truncated",
        ("ev-truncated-weights",),
    ),
    "malformed-json": Row(
        f"evaluate --model {{tmp}}/malformed {MODEL}",
        2,
        "malformed/config.json: not valid JSON",
        ("ev-malformed-json",),
    ),
    "edited-width": Row(
        f"evaluate --model {{tmp}}/wider {MODEL}",
        2,
        "wider/model.safetensors: 3 weight(s) have another shape than config.json builds",
        ("ev-edited-width",),
    ),
    "model-unknown-key": Row(
        f"evaluate --model {{tmp}}/unknown {MODEL}",
        2,
        "unknown/config.json: Unknown config key 'head.hiden'",
        ("ev-model-unknown-key",),
    ),
    # build-index (item 10)
    "index-bad-fasta": Row(
        "build-index --out {tmp}/idx {tmp}/bad.fasta backbone.dim=16 backbone.heads=2",
        2,
        "bad.fasta:2: record 'A': invalid residue '7'",
        ("idx",),
    ),
}


def _edit_config(folder, change):
    path = folder / "config.json"
    meta = json.loads(path.read_text())
    change(meta["config"])
    path.write_text(json.dumps(meta))


def _model_copies(tmp, model):
    """Damaged copies of a trained model folder, one per way of damaging it."""
    for name in ("truncated", "malformed", "wider", "unknown"):
        shutil.copytree(model, tmp / name)
    weights = tmp / "truncated" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    config = tmp / "malformed" / "config.json"
    config.write_text(config.read_text()[:-30])
    _edit_config(tmp / "wider", lambda c: c["head"].update(hidden=32))
    _edit_config(tmp / "unknown", lambda c: c["head"].update(hiden=32))


def _run_copies(tmp, run_dir):
    """Copies of a finished two-epoch run: one to resume as is, one with a refused pickle."""
    import argparse

    import torch

    shutil.copytree(run_dir, tmp / "run")
    shutil.copytree(run_dir, tmp / "pickled")
    torch.save(
        {"state": argparse.Namespace(a=1)}, tmp / "pickled/checkpoints/epoch_2/optimizer.bin"
    )


def _data_files(tmp, pairs):
    lines = pairs.read_text().splitlines()
    rows = [line.split("\t") for line in lines[1:]]
    (tmp / "positive.tsv").write_text(
        "\n".join(lines[:1] + [line for line in lines[1:] if line.endswith("\t1")]) + "\n"
    )
    flipped = [f"{b}\t{a}\t{1 - int(y)}" for a, b, y in rows[:3]]
    (tmp / "conflicts.tsv").write_text("\n".join([*lines, *flipped]) + "\n")
    (tmp / "latin1.tsv").write_bytes(
        ("\n".join(lines[:2] + ["caf\u00e9\tB\t1"]) + "\n").encode("latin-1")
    )
    (tmp / "bad.fasta").write_text(">A\nMK7V\n")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, trained_run, guo_slice):
    """Every row run once, all started together; ``{name: (row, tmp, completed process)}``."""
    fasta, pairs = guo_slice
    env = {**os.environ, "PPI_CACHE": str(tmp_path_factory.getbasetemp() / "ppi-cache")}
    places = {name: tmp_path_factory.mktemp(name) for name in ROWS}
    for name, tmp in places.items():
        if "{run}" not in ROWS[name].argv:
            _data_files(tmp, pairs)
        if ROWS[name].argv.startswith("evaluate --model {tmp}"):
            _model_copies(tmp, trained_run / "model")
        if "resume=" in ROWS[name].argv:
            _run_copies(tmp, trained_run)
    _data_files(places["evaluate-one-class"], pairs)

    def launch(name):
        tmp = places[name]
        argv = ROWS[name].argv.format(tmp=tmp, fasta=fasta, pairs=pairs, run=trained_run, name=name)
        done = subprocess.run(
            [sys.executable, "-m", "ppi", *argv.split()],
            capture_output=True,
            text=True,
            cwd=tmp,
            env=env,
            timeout=600,
        )
        return name, (tmp, done)

    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 1))) as pool:
        return dict(pool.map(launch, ROWS))


@pytest.mark.parametrize("name", list(ROWS))
def test_row(name, outcomes):
    row = ROWS[name]
    tmp, done = outcomes[name]
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert done.returncode == row.code, output
    assert row.message.format(tmp=tmp) in output, output
    if row.code == 2:
        command = row.argv.split()[0]
        errors = [line for line in done.stderr.splitlines() if line.startswith(f"ppi {command}:")]
        assert len(errors) == 1, done.stderr
    left = [p for p in row.absent if (tmp / p).exists()]
    assert not left, f"left behind: {left}"


def test_a_refused_resume_leaves_the_run_as_it_was(outcomes, trained_run):
    tmp, _ = outcomes["resume-wider"]
    assert (tmp / "run/config.yaml").read_text() == (trained_run / "config.yaml").read_text()


def test_one_class_evaluation_writes_the_metrics_that_are_defined(outcomes):
    tmp, _ = outcomes["evaluate-one-class"]
    test = json.loads((tmp / "ev-one" / "metrics.json").read_text())["test"]
    assert test["recall"] is not None and test["aupr"] is None and test["n"] == 120
