import logging
import math

import pytest
import torch

from ppi.backbones import BACKBONES
from ppi.backbones.scratch import (
    SPECIALS,
    ScratchBackbone,
    ScratchConfig,
    ScratchTokenizer,
    sinusoidal_table,
)
from ppi.config.tools import build
from ppi.errors import ConfigError, InputError


def tiny(**overrides) -> ScratchBackbone:
    torch.manual_seed(0)
    fields = {"dim": 16, "layers": 2, "heads": 2, "ff_mult": 2, "max_len": 64, **overrides}
    return ScratchBackbone(ScratchConfig(**fields))


def test_registered_under_scratch_with_its_config():
    assert BACKBONES.get("scratch") is ScratchBackbone
    assert BACKBONES.config_class("scratch") is ScratchConfig
    cfg = ScratchConfig()
    assert (cfg.name, cfg.finetune, cfg.dim, cfg.layers, cfg.heads) == ("scratch", "full", 64, 2, 4)
    assert (cfg.ff_mult, cfg.dropout, cfg.max_len) == (2, 0.1, 256)


def test_tokenizer_ids_and_mask():
    tok = ScratchTokenizer()
    assert len(tok) == len(SPECIALS) + 20
    ids, mask = tok.encode(["MKV", "AX"])
    cls, eos, unk, pad = tok.vocab["<cls>"], tok.vocab["<eos>"], tok.vocab["<unk>"], tok.pad_id
    assert ids.shape == (2, 5) and ids.dtype == torch.long
    m, k, v, a = (tok.vocab[c] for c in "MKVA")
    assert ids.tolist() == [[cls, m, k, v, eos], [cls, a, unk, eos, pad]]
    assert mask.tolist() == [[True] * 5, [True] * 4 + [False]]
    ids, _ = tok.encode(["", "A"])
    assert ids.tolist() == [[cls, eos, pad], [cls, a, eos]]


def test_x_and_unknown_letters_map_to_unk():
    tok = ScratchTokenizer()
    ids, _ = tok.encode(["XBé"])
    assert ids[0, 1:4].tolist() == [tok.unk_id] * 3
    assert tok.unk_id == SPECIALS.index("<unk>")


def test_shapes_and_mask():
    model = tiny().eval()
    emb, mask = model(["ACDEFG", "MK", "W" * 10])
    assert emb.shape == (3, 10, 16)
    assert mask.dtype == torch.bool
    assert mask.sum(1).tolist() == [6, 2, 10]
    assert mask[1, :2].all() and not mask[1, 2:].any()
    assert torch.count_nonzero(emb[1, 2:]) == 0  # padding carries zeros


@pytest.mark.parametrize("conv", [0, 5])
def test_padding_invariance(conv):
    model = tiny(conv=conv).eval()
    alone, _ = model.embed_windows(["MKTAYIAKQR"])
    batched, mask = model.embed_windows(["MKTAYIAKQR", "G" * 60])
    assert mask[0].sum() == 10
    torch.testing.assert_close(batched[0, :10], alone[0], atol=1e-5, rtol=1e-5)


def test_gradients_reach_embedding_table():
    model = tiny()
    emb, mask = model(["MKTAYIAKQR", "GAV"])
    emb[mask].pow(2).sum().backward()
    grad = model.embed.weight.grad
    assert grad is not None
    assert grad[model.tokenizer.vocab["M"]].abs().sum() > 0
    assert grad[model.tokenizer.pad_id].abs().sum() == 0  # padding_idx never trains


def test_finetune_last_trains_only_the_last_block():
    model = tiny(finetune="last", finetune_layers=1, layers=3)
    last = {id(p) for p in model.blocks()[-1].parameters()}
    for name, p in model.named_parameters():
        assert p.requires_grad == (id(p) in last), name
    assert len(model.blocks()) == 3


def test_finetune_full_trains_everything():
    model = tiny()
    assert model.trainable
    assert all(p.requires_grad for p in model.parameters())


def test_frozen_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="ppi"):
        model = tiny(finetune="frozen")
    assert "random weights" in caplog.text
    assert not any(p.requires_grad for p in model.parameters())


def test_sinusoidal_table_values():
    table = sinusoidal_table(10, 8)
    assert table.shape == (10, 8)
    assert torch.equal(table[0, 0::2], torch.zeros(4))
    assert torch.equal(table[0, 1::2], torch.ones(4))
    for pos, i in [(3, 0), (7, 2), (9, 3)]:
        angle = pos / 10000 ** (2 * i / 8)
        assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
        assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_model_adds_positions():
    model = tiny().eval()
    emb, _ = model(["AAAA"])
    assert not torch.allclose(emb[0, 0], emb[0, 1])  # same residue, different position


def test_identity_changes_when_weights_change():
    model = tiny()
    before = model.identity()
    assert before.startswith("scratch:") and before == model.identity()
    with torch.no_grad():
        model.blocks()[0].norm1.weight.add_(0.01)
    assert model.identity() != before


def test_long_sequences_go_through_windows():
    model = tiny(max_len=16, window_overlap=0.25).eval()
    emb, mask = model(["ACDEFGHIKLMNPQRSTVWY" * 2, "MK"])
    assert emb.shape == (2, 40, 16) and mask.sum(1).tolist() == [40, 2]
    with pytest.raises(InputError, match="at most 16 residues"):
        model.embed_windows(["A" * 17])


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"dim": 30, "heads": 4}, "dim"),
        ({"dim": 9, "heads": 3}, "dim"),
        ({"layers": 0}, "layers"),
        ({"heads": -1}, "heads"),
        ({"ff_mult": 0}, "ff_mult"),
        ({"dropout": 1.5}, "dropout"),
        ({"max_len": -2}, "max_len"),
        ({"conv": 4}, "conv"),
        ({"conv": -1}, "conv"),
    ],
)
def test_bad_config_names_the_key(fields, key):
    with pytest.raises(ConfigError, match=f"backbone.{key}:"):
        ScratchBackbone(ScratchConfig(**fields))


def test_build_config_from_mapping():
    cfg = build(ScratchConfig, {"dim": 32, "heads": 2, "finetune": "last"})
    assert (cfg.dim, cfg.heads, cfg.finetune, cfg.layers) == (32, 2, "last", 2)
    with pytest.raises(ConfigError, match="Unknown config key 'backbone.depth'"):
        build(ScratchConfig, {"depth": 3}, "backbone")
    with pytest.raises(ConfigError, match="backbone.dim: expected an integer"):
        build(ScratchConfig, {"dim": "wide"}, "backbone")


def test_local_convolution_sees_its_neighbours_only():
    from ppi.backbones.scratch import LocalConv

    torch.manual_seed(0)
    conv = LocalConv(8, 3)
    x = torch.randn(1, 6, 8)
    keep = torch.ones(1, 6, dtype=torch.bool)
    base = conv(x, keep)
    near, far = x.clone(), x.clone()
    near[0, 1] += 1.0
    far[0, 3] += 1.0
    assert not torch.allclose(conv(near, keep)[0, 0], base[0, 0])
    torch.testing.assert_close(conv(far, keep)[0, :2], base[0, :2])
    padded = x.clone()
    padded[0, 5] = 99.0  # behind the sequence's end: zeroed before the convolution
    keep[0, 5] = False
    torch.testing.assert_close(conv(padded, keep)[0, :5], conv(x, keep)[0, :5])


def test_blocks_have_a_convolution_only_when_asked():
    assert any(".conv." in n for n, _ in tiny(conv=3).named_parameters())
    assert not any(".conv." in n for n, _ in tiny(conv=0).named_parameters())
