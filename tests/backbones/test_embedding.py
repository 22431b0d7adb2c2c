"""The one embed-and-cache path, and one frozen pretrained backbone per process."""

import pytest
import torch

from ppi.backbones.embedding import FrozenEmbedder, shared_backbone
from ppi.backbones.esm2 import Esm2Config
from ppi.backbones.scratch import ScratchConfig


@pytest.fixture
def esm_config(tiny_esm2):
    return Esm2Config(path=str(tiny_esm2[0]), finetune="frozen")


def test_a_frozen_pretrained_backbone_is_built_once_per_process(esm_config):
    first = shared_backbone(esm_config)
    assert shared_backbone(esm_config) is first
    trainable = ScratchConfig(dim=16, layers=1, heads=2)
    assert shared_backbone(trainable) is not shared_backbone(trainable)  # its own weights


def test_channels_and_the_index_share_it(esm_config, tmp_path):
    from ppi.channels import CHANNELS, ChannelContext
    from ppi.homologs.index import build_backbone

    ctx = ChannelContext(8, esm_config, tmp_path)
    sequence = CHANNELS.get("sequence")(CHANNELS.config_class("sequence")(enabled=True), ctx)
    structure_cfg = CHANNELS.config_class("structure")(enabled=True, node_embedding=True)
    structure = CHANNELS.get("structure")(structure_cfg, ctx)
    assert structure.backbone is sequence.backbone
    assert build_backbone(esm_config, seed=0) is sequence.backbone


def test_embeddings_are_computed_once_then_read_from_the_cache(esm_config, tmp_path, monkeypatch):
    backbone = shared_backbone(esm_config)
    residues = FrozenEmbedder(backbone, tmp_path)
    pooled = FrozenEmbedder(backbone, tmp_path, pooling="mean")
    seqs = ["MKTAYIAKQR", "GAVLK"]
    assert residues.fill(seqs) == 2 and pooled.fill(seqs) == 2
    assert residues.get("GAVLK").shape == (5, backbone.dim)
    assert (
        pooled.get("GAVLK").shape == (backbone.dim,) and pooled.get("GAVLK").dtype == torch.float32
    )
    with torch.no_grad():
        emb, _ = backbone(["GAVLK"])
    torch.testing.assert_close(residues.get("GAVLK").float(), emb[0].float(), atol=1e-2, rtol=1e-2)
    torch.testing.assert_close(pooled.get("GAVLK"), emb[0].float().mean(0), atol=1e-5, rtol=1e-5)
    monkeypatch.setattr(FrozenEmbedder, "_compute", lambda *a: pytest.fail("computed again"))
    assert residues.fill(seqs) == 0 and pooled.fill(seqs) == 0
    assert residues.identity() != pooled.identity()
