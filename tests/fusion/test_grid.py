import pytest
import torch

from ppi.fusion import CrossAttentionFusion, FusionConfig, HeadConfig, PairHead
from ppi.fusion.grid import PairGrid


def _model(**kw):
    torch.manual_seed(0)
    fusion = CrossAttentionFusion(FusionConfig(dim=16, heads=2, latents=4, **kw), ["sequence"])
    head = PairHead(HeadConfig(hidden=8), 16)
    with torch.no_grad():  # non-trivial norms, so folding their gains and biases is tested
        for norm in (m for m in fusion.modules() if isinstance(m, torch.nn.LayerNorm)):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.3, 0.3)
    return fusion.eval(), head.eval()


def _reference(fusion, head, za, zb):
    r, c = len(za), len(zb)
    a = za[:, None].expand(-1, c, -1, -1).flatten(0, 1)
    b = zb[None].expand(r, -1, -1, -1).flatten(0, 1)
    ha, hb, _ = fusion.interact(a, b)
    return head(ha, hb).view(r, c)


@pytest.mark.parametrize("pair_layers", [0, 1, 2])
@pytest.mark.parametrize("spectral", [False, True])
def test_block_logits_match_pair_logits(pair_layers, spectral):
    fusion, head = _model(pair_layers=pair_layers, spectral_norm=spectral)
    grid = PairGrid(fusion, head, chunk_pairs=7)  # several chunks per block
    z = torch.randn(9, 4, 16) * 2
    sides = grid.sides(z)
    with torch.no_grad():
        got = grid(sides.take(slice(0, 5)), sides.take(slice(5, 9)))
        want = _reference(fusion, head, z[:5], z[5:])
    assert got.shape == (5, 4)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_square_block_is_exactly_symmetric_and_matches():
    fusion, head = _model()
    grid = PairGrid(fusion, head, chunk_pairs=10)
    z = torch.randn(6, 4, 16)
    with torch.no_grad():
        got = grid(grid.sides(z))
        want = _reference(fusion, head, z, z)
    assert torch.equal(got, got.T)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
