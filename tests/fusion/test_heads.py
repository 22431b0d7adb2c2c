"""Heads: one constructor for both tasks; the pair head is symmetric and reads evidence."""

import pytest
import torch

from ppi.fusion import HEADS, HeadConfig


def test_both_heads_take_the_same_arguments():
    pair = HEADS.get("pair")(HeadConfig(hidden=8), 16, 1, 3)
    single = HEADS.get("single")(HeadConfig(hidden=8), 16, 4, 0)
    assert pair.evidence == 3
    assert single(torch.randn(5, 2, 16)).shape == (5, 4)  # (B, M, D) -> (B, C)
    with pytest.raises(ValueError, match="single head: a protein has no pair evidence"):
        HEADS.get("single")(HeadConfig(), 16, 4, 2)


def test_pair_head_is_exactly_symmetric_and_uses_the_evidence():
    torch.manual_seed(0)
    head = HEADS.get("pair")(HeadConfig(hidden=8, dropout=0.0), 16, 1, 2).eval()
    ha, hb, ev = torch.randn(6, 16), torch.randn(6, 16), torch.randn(6, 2)
    out = head(ha, hb, ev)
    assert out.shape == (6,)
    assert torch.equal(out, head(hb, ha, ev))
    assert not torch.allclose(out, head(ha, hb, torch.zeros(6, 2)))
    grid = head(
        ha[:, None].expand(-1, 3, -1), hb[None, :3].expand(6, -1, -1), ev[:, None].expand(-1, 3, -1)
    )
    assert grid.shape == (6, 3)  # any leading dims


def test_several_outputs_keep_their_axis():
    head = HEADS.get("pair")(HeadConfig(hidden=8), 16, 3).eval()
    assert head(torch.randn(4, 16), torch.randn(4, 16)).shape == (4, 3)
