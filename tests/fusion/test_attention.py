"""Attention blocks: masks are honoured, weights sum to one, the feed-forward parts by name."""

import torch

from ppi.fusion.attention import Attention, CrossBlock


def test_masked_keys_get_no_weight_and_do_not_change_the_output():
    torch.manual_seed(0)
    att = Attention(16, 2).eval()
    x, ctx = torch.randn(2, 3, 16), torch.randn(2, 5, 16)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    out, weights = att(x, ctx, mask, need_weights=True)
    fast, none = att(x, ctx, mask)
    assert none is None and out.shape == (2, 3, 16)
    torch.testing.assert_close(out, fast, atol=1e-5, rtol=1e-5)  # both attention paths agree
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))
    assert weights[1, :, 2:].abs().max() == 0
    alone, _ = att(x[1:], ctx[1:, :2], mask[1:, :2])
    torch.testing.assert_close(out[1:], alone, atol=1e-5, rtol=1e-5)


def test_cross_block_shapes_and_named_feed_forward_parts():
    blk = CrossBlock(16, 2, 0.0, False, self_attend=True).eval()
    x, ctx = torch.randn(2, 4, 16), torch.randn(2, 7, 16)
    out, weights = blk(x, ctx, torch.ones(2, 7, dtype=torch.bool), need_weights=True)
    assert out.shape == (2, 4, 16) and weights.shape == (2, 4, 7)
    assert blk.ff_in.weight.shape == (32, 16) and blk.ff_out.weight.shape == (16, 32)
    h = torch.randn(3, 16)
    torch.testing.assert_close(blk.ff(h), blk.ff_out(blk.ff_act(blk.ff_in(h))))
