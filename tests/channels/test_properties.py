import numpy as np
import pytest
import torch

from ppi.channels import CHANNELS, ChannelContext, Proteins, RunData
from ppi.channels.properties import PropertiesChannel, PropertiesConfig
from ppi.config.run import load_config
from ppi.data.property_table import builtin_properties, composition
from ppi.errors import ConfigError, InputError

SEQS = {"a": "MKTAYIAKQRQISFVK", "b": "MSTNPKPQRKTKRNTNRRPQDVKFPGG", "c": "MDEEWWDDEE"}


def _channel(tmp_path, **cfg):
    torch.manual_seed(0)
    backbone = load_config(None, []).backbone
    cfg = {"pretrained": "", **cfg}  # the default's UniRep-1900 vectors only where asked for
    return PropertiesChannel(
        PropertiesConfig(enabled=True, **cfg), ChannelContext(8, backbone, tmp_path)
    )


def _table(tmp_path, text):
    path = tmp_path / "props.tsv"
    path.write_text(text)
    return str(path)


def test_registered_and_builtin_statistics_come_from_training_proteins(tmp_path):
    assert CHANNELS.get("properties") is PropertiesChannel
    ch = _channel(tmp_path)
    assert not ch.uses_ids
    ch.prepare(SEQS, run=RunData(frozenset({"a", "b"}), frozenset({"c"})))
    train = torch.tensor([builtin_properties(SEQS[k]) for k in "ab"])
    assert ch.columns[25:][:2] == ("dipeptide_AA", "dipeptide_AC") and len(ch.columns) == 425
    assert torch.allclose(ch.mean[:25], train.mean(0))
    dipeptides = torch.from_numpy(np.stack([composition(SEQS[k])[20:] for k in "ab"])).float()
    assert torch.allclose(ch.mean[25:], dipeptides.mean(0))
    mk = 25 + 10 * 20 + 8  # M then K: once in each of the two training sequences' pairs
    assert ch.mean[mk].item() == pytest.approx((1 / 15 + 0 / 26) / 2)
    out = ch(Proteins(["a", "c"], [SEQS["a"], SEQS["c"]]))
    assert out.tokens.shape == (2, 2, 8) and out.mask.all()


def test_table_and_builtin_columns_and_the_saved_statistics(tmp_path):
    table = _table(tmp_path, "id\tcharge\tscore\na\t1\t0.5\nb\t3\t0.1\nc\t-2\t0.9\n")
    ch = _channel(tmp_path, table=table)
    assert ch.uses_ids and ch.columns[:2] == ("table:charge", "table:score")
    ch.prepare(SEQS, run=RunData(frozenset({"a", "b"}), frozenset({"c"})))
    assert ch.mean[:2].tolist() == pytest.approx([2.0, 0.3])
    ch.save_assets(tmp_path / "model")
    again = _channel(tmp_path, table=table)
    again.load_assets(tmp_path / "model")
    again.load_state_dict(ch.state_dict())
    batch = Proteins(list(SEQS), list(SEQS.values()))
    assert torch.allclose(ch(batch).tokens, again(batch).tokens)
    wider = _table(tmp_path, "id\tcharge\tscore\textra\na\t1\t0.5\t1\n")
    with pytest.raises(InputError, match="expected the 427 columns the model was trained with"):
        _channel(tmp_path, table=wider).load_assets(tmp_path / "model")


def test_missing_id_and_config_errors(tmp_path):
    table = _table(tmp_path, "id,charge\na,1\n")
    with pytest.raises(InputError, match=r"props\.tsv: no row for 2 protein\(s\), e.g. 'b', 'c'"):
        _channel(tmp_path, table=table).prepare(SEQS)
    with pytest.raises(ConfigError, match="set a table, builtin=true, dipeptides=true"):
        _channel(tmp_path, builtin=False, dipeptides=False)


def test_pretrained_unirep_components_fitted_on_training_proteins(tmp_path, unirep_weights_dir):
    from ppi.backbones.configs import UnirepConfig
    from ppi.backbones.unirep import UnirepBackbone

    cfg = {"pretrained": "unirep-64", "pretrained_dims": 2, "builtin": False, "dipeptides": False}
    cfg["pretrained_path"] = str(unirep_weights_dir)
    cfg["pretrained_precision"] = "float32"  # compared with the float32 backbone below
    ch = _channel(tmp_path, **cfg)
    assert ch.columns == ("unirep-64:pc0", "unirep-64:pc1")
    more = {**SEQS, "d": "MGSSHHHHHHSSGLVPRGSH", "e": "MKKLLPTAAAGLLLLAAQPAMA"}
    ch.prepare(more, run=RunData(frozenset("abde"), frozenset("c")))
    # the projection is the real UniRep-64 mean embedding, centred on the training proteins
    model = UnirepBackbone(UnirepConfig(size=64, path=str(unirep_weights_dir))).eval()
    with torch.no_grad():
        emb, mask = model([more[k] for k in "abcde"])
    pooled = (emb.sum(1) / mask.sum(1, keepdim=True)).double()  # (5, 64)
    train = pooled[[0, 1, 3, 4]]
    assert torch.allclose(ch.pc_mean.double(), train.mean(0), atol=1e-5)
    pcs = torch.stack([ch._values[more[k]] for k in "abcde"]).double()  # (5, 2)
    assert pcs[[0, 1, 3, 4]].mean(0).abs().max() < 1e-4  # centred where fitted
    variance = pcs[[0, 1, 3, 4]].var(0)
    assert variance[0] >= variance[1] > 0  # the first axis carries the most
    expected = (pooled - train.mean(0)) @ ch.pc_axes.double().T
    assert torch.allclose(pcs, expected, atol=1e-4)  # the held-out protein is projected too
    # the axes travel in the weights: a model loaded from them gives the same tokens
    again = _channel(tmp_path, **cfg)
    again.load_state_dict(ch.state_dict())
    again.prepare(more)
    batch = Proteins(list(more), list(more.values()))
    assert torch.allclose(ch(batch).tokens, again(batch).tokens, atol=1e-5)
    # the vectors were cached: a fresh channel reads them without the backbone's work
    cached = _channel(tmp_path, **cfg)
    cached._pooled([more["a"]])
    assert not cached._embedder.missing(list(more.values()))
