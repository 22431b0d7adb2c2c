"""The esm2 backbone against a tiny random ESM-2 saved in fair-esm's checkpoint format."""

from __future__ import annotations

import shutil
import urllib.error
from pathlib import Path

import pytest
import torch
from esm.model.esm2 import ESM2

from ppi.backbones.configs import BACKBONES
from ppi.backbones.esm2 import Esm2Backbone, Esm2Config
from ppi.backbones.esm2 import save_checkpoint as save_fair_esm_checkpoint
from ppi.errors import ConfigError, WeightsError

SEQS = ["MKTAYIAKQR", "GAVLX", "ACDEFGHIKLMNPQRSTVWYX"]


@pytest.fixture(scope="module")
def tiny(tiny_esm2) -> tuple[Path, ESM2]:
    return tiny_esm2


def reference(model: ESM2, seqs: list[str], layer: int) -> list[torch.Tensor]:
    """The tiny model's own representations at ``layer``, residues only."""
    _, _, tokens = model.alphabet.get_batch_converter()([(str(i), s) for i, s in enumerate(seqs)])
    with torch.no_grad():
        rep = model(tokens, repr_layers=[layer])["representations"][layer]
    return [rep[i, 1 : len(s) + 1] for i, s in enumerate(seqs)]


def build(path: Path, **kwargs) -> Esm2Backbone:
    return Esm2Backbone(Esm2Config(path=str(path), **kwargs))


@pytest.mark.parametrize(("layer", "absolute"), [(-1, 2), (1, 1), (-3, 0)])
def test_matches_fair_esm_representations(tiny, layer: int, absolute: int) -> None:
    path, model = tiny
    backbone = build(path, layer=layer)
    emb, mask = backbone.embed_windows(SEQS)
    assert emb.shape == (3, 21, 32)
    assert mask.tolist() == [[j < len(s) for j in range(21)] for s in SEQS]
    for i, ref in enumerate(reference(model, SEQS, absolute)):
        torch.testing.assert_close(emb[i, : len(SEQS[i])], ref, atol=1e-5, rtol=1e-4)
        assert emb[i, len(SEQS[i]) :].abs().sum() == 0
    assert backbone.dim == 32 and backbone.max_len == 1022 and not backbone.causal


def test_layers_differ_and_identity_tracks_layer(tiny) -> None:
    path, _ = tiny
    last, middle, same = build(path, layer=-1), build(path, layer=1), build(path, layer=2)
    assert not torch.allclose(last.embed_windows(SEQS)[0], middle.embed_windows(SEQS)[0])
    assert last.identity() == same.identity() != middle.identity()
    assert last.identity().endswith(":layer=2")


@pytest.mark.parametrize("layer", [3, -4])
def test_layer_out_of_range_names_valid_range(tiny, layer: int) -> None:
    with pytest.raises(ConfigError, match=r"valid: 0\.\.2, or -3\.\.-1"):
        build(tiny[0], layer=layer)


def test_identity_hashes_checkpoint(tiny, tmp_path: Path) -> None:
    path, model = tiny
    copy = tmp_path / "esm2_copy.pt"
    shutil.copy(path, copy)
    assert build(copy).identity() == build(path).identity()
    with torch.no_grad():
        model.layers[0].fc1.bias.add_(1.0)
    try:
        save_fair_esm_checkpoint(model, copy)
    finally:
        with torch.no_grad():
            model.layers[0].fc1.bias.sub_(1.0)
    assert build(copy).identity() != build(path).identity()


def test_batch_independent(tiny) -> None:
    backbone = build(tiny[0])
    alone, _ = backbone.embed_windows([SEQS[1]])
    batched, _ = backbone.embed_windows(SEQS)
    torch.testing.assert_close(batched[1, : len(SEQS[1])], alone[0], atol=1e-5, rtol=1e-4)


def test_long_sequence_goes_through_windows(tiny) -> None:
    backbone = build(tiny[0], max_len=8, window_overlap=0.5)
    seq = "ACDEFGHIKLMNPQRSTVWYMKTAYIAKQR"  # 30 residues, windows of 8
    emb, mask = backbone([seq, "MKT"])
    assert emb.shape == (2, 30, 32)
    assert mask[0].all() and mask[1].sum() == 3
    first, _ = backbone.embed_windows([seq[:8]])
    last, _ = backbone.embed_windows([seq[-8:]])
    # Windows start at 0, 4, .., 20 and 22: the first 4 and last 2 residues
    # are each covered by one window only.
    torch.testing.assert_close(emb[0, :4], first[0, :4], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(emb[0, -2:], last[0, -2:], atol=1e-5, rtol=1e-4)


def test_pool_is_mean_of_residues(tiny) -> None:
    backbone = build(tiny[0])
    emb, mask = backbone.embed_windows(SEQS)
    pooled = backbone.pool(emb, mask)
    torch.testing.assert_close(pooled[1], emb[1, : len(SEQS[1])].mean(0))


def test_finetune_frozen_has_no_gradients(tiny) -> None:
    backbone = build(tiny[0], finetune="frozen")
    assert not any(p.requires_grad for p in backbone.parameters())
    emb, _ = backbone.embed_windows(SEQS)
    assert not emb.requires_grad
    backbone.train()
    assert not backbone.model.training


def test_finetune_last_trains_only_last_block(tiny) -> None:
    backbone = build(tiny[0], finetune="last", finetune_layers=1)
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    last_block = {n for n, _ in backbone.named_parameters() if n.startswith("model.layers.1.")}
    assert last_block and trainable == last_block
    emb, _ = backbone.embed_windows(SEQS)
    emb.sum().backward()
    assert all(p.grad is not None for n, p in backbone.named_parameters() if n in trainable)


def test_finetune_full_trains_only_weights_that_get_gradients(tiny) -> None:
    backbone = build(tiny[0], finetune="full", layer=1)
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert "model.embed_tokens.weight" in trainable and "model.layers.0.fc1.weight" in trainable
    # Never reached from layer 1: the second block and the heads.
    assert not any(n.startswith(("model.layers.1.", "model.contact_head.")) for n in trainable)
    assert "model.lm_head.dense.weight" not in trainable
    assert [b is backbone.model.layers[0] for b in backbone.blocks()] == [True]


def test_loads_without_contact_regression_file(tiny, tmp_path: Path) -> None:
    path, model = tiny
    lone = tmp_path / "other_name.pt"
    shutil.copy(path, lone)
    emb, _ = build(lone).embed_windows(SEQS[:1])
    torch.testing.assert_close(emb[0], reference(model, SEQS[:1], 2)[0], atol=1e-5, rtol=1e-4)


def test_registered_and_built_by_name(tiny) -> None:
    assert BACKBONES.get("esm2") is Esm2Backbone
    backbone = BACKBONES.build(Esm2Config(path=str(tiny[0])))
    assert isinstance(backbone, Esm2Backbone)


def test_missing_path_is_one_line_weights_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "esm2_t6_8M_UR50D.pt"
    with pytest.raises(WeightsError) as err:
        build(missing)
    assert str(missing) in str(err.value) and "\n" not in str(err.value)


def test_file_that_is_not_esm2_is_weights_error(tmp_path: Path) -> None:
    path = tmp_path / "esm2_bad.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(WeightsError, match="not an ESM-2 checkpoint"):
        build(path)


def unreachable(*args, **kwargs):
    raise urllib.error.URLError("[Errno -2] Name or service not known")


def test_hub_without_network_is_one_line_weights_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", unreachable)
    with pytest.raises(WeightsError) as err:
        Esm2Backbone(Esm2Config(model="esm2_t6_8M_UR50D"))
    message = str(err.value)
    assert "\n" not in message
    assert "https://dl.fbaipublicfiles.com/fair-esm/models/esm2_t6_8M_UR50D.pt" in message
    assert "backbone.path=/path/to/esm2_t6_8M_UR50D.pt" in message


def test_hub_name_loads_from_torch_hub_cache(tiny, tmp_path: Path, monkeypatch) -> None:
    path, model = tiny
    (tmp_path / "checkpoints").mkdir()
    shutil.copy(path, tmp_path / "checkpoints" / "esm2_t6_8M_UR50D.pt")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", unreachable)
    backbone = Esm2Backbone(Esm2Config(model="esm2_t6_8M_UR50D"))
    emb, _ = backbone.embed_windows(SEQS[:1])
    torch.testing.assert_close(emb[0], reference(model, SEQS[:1], 2)[0], atol=1e-5, rtol=1e-4)
    assert backbone.identity() == "esm2:esm2_t6_8M_UR50D:layer=2"


def test_unknown_hub_name_lists_choices() -> None:
    with pytest.raises(ConfigError, match="esm2_t33_650M_UR50D"):
        Esm2Backbone(Esm2Config(model="esm3_open"))
