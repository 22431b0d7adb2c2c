"""The data a training run hands its channels (:func:`ppi.datasets.run_data`)."""

from __future__ import annotations

from ppi.config import load_config
from ppi.datasets import load_pair_data, run_data


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
