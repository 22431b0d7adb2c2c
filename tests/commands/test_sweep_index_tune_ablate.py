"""Bad input to build-index, search, tune, ablate and YAML files: one line, exit 2, nothing left."""

import logging
import random
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from ppi.cli import run
from ppi.homologs.build import build_index
from ppi.homologs.index import HomologyIndex, index_config

TINY = ["backbone.dim=16", "backbone.layers=1", "backbone.heads=2", "backbone.max_len=64"]
FLAT = Path(__file__).parents[1] / "fixtures" / "uniprot" / "multi_ex.txt"
AMINO = "ACDEFGHIKLMNPQRSTVWY"


def _entries(count: int, seed: int = 2) -> list[str]:
    """``count`` UniProt FASTA records (two lines each: header, sequence)."""
    rng = random.Random(seed)
    return [
        f">sp|Q{i:05d}|N{i}_YEAST Protein OS=Saccharomyces cerevisiae OX=559292\n"
        + "".join(rng.choice(AMINO) for _ in range(rng.randint(30, 60)))
        + "\n"
        for i in range(count)
    ]


def _fails(capsys, args, *expected) -> str:
    assert run([str(a) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for part in expected:
        assert part in err, err
    return err


@pytest.fixture(scope="module")
def dump(tmp_path_factory) -> Path:
    """30 entries, each accession once."""
    path = tmp_path_factory.mktemp("dump") / "dump.fasta"
    path.write_text("".join(_entries(30)))
    return path


@pytest.fixture(scope="module")
def index(dump) -> Path:
    out = dump.parent / "idx"
    assert run(["build-index", "--out", str(out), str(dump), *TINY]) == 0
    return out


# -- build-index: repeated accessions ---------------------------------------------------------
def test_an_accession_repeated_with_its_sequence_is_indexed_once(tmp_path, capsys):
    entries = _entries(30)
    (tmp_path / "dup.fasta").write_text("".join([*entries, entries[3], entries[7]]))
    out = tmp_path / "idx"
    assert run(["build-index", "--out", str(out), str(tmp_path / "dup.fasta"), *TINY]) == 0
    meta = pd.read_parquet(out / "metadata.parquet")
    assert meta.accession.tolist() == [f"Q{i:05d}" for i in range(30)]
    assert HomologyIndex.open(out).index.ntotal == 30
    assert "30 proteins" in capsys.readouterr().out


def test_an_accession_with_two_sequences_names_both_records(tmp_path, capsys):
    entries = _entries(30)
    other = entries[3].split("\n")[0] + "\nMKVLA\n"
    (tmp_path / "dup.fasta").write_text("".join([*entries, other]))
    out = tmp_path / "idx"
    _fails(
        capsys,
        ["build-index", "--out", out, tmp_path / "dup.fasta", *TINY],
        f"{tmp_path / 'dup.fasta'}:61: accession 'Q00003' again, with another sequence than at "
        f"{tmp_path / 'dup.fasta'}:7 (expected one sequence per accession",
    )
    assert not out.exists()
    # across two files, and in a flat file (the line of the entry's ID line)
    (tmp_path / "one.fasta").write_text("".join(entries))
    (tmp_path / "two.fasta").write_text(other)
    _fails(
        capsys,
        ["build-index", "--out", out, tmp_path / "one.fasta", tmp_path / "two.fasta", *TINY],
        f"{tmp_path / 'two.fasta'}:1: accession 'Q00003' again",
        f"than at {tmp_path / 'one.fasta'}:7",
    )
    lines = FLAT.read_text().splitlines()
    again = [*lines[679:732]]  # CBBQ_CHRVI, ID line 680
    again[50] = again[50].replace("MSDIDRNQFL", "MSDIDRNQFA")
    (tmp_path / "flat.txt").write_text("\n".join([*lines, *again]) + "\n")
    _fails(
        capsys,
        ["build-index", "--out", out, tmp_path / "flat.txt", *TINY],
        f"{tmp_path / 'flat.txt'}:{len(lines) + 1}: accession 'P56540' again",
        f"than at {tmp_path / 'flat.txt'}:680",
    )
    assert not out.exists()


def _rank(index: int, count: int) -> SimpleNamespace:
    """What build_index asks of accelerate's PartialState, for one rank of ``count``."""
    return SimpleNamespace(
        process_index=index,
        num_processes=count,
        device="cpu",
        is_main_process=index == 0,
        wait_for_everyone=lambda: None,
    )


def test_sharded_build_over_two_processes_leaves_the_same_repeats_out(tmp_path):
    entries = _entries(20)
    dump = tmp_path / "dup.fasta"
    dump.write_text("".join([*entries[:5], entries[1], *entries[5:], entries[0], entries[19]]))
    config = index_config([*TINY, "shard_size=4"])
    assert build_index([dump], tmp_path / "two", config, _rank(1, 2)) is None
    two = build_index([dump], tmp_path / "two", config, _rank(0, 2))
    one = build_index([dump], tmp_path / "one", config)
    assert one["count"] == two["count"] == 20
    a, b = HomologyIndex.open(tmp_path / "one"), HomologyIndex.open(tmp_path / "two")
    assert a.metadata.accession.tolist() == b.metadata.accession.tolist()
    assert a.metadata.accession.tolist() == [f"Q{i:05d}" for i in range(20)]
    assert np.allclose(a.vectors(np.arange(20)), b.vectors(np.arange(20)))


# -- build-index: --out and FAISS settings checked before embedding ---------------------------
@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (["faiss.type=ivf-flat", "faiss.nlist=100"], "faiss.nlist: expected at most the number "),
        (["faiss.type=ivf-pq", "faiss.pq_m=7"], "faiss.pq_m: expected an even divisor of the "),
    ],
    ids=["nlist-above-count", "pq_m-not-a-divisor"],
)
def test_faiss_settings_that_cannot_fit_stop_before_embedding(
    dump, tmp_path, capsys, monkeypatch, settings, expected
):
    from ppi.homologs.index import PooledEmbedder

    embedded = []
    original = PooledEmbedder.embed
    monkeypatch.setattr(
        PooledEmbedder, "embed", lambda self, s, **kw: embedded.append(s) or original(self, s, **kw)
    )
    out = tmp_path / "idx"
    _fails(capsys, ["build-index", "--out", out, dump, *TINY, *settings], expected)
    assert not out.exists() and embedded == []
    out.mkdir()  # a folder that was there stays, with no .build-* shards in it
    _fails(capsys, ["build-index", "--out", out, dump, *TINY, *settings], expected)
    assert list(out.iterdir()) == [] and embedded == []


def test_ivf_pq_needs_entries_enough_for_its_codebooks(tmp_path, capsys):
    (tmp_path / "few.fasta").write_text("".join(_entries(10)))
    out = tmp_path / "idx"
    _fails(
        capsys,
        ["build-index", "--out", out, tmp_path / "few.fasta", *TINY, "faiss.type=ivf-pq"],
        "faiss.type: expected at least 16 entries for ivf-pq",
        "got 10",
    )
    assert not out.exists()


def test_build_index_out_that_is_a_file(dump, tmp_path, capsys):
    (tmp_path / "o").write_text("keep")
    _fails(
        capsys,
        ["build-index", "--out", tmp_path / "o", dump, *TINY],
        "--out",
        "expected a folder (new or existing), got a file",
    )
    assert (tmp_path / "o").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


# -- search -------------------------------------------------------------------------------------
def test_search_refuses_settings_it_does_not_use(index, dump, tmp_path, capsys):
    search = [
        "search",
        "--index",
        str(index),
        "--fasta",
        str(dump),
        "--out",
        str(tmp_path / "h.tsv"),
    ]
    for setting in ("bogus=1", "seed=zz", "pooling=max", "faiss.nprobe=abc"):
        key = setting.split("=")[0]
        _fails(
            capsys,
            [*search, *TINY, setting],
            f"ppi search: error: setting '{setting}': expected backbone.<key>=value",
            f"got key '{key}'",
        )
    assert not (tmp_path / "h.tsv").exists()
    assert run([*search, *TINY]) == 0  # the index's own backbone settings are taken


def test_search_out_that_is_a_folder(index, dump, tmp_path, capsys, monkeypatch):
    from ppi.homologs.index import PooledEmbedder

    embedded = []
    monkeypatch.setattr(PooledEmbedder, "embed", lambda self, s, **kw: embedded.append(s))
    (tmp_path / "h.tsv").mkdir()
    _fails(
        capsys,
        ["search", "--index", index, "--fasta", dump, "--out", tmp_path / "h.tsv"],
        "--out",
        "expected a file to write, got an existing folder",
    )
    assert embedded == [], "refused before the queries are embedded"
    assert list((tmp_path / "h.tsv").iterdir()) == []


# -- tune ---------------------------------------------------------------------------------------
class _Stderr:
    """Whatever ``sys.stderr`` is when written to (pytest swaps it for each test and phase)."""

    def write(self, text):
        return sys.stderr.write(text)

    def flush(self):
        sys.stderr.flush()

    def isatty(self):
        return False


@pytest.fixture
def optuna_records(monkeypatch):
    """What Optuna logs about failed trials; its own lines go to this test's stderr."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("optuna.study._optimize")
    logger.addHandler(handler)
    for own in logging.getLogger("optuna").handlers:  # it keeps the stderr of its first test
        if type(own) is logging.StreamHandler:
            monkeypatch.setattr(own, "stream", _Stderr())
            if hasattr(own.formatter, "stream"):  # colorlog's, to choose colours
                monkeypatch.setattr(own.formatter, "stream", _Stderr())
    yield records
    logger.removeHandler(handler)


@pytest.fixture
def tune_base(guo_slice, train_args, tmp_path):
    fasta, pairs = guo_slice
    return train_args(fasta, pairs, tmp_path / "runs", "train.epochs=1", "data.limit=60")[1:]


def _space(tmp_path, space) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space))
    return path


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        ({"fusion.dimm": [16, 32]}, "key 'fusion.dimm' = 16: Unknown config key 'fusion.dimm'"),
        ({"fusion.heads": ["a", 2]}, "key 'fusion.heads' = 'a': fusion.heads: expected an integer"),
        (
            {"fusion.dim": {"low": 16, "high": 64}},
            "key 'fusion.dim': expected int: true for a range of a whole-number setting",
        ),
        ({"train.lr": {"low": "a", "high": 0.1}}, "key 'train.lr': expected numbers for low and"),
        (
            {"train.lr": {"low": 0, "high": 0.1, "log": True}},
            "key 'train.lr': expected low > 0 with log: true",
        ),
        (
            {"channels": ["sequence+nope"]},
            "key 'channels' = 'sequence+nope': Unknown channel 'nope'",
        ),
    ],
    ids=["unknown-key", "wrong-type", "int-range", "not-numbers", "log-from-0", "channel"],
)
def test_tune_space_is_checked_before_the_study(
    tune_base, tmp_path, capsys, optuna_records, space, expected
):
    out = tmp_path / "tu"
    path = _space(tmp_path, space)
    _fails(capsys, ["tune", "--out", out, "--space", path, "--trials", "1", *tune_base], expected)
    assert not out.exists() and optuna_records == []


def test_tune_base_overrides_are_checked_with_a_space(tmp_path, capsys):
    path = _space(tmp_path, {"fusion.dim": [16, 32]})
    out = tmp_path / "tu"
    argv = ["tune", "--out", out, "--space", path, "--trials", "1", "train.epoch=1"]
    _fails(capsys, argv, "Unknown config key 'train.epoch'")
    assert not out.exists()


def test_bad_input_inside_a_trial_ends_the_study_in_one_line(
    tune_base, tmp_path, capsys, optuna_records
):
    out = tmp_path / "tu"
    path = _space(tmp_path, {"fusion.dim": [16, 32]})
    argv = ["tune", "--out", str(out), "--space", str(path), "--trials", "2", *tune_base]
    argv.append("data.fasta=nope.fasta")  # found missing when the first trial starts
    assert run(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if not line.startswith("[I ")]  # Optuna's own progress lines
    assert errors == ["ppi tune: error: nope.fasta: FASTA file not found"], "\n".join(err)
    assert not [r for r in optuna_records if "failed" in r.getMessage()]
    assert not out.exists(), "the folder this run made is removed, study.db with it"
    out.mkdir()  # a folder that was there stays, without the study.db made in it
    assert run(argv) == 2
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (["--storage", "bogus://x"], "--storage bogus://x: expected an Optuna storage"),
        (["--storage", "sqlite:///{fasta}"], "file is not a database"),
        (["--prune-below", "-1"], "argument --prune-below: expected a number in [0, inf), got -1"),
    ],
    ids=["unknown-scheme", "not-a-database", "negative-floor"],
)
def test_tune_bad_storage_and_floor(tune_base, guo_slice, tmp_path, capsys, option, expected):
    out = tmp_path / "tu"
    option = [o.format(fasta=guo_slice[0]) for o in option]
    _fails(capsys, ["tune", "--out", out, "--trials", "1", *option, *tune_base], expected)
    assert not out.exists()


def test_tune_out_that_is_a_file(tmp_path, capsys):
    (tmp_path / "o").write_text("keep")
    _fails(capsys, ["tune", "--out", tmp_path / "o"], "expected a folder (new or existing), got a")
    assert (tmp_path / "o").read_text() == "keep"


# -- ablate -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seeds", "expected"),
    [
        (",", "--seeds: expected at least one seed, like 0,1,2, got ','"),
        ("0,0", "--seeds: expected different seeds, got 0 twice in '0,0'"),
        ("1,-1", "--seeds: expected an integer in [0, 4294967295], got -1"),
    ],
    ids=["none", "repeated", "negative"],
)
def test_ablate_bad_seeds(tune_base, tmp_path, capsys, seeds, expected):
    out = tmp_path / "ab"
    _fails(capsys, ["ablate", "--out", out, "--seeds", seeds, *tune_base], expected)
    assert not out.exists()


def test_ablate_mask_refuses_settings_it_would_ignore(tmp_path, capsys):
    out = tmp_path / "ab"
    mask = ["ablate", "--mask", "--run", tmp_path / "run", "--out", out]
    _fails(capsys, [*mask, "train.epochs=5"], "--mask: expected no --config or KEY=VALUE", "5'")
    (tmp_path / "c.yaml").write_text("train:\n  epochs: 5\n")
    _fails(capsys, [*mask, "--config", tmp_path / "c.yaml"], "got --config")
    assert not out.exists()


def test_ablate_out_that_is_a_file(tmp_path, capsys):
    (tmp_path / "o").write_text("keep")
    _fails(capsys, ["ablate", "--out", tmp_path / "o"], "expected a folder (new or existing)")
    assert (tmp_path / "o").read_text() == "keep"


@pytest.mark.parametrize("override", ["seed=7", "run_name=mine", "output_dir=elsewhere"])
def test_ablate_refuses_the_settings_it_sets_itself(tmp_path, capsys, override):
    # each was replaced by ablate's own value for every run, without a word
    out = tmp_path / "ab"
    _fails(capsys, ["ablate", "--out", out, override], f"'{override}': ablate sets")
    assert not out.exists()


# -- YAML that is not UTF-8 -------------------------------------------------------------------
@pytest.mark.parametrize("command", ["config", "train", "tune"])
def test_yaml_that_is_not_utf8(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_bytes(b"train:\n  epochs: 2\nname: caf\xe9\n")
    argv = {
        "config": ["config", "--config", "c.yaml"],
        "train": ["train", "--config", "c.yaml"],
        "tune": ["tune", "--out", "tu", "--space", "c.yaml"],
    }[command]
    _fails(capsys, argv, f"ppi {command}: error: c.yaml:3: expected UTF-8 YAML, got undecodable")
    assert [p.name for p in tmp_path.iterdir()] == ["c.yaml"]
