"""Bad input to ``ppi split`` and to ``ppi train``'s start-up: one line, exit 2, nothing written.

Also: a pair listed twice is split once, so no pair sits in two parts.
"""

from __future__ import annotations

import logging
import random

import pytest

from ppi.cli import run
from ppi.config.run import load_config
from ppi.data.pairs import pair_key, read_pairs
from ppi.errors import InputError
from ppi.training.datasets import load_pair_data
from ppi.training.preflight import check_training_data

#: a run that trains nothing heavy: the errors below all come before training
FAST = [
    "data.valid_split=random",
    "evidence.interolog.enabled=false",
    "evaluation.baselines=false",
    "train.epochs=1",
]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """16 proteins and 60 distinct pairs; ``twice.tsv`` lists the first 3 pairs again."""
    out = tmp_path_factory.mktemp("small")
    rng = random.Random(1)
    aa = "ACDEFGHIKLMNPQRSTVWY"
    ids = [f"P{i}" for i in range(16)]
    seqs = "".join(f">{i}\n{''.join(rng.choice(aa) for _ in range(50))}\n" for i in ids)
    (out / "prot.fasta").write_text(seqs)
    keys = rng.sample([(a, b) for a in ids for b in ids if a < b], 60)
    rows = [f"{a}\t{b}\t{n % 2}" for n, (a, b) in enumerate(keys)]
    (out / "pairs.tsv").write_text("\n".join(rows) + "\n")
    (out / "twice.tsv").write_text("\n".join(rows + rows[:3]) + "\n")
    a, b, label = rows[0].split("\t")
    flipped = f"{b}\t{a}\t{1 - int(label)}"
    (out / "two_labels.tsv").write_text("\n".join([*rows, flipped]) + "\n")
    return out


def _train(small, tiny, out, *extra):
    args = [f"data.fasta={small / 'prot.fasta'}", f"data.train={small / 'pairs.tsv'}"]
    return run(["train", *tiny, *FAST, *args, f"output_dir={out}", "run_name=r", *extra])


def _parts(folder):
    return {f.stem: read_pairs(f) for f in sorted(folder.glob("*.tsv"))}


def test_split_puts_a_repeated_pair_in_one_part(small, tmp_path):
    out = tmp_path / "s"
    assert run(["split", "--pairs", str(small / "twice.tsv"), "--out", str(out)]) == 0
    parts = _parts(out)
    keys = [pair_key(p) for part in parts.values() for p in part]
    assert len(keys) == len(set(keys)) == 60


def test_split_refuses_a_pair_with_two_labels(small, tmp_path, capsys):
    out = tmp_path / "s"
    assert run(["split", "--pairs", str(small / "two_labels.tsv"), "--out", str(out)]) == 2
    a, b, label = (small / "pairs.tsv").read_text().split("\n")[0].split("\t")
    err = capsys.readouterr().err
    assert err == (
        f"ppi split: error: {small / 'two_labels.tsv'}:61: expected one label per pair, got "
        f"{b} {a} with label {1 - int(label)} here and {label} at line 1; "
        "keep one of the two lines\n"
    )
    assert not out.exists()


def test_split_names_the_measure_option_and_its_choices(small, tmp_path, capsys):
    out = tmp_path / "s"
    assert (
        run(
            ["split", "--pairs", str(small / "pairs.tsv"), "--out", str(out)]
            + ["--measure", "bogus"]
        )
        == 2
    )
    assert capsys.readouterr().err == (
        "ppi split: error: --measure: Unknown similarity measure 'bogus' "
        "(choices: kmer, mmseqs, phmmer)\n"
    )
    assert not out.exists()


def test_an_output_that_is_a_file_is_refused(small, tmp_path, tiny, capsys):
    taken = tmp_path / "o"
    taken.write_text("x\n")
    assert run(["split", "--pairs", str(small / "pairs.tsv"), "--out", str(taken)]) == 2
    assert capsys.readouterr().err == (
        f"ppi split: error: --out {taken}: expected a folder (new or existing), got a file\n"
    )
    assert _train(small, tiny, taken) == 2
    assert capsys.readouterr().err.endswith(
        f"ppi train: error: output_dir {taken}: expected a folder (new or existing), got a file\n"
    )
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "r").write_text("x\n")
    assert _train(small, tiny, runs) == 2
    assert capsys.readouterr().err.endswith(
        f"ppi train: error: run_name {runs / 'r'}: expected a folder "
        "(new or existing), got a file\n"
    )
    assert taken.read_text() == (runs / "r").read_text() == "x\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o", "runs"]
    assert [p.name for p in runs.iterdir()] == ["r"]


def test_a_second_run_of_one_run_name_keeps_the_first(small, tiny, tmp_path, capsys):
    # it used to train again into the folder and replace the first run's model
    assert _train(small, tiny, tmp_path) == 0
    weights = tmp_path / "r" / "model" / "model.safetensors"
    before = weights.read_bytes()
    capsys.readouterr()
    assert _train(small, tiny, tmp_path, "seed=5") == 2
    err = capsys.readouterr().err
    assert f"run_name=r: {tmp_path / 'r'} holds a run already; resume=" in err
    assert weights.read_bytes() == before


@pytest.mark.parametrize("valid_split", ["random", "c3"])
def test_train_carves_a_repeated_pair_into_one_part(small, valid_split):
    config = load_config(
        None,
        [
            f"data.fasta={small / 'prot.fasta'}",
            f"data.train={small / 'twice.tsv'}",
            f"data.valid_split={valid_split}",
            "data.valid_fraction=0.3",
            "data.test_fraction=0.3",
        ],
    )
    splits = load_pair_data(config.data).splits
    keys = [pair_key(p) for part in splits.values() for p in part]
    assert len(keys) == len(set(keys))


def test_train_refuses_a_pair_with_two_labels_unless_allowed(small):
    base = [f"data.fasta={small / 'prot.fasta'}", f"data.train={small / 'two_labels.tsv'}"]
    config = load_config(None, [*base, "data.valid_split=random"])
    with pytest.raises(InputError, match=r"two_labels.tsv: 1 pair repeats an earlier pair with"):
        load_pair_data(config.data)
    allowed = load_config(None, [*base, "data.valid_split=random", "data.allow_conflicts=true"])
    splits = load_pair_data(allowed.data).splits
    keys = [pair_key(p) for part in splits.values() for p in part]
    assert len(keys) == len(set(keys)) == 60  # the first label kept


def test_a_pair_in_the_training_and_the_test_file_is_reported(small, tmp_path, caplog):
    rows = (small / "pairs.tsv").read_text().splitlines()
    (tmp_path / "train.tsv").write_text("\n".join(rows[:40]) + "\n")
    a, b, label = rows[0].split("\t")
    (tmp_path / "test.tsv").write_text("\n".join([f"{b}\t{a}\t{label}", *rows[40:]]) + "\n")
    config = load_config(
        None,
        [
            f"data.fasta={small / 'prot.fasta'}",
            f"data.train={tmp_path / 'train.tsv'}",
            f"data.test={tmp_path / 'test.tsv'}",
            "data.valid_split=random",
            "data.valid_fraction=0.2",
        ],
    )
    data = load_pair_data(config.data)
    assert pair_key(data.splits["test"][0]) in {pair_key(p) for p in data.splits["train"]}
    with caplog.at_level(logging.WARNING, logger="ppi"):
        check_training_data(config, data)
    shown = [r.getMessage() for r in caplog.records]
    assert shown == [
        f"{tmp_path / 'test.tsv'}: 1 pair is also in {tmp_path / 'train.tsv'} (train split) "
        f"(first: {b} {a}): a model is scored on pairs it was trained or chosen on"
    ]


def test_structure_channel_needs_a_source(small, tmp_path, tiny, capsys):
    runs = tmp_path / "runs"
    assert _train(small, tiny, runs, "channels.structure.enabled=true") == 2
    assert capsys.readouterr().err.endswith(
        "ppi train: error: channels.structure.folder: expected a folder of structure files "
        "(or channels.structure.mapping, a table of id and path), got none; "
        "ppi fetch-structures downloads them\n"
    )
    assert not runs.exists()
    empty = tmp_path / "structures"
    empty.mkdir()
    extra = ["channels.structure.enabled=true", f"channels.structure.folder={empty}"]
    assert _train(small, tiny, runs, *extra) == 2
    assert capsys.readouterr().err.endswith(
        f"ppi train: error: channels.structure.folder={empty}: expected a structure for some "
        "of the run's 16 proteins, got none; a structure is found by protein id (<id>.pdb, "
        "<id>.cif, AF-<id>-F1-model_v4.pdb or a mapping row)\n"
    )
    assert not runs.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["channels.properties.table={bad}"], "bad.tsv: no row for 16 protein(s)"),
        (
            ["channels.annotation.enabled=true", "channels.annotation.store={fasta}"],
            "prot.fasta: expected an annotation store, got file is not a database",
        ),
        (
            [
                "channels.properties.pretrained=unirep-64",
                "channels.properties.pretrained_path={fasta}",
            ],
            "{fasta}",  # the wording is backbones/unirep.py's: only the path is asserted
        ),
    ],
    ids=["properties-table", "annotation-store", "unirep-path"],
)
def test_a_bad_channel_input_leaves_no_run_folder(small, tmp_path, tiny, capsys, extra, message):
    bad = tmp_path / "bad.tsv"
    bad.write_text("P1\tP2\tx\n")
    names = {"bad": bad, "fasta": small / "prot.fasta"}
    runs = tmp_path / "runs"
    assert _train(small, tiny, runs, *(e.format(**names) for e in extra)) == 2
    err = capsys.readouterr().err
    assert "ppi train: error: " in err and message.format(**names) in err
    assert "Traceback" not in err
    assert not runs.exists()


def test_a_resumed_run_refuses_data_files_whose_contents_changed(small, tiny, tmp_path, capsys):
    # resume= used to check only the settings: new pairs at the same path trained on silently
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text((small / "pairs.tsv").read_text())
    args = ["train", *tiny, *FAST, f"data.fasta={small / 'prot.fasta'}", f"data.train={pairs}"]
    args += [f"output_dir={tmp_path / 'runs'}", "run_name=r", "train.epochs=2", "train.patience=5"]
    assert run([*args, "train.stop_after=1"]) == 0
    run_dir = tmp_path / "runs" / "r"
    original = pairs.read_text()
    lines = original.splitlines()
    a, b, label = lines[0].split("\t")
    pairs.write_text("\n".join([f"{a}\t{b}\t{1 - int(label)}", *lines[1:]]) + "\n")
    capsys.readouterr()
    assert run(["train", f"resume={run_dir}"]) == 2
    err = capsys.readouterr().err
    assert f"resume={run_dir}: data.train={pairs} is not the file the run started with" in err
    assert not (run_dir / "metrics.json").exists()
    pairs.write_text(original)  # the same contents again: it resumes
    assert run(["train", f"resume={run_dir}"]) == 0
    assert (run_dir / "metrics.json").exists()
