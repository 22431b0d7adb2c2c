import random

import torch

from ppi.utils.batching import token_budget_batches, token_budget_groups
from ppi.utils.cache import EmbeddingCache, digest


def test_put_get_half_precision_and_clone(tmp_path):
    cache = EmbeddingCache("bb:1", tmp_path)
    big = torch.randn(10, 4)
    cache.put("ACD", big[:3])  # a view of a larger tensor
    got = cache.get("ACD")
    assert got.dtype == torch.float16 and got.shape == (3, 4)
    torch.testing.assert_close(got.float(), big[:3], atol=1e-2, rtol=1e-2)
    # the file holds 3 rows, not the whole storage of `big`
    assert cache.path("ACD").stat().st_size < 10 * 4 * 2 + 200


def test_key_depends_on_identity_and_sequence(tmp_path):
    a, b = EmbeddingCache("bb:1", tmp_path), EmbeddingCache("bb:2", tmp_path)
    a.put("ACD", torch.ones(3, 2))
    assert "ACD" in a and "ACD" not in b and "ACE" not in a
    assert digest("ab", "c") != digest("a", "bc")


def test_fill_computes_only_missing_and_leaves_no_temp_files(tmp_path):
    cache = EmbeddingCache("bb:1", tmp_path)
    calls = []

    def compute(batch):
        calls.append(list(batch))
        return [torch.full((len(s), 2), float(len(s))) for s in batch]

    seqs = ["AAAA", "CC", "DDD", "CC"]
    assert cache.fill(seqs, compute, lambda s: [s]) == 3
    assert sorted(calls[0]) == ["AAAA", "CC", "DDD"]
    assert cache.fill(seqs + ["EEEEE"], compute, lambda s: [s]) == 1
    assert calls[1] == ["EEEEE"]
    assert cache.get("DDD")[0, 0].item() == 3.0
    assert not list(tmp_path.rglob("*.tmp"))


def test_token_budget_batches_sorted_and_bounded():
    seqs = ["A" * n for n in (5, 50, 7, 30, 30, 2, 100)]
    batches = token_budget_batches(seqs, max_tokens=64)
    assert sorted(s for b in batches for s in b) == sorted(seqs)
    for batch in batches:
        assert len(batch) * max(map(len, batch)) <= 64 or len(batch) == 1
    lengths = [len(s) for b in batches for s in b]
    assert lengths == sorted(lengths, reverse=True)


def test_token_budget_groups_are_greedy_longest_first_ties_in_index_order():
    rng = random.Random(0)
    for _ in range(300):
        lengths = [rng.randint(0, 40) for _ in range(rng.randint(0, 50))]
        budget, most = rng.randint(1, 120), rng.randint(1, 8)
        groups = token_budget_groups(lengths, budget, most)
        flat = [i for g in groups for i in g]
        # longest first, equal lengths in index order: a stable sort
        assert flat == sorted(range(len(lengths)), key=lambda i: -lengths[i])
        for k, g in enumerate(groups):
            longest = lengths[g[0]]
            assert len(g) <= most and (len(g) * longest <= budget or len(g) == 1)
            if k + 1 < len(groups):  # full: one more item would break the budget or the count
                assert len(g) == most or (len(g) + 1) * longest > budget
