"""The training loop's parts: loaders, the epoch order, the learning-rate schedule, threads."""

import contextlib
import logging
import os
from itertools import pairwise

import pytest
import torch

from ppi.config.run import load_config
from ppi.training import loop
from ppi.training.datasets import EpochSampler, load_pair_data
from ppi.training.loop import build_model, make_loaders, make_optimizer


def test_epoch_order_depends_on_seed_and_epoch_only():
    a, b = EpochSampler(50, seed=3), EpochSampler(50, seed=3)
    first = list(a)
    assert first == list(b) and sorted(first) == list(range(50))
    a.set_epoch(1)
    assert list(a) != first
    b.set_epoch(1)
    assert list(a) == list(b)
    assert list(EpochSampler(5, 0, shuffle=False)) == [0, 1, 2, 3, 4]


def test_loaders_and_the_schedule(guo_slice, tiny):
    fasta, pairs = guo_slice
    config = load_config(
        None,
        [
            *tiny,
            f"data.fasta={fasta}",
            f"data.train={pairs}",
            "data.valid_split=random",
            "train.batch_size=32",
            "train.eval_batch_size=64",
            "train.warmup=0.1",
        ],
    )
    data = load_pair_data(config.data)
    loaders = make_loaders(config, data)
    batch = next(iter(loaders["train"]))
    assert set(batch) >= {"ids", "seqs", "pairs", "labels"}
    assert batch["pairs"].shape == (32, 2) and batch["labels"].shape == (32,)
    assert len(loaders["valid"].dataset) == len(data.splits["valid"])
    model = build_model(config, data)
    opt, sched = make_optimizer(model, config, steps=100)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    peak = config.train.lr
    assert lrs[0] < lrs[9] and abs(lrs[9] - peak) < 1e-12  # linear warm-up over 10 steps
    assert lrs[-1] < 0.01 * peak and all(x >= y for x, y in pairwise(lrs[10:]))  # cosine
    assert torch.is_tensor(next(model.parameters()))


@pytest.mark.parametrize(
    ("setting", "local", "want"), [("0", "1", 4), ("0", "2", 2), ("3", "2", 3)]
)
def test_training_on_cpu_sets_its_threads_whatever_accelerate_set(
    monkeypatch, tiny, setting, local, want
):
    """``accelerate launch`` without a GPU sets OMP_NUM_THREADS=1; ``train`` sets its own."""
    seen = []
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", local)
    monkeypatch.setattr(loop, "resolve_run", lambda config, state: (config, None))
    monkeypatch.setattr(loop, "exclusive_across", lambda *a: contextlib.nullcontext())
    monkeypatch.setattr(loop, "_train", lambda *a: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        loop.train(load_config(None, [*tiny, f"train.cpu_threads={setting}"]))
    finally:
        torch.set_num_threads(before)
    assert seen == [want]


def test_only_the_models_own_ties_are_hushed_at_a_checkpoint(caplog):
    net = torch.nn.Module()
    net.a = torch.nn.LayerNorm(4)
    net.b = net.a  # tied, as the pair stage's norm is the fusion's
    net.c = torch.nn.LayerNorm(4)
    other = logging.getLogger("accelerate.utils.other")
    with caplog.at_level(logging.WARNING), loop._quiet_about_ties(net):
        other.warning("Removed shared tensor {'b.weight', 'b.bias'} while saving.")
        other.warning("Removed shared tensor {'c.weight'} while saving.")
        other.warning("something else")
    other.warning("Removed shared tensor {'b.weight'} while saving.")  # outside: shown again
    shown = [r.getMessage() for r in caplog.records]
    assert shown == [
        "Removed shared tensor {'c.weight'} while saving.",
        "something else",
        "Removed shared tensor {'b.weight'} while saving.",
    ]
