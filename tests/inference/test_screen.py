"""The screen's plan and its running top-k, without a model."""

import pytest
import torch

from ppi.inference.screen import Plan, State, _merge_top


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
    state = State.empty(4, 2)
    _merge_top(state, range(0, 2), range(2, 4), torch.tensor([[0.1, 0.9], [0.5, -1.0]]))
    _merge_top(state, range(0, 2), range(0, 2), torch.tensor([[-1.0, 0.7], [0.7, -1.0]]))
    assert state.top_i[0].tolist() == [3, 1]
    assert state.top_p[0].tolist() == pytest.approx([0.9, 0.7])
    assert state.top_i[1].tolist() == [0, 2]
    assert state.top_i[2].tolist() == [-1, -1]  # rows 2 and 3 were never rows
