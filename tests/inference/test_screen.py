"""The screen's plan, how it deals blocks, and its running top-k, without a model."""

import pytest
import torch

from ppi.inference.screen import Plan
from ppi.inference.screen_parts import Part, merge_top, ranked


def test_all_against_all_visits_each_unordered_pair_once():
    plan = Plan([f"p{i}" for i in range(7)], rows=7, all_vs_all=True, block=3)
    assert plan.total == 21
    blocks = plan.blocks()
    assert [(b[0].start, b[1].start) for b in blocks] == [
        (0, 0),
        (0, 3),
        (0, 6),
        (3, 3),
        (3, 6),
        (6, 6),
    ]
    pairs = set()
    for rows, cols in blocks:
        pairs |= {(i, j) for i in rows for j in cols if i < j}
    assert len(pairs) == plan.total


def test_rows_against_columns():
    plan = Plan([f"p{i}" for i in range(5)], rows=2, all_vs_all=False, block=2)
    assert plan.total == 6
    assert [(list(r), list(c)) for r, c in plan.blocks()] == [([0, 1], [2, 3]), ([0, 1], [4])]


def test_running_top_k_keeps_the_best_partners_over_blocks():
    state = Part.empty(4, 2)
    merge_top(state, range(0, 2), range(2, 4), torch.tensor([[0.1, 0.9], [0.5, -1.0]]))
    merge_top(state, range(0, 2), range(0, 2), torch.tensor([[-1.0, 0.7], [0.7, -1.0]]))
    assert state.top_i[0].tolist() == [3, 1]
    assert state.top_p[0].tolist() == pytest.approx([0.9, 0.7])
    assert state.top_i[1].tolist() == [0, 2]
    assert state.top_i[2].tolist() == [-1, -1]  # rows 2 and 3 were never rows


def test_blocks_are_dealt_balanced_and_the_same_for_every_process():
    plan = Plan([f"p{i}" for i in range(10)], rows=10, all_vs_all=True, block=3)
    costs = [plan.pairs_in(b) for b in plan.blocks()]
    assert costs == [3, 9, 9, 3, 3, 9, 3, 3, 3, 0]  # row blocks of 3, 3, 3 and 1 protein
    shares = Plan.deal(costs, list(range(10)), 3)
    assert shares == Plan.deal(costs, list(range(10)), 3)
    assert sorted(b for s in shares for b in s) == list(range(10))
    loads = [sum(costs[b] for b in s) for s in shares]
    assert max(loads) - min(loads) <= 3 and sum(loads) == 45
    # a restart deals only what is missing, here to two processes
    assert sorted(b for s in Plan.deal(costs, [1, 4, 6], 2) for b in s) == [1, 4, 6]


def test_ties_are_broken_by_partner_so_any_grouping_keeps_the_same_partners():
    p = torch.tensor([[0.5, 0.9, 0.5, 0.9, -1.0]])
    i = torch.tensor([[7, 4, 2, 3, -1]])
    best_p, best_i = ranked(p, i, 3)
    assert best_i.tolist() == [[3, 4, 2]] and best_p[0].tolist() == pytest.approx([0.9, 0.9, 0.5])
    # the two halves ranked apart, then together: the same three
    a = ranked(p[:, :2], i[:, :2], 3)
    b = ranked(p[:, 2:], i[:, 2:], 3)
    both = ranked(torch.cat([a[0], b[0]], 1), torch.cat([a[1], b[1]], 1), 3)
    assert both[1].tolist() == [[3, 4, 2]]
