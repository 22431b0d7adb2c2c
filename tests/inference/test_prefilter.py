"""The retrieval prefilter's candidates, against a brute-force ranking of the same vectors."""

import math

import torch

from ppi.fusion.retrieval import RetrievalHead
from ppi.inference.prefilter import Candidates, retrieve


def _vectors(n, seed=0):
    return torch.randn(n, 9, generator=torch.Generator().manual_seed(seed))  # (N, W + 1)


def test_each_protein_keeps_its_best_partners_by_the_retrieval_score():
    v, fraction = _vectors(40), 0.1
    found = retrieve(v, 40, True, fraction)
    keys = set(found.keys.tolist())
    assert all(k // 40 < k % 40 for k in keys)  # i < j, each unordered pair once
    score = RetrievalHead.score(v, v).fill_diagonal_(-torch.inf)  # (N, N)
    keep = math.ceil(fraction * 39)
    for i in range(40):
        for j in score[i].topk(keep).indices.tolist():
            assert min(i, j) * 40 + max(i, j) in keys
    assert len(keys) < 40 * keep  # shared picks are one candidate


def test_rows_against_columns_and_the_block_masks():
    v = _vectors(30, seed=1)
    found = retrieve(v, 12, False, 0.25)
    i, j = found.keys // 30, found.keys % 30
    assert (i < 12).all() and (j >= 12).all()
    score = RetrievalHead.score(v[:12], v[12:])  # (12, 18)
    best_col = score.argmax(1) + 12  # every row keeps its best column
    assert all(r * 30 + c in set(found.keys.tolist()) for r, c in enumerate(best_col.tolist()))
    whole = found.mask(range(0, 12), range(12, 30))
    assert whole.sum() == len(found.keys) == found.count(range(0, 12), range(12, 30))
    part = found.mask(range(4, 8), range(20, 25))
    assert torch.equal(part, whole[4:8, 8:13])
    assert found.count(range(4, 8), range(20, 25)) == part.sum()


def test_candidates_survive_a_save(tmp_path):
    found = retrieve(_vectors(20), 20, True, 0.2)
    found.save(tmp_path / "c.safetensors")
    back = Candidates.load(tmp_path / "c.safetensors")
    assert back.n == 20 and torch.equal(back.keys, found.keys)
