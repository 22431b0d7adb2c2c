"""The channel contract, run over every registered channel.

Proteins in, tokens ``(B, Lc, D)`` and a boolean mask out; a protein the
channel has no data for still gets a valid output (never an error); a
protein's tokens do not depend on the other proteins of its batch; the tokens
change when the channel's weights change; and what a channel saves gives the
same tokens after loading.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from ppi.channels import CHANNELS, ChannelContext, Proteins, RunData
from ppi.config.run import load_config
from ppi.data.annotation_store import write_store
from ppi.data.annotations import Annotation
from ppi.data.fasta import read_fasta

DIM = 16
FIX = Path(__file__).parents[1] / "fixtures" / "structure" / "db55" / "bound"
TINY = ["backbone.dim=16", "backbone.layers=1", "backbone.heads=2", "backbone.max_len=64"]


def _settings(name, tmp_path, guo_index, proteins):
    """Settings that switch each channel on with real data for some proteins."""
    if name == "homology":
        return {"index": str(guo_index), "k": 4}
    if name == "annotation":
        store = tmp_path / "a.sqlite"
        ids = list(proteins)[:3]
        terms = [("GO:0005737", "go_cc", "IDA"), ("KW-0963", "keyword", "")]
        write_store(store, [Annotation(i, t, ns, ev, "test") for i in ids for t, ns, ev in terms])
        return {"store": str(store), "min_freq": 1}
    if name == "structure":
        folder = tmp_path / "structures"
        folder.mkdir()
        shutil.copy(FIX / "2OOB_l_b.pdb.gz", folder / "ubq.pdb.gz")
        return {"folder": str(folder), "k": 8, "layers": 1}
    if name == "properties":  # its UniRep part: tests/channels/test_properties.py
        return {"pretrained": ""}
    return {}


@pytest.fixture
def proteins(guo_slice):
    from ppi.data.structures import read_structure

    seqs = dict(list(read_fasta(guo_slice[0]).items())[:4])
    seqs["ubq"] = read_structure(FIX / "2OOB_l_b.pdb.gz").residues
    return seqs


@pytest.fixture(params=CHANNELS.names())
def channel(request, tmp_path, guo_index, proteins):
    name = request.param
    backbone = load_config(None, TINY).backbone
    config = CHANNELS.config_class(name)(
        enabled=True, **_settings(name, tmp_path, guo_index, proteins)
    )
    torch.manual_seed(0)
    built = CHANNELS.get(name)(config, ChannelContext(DIM, backbone, tmp_path / "cache"))
    run = RunData(frozenset(proteins), frozenset(), ((*list(proteins)[:2], 1.0),))
    built.prepare(proteins, run=run)
    return built.eval()


def _batch(proteins, ids):
    return Proteins(list(ids), [proteins[i] for i in ids])


def test_tokens_and_mask_have_the_contract_shapes(channel, proteins):
    out = channel(_batch(proteins, proteins))
    b = len(proteins)
    assert out.tokens.ndim == 3 and out.tokens.shape[0] == b and out.tokens.shape[2] == DIM
    assert out.mask.dtype == torch.bool and out.mask.shape == out.tokens.shape[:2]
    assert torch.isfinite(out.tokens).all()
    if out.positions is not None:
        assert out.positions.shape == out.mask.shape


def test_a_protein_without_data_still_gets_a_valid_output(channel, proteins):
    alien = Proteins(["nobody-knows-it"], ["MKVLAAGIVGLLLAAQWWPPKKEE"])
    out = channel(alien)  # no annotation, no structure, maybe no homolog: never an error
    assert out.tokens.shape[0] == 1 and out.tokens.shape[2] == DIM
    assert torch.isfinite(out.tokens).all()


def test_a_protein_s_tokens_do_not_depend_on_its_batch(channel, proteins):
    ids = list(proteins)
    together = channel(_batch(proteins, ids))
    for k, pid in enumerate(ids):
        alone = channel(_batch(proteins, [pid]))
        n = int(alone.mask[0].sum())
        assert int(together.mask[k].sum()) == n
        real = together.mask[k]
        torch.testing.assert_close(
            together.tokens[k][real], alone.tokens[0][alone.mask[0]], atol=1e-4, rtol=1e-4
        )


def test_tokens_change_when_the_weights_change(channel, proteins):
    batch = _batch(proteins, proteins)
    before = channel(batch).tokens.clone()
    with torch.no_grad():
        for p in channel.parameters():
            if p.requires_grad:
                p.add_(0.5)
    assert not torch.allclose(channel(batch).tokens, before)


def test_saved_assets_give_the_same_tokens(channel, proteins, tmp_path):
    batch = _batch(proteins, proteins)
    want = channel(batch)
    channel.save_assets(tmp_path / "saved")
    torch.manual_seed(1)  # another initialisation: the state dict below must undo it
    again = type(channel)(channel.config, channel.context)
    again.load_assets(tmp_path / "saved")
    again.load_state_dict(channel.state_dict())
    again.prepare(dict(zip(batch.ids, batch.seqs, strict=True)))
    got = again.eval()(batch)
    assert torch.equal(got.mask, want.mask)
    torch.testing.assert_close(got.tokens, want.tokens)
    assert again.identity() == channel.identity()
