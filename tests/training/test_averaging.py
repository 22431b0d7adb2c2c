"""The running average of the weights (``train.ema``)."""

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from ppi.training.averaging import WeightAverage


def _model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    model[1].bias.requires_grad_(False)  # frozen: never averaged
    return model


def test_the_average_follows_the_decay_with_a_short_warm_up():
    model = _model()
    average = WeightAverage(model, decay=0.5)
    w = model[0].weight
    start = w.detach().clone()
    with torch.no_grad():
        w.add_(1.0)
    average.update()  # first update: decay min(0.5, 1/10) = 0.1
    assert torch.allclose(average.shadow[0], 0.1 * start + 0.9 * (start + 1))
    before = average.shadow[0].clone()
    with torch.no_grad():
        w.add_(1.0)
    average.update()  # second: min(0.5, 2/11) = 2/11
    assert torch.allclose(average.shadow[0], 2 / 11 * before + 9 / 11 * (start + 2))
    assert len(average.shadow) == 3  # the frozen bias is not among them


def test_applied_swaps_the_average_in_and_the_raw_weights_back():
    model = _model()
    average = WeightAverage(model, decay=0.9)
    raw = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        for s in average.shadow:
            s.fill_(7.0)
    with average.applied():
        assert torch.all(model[0].weight == 7.0) and torch.all(model[1].weight == 7.0)
        assert torch.equal(model[1].bias, raw[3])  # frozen: untouched
    for p, r in zip(model.parameters(), raw, strict=True):
        assert torch.equal(p, r)


def test_state_round_trip_and_a_mismatched_state_is_refused():
    model = _model()
    average = WeightAverage(model, decay=0.9)
    for _ in range(3):
        with torch.no_grad():
            model[0].weight.mul_(1.5)
        average.update()
    other = WeightAverage(_model(), decay=0.9)
    other.load_state_dict(average.state_dict())
    assert other.updates == 3
    assert all(torch.equal(a, b) for a, b in zip(other.shadow, average.shadow, strict=True))
    wrong = WeightAverage(nn.Linear(2, 2), decay=0.9)
    with pytest.raises(ValueError, match="other shapes"):
        wrong.load_state_dict(average.state_dict())
    with pytest.raises(ValueError, match="decay in"):
        WeightAverage(model, decay=1.0)


def test_a_run_keeps_the_averaged_weights_and_resumes_the_average(guo_slice, train_args, tmp_path):
    """The kept model holds the average, not the last weights; a resumed run goes on from it."""
    from ppi.cli import run

    fasta, pairs = guo_slice
    common = ("data.valid_split=random", "train.ema=0.9", "train.patience=5")
    assert run(train_args(fasta, pairs, tmp_path, *common, "train.epochs=1", "run_name=one")) == 0
    kept = load_file(str(tmp_path / "one" / "model" / "model.safetensors"))
    raw = load_file(str(tmp_path / "one" / "checkpoints" / "epoch_1" / "model.safetensors"))
    shared = [k for k in kept if k in raw]
    assert shared and any(not torch.allclose(kept[k], raw[k]) for k in shared)

    for name, extra in (("whole", ()), ("sliced", ("train.stop_after=1",))):
        args = train_args(fasta, pairs, tmp_path, *common, "train.epochs=2", f"run_name={name}")
        assert run([*args, *extra]) == 0
    assert run(train_args(fasta, pairs, tmp_path, f"resume={tmp_path / 'sliced'}")) == 0
    saved = [
        torch.load(tmp_path / name / "checkpoints" / "epoch_2" / "custom_checkpoint_0.pkl")
        for name in ("whole", "sliced")
    ]
    assert saved[0]["updates"] == saved[1]["updates"] > 0
    for a, b in zip(saved[0]["shadow"], saved[1]["shadow"], strict=True):
        assert torch.allclose(a, b, atol=1e-6)  # the resumed run went on from the saved average
