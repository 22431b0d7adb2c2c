"""The homology channel: neighbour tokens, leakage guards, saved exclusions, a training run."""

import json

import numpy as np
import pytest
import torch

from ppi.backbones import BACKBONES
from ppi.channels import CHANNELS, ChannelContext, Proteins, RunData
from ppi.data.fasta import read_fasta
from ppi.data.pairs import read_pairs
from ppi.errors import ConfigError
from ppi.homologs.index import seq_hash
from ppi.utils.cache import cache_root


def _channel(index, **overrides):
    cls = CHANNELS.get("homology")
    config = cls.Config(enabled=True, index=str(index), k=4, **overrides)
    backbone = BACKBONES.config_class("scratch")()
    return cls(config, ChannelContext(16, backbone, cache_root()))  # the test session's cache


def test_tokens_never_show_the_protein_itself_or_holdout_sequences(guo_slice, guo_index):
    proteins = read_fasta(guo_slice[0])
    ids = list(proteins)
    holdout = frozenset(ids[:20])
    channel = _channel(guo_index)
    channel.prepare(proteins, run=RunData(frozenset(ids[20:]), holdout))
    held = {seq_hash(proteins[i]) for i in holdout}
    hashes = channel.index.metadata.seq_hash.to_numpy()
    assert len(channel.excluded) >= len(held) and set(channel.excluded.reason) == {
        "holdout sequence"
    }
    for pid in ids:
        sims, rows = channel.neighbours(proteins[pid])
        assert len(rows) == 4, "the index has plenty of other proteins"
        assert seq_hash(proteins[pid]) not in set(hashes[rows])
        assert not held & set(hashes[rows])
        assert (np.diff(sims) <= 1e-6).all(), "neighbours come best first"
    out = channel(Proteins(ids[:3], [proteins[i] for i in ids[:3]]))
    assert out.tokens.shape == (3, 4, 16) and out.mask.shape == (3, 4) and out.mask.all()


def test_fewer_than_k_neighbours_are_masked(guo_slice, guo_index):
    proteins = read_fasta(guo_slice[0])
    channel = _channel(guo_index, min_similarity=1.01)  # nothing is that similar
    channel.prepare(proteins)
    out = channel(Proteins(["a"], [next(iter(proteins.values()))]))
    assert not out.mask.any() and torch.all(out.tokens == 0)


def test_exclusions_are_saved_with_the_model_and_change_the_identity(
    guo_slice, guo_index, tmp_path
):
    proteins = read_fasta(guo_slice[0])
    ids = list(proteins)
    listed = tmp_path / "exclude.txt"
    listed.write_text(f"# leave these out\n{ids[0]}\n{ids[1]} extra columns ignored\n")
    channel = _channel(guo_index, exclude=str(listed))
    plain = _channel(guo_index).identity()
    channel.prepare(proteins, run=RunData(frozenset(ids), frozenset()))
    assert set(channel.excluded.accession) == {ids[0], ids[1]}
    assert channel.identity() != plain
    channel.save_assets(tmp_path / "assets")
    again = _channel(guo_index, exclude=str(listed))
    again.load_assets(tmp_path / "assets")
    assert again.identity() == channel.identity()
    note = json.loads((tmp_path / "assets" / "index.json").read_text())
    assert note["index"] == channel.index.identity()


def test_an_enabled_channel_needs_an_index():
    with pytest.raises(ConfigError, match="channels.homology.index"):
        _channel("")


@pytest.mark.slow
def test_training_with_the_homology_channel(homology_run, tmp_path):
    from ppi.cli import run

    args = homology_run(
        "h",
        "data.limit=80",
        "data.valid_split=random",  # 80 pairs: too few for a protein-disjoint validation set
        "channels.sequence.enabled=false",  # the homology channel alone is enough to train
        "channels.properties.enabled=false",
    )
    assert run(args) == 0
    model = tmp_path / "h" / "model"
    excluded = (model / "homology" / "excluded.tsv").read_text().splitlines()
    holdout = {
        i
        for split in ("valid", "test")
        for p in read_pairs(tmp_path / "h" / "splits" / f"{split}.tsv")
        for i in (p.a, p.b)
    }
    assert len(excluded) - 1 >= len(holdout) > 0
    assert 0 <= json.loads((tmp_path / "h" / "metrics.json").read_text())["test"]["auroc"] <= 1
