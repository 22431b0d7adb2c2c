"""The training loop's parts: loaders, the epoch order, the learning-rate schedule."""

from itertools import pairwise

import torch

from ppi.config.run import load_config
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
