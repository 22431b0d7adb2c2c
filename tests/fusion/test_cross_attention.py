import torch

from ppi.channels import Tokens
from ppi.fusion import CrossAttentionFusion, FusionConfig, HeadConfig, PairStage


def _fusion(**kw):
    torch.manual_seed(0)
    return CrossAttentionFusion(FusionConfig(dim=16, heads=2, latents=4, **kw), ["sequence"]).eval()


def _tokens(b, length, dim=16, lengths=None):
    mask = torch.ones(b, length, dtype=torch.bool)
    for i, n in enumerate(lengths or []):
        mask[i, n:] = False
    return Tokens(torch.randn(b, length, dim), mask)


def test_encode_shape_and_padding_invariance():
    fusion = _fusion()
    t = _tokens(2, 12, lengths=[12, 5])
    z = fusion.encode({"sequence": t})
    assert z.shape == (2, 4, 16)
    # protein 1 alone with no padding gives the same latents
    alone = Tokens(t.tokens[1:2, :5], t.mask[1:2, :5])
    torch.testing.assert_close(fusion.encode({"sequence": alone})[0], z[1], atol=1e-5, rtol=1e-5)


def test_protein_with_no_tokens_is_finite():
    fusion = _fusion()
    t = _tokens(2, 6)
    t.mask[0] = False
    assert torch.isfinite(fusion.encode({"sequence": t})).all()


def _stage(fusion):
    head = HeadConfig(hidden=8, dropout=0.0)
    return PairStage(fusion.config, head, 1, {}, fusion.norm).eval()


def test_pair_score_is_exactly_symmetric():
    stage = _stage(_fusion(pair_layers=2))
    za, zb = torch.randn(5, 4, 16), torch.randn(5, 4, 16)
    ab = stage.pairs(za, zb, [], [])
    ba = stage.pairs(zb, za, [], [])
    assert ab.shape == (5,)
    assert torch.equal(ab, ba)


def test_pair_cost_does_not_depend_on_sequence_length():
    fusion = _fusion()
    short = fusion.encode({"sequence": _tokens(3, 10)})
    long = fusion.encode({"sequence": _tokens(3, 500)})
    assert short.shape == long.shape == (3, 4, 16)


def test_spectral_norm_bounds_projection_norms():
    fusion = _fusion(spectral_norm=True)
    fusion.train()
    for _ in range(5):  # power iterations converge during training-mode forwards
        fusion.encode({"sequence": _tokens(2, 6)})
    weight = fusion.encoder[0].cross.q.weight
    assert torch.linalg.matrix_norm(weight, ord=2) <= 1.05


def test_attention_maps_returned_on_request():
    stage = _stage(_fusion(pair_layers=2))
    _, _, maps = stage.interact(torch.randn(3, 4, 16), torch.randn(3, 4, 16), need_weights=True)
    assert len(maps) == 2 and maps[0].shape == (3, 4, 4)
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(3, 4))


def test_encode_can_return_its_attention_over_the_channel_tokens():
    fusion = _fusion(encoder_layers=2)
    t = _tokens(2, 12, lengths=[12, 5])
    z, maps = fusion.encode_with_weights({"sequence": t})
    torch.testing.assert_close(z, fusion.encode({"sequence": t}))
    assert len(maps) == 2 and maps[0].shape == (2, 4, 13)  # 12 tokens + the null token
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(2, 4))
    assert maps[0][1, :, 5:12].abs().max() == 0  # padding gets no attention


def test_balanced_summary_weighs_each_channel_once_whatever_its_token_count():
    # 3 or 300 residue tokens of one value next to one property token: the
    # protein's starting summary is the same only when channels are balanced
    fused = {
        flag: CrossAttentionFusion(
            FusionConfig(dim=16, heads=2, latents=4, balance_channels=flag),
            ["sequence", "properties"],
        )
        for flag in (True, False)
    }
    residue, prop = torch.randn(16), torch.randn(16)

    def summary(fusion, length):
        seq = Tokens(residue.expand(1, length, 16).clone(), torch.ones(1, length, dtype=torch.bool))
        props = Tokens(prop.view(1, 1, 16), torch.ones(1, 1, dtype=torch.bool))
        tokens = [t.tokens + fusion.channel_embed[i] for i, t in enumerate((seq, props))] + [
            fusion.null_token
        ]
        masks = [seq.mask, props.mask, torch.ones(1, 1, dtype=torch.bool)]
        return fusion._mean(tokens, masks)

    torch.testing.assert_close(summary(fused[True], 3), summary(fused[True], 300))
    expected = (residue + prop + fused[True].channel_embed.sum(0)) / 3  # null token is zero
    torch.testing.assert_close(summary(fused[True], 3)[0], expected)
    assert not torch.allclose(summary(fused[False], 3), summary(fused[False], 300))


def test_a_channel_with_no_tokens_for_a_protein_leaves_the_summary_to_the_others():
    fusion = CrossAttentionFusion(FusionConfig(dim=16, heads=2, latents=4), ["a", "b"])
    a, b = _tokens(2, 5), _tokens(2, 3)
    b.mask[0] = False  # protein 0 has no "b" evidence
    null = fusion.null_token.expand(2, 1, 16)
    masks = [a.mask, b.mask, torch.ones(2, 1, dtype=torch.bool)]
    mean = fusion._mean([a.tokens, b.tokens, null], masks)
    torch.testing.assert_close(mean[0], a.tokens[0].mean(0) / 2)  # (a + zero null) / 2
    assert torch.isfinite(fusion.encode({"a": a, "b": b})).all()
