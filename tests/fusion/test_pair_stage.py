"""The pair stage: its two entry points agree, evidence reaches the head, hiding zeroes it."""

import pytest
import torch

from ppi.fusion import CrossAttentionFusion, FusionConfig, HeadConfig, PairStage, listed


class _Constant:
    """A stand-in evidence provider: two numbers per pair, symmetric."""

    dim = 2

    def __init__(self, config):
        self.config = config

    def prepare(self, proteins, run=None):
        pass

    def features(self, seqs_a, seqs_b, grid=False):
        la = torch.tensor([float(len(s)) for s in seqs_a])
        lb = torch.tensor([float(len(s)) for s in seqs_b])
        if grid:
            la, lb = la[:, None], lb[None, :]
        return torch.stack([(la + lb) / 10, (la * lb) / 100], -1)


def _stage(evidence=None, **kw):
    torch.manual_seed(0)
    fusion = CrossAttentionFusion(FusionConfig(dim=16, heads=2, latents=4, **kw), ["sequence"])
    stage = PairStage(fusion.config, HeadConfig(hidden=8), 1, {}, fusion.norm, chunk_pairs=7)
    if evidence:
        stage.evidence = {"constant": evidence}
        stage.head = type(stage.head)(HeadConfig(hidden=8), 16, 1, evidence.dim)
    with torch.no_grad():  # non-trivial norms, so folding their gains and biases is tested
        for norm in (m for m in stage.modules() if isinstance(m, torch.nn.LayerNorm)):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.3, 0.3)
    return stage.eval()


def _reference(stage, za, zb, seqs_a, seqs_b):
    """Every pair of the block through the list entry point."""
    r, c = len(za), len(zb)
    a = za[:, None].expand(-1, c, -1, -1).flatten(0, 1)
    b = zb[None].expand(r, -1, -1, -1).flatten(0, 1)
    sa = [s for s in seqs_a for _ in range(c)]
    sb = [s for _ in range(r) for s in seqs_b]
    return stage.pairs(a, b, sa, sb).view(r, c)


SEQS = ["M" * n for n in range(3, 12)]


@pytest.mark.parametrize("pair_layers", [0, 1, 2])
@pytest.mark.parametrize("spectral", [False, True])
def test_block_logits_match_pair_logits(pair_layers, spectral):
    stage = _stage(pair_layers=pair_layers, spectral_norm=spectral)
    z = torch.randn(9, 4, 16) * 2
    sides = stage.sides(z, SEQS)
    with torch.no_grad():
        got = stage.block(sides.take(slice(0, 5)), sides.take(slice(5, 9)))
        want = _reference(stage, z[:5], z[5:], SEQS[:5], SEQS[5:])
    assert got.shape == (5, 4)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pair_layers", [1, 2])
@pytest.mark.parametrize("evidence", [None, _Constant(None)])
def test_a_masked_block_scores_only_its_pairs_as_the_whole_block_does(pair_layers, evidence):
    from ppi.fusion.evidence import EvidencePrior

    stage = _stage(evidence, pair_layers=pair_layers)  # chunks of 7 listed pairs
    if evidence is not None:  # the prior's logit is part of a pair's score on both paths
        stage.prior = EvidencePrior((0.5, 0.3), (0.2, 0.1), (1.0, -2.0), weight=0.75)
    z = torch.randn(9, 4, 16) * 2
    sides = stage.sides(z, SEQS)
    only = torch.rand(5, 4, generator=torch.Generator().manual_seed(1)) < 0.6  # (R, C)
    with torch.no_grad():
        rows, cols = sides.take(slice(0, 5)), sides.take(slice(5, 9))
        got = stage.block(rows, cols, only=only)
        want = stage.block(rows, cols)
        # listed rows of the sides are the rows themselves
        assert torch.equal(sides.take(torch.tensor([5, 6])).z, sides.take(slice(5, 7)).z)
    assert 7 < only.sum() < 20 and torch.isinf(got[~only]).all()
    torch.testing.assert_close(got[only], want[only], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("chunk", [3, 2048])
def test_a_masked_square_block_scores_its_pairs_as_the_whole_block_does(chunk):
    stage = _stage()
    stage.chunk_pairs = chunk
    z = torch.randn(9, 4, 16) * 2
    sides = stage.sides(z, SEQS)
    gen = torch.Generator().manual_seed(3)
    only = (torch.rand(9, 9, generator=gen) < 0.5).triu(1)  # (R, R) as a prefilter keeps them
    only[2] = False  # a protein without candidates
    with torch.no_grad():
        got = stage.block(sides, only=only)
        want = stage.block(sides)
    assert torch.isinf(got[~only]).all()
    torch.testing.assert_close(got[only], want[only], atol=1e-6, rtol=1e-6)


def test_square_block_is_exactly_symmetric_and_matches():
    stage = _stage()
    z = torch.randn(6, 4, 16)
    with torch.no_grad():
        got = stage.block(stage.sides(z, SEQS[:6]))
        want = _reference(stage, z, z, SEQS[:6], SEQS[:6])
    assert torch.equal(got, got.T)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pair_layers", [1, 2])
def test_evidence_reaches_both_entry_points_alike_and_hiding_zeroes_it(pair_layers):
    stage = _stage(_Constant(None), pair_layers=pair_layers)
    z = torch.randn(6, 4, 16)
    with torch.no_grad():
        block = stage.block(stage.sides(z[:3], SEQS[:3]), stage.sides(z[3:], SEQS[3:6]))
        listed = _reference(stage, z[:3], z[3:], SEQS[:3], SEQS[3:6])
        torch.testing.assert_close(block, listed, atol=1e-5, rtol=1e-5)
        without = stage.logits(z[:1], z[3:4], torch.zeros(1, 2))
        stage.hidden = frozenset({"constant"})
        hidden = stage.pairs(z[:1], z[3:4], SEQS[:1], SEQS[3:4])
    assert torch.equal(hidden, without)
    assert not torch.allclose(hidden, listed[0, :1])  # the numbers did change the logit


def test_a_head_built_for_evidence_refuses_pairs_without_it():
    stage = _stage(_Constant(None))
    ha = torch.randn(2, 16)
    with pytest.raises(ValueError, match="expected 2 evidence numbers per pair"):
        stage.head(ha, ha)


@pytest.mark.parametrize("pair_layers", [1, 2])
def test_the_evidence_prior_adds_its_logit_on_both_entry_points_and_hiding_drops_it(pair_layers):
    from ppi.fusion.evidence import EvidencePrior

    stage = _stage(_Constant(None), pair_layers=pair_layers)
    z = torch.randn(6, 4, 16)
    rows, cols = stage.sides(z[:3], SEQS[:3]), stage.sides(z[3:], SEQS[3:6])
    with torch.no_grad():
        plain = _reference(stage, z[:3], z[3:], SEQS[:3], SEQS[3:6])
        stage.prior = EvidencePrior((0.5, 0.3), (0.2, 0.1), (1.0, -2.0), weight=0.75)
        listed = _reference(stage, z[:3], z[3:], SEQS[:3], SEQS[3:6])
        block = stage.block(rows, cols)
        ev = _Constant(None).features(SEQS[:3], SEQS[3:6], grid=True)  # (3, 3, 2)
        stage.hidden = frozenset({"constant"})
        hidden = stage.block(rows, cols)
    want = 0.75 * (
        ((ev - torch.tensor([0.5, 0.3])) / torch.tensor([0.2, 0.1])) @ torch.tensor([1.0, -2.0])
    )
    torch.testing.assert_close(listed - plain, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(block, listed, atol=1e-5, rtol=1e-5)
    # hidden, the provider's numbers read as zeros to the head and add nothing through the prior
    stage.prior = None
    with torch.no_grad():
        zeros = stage.block(rows, cols)
    torch.testing.assert_close(hidden, zeros, atol=1e-6, rtol=1e-6)


def test_the_interolog_regression_alone_adds_its_logit_at_weight_zero():
    from ppi.fusion.evidence import EvidencePrior

    stage = _stage(_Constant(None))
    second = _Constant(None)
    second.direct = (1,)  # a provider's own columns, offset by the providers before it
    stage.evidence["second"] = second
    assert stage.direct_columns() == (3,)
    del stage.evidence["second"]
    assert stage.direct_columns() == ()
    z = torch.randn(6, 4, 16)
    with torch.no_grad():
        plain = _reference(stage, z[:3], z[3:], SEQS[:3], SEQS[3:6])
        stage.prior = EvidencePrior((0.5, 0.3), (0.2, 0.1), (1.0, -2.0), 0.0, (), (0.0, 0.7))
        got = _reference(stage, z[:3], z[3:], SEQS[:3], SEQS[3:6])
    ev = _Constant(None).features(SEQS[:3], SEQS[3:6], grid=True)  # (3, 3, 2)
    want = 0.7 * (ev[..., 1] - 0.3) / 0.1
    torch.testing.assert_close(got - plain, want, atol=1e-4, rtol=1e-5)


# -- listed pairs grouped by the protein they attend to (ppi.fusion.listed) ------------
def test_batches_cover_every_group_once_within_the_slack_and_budget():
    sizes = torch.tensor([1, 9, 3, 3, 40, 2, 8, 10, 1, 4, 12, 5])
    batches = listed.batches(sizes, budget=24)
    got = torch.cat(batches).sort().values
    assert torch.equal(got, torch.arange(len(sizes)))
    for batch in batches:
        s = sizes[batch]
        assert s.max() <= listed.SLACK * s.min() or len(batch) == 1
        assert s.max() * len(batch) <= 24 or len(batch) == 1  # one group too big stays alone


@pytest.mark.parametrize("budget", [1, 5, 512])
def test_each_listed_pair_is_the_whole_blocks_pair(budget):
    stage = _stage()
    z = torch.randn(9, 4, 16) * 2
    sides = stage.sides(z, SEQS)
    rows, cols = sides.take(slice(0, 5)), sides.take(slice(5, 9))
    gen = torch.Generator().manual_seed(2)
    a = torch.randint(0, 5, (30,), generator=gen)  # repeats, uneven groups
    b = torch.randint(0, 4, (30,), generator=gen)
    with torch.no_grad():
        got = listed.given(stage, rows, cols, a, b, budget)  # (P, D)
        want = stage.pooled(rows, cols)[a, b]  # (P, D)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
