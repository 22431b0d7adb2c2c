from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
import torch

from ppi.channels import CHANNELS, ChannelContext, Proteins
from ppi.channels._gnn import StructureEncoder
from ppi.channels._graphs import build_edges
from ppi.config.run import load_config
from ppi.data.structures import read_structure
from ppi.errors import ConfigError

FIX = Path(__file__).parents[1] / "fixtures" / "structure"
BOUND = FIX / "db55" / "bound"


def _random_rotation(gen: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).float()  # (3, 3) orthogonal


def test_encoder_is_invariant_to_rotation_and_translation():
    gen = torch.Generator().manual_seed(0)
    coords = torch.from_numpy(read_structure(BOUND / "2OOB_l_b.pdb.gz").coords)
    moved = coords @ _random_rotation(gen).T + torch.randn(3, generator=gen) * 50
    enc = StructureEncoder(in_dim=5, dim=16, layers=2).eval()
    x = torch.randn(len(coords), 5, generator=gen)
    pos = torch.arange(len(coords))
    outs = []
    for c in (coords, moved):
        edge_index, dist = build_edges(c, radius=10.0, k=8)
        outs.append(enc(x, pos, edge_index, dist, torch.zeros(len(c), dtype=torch.long), 1))
    torch.testing.assert_close(outs[0][0], outs[1][0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(outs[0][1], outs[1][1], atol=1e-4, rtol=1e-4)
    assert not torch.allclose(outs[0][0][0], outs[0][0][1])  # residues differ from each other


def _channel(tmp_path, **overrides):
    cfg = load_config(None, [f"channels.structure.{k}={v}" for k, v in overrides.items()])
    ctx = ChannelContext(16, cfg.backbone, tmp_path / "cache")
    return CHANNELS.get("structure")(cfg.channels["structure"], ctx)


def _seq(name: str) -> str:
    return read_structure(BOUND / name).residues


def test_channel_tokens_with_and_without_structures(tmp_path, caplog):
    caplog.set_level("INFO", logger="ppi")
    folder = tmp_path / "structures"
    folder.mkdir()
    shutil.copy(BOUND / "2OOB_l_b.pdb.gz", folder / "ubq.pdb.gz")
    (folder / "junk.pdb").write_text("this is not a structure\n")
    channel = _channel(tmp_path, folder=folder, k=8, layers=1).eval()
    seq = "GS" + _seq("2OOB_l_b.pdb.gz")
    batch = Proteins(["ubq", "none", "junk"], [seq, "MKV", "MKVLA"])
    out = channel(batch)
    n = len(seq) - 2
    assert out.tokens.shape == (3, 1 + n, 16)
    assert out.mask.sum(1).tolist() == [1 + n, 1, 1]
    assert out.positions[0, 1:].tolist() == list(range(2, 2 + n))  # node i -> sequence position
    assert (out.positions[1:] == -1).all()
    torch.testing.assert_close(out.tokens[1, 0], out.tokens[2, 0])  # the learned missing token
    assert not torch.allclose(out.tokens[0, 0], out.tokens[1, 0])
    # channel dropout shows the "no structure" token, as for a protein without one
    dropped = channel.drop(channel(batch), torch.tensor([[False], [True], [True]]))
    assert dropped.mask.sum(1).tolist() == [1, 1, 1]
    torch.testing.assert_close(dropped.tokens[0, 0], out.tokens[1, 0])
    assert list(channel.skipped) == ["junk"] and "junk.pdb" in channel.skipped["junk"]
    assert "skipped junk" in caplog.text
    channel.save_assets(tmp_path / "model" / "structure")
    listed = (tmp_path / "model" / "structure" / "skipped.tsv").read_text().splitlines()
    assert listed[0] == "id\treason" and listed[1].startswith("junk\t")
    cover = (tmp_path / "model" / "structure" / "coverage.tsv").read_text().splitlines()
    assert cover[0] == "id\tcoverage\tidentity"
    pid, coverage, identity = cover[1].split("\t")
    assert pid == "ubq" and float(coverage) == pytest.approx(n / len(seq), abs=1e-4)
    assert float(identity) == 1.0 and len(cover) == 2
    assert "mean coverage of their sequence" in caplog.text


def test_parsed_graphs_come_from_the_cache(tmp_path, monkeypatch):
    mapping = tmp_path / "map.tsv"
    mapping.write_text(f"id\tpath\tchain\nr\t{BOUND / '2OOB_r_b.pdb.gz'}\t\n")
    seq = _seq("2OOB_r_b.pdb.gz")
    first = _channel(tmp_path, mapping=mapping).eval()
    first.prepare({"r": seq})

    def fail(*args, **kwargs):
        raise AssertionError("parsed again")

    monkeypatch.setattr("ppi.channels.structure.read_structure", fail)
    second = _channel(tmp_path, mapping=mapping).eval()
    second.load_state_dict(first.state_dict())
    second.prepare({"r": seq})
    batch = Proteins(["r"], [seq])
    torch.testing.assert_close(first(batch).tokens, second(batch).tokens)


def test_node_embedding_needs_a_frozen_backbone(tmp_path):
    with pytest.raises(ConfigError, match="backbone.finetune=frozen"):
        _channel(tmp_path, node_embedding="true")


def _tiny_esm(folder: Path) -> Path:
    """The tiny random ESM-2 of the hf backbone tests, saved in a folder."""
    spec = importlib.util.spec_from_file_location(
        "hf_fixtures", Path(__file__).parents[1] / "backbones" / "test_hf.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    module.save_esm(folder)
    return folder


def test_node_features_carry_the_frozen_embedding_and_confidence(tmp_path):
    esm = _tiny_esm(tmp_path / "esm")
    cfg = load_config(
        None,
        [
            "backbone.name=hf",
            f"backbone.model={esm}",
            "channels.structure.node_embedding=true",
            "channels.structure.confidence=true",
            f"channels.structure.folder={tmp_path / 'structures'}",
        ],
    )
    (tmp_path / "structures").mkdir()
    shutil.copy(BOUND / "2OOB_l_b.pdb.gz", tmp_path / "structures" / "ubq.pdb.gz")
    ctx = ChannelContext(16, cfg.backbone, tmp_path / "cache")
    channel = CHANNELS.get("structure")(cfg.channels["structure"], ctx).eval()
    structure = read_structure(BOUND / "2OOB_l_b.pdb.gz")
    seq = "MA" + structure.residues
    channel.prepare({"ubq": seq})
    graph = channel.graphs[f"ubq\t{seq}"]
    feats = channel._node_features(graph, seq)
    with torch.no_grad():
        emb, _ = channel.backbone([seq])  # (1, L, Db)
    torch.testing.assert_close(feats[:, 22:], emb[0, 2:], atol=2e-3, rtol=2e-3)  # cached in fp16
    torch.testing.assert_close(feats[:, 21], torch.from_numpy(structure.confidence) / 100)
    assert channel.frozen_state_prefixes() == ["backbone."]
    assert channel(Proteins(["ubq"], [seq])).tokens.shape == (1, 1 + len(structure.residues), 16)
