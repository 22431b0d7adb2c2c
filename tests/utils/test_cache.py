import random
import subprocess
import sys

import pytest
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


_FILL_UNDER_A_LIMIT = """
import pathlib, resource, sys
soft, hard = (int(x) for x in sys.argv[2:4])
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
from ppi.utils.cache import fill_shared
root = pathlib.Path(sys.argv[1])
keys = [f"k{i:04d}" for i in range(1000)]
sizes = []
def store(group):
    sizes.append(len(group))
    for key in group:
        (root / key).write_text(key)
fill_shared(keys, lambda ks: [ks], lambda k: root / k, lambda k: (root / k).is_file(), store)
print(max(sizes), len(sizes), resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


@pytest.mark.parametrize("hard", ["low", "as it is"])
def test_a_group_locks_no_more_entries_than_the_process_may_open(tmp_path, hard):
    """A lock is an open file: 1,000 entries in one group under a soft limit of 300 open files."""
    import resource

    hard = 300 if hard == "low" else resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    done = subprocess.run(
        [sys.executable, "-c", _FILL_UNDER_A_LIMIT, str(tmp_path), "300", str(hard)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-500:]
    largest, calls, limit = (int(x) for x in done.stdout.split())
    # the soft limit is raised toward the hard one; what the hard one does not allow is
    # stored in pieces that leave 256 files free
    assert limit == min(hard, 1000 + 256)
    assert largest == min(1000, limit - 256) and calls == -(-1000 // largest)
    assert len(list(tmp_path.iterdir())) == 1000  # every entry written, no lock file left
