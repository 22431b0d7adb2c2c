import random

import pytest
import torch
from torch import nn

from ppi.backbones.base import ALPHABET, Backbone, pool_residues, split_windows, stitch_windows
from ppi.backbones.configs import BackboneConfig
from ppi.errors import ConfigError


class LetterBackbone(Backbone):
    """Toy backbone: residue i of a window embeds as (letter index, i); records its windows."""

    def __init__(self, config: BackboneConfig, max_len: int = 10) -> None:
        super().__init__(config)
        self.dim, self.max_len = 2, max_len
        self.layers = nn.ModuleList(nn.Linear(2, 2) for _ in range(3))
        self.calls: list[list[str]] = []

    def embed_windows(self, seqs):
        self.calls.append(list(seqs))
        length = max(len(s) for s in seqs)
        emb = torch.zeros(len(seqs), length, 2, dtype=torch.float64)
        mask = torch.zeros(len(seqs), length, dtype=torch.bool)
        for b, seq in enumerate(seqs):
            emb[b, : len(seq), 0] = torch.tensor([float(ALPHABET.index(c)) for c in seq])
            emb[b, : len(seq), 1] = torch.arange(len(seq), dtype=torch.float64)
            mask[b, : len(seq)] = True
        return emb, mask

    def blocks(self):
        return list(self.layers)


def random_seq(n: int, rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(n))


def position_embeddings(pieces, dtype=torch.float32) -> torch.Tensor:
    """Window embeddings whose value is the absolute position of each residue."""
    width = max(len(p) for p, _ in pieces)
    emb = torch.full((len(pieces), width, 3), -1000.0, dtype=dtype)  # padding must not leak
    for w, (piece, start) in enumerate(pieces):
        pos = torch.arange(start, start + len(piece), dtype=dtype)
        emb[w, : len(piece)] = pos.unsqueeze(-1)
    return emb


@pytest.mark.parametrize(
    ("length", "window", "overlap"),
    [(100, 32, 8), (33, 32, 8), (64, 32, 0), (1000, 128, 64), (257, 50, 10), (7, 3, 1)],
)
def test_windows_cover_every_residue_in_bounds(length, window, overlap):
    seq = random_seq(length, random.Random(length))
    pieces, owners = split_windows([seq], window, overlap)
    assert owners == [0] * len(pieces)
    starts = [s for _, s in pieces]
    assert starts[0] == 0 and starts == sorted(starts)
    covered = set()
    for piece, start in pieces:
        assert len(piece) == window  # longer than a window: every piece is full
        assert piece == seq[start : start + window]
        covered.update(range(start, start + len(piece)))
    assert covered == set(range(length))
    assert starts[-1] + window == length  # last window ends on the last residue
    for a, b in zip(starts[:-1], starts[1:], strict=True):
        assert window - (b - a) >= overlap  # neighbours share at least `overlap`
    for a, b in zip(starts[:-2], starts[1:-1], strict=True):
        assert b - a == window - overlap  # regular stride before the final window


def test_short_sequences_are_one_piece_and_owners_follow():
    pieces, owners = split_windows(["MKV", "A" * 25, "", "G" * 10], window=10, overlap=2)
    assert pieces[0] == ("MKV", 0) and owners[0] == 0
    assert [s for (_, s), o in zip(pieces, owners, strict=True) if o == 1] == [0, 8, 15]
    assert ("", 0) in pieces and owners[pieces.index(("", 0))] == 2
    assert pieces[-1] == ("G" * 10, 0) and owners[-1] == 3


def test_overlap_above_half_a_window_is_a_config_error():
    with pytest.raises(ConfigError, match="backbone.window_overlap: expected 0 to 5"):
        split_windows(["A" * 40], window=10, overlap=9)
    pieces, _ = split_windows(["A" * 40], window=10, overlap=5)
    assert [s for _, s in pieces] == [0, 5, 10, 15, 20, 25, 30]


def test_window_must_be_positive():
    with pytest.raises(ConfigError, match="expected a positive window"):
        split_windows(["MK"], 0, 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stitching_puts_each_residue_back_on_its_position(dtype):
    rng = random.Random(0)
    lengths = [300, 45, 130, 8]
    seqs = [random_seq(n, rng) for n in lengths]
    pieces, owners = split_windows(seqs, window=64, overlap=16)
    out, mask = stitch_windows(position_embeddings(pieces, dtype), pieces, owners, lengths)
    assert out.shape == (4, 300, 3) and out.dtype == dtype
    for b, n in enumerate(lengths):
        assert mask[b].sum() == n and mask[b, :n].all()
        expected = torch.arange(n, dtype=dtype).unsqueeze(-1).expand(n, 3)
        assert torch.equal(out[b, :n], expected)
        assert torch.count_nonzero(out[b, n:]) == 0


def test_overlap_weights_favour_the_window_with_more_context():
    pieces, owners = split_windows(["A" * 12], window=8, overlap=4)
    assert [s for _, s in pieces] == [0, 4]
    emb = torch.stack([torch.zeros(8, 1), torch.ones(8, 1)])  # window 0 says 0, window 1 says 1
    out, _ = stitch_windows(emb, pieces, owners, [12])
    # residue 4..7: weights min(i+1, 8-i) from window 0 against j+1 from window 1
    expected = [0.0] * 4 + [0.2, 0.4, 0.6, 0.8] + [1.0] * 4
    torch.testing.assert_close(out[0, :, 0], torch.tensor(expected))


def test_stitching_is_right_in_bfloat16():
    pieces, owners = split_windows(["A" * 1000], window=512, overlap=64)
    emb = position_embeddings(pieces, torch.bfloat16)
    out, _ = stitch_windows(emb, pieces, owners, [1000])
    expected = torch.arange(1000, dtype=torch.bfloat16).float()
    torch.testing.assert_close(out[0, :, 0].float(), expected, atol=0, rtol=1e-2)


def test_pool_mean_and_causal_last_respect_the_mask():
    emb = torch.arange(2 * 4 * 2, dtype=torch.float32).view(2, 4, 2)  # (B, L, D)
    mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    mean = pool_residues(emb, mask)
    torch.testing.assert_close(mean, torch.stack([emb[0, :3].mean(0), emb[1, 0]]))
    last = pool_residues(emb, mask, causal=True)
    torch.testing.assert_close(last, torch.stack([emb[0, 2], emb[1, 0]]))
    empty = pool_residues(emb, torch.zeros(2, 4, dtype=torch.bool))
    assert torch.equal(empty, torch.zeros(2, 2))


def test_backbone_pool_uses_causal_flag():
    model = LetterBackbone(BackboneConfig())
    emb, mask = model(["ACD", "EF"])
    mean_position = model.pool(emb, mask)[:, 1]
    assert mean_position.tolist() == [1.0, 0.5]
    model.causal = True
    last_position = model.pool(emb, mask)[:, 1]
    assert last_position.tolist() == [2.0, 1.0]


def test_forward_passes_short_batches_straight_through():
    model = LetterBackbone(BackboneConfig(window_overlap=0.2), max_len=10)
    emb, mask = model(["ACDEFGHIKL", "MK"])
    assert model.calls == [["ACDEFGHIKL", "MK"]]
    assert emb.shape == (2, 10, 2) and mask.sum(1).tolist() == [10, 2]


def test_forward_windows_long_sequences_and_stitches_in_place():
    rng = random.Random(1)
    seqs = [random_seq(57, rng), random_seq(4, rng), random_seq(23, rng)]
    model = LetterBackbone(BackboneConfig(window_overlap=0.3), max_len=10)
    emb, mask = model(seqs)
    assert len(model.calls) == 1
    assert all(len(piece) <= 10 for piece in model.calls[0])
    assert emb.shape == (3, 57, 2) and mask.sum(1).tolist() == [57, 4, 23]
    for b, seq in enumerate(seqs):
        letters = torch.tensor([float(ALPHABET.index(c)) for c in seq], dtype=emb.dtype)
        assert torch.equal(emb[b, : len(seq), 0], letters)  # every residue lands on its place


def test_config_max_len_caps_the_window():
    model = LetterBackbone(BackboneConfig(max_len=6, window_overlap=0.34), max_len=10)
    assert model.window == 6
    assert LetterBackbone(BackboneConfig(max_len=50), max_len=10).window == 10
    assert LetterBackbone(BackboneConfig(), max_len=10).window == 10
    model(["A" * 20])
    assert max(len(p) for p in model.calls[0]) == 6


@pytest.mark.parametrize(("mode", "trained"), [("frozen", []), ("full", [0, 1, 2]), ("last", [2])])
def test_apply_finetune_modes(mode, trained):
    model = LetterBackbone(BackboneConfig(finetune=mode, finetune_layers=1))
    model.apply_finetune()
    got = [i for i, b in enumerate(model.blocks()) if all(p.requires_grad for p in b.parameters())]
    assert got == trained
    assert model.trainable == (mode != "frozen")


def test_apply_finetune_last_two():
    model = LetterBackbone(BackboneConfig(finetune="last", finetune_layers=2))
    model.apply_finetune()
    assert [b.weight.requires_grad for b in model.blocks()] == [False, True, True]


def test_apply_finetune_last_zero_trains_nothing():
    model = LetterBackbone(BackboneConfig(finetune="last", finetune_layers=0))
    model.apply_finetune()
    assert not any(p.requires_grad for p in model.parameters())
