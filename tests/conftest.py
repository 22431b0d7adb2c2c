"""Shared fixtures: a private cache per test session and small real data slices."""

from __future__ import annotations

import os

import pytest

TINY = [
    "backbone.name=scratch",
    "backbone.dim=16",
    "backbone.layers=1",
    "backbone.heads=2",
    "backbone.max_len=64",
    "fusion.dim=16",
    "fusion.heads=2",
    "fusion.latents=4",
    "head.hidden=16",
    "train.log_with=[]",
]


@pytest.fixture
def tiny():
    """Overrides that make every part of the default model tiny and fast."""
    return list(TINY)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Every test writes its cache under a temporary PPI_CACHE, never ~/.cache."""
    if "PPI_CACHE_KEEP" not in os.environ:
        monkeypatch.setenv("PPI_CACHE", str(tmp_path_factory.getbasetemp() / "ppi-cache"))


@pytest.fixture(scope="session")
def guo_slice(tmp_path_factory):
    """A real slice of the bundled Guo yeast set: the proteins of 240 pairs, 120 per class."""
    from ppi.data.examples import resolve
    from ppi.data.fasta import read_fasta, write_fasta
    from ppi.data.pairs import read_pairs, write_pairs

    out = tmp_path_factory.mktemp("guo")
    proteins = read_fasta(resolve("example:guo_yeast/sequences.fasta"))
    pairs = read_pairs(resolve("example:guo_yeast/pairs.tsv"))
    short = [p for p in pairs if len(proteins[p.a]) < 400 and len(proteins[p.b]) < 400]
    chosen = [p for p in short if p.label == 1][:120] + [p for p in short if p.label == 0][:120]
    used = {i for p in chosen for i in (p.a, p.b)}
    write_fasta({k: v for k, v in proteins.items() if k in used}, out / "slice.fasta")
    write_pairs(chosen, out / "slice.tsv")
    return out / "slice.fasta", out / "slice.tsv"


def _train_args(fasta, pairs, out, *extra):
    return [
        "train",
        *TINY,
        f"data.fasta={fasta}",
        f"data.train={pairs}",
        f"output_dir={out}",
        "train.batch_size=32",
        "channels.sequence.train_crop=48",
        *extra,
    ]


@pytest.fixture
def train_args():
    """Builds ``ppi train`` arguments for a tiny run on a data slice."""
    return _train_args


@pytest.fixture(scope="session")
def trained_run(guo_slice, tmp_path_factory):
    """A tiny model trained for two epochs on the Guo slice (shared by the command tests)."""
    from ppi.cli import run

    out = tmp_path_factory.mktemp("runs")
    fasta, pairs = guo_slice
    assert run(_train_args(fasta, pairs, out, "train.epochs=2", "run_name=shared")) == 0
    return out / "shared"
