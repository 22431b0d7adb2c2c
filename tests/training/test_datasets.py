"""The data a training run hands its channels (:func:`ppi.training.datasets.run_data`)."""

from __future__ import annotations

import pytest

from ppi.config.run import load_config
from ppi.errors import InputError
from ppi.training.datasets import load_pair_data, run_data


def test_run_data_separates_training_from_held_out_proteins(guo_slice):
    fasta, pairs = guo_slice
    data = load_pair_data(load_config(None, [f"data.fasta={fasta}", f"data.train={pairs}"]).data)
    run = run_data(data)
    train = data.splits["train"]
    assert len(run.train_pairs) == len(train)
    assert {(a, b) for a, b, _ in run.train_pairs} == {(p.a, p.b) for p in train}
    held = {i for name in ("valid", "test") for p in data.splits[name] for i in (p.a, p.b)}
    assert run.holdout_ids == held
    assert run.train_ids == {i for p in train for i in (p.a, p.b)}
    assert {label for _, _, label in run.train_pairs} == {0.0, 1.0}


def _proteins(part):
    return {i for p in part for i in (p.a, p.b)}


def test_validation_proteins_are_never_in_training_by_default(guo_slice):
    fasta, pairs = guo_slice
    base = [f"data.fasta={fasta}", f"data.train={pairs}"]
    data = load_pair_data(load_config(None, base).data)
    train, valid = _proteins(data.splits["train"]), _proteins(data.splits["valid"])
    assert valid and not train & valid
    assert {p.label for p in data.splits["valid"]} == {0.0, 1.0}
    random_data = load_pair_data(load_config(None, [*base, "data.valid_split=random"]).data)
    shared = _proteins(random_data.splits["train"]) & _proteins(random_data.splits["valid"])
    assert shared  # random pairs share proteins with training: what c3 avoids
    assert data.splits["test"] == random_data.splits["test"]  # the test part is carved alike


def test_a_validation_set_that_cannot_be_carved_says_so(tmp_path):
    fasta = tmp_path / "p.fasta"
    fasta.write_text("".join(f">P{i}\nMKV{'A' * i}L\n" for i in range(8)))
    # the hub P0 is in every positive: whichever side it lands on, the other has none
    rows = [f"P0\tP{i}\t1" for i in range(1, 8)] + [f"P{i}\tP{i + 1}\t0" for i in range(1, 7)]
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("\n".join(rows) + "\n")
    cfg = load_config(
        None, [f"data.fasta={fasta}", f"data.train={pairs}", "data.test_fraction=0.2"]
    )
    with pytest.raises(
        InputError, match=r"data.valid_split=c3: cannot carve .* data.valid_split=random"
    ):
        load_pair_data(cfg.data)
