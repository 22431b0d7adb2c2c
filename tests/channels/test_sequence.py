import torch

from ppi.channels import ChannelContext, Proteins, SequenceChannel, SequenceConfig
from ppi.config.run import load_config

TINY = ["backbone.dim=16", "backbone.layers=1", "backbone.heads=2", "backbone.max_len=64"]


def _channel(tmp_path, *extra, **cfg):
    torch.manual_seed(0)
    backbone = load_config(None, [*TINY, *extra]).backbone
    return SequenceChannel(SequenceConfig(**cfg), ChannelContext(16, backbone, tmp_path))


def test_trained_backbone_gives_residue_tokens(tmp_path):
    ch = _channel(tmp_path).eval()
    out = ch(Proteins(["a", "b"], ["MKTAYIAK", "MST"]))
    assert out.tokens.shape == (2, 8, 16)
    assert out.mask.sum(1).tolist() == [8, 3]


def test_frozen_backbone_embeddings_are_cached_once(tmp_path, monkeypatch):
    ch = _channel(tmp_path, "backbone.finetune=frozen").eval()
    calls = []
    real = ch.backbone.embed_windows
    monkeypatch.setattr(ch.backbone, "embed_windows", lambda s: calls.append(len(s)) or real(s))
    proteins = {"a": "MKTAYIAK", "b": "MSTNPKPQ", "c": "MKTAYIAK"}
    ch.prepare(proteins)
    assert sum(calls) == 2  # two distinct sequences
    first = ch(Proteins(["a", "b"], ["MKTAYIAK", "MSTNPKPQ"])).tokens
    # a fresh channel over the same cache computes nothing and gives the same tokens
    again = _channel(tmp_path, "backbone.finetune=frozen").eval()
    again.load_state_dict(ch.state_dict())
    monkeypatch.setattr(again.backbone, "embed_windows", lambda s: calls.append(len(s)) or real(s))
    again.prepare(proteins)
    assert sum(calls) == 2
    second = again(Proteins(["a", "b"], ["MKTAYIAK", "MSTNPKPQ"])).tokens
    torch.testing.assert_close(first, second)


def test_train_crop_only_while_training(tmp_path):
    ch = _channel(tmp_path, train_crop=5)
    seq = "MKTAYIAKQRQISFVKSHFSRQ"
    ch.train()
    assert ch(Proteins(["a"], [seq])).tokens.shape[1] == 5
    ch.eval()
    assert ch(Proteins(["a"], [seq])).tokens.shape[1] == len(seq)


def test_backbone_learned_on_crops_reads_crop_sized_windows(tmp_path, monkeypatch):
    # positions beyond the crop were never trained: evaluation must not use them
    ch = _channel(tmp_path, train_crop=5).eval()
    seen = []
    real = ch.backbone.embed_windows
    monkeypatch.setattr(ch.backbone, "embed_windows", lambda s: seen.extend(s) or real(s))
    seq = "MKTAYIAKQRQISFVKSHFSRQ"
    out = ch(Proteins(["a"], [seq]))
    assert out.mask.sum().item() == len(seq)
    assert max(len(w) for w in seen) == 5 and len(seen) > 1
    assert _channel(tmp_path, train_crop=5).identity() != _channel(tmp_path).identity()


def test_whole_sequence_training_and_frozen_backbones_keep_their_window(tmp_path):
    assert _channel(tmp_path, train_crop=0).backbone.window == 64
    assert _channel(tmp_path, "backbone.finetune=frozen", train_crop=5).backbone.window == 64
